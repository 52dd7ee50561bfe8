from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest

import tunesmith
from tunesmith.integrations.keras import (
    KerasPruningCallback,
    suggest_dense_layers,
    suggest_optimizer,
)
from tunesmith.pruners import NopPruner
from tunesmith.testing.pruner import DeterministicPruner
from tunesmith.trial import FixedTrial

tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0], dtype="float32"))[:, None]
    return x, y


def _model(lr: float = 0.05) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse", metrics=["mae"])
    return model


def _fit(model: keras.Model, data: Any, callback: Any, epochs: int, **kw: Any) -> Any:
    x, y = data
    kw.setdefault("validation_data", (x[:16], y[:16]))
    return model.fit(
        x[16:],
        y[16:],
        epochs=epochs,
        batch_size=16,
        verbose=0,
        callbacks=[callback],
        **kw,
    )


def test_reports_the_values_keras_logs(data: Any) -> None:
    trial = tunesmith.create_study(pruner=NopPruner()).ask()
    callback = KerasPruningCallback(trial, "val_loss")
    history = _fit(_model(), data, callback, epochs=4)
    reported = trial.study.trials[0].intermediate_values
    assert sorted(reported) == [0, 1, 2, 3]
    assert [reported[e] for e in range(4)] == pytest.approx(history.history["val_loss"], rel=1e-6)
    assert reported[3] < reported[0]  # training does learn
    assert not callback.pruned and callback.pruned_epoch is None
    callback.check_pruned()  # not pruned: does nothing


def test_a_training_metric_can_be_monitored(data: Any) -> None:
    trial = tunesmith.create_study(pruner=NopPruner()).ask()
    history = _fit(_model(), data, KerasPruningCallback(trial, "mae"), epochs=2)
    reported = trial.study.trials[0].intermediate_values
    assert [reported[0], reported[1]] == pytest.approx(history.history["mae"], rel=1e-6)


def test_pruned_trial_stops_training_and_is_recorded_pruned(data: Any) -> None:
    histories: list[Any] = []
    callbacks: list[KerasPruningCallback] = []

    def objective(trial: tunesmith.Trial) -> float:
        callback = KerasPruningCallback(trial)
        callbacks.append(callback)
        histories.append(_fit(_model(), data, callback, epochs=10))
        callback.check_pruned()
        return 0.0  # not reached

    study = tunesmith.create_study(pruner=DeterministicPruner(from_step=2))
    study.optimize(objective, n_trials=1)
    (trial,) = study.trials
    assert trial.state is tunesmith.TrialState.PRUNED
    assert len(histories[0].history["val_loss"]) == 3  # epochs 0, 1, 2 of 10
    assert sorted(trial.intermediate_values) == [0, 1, 2]
    assert trial.value == pytest.approx(histories[0].history["val_loss"][-1], rel=1e-6)
    assert callbacks[0].pruned and callbacks[0].pruned_epoch == 2
    with pytest.raises(tunesmith.TrialPruned, match=r"pruned at step 2 \(val_loss\)"):
        callbacks[0].check_pruned()


def test_without_check_pruned_the_trial_would_complete(data: Any) -> None:
    # The callback only stops fit(); the objective decides the trial's state.
    def objective(trial: tunesmith.Trial) -> float:
        _fit(_model(), data, KerasPruningCallback(trial), epochs=5)
        return 1.5

    study = tunesmith.create_study(pruner=DeterministicPruner(from_step=0))
    study.optimize(objective, n_trials=1)
    assert study.trials[0].state is tunesmith.TrialState.COMPLETE
    assert sorted(study.trials[0].intermediate_values) == [0]


def test_unknown_monitor_lists_the_logged_keys(data: Any) -> None:
    trial = tunesmith.create_study(pruner=NopPruner()).ask()
    callback = KerasPruningCallback(trial, "val_los")
    with pytest.raises(ValueError) as err:
        _fit(_model(), data, callback, epochs=3)
    message = str(err.value)
    assert "KerasPruningCallback" in message and "'val_los'" in message
    for key in ("'loss'", "'mae'", "'val_loss'", "'val_mae'"):
        assert key in message
    assert trial.study.trials[0].intermediate_values == {}


