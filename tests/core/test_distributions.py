from __future__ import annotations

import copy
import json
import math
import pickle
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
import pytest

from tunesmith.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    check_distribution_compatibility,
    distribution_to_json,
    json_to_distribution,
)
from tunesmith.exceptions import IncompatibleDistributionError

# -- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"low": 3.0, "high": 1.0}, "`low` must be <= `high`, got low=3.0, high=1.0"),
        ({"low": 0.0, "high": 1.0, "log": True}, "`low` must be > 0 when `log=True`, got low=0.0"),
        ({"low": -1.0, "high": 1.0, "log": True}, "`low` must be > 0 when `log=True`"),
        ({"low": 1.0, "high": 2.0, "log": True, "step": 0.5}, "`step` and `log=True` cannot"),
        ({"low": 0.0, "high": 1.0, "step": 0.0}, "`step` must be > 0, got step=0.0"),
        ({"low": 0.0, "high": 1.0, "step": -0.1}, "`step` must be > 0, got step=-0.1"),
        ({"low": float("nan"), "high": 1.0}, "must be finite numbers, got low=nan"),
        ({"low": 0.0, "high": float("inf")}, "must be finite numbers, got low=0.0, high=inf"),
        ({"low": "0", "high": 1.0}, "must be finite numbers, got low='0'"),
        ({"low": True, "high": 2.0}, "must be finite numbers, got low=True"),
    ],
)
def test_float_distribution_rejects_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=r"^FloatDistribution: ") as info:
        FloatDistribution(**kwargs)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"low": 3, "high": 1}, "`low` must be <= `high`, got low=3, high=1"),
        ({"low": 0, "high": 10, "log": True}, "`low` must be >= 1 when `log=True`, got low=0"),
        ({"low": 1, "high": 10, "log": True, "step": 2}, "`step` must be 1 when `log=True`"),
        ({"low": 0, "high": 10, "step": 0}, "`step` must be >= 1, got step=0"),
        ({"low": 0.5, "high": 10}, "`low` must be an integer, got low=0.5"),
        ({"low": 0, "high": "10"}, "`high` must be an integer, got high='10'"),
        ({"low": 0, "high": 10, "step": 1.5}, "`step` must be an integer, got step=1.5"),
    ],
)
def test_int_distribution_rejects_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=r"^IntDistribution: ") as info:
        IntDistribution(**kwargs)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("choices", "message"),
    [
        ([], "`choices` must not be empty"),
        ((), "`choices` must not be empty"),
        ("abc", "`choices` must be a sequence"),
        ({1, 2}, "`choices` must be a sequence"),
        ([[1, 2]], "got [1, 2] of type list"),
        ([{"a": 1}], "of type dict"),
        ([1, object()], "of type object"),
        ([b"bytes"], "of type bytes"),
    ],
)
def test_categorical_distribution_rejects_bad_choices(choices: Any, message: str) -> None:
    with pytest.raises(ValueError, match=r"^CategoricalDistribution: ") as info:
        CategoricalDistribution(choices)
    assert message in str(info.value)


def test_float_step_moves_high_onto_the_grid() -> None:
    d = FloatDistribution(0.0, 1.0, step=0.3)
    assert d.high == 0.9
    # decimal arithmetic: no 0.30000000000000004 drift
    assert FloatDistribution(0.1, 1.0, step=0.1).high == 1.0
    assert FloatDistribution(0.0, 0.3, step=0.1).high == 0.3


def test_int_step_moves_high_onto_the_grid() -> None:
    assert IntDistribution(0, 10, step=3).high == 9
    assert IntDistribution(1, 10, step=3).high == 10
    assert IntDistribution(-5, 5, step=5).high == 5


def test_integral_floats_are_accepted_as_int_bounds() -> None:
    d = IntDistribution(1.0, 5.0)  # type: ignore[arg-type]
    assert (d.low, d.high) == (1, 5)
    assert type(d.low) is int and type(d.high) is int


# -- behaviour -------------------------------------------------------------------------------


def test_float_distribution_contains_and_single() -> None:
    d = FloatDistribution(0.0, 1.0)
    assert d.contains(0.0) and d.contains(1.0) and d.contains(0.5) and d.contains(1)
    assert not d.contains(1.5) and not d.contains(-0.1) and not d.contains("x")
    assert not d.contains(float("nan"))
    assert not d.single()
    assert FloatDistribution(2.0, 2.0).single()
    assert FloatDistribution(0.0, 0.5, step=1.0).single()
    stepped = FloatDistribution(0.0, 1.0, step=0.25)
    assert stepped.contains(0.75) and not stepped.contains(0.3)


def test_int_distribution_contains_and_single() -> None:
    d = IntDistribution(0, 10, step=2)
    assert d.contains(4) and d.contains(10) and not d.contains(3) and not d.contains(12)
    assert not d.contains(True)
    assert not d.contains("four") and not d.contains(4.5)
    assert IntDistribution(3, 3).single() and not d.single()


