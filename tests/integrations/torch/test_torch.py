from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import nn

import tunesmith
from tunesmith.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from tunesmith.integrations.torch import (
    TorchPruner,
    suggest_lr_scheduler,
    suggest_mlp,
    suggest_optimizer,
)
from tunesmith.pruners import MedianPruner, ThresholdPruner
from tunesmith.trial import FixedTrial

tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)
torch.set_num_threads(1)


def _model() -> nn.Module:
    return nn.Linear(3, 2)


# --- suggest_optimizer ---------------------------------------------------------------------


def test_optimizer_space_and_values() -> None:
    study = tunesmith.create_study(sampler=tunesmith.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(20):
        trial = study.ask()
        opt = suggest_optimizer(trial, _model().parameters())
        name = trial.params["optimizer"]
        seen.add(name)
        assert type(opt).__name__ == name
        assert opt.defaults["lr"] == trial.params["lr"]
        assert opt.defaults["weight_decay"] == trial.params["weight_decay"]
        assert 1e-5 <= trial.params["lr"] <= 1e-1
        assert trial.distributions["lr"] == FloatDistribution(1e-5, 1e-1, log=True)
        assert trial.distributions["weight_decay"] == FloatDistribution(1e-8, 1e-2, log=True)
        assert trial.distributions["optimizer"] == CategoricalDistribution(
            ["Adam", "AdamW", "SGD", "RMSprop"]
        )
        if name in ("SGD", "RMSprop"):
            assert opt.defaults["momentum"] == trial.params["momentum"]
            assert trial.distributions["momentum"] == FloatDistribution(0.0, 0.99)
        else:
            assert "momentum" not in trial.params
        study.tell(trial, 0.0)
    assert seen == {"Adam", "AdamW", "SGD", "RMSprop"}


def test_optimizer_overrides_fixed_choice_and_prefix() -> None:
    study = tunesmith.create_study()
    trial = study.ask()
    opt = suggest_optimizer(
        trial,
        _model().parameters(),
        choices="SGD",
        lr=(0.01, 0.02),
        weight_decay=0.0,
        momentum=0.5,
        prefix="g_",
    )
    assert isinstance(opt, torch.optim.SGD)
    assert set(trial.params) == {"g_lr"}  # fixed settings are not parameters
    assert 0.01 <= opt.defaults["lr"] <= 0.02
    assert opt.defaults["weight_decay"] == 0.0 and opt.defaults["momentum"] == 0.5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"choices": ("Adam", "Nesterov")}, "`choices` must be among .*'Nesterov'"),
        ({"choices": ()}, "`choices` must name at least one"),
        ({"lr": (0.1, 0.01)}, r"`lr` must have low <= high, got lr=\(0.1, 0.01\)"),
        ({"lr": (0.0, 0.1)}, "`lr` must be > 0"),
        ({"weight_decay": (0.0, 0.1)}, "weight_decay=0.0 for none"),
        ({"momentum": (0.0, 1.5)}, "`momentum` must lie in"),
        ({"lr": (1, 2, 3)}, "`lr` must be a number or a"),
    ],
)
def test_optimizer_bad_input(kwargs: dict[str, Any], match: str) -> None:
    trial = tunesmith.create_study().ask()
    with pytest.raises(ValueError, match=match):
        suggest_optimizer(trial, _model().parameters(), **kwargs)


def test_optimizer_bad_types() -> None:
    trial = tunesmith.create_study().ask()
    with pytest.raises(TypeError, match="`lr` must be a number"):
        suggest_optimizer(trial, _model().parameters(), lr="fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`params` is empty"):
        suggest_optimizer(trial, [])


# --- suggest_mlp ---------------------------------------------------------------------------


def test_mlp_structure_matches_parameters() -> None:
    study = tunesmith.create_study(sampler=tunesmith.samplers.RandomSampler(seed=1))
    depths = set()
    for _ in range(15):
        trial = study.ask()
        model = suggest_mlp(trial, 5, 3)
        p = trial.params
        depths.add(p["n_layers"])
        linears = [m for m in model if isinstance(m, nn.Linear)]
        assert len(linears) == p["n_layers"] + 1
        assert linears[0].in_features == 5 and linears[-1].out_features == 3
        for i in range(p["n_layers"]):
            assert linears[i].out_features == p[f"n_units_l{i}"]
            assert 4 <= p[f"n_units_l{i}"] <= 128
            assert trial.distributions[f"n_units_l{i}"] == IntDistribution(4, 128, log=True)
            assert 0.0 <= p[f"dropout_l{i}"] <= 0.5
            assert model[3 * i + 2].p == p[f"dropout_l{i}"]
            act = {"relu": nn.ReLU, "tanh": nn.Tanh}[p["activation"]]
            assert isinstance(model[3 * i + 1], act)
        assert model(torch.zeros(2, 5)).shape == (2, 3)
        study.tell(trial, 0.0)
    assert depths == {1, 2, 3}