def test_validation_metric_without_validation_data_is_an_error(data: Any) -> None:
    trial = tunesmith.create_study(pruner=NopPruner()).ask()
    with pytest.raises(ValueError, match=r"'val_loss'.*exist are: 'loss', 'mae'"):
        _fit(_model(), data, KerasPruningCallback(trial), epochs=2, validation_data=None)


@pytest.mark.parametrize(("interval", "epochs", "steps"), [(3, 7, [0, 3, 6]), (2, 4, [0, 2])])
def test_report_interval(data: Any, interval: int, epochs: int, steps: list[int]) -> None:
    trial = tunesmith.create_study(pruner=NopPruner()).ask()
    callback = KerasPruningCallback(trial, "loss", report_interval=interval)
    history = _fit(_model(), data, callback, epochs=epochs)
    reported = trial.study.trials[0].intermediate_values
    assert sorted(reported) == steps
    assert [reported[s] for s in steps] == pytest.approx(
        [history.history["loss"][s] for s in steps], rel=1e-6
    )


def test_fixed_trial_never_prunes(data: Any) -> None:
    callback = KerasPruningCallback(FixedTrial({}), "loss")
    history = _fit(_model(), data, callback, epochs=3)
    assert len(history.history["loss"]) == 3
    assert not callback.pruned


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"report_interval": 0},
            ValueError,
            r"`report_interval` must be >= 1, got report_interval=0",
        ),
        ({"report_interval": 1.5}, TypeError, r"report_interval=1.5"),
        ({"monitor": ""}, TypeError, r"non-empty string"),
    ],
)
def test_callback_arguments_are_checked(kwargs: dict[str, Any], error: type, match: str) -> None:
    trial = tunesmith.create_study().ask()
    with pytest.raises(error, match=match):
        KerasPruningCallback(trial, **kwargs)


# --- search-space helpers -------------------------------------------------------------------

# (The torch backend builds subclasses of these.)
OPTIMIZER_CLASSES = {
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
    "nadam": keras.optimizers.Nadam,
    "adamax": keras.optimizers.Adamax,
    "adagrad": keras.optimizers.Adagrad,
}


@pytest.mark.parametrize("seed", range(4))
def test_suggest_optimizer_builds_what_it_suggests(seed: int) -> None:
    study = tunesmith.create_study(sampler=tunesmith.samplers.RandomSampler(seed=seed))
    for _ in range(3):
        trial = study.ask()
        opt = suggest_optimizer(trial, prefix="net_")
        params = trial.params
        assert isinstance(opt, OPTIMIZER_CLASSES[params["net_optimizer"]])
        assert 1e-5 <= params["net_learning_rate"] <= 1e-1
        assert float(opt.learning_rate) == pytest.approx(params["net_learning_rate"], rel=1e-6)
        assert opt.weight_decay == pytest.approx(params["net_weight_decay"])
        if params["net_optimizer"] == "sgd":
            assert opt.momentum == pytest.approx(params["net_momentum"])
        else:
            assert "net_momentum" not in params
        dists = trial.distributions
        assert dists["net_learning_rate"].log and dists["net_weight_decay"].log


@pytest.mark.parametrize("name", sorted(OPTIMIZER_CLASSES))
def test_suggest_optimizer_each_choice(name: str) -> None:
    params = {
        "optimizer": name,
        "learning_rate": 0.02,
        "weight_decay": 1e-4,
        "momentum": 0.5,
    }
    opt = suggest_optimizer(FixedTrial(params), choices=(name,))
    assert isinstance(opt, OPTIMIZER_CLASSES[name])
    assert float(opt.learning_rate) == pytest.approx(0.02)
    assert opt.weight_decay == pytest.approx(1e-4)