def test_int_external_repr_is_an_int() -> None:
    d = IntDistribution(0, 10)
    assert d.to_external_repr(3.0) == 3 and type(d.to_external_repr(3.0)) is int
    assert d.to_internal_repr(3) == 3.0
    with pytest.raises(ValueError, match="must be an integer, got True"):
        d.to_internal_repr(True)
    with pytest.raises(ValueError, match="must not be NaN"):
        d.to_internal_repr(float("nan"))


def test_float_internal_repr_rejects_non_numbers() -> None:
    d = FloatDistribution(0.0, 1.0)
    assert d.to_internal_repr(1) == 1.0
    with pytest.raises(ValueError, match="must be a float, got 'abc'"):
        d.to_internal_repr("abc")
    with pytest.raises(ValueError, match="must not be NaN"):
        d.to_internal_repr(float("nan"))


def test_categorical_internal_repr_is_the_index_and_respects_types() -> None:
    choices = [None, True, 1, 1.5, "a"]
    d = CategoricalDistribution(choices)
    assert [d.to_internal_repr(c) for c in choices] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert [d.to_external_repr(float(i)) for i in range(5)] == choices
    assert d.contains("a") and not d.contains("b") and not d.contains([1])
    with pytest.raises(ValueError, match="'b' is not among choices="):
        d.to_internal_repr("b")
    assert not d.single() and CategoricalDistribution(["only"]).single()


def test_categorical_nan_choice_round_trips() -> None:
    d = CategoricalDistribution([0.0, float("nan")])
    assert d.to_internal_repr(float("nan")) == 1.0
    assert math.isnan(d.to_external_repr(1.0))


def test_equality_and_hash() -> None:
    assert FloatDistribution(0, 1) == FloatDistribution(0.0, 1.0)
    assert hash(FloatDistribution(0, 1)) == hash(FloatDistribution(0.0, 1.0))
    assert FloatDistribution(0, 1) != FloatDistribution(0, 2)
    assert FloatDistribution(1, 2) != FloatDistribution(1, 2, log=True)
    assert IntDistribution(0, 1) != FloatDistribution(0, 1)
    assert CategoricalDistribution(["a", "b"]) == CategoricalDistribution(("a", "b"))
    assert CategoricalDistribution([1, 2]) != CategoricalDistribution([2, 1])
    assert CategoricalDistribution([1, True]) != CategoricalDistribution([1, 1])
    assert len({FloatDistribution(0, 1), FloatDistribution(0.0, 1.0), IntDistribution(0, 1)}) == 2
    assert (
        repr(IntDistribution(0, 4, step=2)) == "IntDistribution(low=0, high=4, log=False, step=2)"
    )


@pytest.mark.parametrize(
    "dist",
    [
        FloatDistribution(-1.5, 2.5),
        FloatDistribution(1e-5, 1.0, log=True),
        FloatDistribution(0.0, 1.0, step=0.1),
        IntDistribution(-3, 7),
        IntDistribution(1, 1024, log=True),
        IntDistribution(0, 100, step=5),
        CategoricalDistribution([None, True, 3, 2.5, "x"]),
    ],
)
def test_copy_pickle_and_json_round_trip(dist: BaseDistribution) -> None:
    assert copy.deepcopy(dist) == dist
    assert pickle.loads(pickle.dumps(dist)) == dist
    text = distribution_to_json(dist)
    assert json.loads(text)["name"] == type(dist).__name__
    back = json_to_distribution(text)
    assert back == dist and type(back) is type(dist)


