"""Keras 3 (torch backend) with pruning: a small dense network on scikit-learn's digits.

Poor trials (a learning rate far too small, a network too narrow) stop after a few epochs;
the rest train to the end.

Run: python examples/keras_digits.py
"""

from __future__ import annotations

import os

# Keras reads the backend once, at its first import.
os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
import torch

import tunesmith
from tunesmith.integrations.keras import (
    KerasPruningCallback,
    suggest_dense_layers,
    suggest_optimizer,
)

SMALL = bool(os.environ.get("TUNESMITH_EXAMPLE_SMALL"))
N_TRIALS, N_EPOCHS = (8, 8) if SMALL else (20, 12)

# Networks this small train faster on one thread than with torch's thread pool.
torch.set_num_threads(1)

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype("float32")
X_train, X_valid, y_train, y_valid = train_test_split(
    X, y, test_size=0.25, random_state=0, stratify=y
)


def objective(trial: tunesmith.Trial) -> float:
    keras.utils.set_random_seed(trial.number)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            *suggest_dense_layers(trial, n_layers=(1, 2), units=(8, 128)),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=suggest_optimizer(trial, lr=(1e-5, 1e-1)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    # Reports validation loss after every epoch; stops fit() when the pruner says so.
    pruning = KerasPruningCallback(trial, "val_loss")
    model.fit(
        X_train,
        y_train,
        validation_data=(X_valid, y_valid),
        epochs=N_EPOCHS,
        batch_size=64,
        verbose=0,
        callbacks=[pruning],
    )
    pruning.check_pruned()  # a stopped fit() becomes a PRUNED trial
    return float(model.evaluate(X_valid, y_valid, verbose=0, return_dict=True)["loss"])


if __name__ == "__main__":
    tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)
    study = tunesmith.create_study(
        direction="minimize",
        sampler=tunesmith.samplers.TPESampler(seed=0),
        pruner=tunesmith.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2),
    )
    # A sensible start, then one learning far too slowly, so pruning shows even in short runs.
    study.enqueue_trial({"optimizer": "adam", "learning_rate": 3e-3, "n_layers": 1})
    study.enqueue_trial({"optimizer": "adamw", "learning_rate": 1e-2, "n_layers": 1})
    study.enqueue_trial({"optimizer": "rmsprop", "learning_rate": 1e-3, "n_layers": 2})
    study.enqueue_trial({"optimizer": "sgd", "learning_rate": 1e-5, "n_layers": 1})
    study.optimize(objective, n_trials=N_TRIALS)
    pruned = study.get_trials(states=[tunesmith.TrialState.PRUNED])
    print(f"{len(pruned)} of {len(study.trials)} trials pruned")
    best = study.best_trial
    print(f"best validation loss {best.value:.4f} (trial {best.number}) with {best.params}")
    assert pruned, "expected at least one pruned trial"
    assert best.state is tunesmith.TrialState.COMPLETE
