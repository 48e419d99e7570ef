"""llmmem.validation: the one home of input checks (ranges, kinds, names, quoting)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from llmmem import validation as v


@pytest.mark.parametrize("value", [1, 7, v.MAX_BATCH])
def test_check_batch_accepts_whole_numbers_in_range(value):
    assert v.check_batch(value) == value and type(v.check_batch(value)) is int


def test_numpy_integers_become_plain_ints():
    np = pytest.importorskip("numpy")
    out = v.check_tokens(np.int64(4096))
    assert out == 4096 and type(out) is int


@pytest.mark.parametrize("value, kind", [
    (True, TypeError), (2.0, TypeError), ("8", TypeError), (None, TypeError), (Fraction(4, 1), TypeError),
    (0, ValueError), (-3, ValueError), (v.MAX_BATCH + 1, ValueError),
])
def test_check_batch_refuses(value, kind):
    with pytest.raises(kind) as err:
        v.check_batch(value)
    assert isinstance(err.value, ValueError)  # WrongTypeError is both a TypeError and a ValueError
    assert "batch" in str(err.value)


def test_the_maximum_gives_its_reason():
    with pytest.raises(ValueError, match=r"at most 1,000,000 \(10x the largest GPU clusters\)"):
        v.check_parallel(2 * 10**6, "tp")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), Decimal("NaN"), -0.1, 1.5, "0.9", True])
def test_check_fraction_refuses(value):
    with pytest.raises(ValueError):
        v.check_fraction(value, "gpu_memory_utilization", open_min=True)


def test_check_fraction_bounds_open_and_closed():
    assert v.check_fraction(1, "u", open_min=True) == 1
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        v.check_fraction(0, "u", open_min=True)
    assert v.check_fraction(Fraction(1, 2), "u") == Fraction(1, 2)


def test_is_finite_answers_for_huge_ints_and_decimals():
    assert v.is_finite(10**400) and v.is_finite(Fraction(10**400, 3))
    assert not v.is_finite(float("inf")) and not v.is_finite(Decimal("sNaN")) and not v.is_finite(Decimal("Inf"))


@pytest.mark.parametrize("value", ["x" * 10**6, 10**5000, list(range(10**5)), {"a": [1] * 10**5}, b"\0" * 10**6],
                         ids=["str", "int", "list", "dict", "bytes"])
def test_quote_is_short_for_anything(value):
    assert len(v.quote(value)) <= v.QUOTE_CHARS + 30


def test_quote_survives_a_hostile_repr():
    class Nasty:
        def __repr__(self):
            raise RuntimeError("no")

    assert v.quote(Nasty()) == "<a Nasty>"


def test_quote_keeps_short_values_as_repr():
    assert v.quote("70B") == "'70B'" and v.quote(3.5) == "3.5"


@pytest.mark.parametrize("alias, canonical", [
    ("BF16", "bf16"), ("bfloat16", "bf16"), (" FP32 ", "fp32"), ("float32", "fp32"), ("half", "fp16"),
    ("fp8-e4m3", "fp8_e4m3"), ("E5M2", "fp8_e5m2"), ("INT8", "int8"),
])
def test_kv_format_aliases(alias, canonical):
    assert v.canonical_kv_format(alias) == canonical


def test_choice_normalises_and_lists_options():
    assert v.choice(" AdamW ", ("adamw", "sgd"), "optimizer") == "adamw"
    with pytest.raises(ValueError, match="choose one of adamw, sgd"):
        v.choice("adam", ("adamw", "sgd"), "optimizer")
    with pytest.raises(ValueError, match="characters long"):
        v.choice("a" * 1000, ("adamw",), "optimizer")


def test_listing_cuts_long_lists():
    assert v.listing(["a", "b"]) == "a, b"
    assert v.listing([str(i) for i in range(20)], 3, "see x") == "0, 1, 2 and 17 more (see x)"
