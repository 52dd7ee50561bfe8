"""Keras 3 reads its backend once, at the first ``import keras``: select torch before any test
module imports it (the ``keras`` extra installs torch)."""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"

import torch

# The tests train tiny networks; on a busy machine torch's thread pool costs far more than it
# saves (a 6x slowdown measured with two threads on two shared cores).
torch.set_num_threads(1)