def test_suggest_optimizer_without_weight_decay_or_momentum() -> None:
    trial = tunesmith.create_study().ask()
    opt = suggest_optimizer(trial, choices=["sgd"], lr=(0.1, 0.1), weight_decay=None, momentum=None)
    assert set(trial.params) == {"optimizer", "learning_rate"}
    assert opt.weight_decay is None and opt.momentum == 0.0
    assert float(opt.learning_rate) == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"choices": ["adam", "lbfgs"]},
            ValueError,
            r"`choices` has unknown names \['lbfgs'\]",
        ),
        ({"choices": "adam"}, TypeError, r"choices='adam'"),
        ({"choices": []}, TypeError, r"non-empty"),
        (
            {"lr": (0.1, 0.01)},
            ValueError,
            r"`lr` must have low <= high, got lr=\(0.1, 0.01\)",
        ),
        ({"lr": (0.0, 0.01)}, ValueError, r"`lr` must be > 0"),
        ({"lr": 0.01}, TypeError, r"`lr` must be a \(low, high\) pair"),
        ({"weight_decay": (-1.0, 0.1)}, ValueError, r"`weight_decay` must be > 0"),
        ({"momentum": (0.5, 1.0)}, ValueError, r"`momentum` must be < 1"),
    ],
)
def test_suggest_optimizer_bad_arguments(kwargs: dict[str, Any], error: type, match: str) -> None:
    trial = tunesmith.create_study().ask()
    with pytest.raises(error, match=match):
        suggest_optimizer(trial, **kwargs)
    assert trial.params == {}  # checked before anything is suggested


@pytest.mark.parametrize("seed", range(4))
def test_suggest_dense_layers_builds_what_it_suggests(seed: int) -> None:
    study = tunesmith.create_study(sampler=tunesmith.samplers.RandomSampler(seed=seed))
    trial = study.ask()
    layers = suggest_dense_layers(trial, n_layers=(1, 4), units=(4, 64), prefix="h_")
    params = trial.params
    n = params["h_n_layers"]
    assert 1 <= n <= 4 and len(layers) == 2 * n
    for i in range(n):
        dense, drop = layers[2 * i], layers[2 * i + 1]
        assert isinstance(dense, keras.layers.Dense) and isinstance(drop, keras.layers.Dropout)
        assert dense.units == params[f"h_units_{i}"] and 4 <= dense.units <= 64
        assert dense.activation is keras.activations.get(params["h_activation"])
        assert drop.rate == pytest.approx(params[f"h_dropout_{i}"])
        assert 0.0 <= drop.rate <= 0.5
    assert f"h_units_{n}" not in params
    assert trial.distributions["h_units_0"].log


def test_suggest_dense_layers_in_a_model_that_trains(data: Any) -> None:
    trial = FixedTrial({"n_layers": 2, "units_0": 16, "units_1": 8, "activation": "tanh"})
    layers = suggest_dense_layers(trial, dropout=None)
    assert [type(layer).__name__ for layer in layers] == ["Dense", "Dense"]
    assert [layer.units for layer in layers] == [16, 8]
    model = keras.Sequential([keras.Input((4,)), *layers, keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x, y = data
    history = model.fit(x, y, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert model.count_params() == (4 * 16 + 16) + (16 * 8 + 8) + (8 + 1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"n_layers": (0, 2)},
            ValueError,
            r"`n_layers` must be >= 1, got n_layers=\(0, 2\)",
        ),
        ({"n_layers": (1.0, 2.0)}, TypeError, r"pair of ints"),
        ({"units": (64, 8)}, ValueError, r"`units` must have low <= high"),
        ({"dropout": (0.0, 1.0)}, ValueError, r"`dropout` must be < 1"),
        (
            {"activation": ("relu", "nope")},
            ValueError,
            r"'nope', which Keras does not know",
        ),
        ({"activation": "relu"}, TypeError, r"activation='relu'"),
    ],
)
def test_suggest_dense_layers_bad_arguments(
    kwargs: dict[str, Any], error: type, match: str
) -> None:
    trial = tunesmith.create_study().ask()
    with pytest.raises(error, match=match):
        suggest_dense_layers(trial, **kwargs)
    assert trial.params == {}
