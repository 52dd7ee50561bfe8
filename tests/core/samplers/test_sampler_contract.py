"""Every built-in sampler against the shipped sampler contract (tunesmith.testing.sampler)."""

from __future__ import annotations

import pytest

from tunesmith.samplers import (
    CmaEsSampler,
    GPSampler,
    NSGAIIISampler,
    NSGAIISampler,
    PartialFixedSampler,
    QMCSampler,
    RandomSampler,
    TPESampler,
)
from tunesmith.testing.sampler import SamplerContract, SamplerFactory


class TestRandom(SamplerContract):
    @pytest.fixture
    def make_sampler(self) -> SamplerFactory:
        return lambda seed: RandomSampler(seed=seed)


class TestTPE(SamplerContract):
    @pytest.fixture
    def make_sampler(self) -> SamplerFactory:
        return lambda seed: TPESampler(seed=seed, n_startup_trials=5)


class TestTPEIndependent(SamplerContract):
    @pytest.fixture
    def make_sampler(self) -> SamplerFactory:
        return lambda seed: TPESampler(seed=seed, n_startup_trials=5, multivariate=False)


class TestCmaEs(SamplerContract):
    supports_multi_objective = False

    @pytest.fixture
    def make_sampler(self) -> SamplerFactory:
        return lambda seed: CmaEsSampler(seed=seed, n_startup_trials=3, popsize=4)


class TestGP(SamplerContract):
    n_trials = 16

    @pytest.fixture
    def make_sampler(self) -> SamplerFactory:
        return lambda seed: GPSampler(seed=seed, n_startup_trials=5)


class TestQMC(SamplerContract):
    @pytest.fixture
    def make_sampler(self) -> SamplerFactory:
        return lambda seed: QMCSampler(seed=seed)


class TestNSGAII(SamplerContract):
    @pytest.fixture
    def make_sampler(self) -> SamplerFactory:
        return lambda seed: NSGAIISampler(seed=seed, population_size=6)


class TestNSGAIII(SamplerContract):
    @pytest.fixture
    def make_sampler(self) -> SamplerFactory:
        return lambda seed: NSGAIIISampler(seed=seed, population_size=6)


class TestPartialFixed(SamplerContract):
    @pytest.fixture
    def make_sampler(self) -> SamplerFactory:
        return lambda seed: PartialFixedSampler(
            {"act": "tanh", "family": "mlp"}, TPESampler(seed=seed, n_startup_trials=5)
        )