def test_mlp_fixed_settings_and_prefix() -> None:
    trial = tunesmith.create_study().ask()
    model = suggest_mlp(
        trial, 4, 2, n_layers=2, units=(8, 8), dropout=0.0, activation="gelu", prefix="enc_"
    )
    assert trial.params == {}
    assert [type(m).__name__ for m in model] == [
        "Linear",
        "GELU",
        "Dropout",
        "Linear",
        "GELU",
        "Dropout",
        "Linear",
    ]
    assert model[0].out_features == 8 and model[3].out_features == 8
    trial2 = tunesmith.create_study().ask()
    suggest_mlp(trial2, 4, 2, n_layers=(1, 1), prefix="enc_")
    assert set(trial2.params) == {"enc_activation", "enc_n_units_l0", "enc_dropout_l0"}


def test_mlp_zero_hidden_layers_is_linear() -> None:
    model = suggest_mlp(FixedTrial({}), 4, 2, n_layers=0)
    assert len(model) == 1 and isinstance(model[0], nn.Linear)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"in_features": 0}, "`in_features` must be an integer >= 1, got in_features=0"),
        ({"n_layers": (3, 1)}, "`n_layers` must have low <= high"),
        ({"units": (0, 8)}, "`units` must be > 0"),
        ({"dropout": (0.0, 1.0)}, "`dropout` must lie in"),
        ({"activation": "swish"}, "`activation` must be among .*'swish'"),
    ],
)
def test_mlp_bad_input(kwargs: dict[str, Any], match: str) -> None:
    args = {"in_features": 4, "out_features": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        suggest_mlp(
            tunesmith.create_study().ask(),
            args.pop("in_features"),
            args.pop("out_features"),
            **args,
        )


# --- suggest_lr_scheduler ------------------------------------------------------------------


def test_scheduler_kinds() -> None:
    study = tunesmith.create_study(sampler=tunesmith.samplers.RandomSampler(seed=2))
    kinds = set()
    for _ in range(25):
        trial = study.ask()
        opt = torch.optim.SGD(_model().parameters(), lr=0.1)
        sched = suggest_lr_scheduler(trial, opt, t_max=7)
        kind = trial.params["scheduler"]
        kinds.add(kind)
        if kind == "none":
            assert sched is None and set(trial.params) == {"scheduler"}
        elif kind == "step":
            assert isinstance(sched, torch.optim.lr_scheduler.StepLR)
            assert sched.step_size == trial.params["step_size"]
            assert sched.gamma == trial.params["gamma"]
            assert 1 <= sched.step_size <= 10 and 0.1 <= sched.gamma <= 0.99
        elif kind == "exponential":
            assert isinstance(sched, torch.optim.lr_scheduler.ExponentialLR)
            assert sched.gamma == trial.params["gamma"]
        else:
            assert isinstance(sched, torch.optim.lr_scheduler.CosineAnnealingLR)
            assert sched.T_max == 7 and set(trial.params) == {"scheduler"}
        study.tell(trial, 0.0)
    assert kinds == {"none", "step", "cosine", "exponential"}


def test_scheduler_bad_input() -> None:
    trial = tunesmith.create_study().ask()
    opt = torch.optim.SGD(_model().parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"`choices` must be among .*'cyclic'"):
        suggest_lr_scheduler(trial, opt, choices=("step", "cyclic"))
    with pytest.raises(ValueError, match=r"`gamma` must lie in \(0, 1\], got gamma=\(0.0, 0.5\)"):
        suggest_lr_scheduler(trial, opt, gamma=(0.0, 0.5))
    with pytest.raises(TypeError, match=r"`optimizer` must be a torch\.optim\.Optimizer, got dict"):
        suggest_lr_scheduler(trial, {}, choices="step")  # type: ignore[arg-type]


# --- TorchPruner on a real training loop ----------------------------------------------------


def _data() -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    X = torch.randn(128, 4, generator=g)
    y = (X[:, 0] - X[:, 1] > 0).long()
    return X[:96], y[:96], X[96:], y[96:]


MAX_EPOCHS = 12


def _objective(log: dict[int, list[float]]) -> Any:
    Xtr, ytr, Xva, yva = _data()

    def objective(trial: tunesmith.Trial) -> float:
        torch.manual_seed(trial.number)
        model = suggest_mlp(trial, 4, 2, n_layers=1, units=(4, 16))
        opt = suggest_optimizer(trial, model.parameters(), choices="Adam", lr=(1e-4, 1e-1))
        pruner = TorchPruner(trial)
        losses = log.setdefault(trial.number, [])
        for epoch in range(MAX_EPOCHS):
            model.train()
            opt.zero_grad()
            nn.functional.cross_entropy(model(Xtr), ytr).backward()
            opt.step()
            model.eval()
            with torch.no_grad():
                val = nn.functional.cross_entropy(model(Xva), yva)
            losses.append(float(val))
            pruner(val, epoch)  # a tensor is accepted
        return losses[-1]

    return objective


def test_threshold_pruner_stops_training_loop_early() -> None:
    log: dict[int, list[float]] = {}
    study = tunesmith.create_study(pruner=ThresholdPruner(upper=0.0))  # every report prunes
    study.optimize(_objective(log), n_trials=3)
    for t in study.trials:
        assert t.state == tunesmith.trial.TrialState.PRUNED
        assert len(log[t.number]) == 1 < MAX_EPOCHS
        assert t.intermediate_values == {0: log[t.number][0]}


def test_median_pruner_prunes_some_and_reports_loop_values() -> None:
    log: dict[int, list[float]] = {}
    study = tunesmith.create_study(
        sampler=tunesmith.samplers.RandomSampler(seed=0),
        pruner=MedianPruner(n_startup_trials=2, n_warmup_steps=1),
    )
    study.optimize(_objective(log), n_trials=10)
    states = [t.state for t in study.trials]
    pruned = [t for t in study.trials if t.state == tunesmith.trial.TrialState.PRUNED]
    assert tunesmith.trial.TrialState.COMPLETE in states and pruned
    for t in study.trials:
        assert list(t.intermediate_values.values()) == log[t.number]
        assert list(t.intermediate_values) == list(range(len(log[t.number])))
    for t in pruned:
        assert len(log[t.number]) < MAX_EPOCHS
        assert t.value == log[t.number][-1]
    assert study.best_trial.state == tunesmith.trial.TrialState.COMPLETE


def test_pruner_report_interval_and_step() -> None:
    study = tunesmith.create_study()
    trial = study.ask()
    pruner = TorchPruner(trial, report_interval=3)
    for epoch in range(7):
        assert pruner.step(float(epoch), epoch) is False
    assert trial.study.trials[0].intermediate_values == {0: 0.0, 3: 3.0, 6: 6.0}
    assert not pruner.pruned
    pruner.check_pruned()  # nothing to raise


def test_pruner_bad_input() -> None:
    trial = tunesmith.create_study().ask()
    with pytest.raises(ValueError, match="`report_interval` must be >= 1, got report_interval=0"):
        TorchPruner(trial, report_interval=0)
    with pytest.raises(ValueError, match="`epoch` must be an integer >= 0, got epoch=-1"):
        TorchPruner(trial)(0.5, -1)
    with pytest.raises(ValueError):
        TorchPruner(trial)(torch.tensor([1.0, 2.0]), 0)  # not a scalar


def test_pruner_raises_trial_pruned() -> None:
    study = tunesmith.create_study(pruner=ThresholdPruner(upper=1.0))
    trial = study.ask()
    pruner = TorchPruner(trial, monitor="val_loss")
    pruner(0.5, 0)
    with pytest.raises(tunesmith.TrialPruned, match=r"step 1 \(val_loss\)"):
        pruner(math.inf, 1)
    assert pruner.pruned


def test_fixed_trial_never_prunes() -> None:
    pruner = TorchPruner(FixedTrial({}))
    for epoch in range(3):
        pruner(1e9, epoch)
    assert not pruner.pruned