def test_json_reads_optuna_legacy_names() -> None:
    def load(name: str, **attrs: Any) -> BaseDistribution:
        return json_to_distribution(json.dumps({"name": name, "attributes": attrs}))

    assert load("UniformDistribution", low=0, high=1) == FloatDistribution(0, 1)
    assert load("LogUniformDistribution", low=1e-3, high=1) == FloatDistribution(1e-3, 1, log=True)
    assert load("DiscreteUniformDistribution", low=0, high=1, q=0.25) == FloatDistribution(
        0, 1, step=0.25
    )
    assert load("IntUniformDistribution", low=0, high=9, step=3) == IntDistribution(0, 9, step=3)
    assert load("IntLogUniformDistribution", low=1, high=64) == IntDistribution(1, 64, log=True)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not a distribution's JSON"),
        ('{"attributes": {}}', "not a distribution's JSON"),
        ('{"name": "Gaussian", "attributes": {}}', "unknown distribution name='Gaussian'"),
    ],
)
def test_json_to_distribution_rejects_garbage(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        json_to_distribution(text)


def test_json_to_distribution_validates_attributes() -> None:
    text = json.dumps({"name": "FloatDistribution", "attributes": {"low": 2.0, "high": 1.0}})
    with pytest.raises(ValueError, match="`low` must be <= `high`"):
        json_to_distribution(text)


def test_compatibility_allows_moving_numeric_bounds() -> None:
    check_distribution_compatibility(FloatDistribution(0, 1), FloatDistribution(-5, 5, log=False))
    check_distribution_compatibility(IntDistribution(0, 1), IntDistribution(0, 100, step=10))
    check_distribution_compatibility(
        CategoricalDistribution(["a", 1]), CategoricalDistribution(("a", 1))
    )


def test_compatibility_rejects_another_kind_with_the_name() -> None:
    with pytest.raises(IncompatibleDistributionError, match="parameter 'lr' was suggested with"):
        check_distribution_compatibility(
            FloatDistribution(0, 1), IntDistribution(0, 1), param_name="lr"
        )
    with pytest.raises(IncompatibleDistributionError, match=r"choices=\['a', 'b'\]"):
        check_distribution_compatibility(
            CategoricalDistribution(["a", "b"]), CategoricalDistribution(["a", "c"])
        )
    # also a ValueError, for code that catches Optuna's ValueError
    with pytest.raises(ValueError):
        check_distribution_compatibility(IntDistribution(0, 1), CategoricalDistribution([0, 1]))


# -- properties -------------------------------------------------------------------------------

_finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
_positive = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def float_distributions(draw: st.DrawFn) -> FloatDistribution:
    kind = draw(st.sampled_from(["plain", "log", "step"]))
    if kind == "log":
        a, b = sorted((draw(_positive), draw(_positive)))
        return FloatDistribution(a, b, log=True)
    a, b = sorted((draw(_finite), draw(_finite)))
    if kind == "step":
        step = draw(st.sampled_from([0.001, 0.01, 0.1, 0.25, 0.5, 1.0, 2.0, 7.5]))
        # keep the grid small enough for exact decimal snapping
        b = min(b, a + 10_000 * step)
        return FloatDistribution(a, b, step=step)
    return FloatDistribution(a, b)


@st.composite
def int_distributions(draw: st.DrawFn) -> IntDistribution:
    if draw(st.booleans()):
        a, b = sorted((draw(st.integers(1, 10**6)), draw(st.integers(1, 10**6))))
        return IntDistribution(a, b, log=True)
    a, b = sorted((draw(st.integers(-(10**6), 10**6)), draw(st.integers(-(10**6), 10**6))))
    return IntDistribution(a, b, step=draw(st.integers(1, 50)))


_choices = st.lists(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-100, 100),
        st.floats(allow_nan=False, allow_infinity=False, width=32),
        st.text(max_size=5),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=60, deadline=None)
@given(float_distributions())
def test_float_distribution_properties(d: FloatDistribution) -> None:
    assert d.low <= d.high
    assert d.contains(d.low) and d.contains(d.high)
    if d.step is not None:
        k = (d.high - d.low) / d.step
        assert abs(k - round(k)) < 1e-6  # high lies on the grid
    assert json_to_distribution(distribution_to_json(d)) == d
    assert d.to_external_repr(d.to_internal_repr(d.low)) == d.low


@settings(max_examples=60, deadline=None)
@given(int_distributions())
def test_int_distribution_properties(d: IntDistribution) -> None:
    assert d.low <= d.high and (d.high - d.low) % d.step == 0
    assert d.contains(d.low) and d.contains(d.high)
    assert json_to_distribution(distribution_to_json(d)) == d
    for v in (d.low, d.high):
        assert d.to_external_repr(d.to_internal_repr(v)) == v


@settings(max_examples=60, deadline=None)
@given(_choices)
def test_categorical_distribution_properties(choices: list[Any]) -> None:
    d = CategoricalDistribution(choices)
    assert json_to_distribution(distribution_to_json(d)) == d
    for c in choices:
        i = d.to_internal_repr(c)
        assert d._contains(i)
        back = d.to_external_repr(i)
        assert back == c and type(back) is type(c)


# -- numpy scalars (as Optuna accepts them) ---------------------------------------------------


def test_numpy_scalar_bounds_are_accepted_as_python_numbers() -> None:
    np = pytest.importorskip("numpy")
    f = FloatDistribution(np.float32(0.5), np.float64(2.0), step=np.float64(0.5))
    assert (f.low, f.high, f.step) == (0.5, 2.0, 0.5) and type(f.low) is float
    i = IntDistribution(np.int64(1), np.uint8(9), step=np.int32(2))
    assert (i.low, i.high, i.step) == (1, 9, 2) and type(i.low) is int
    assert IntDistribution(np.float64(2.0), 4).low == 2
    with pytest.raises(ValueError, match=r"`low` must be an integer, got low=np\.float32"):
        IntDistribution(np.float32(1.5), 3)
    with pytest.raises(ValueError, match="must be an integer"):
        IntDistribution(np.bool_(True), 3)


def test_numpy_scalar_choices_become_python_values() -> None:
    np = pytest.importorskip("numpy")
    d = CategoricalDistribution([np.int64(1), np.bool_(False), np.float32(0.5), np.str_("a")])
    assert d.choices == (1, False, 0.5, "a")
    assert [type(c) for c in d.choices] == [int, bool, float, str]
    assert json_to_distribution(distribution_to_json(d)) == CategoricalDistribution(
        [1, False, 0.5, "a"]
    )
    with pytest.raises(ValueError, match="of type ndarray"):
        CategoricalDistribution([np.array([1, 2])])
