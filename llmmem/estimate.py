"""Numeric estimates. Each returns bytes or a `Breakdown`; the formulas they compute live in
`llmmem.symbolic` as sympy expressions, and tests prove that the two agree.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from numbers import Integral, Real
from typing import Any

from .breakdown import Breakdown
from .formats import bits_per_weight, weight_bytes
from .model import ModelSpec
from .units import GB, format_count, parse_count
from .validation import is_finite, quote

SERVING_BITS = (4, 8, 16, 32)


def _check_bits(bits) -> int:
    if isinstance(bits, bool) or not isinstance(bits, Integral) or bits not in SERVING_BITS:
        allowed = ", ".join(str(b) for b in SERVING_BITS)
        raise ValueError(f"bits must be one of {allowed}; got {quote(bits)}")
    return int(bits)


@lru_cache(maxsize=256)
def _overhead_fraction(overhead: float) -> Fraction:
    # Through the shortest decimal, so 1.2 is exactly 6/5 and 70B x 16 bits x 1.2 is exactly 168e9.
    return Fraction(repr(overhead))


def _check_overhead(overhead) -> Fraction:
    if isinstance(overhead, bool) or not isinstance(overhead, Real) or not is_finite(overhead):
        raise ValueError(f"overhead must be a finite multiplier such as 1.2 (20 % extra); got {quote(overhead)}")
    multiplier: Any = overhead
    if not 1 <= multiplier <= 3:  # compared before float(): float() of a 400-digit int overflows
        raise ValueError(f"overhead is a multiplier between 1 (none) and 3; got {quote(overhead)} "
                         "(1.2 means 20 % extra)")
    return _overhead_fraction(float(overhead))


def serving_memory(params, bits=16, overhead=1.2) -> float:
    """GPU memory to serve a model, by the articles' formula M = (P * 4 bytes) / (32 / Q) * overhead.

    That is P * Q / 8 bytes of weights times the overhead: with the article's 20 %, 0.15 * P * Q bytes,
    or "0.15 x billions of parameters x bits" GB. It counts weights and a flat margin only: no KV cache,
    no activations (see `llmmem.inference_memory` for those).

    >>> serving_memory(70e9, bits=16)
    168000000000.0
    """
    factor = _check_overhead(overhead)
    # Integer arithmetic and one true division: exactly rounded, and several times faster than Fraction.
    return (parse_count(params) * _check_bits(bits) * factor.numerator) / (8 * factor.denominator)


def serving_breakdown(params, bits=16, overhead=1.2, fmt=None) -> Breakdown:
    """`serving_memory` split into weights and the overhead margin.

    With `fmt` (a weight format such as "nf4_dq" or "q4_k_m"), the weights are `llmmem.weight_bytes` in that
    format instead of P x bits / 8: block scales and 16-bit tensors counted, which needs a ModelSpec for
    the formats that mix types per tensor. The flat overhead multiplier applies the same way.
    """
    if fmt is not None:
        return _format_serving_breakdown(params, fmt, overhead)
    count = parse_count(params)
    q = _check_bits(bits)
    factor = _check_overhead(overhead)
    weights = Fraction(count) * q / 8
    total = weights * factor
    weights_bytes = int(weights) if weights.denominator == 1 else float(weights)
    return Breakdown(
        {"weights": weights_bytes, "overhead": float(total - weights)},
        title=f"Serving {format_count(count)} parameters at {q} bits (the quick rule: weights + overhead)",
        notes=(
            f"M = P x Q / 8 x overhead = {count:,} x {q} / 8 x {float(factor):g} = {float(total) / GB:,.1f} GB",
            f"overhead: a flat {float(factor) - 1:.0%} of the weights, as in the two source articles",
        ),
    )


def _format_serving_breakdown(spec_or_params, fmt, overhead) -> Breakdown:
    factor = _check_overhead(overhead)
    spec = spec_or_params if isinstance(spec_or_params, ModelSpec) else None
    count = spec.num_params() if spec else parse_count(spec_or_params)
    weights = weight_bytes(spec_or_params, fmt)
    extra = Fraction(weights) * (factor - 1)
    return Breakdown(
        {"weights": weights, "overhead": int(extra) if extra.denominator == 1 else float(extra)},
        title=f"Serving {format_count(count)} parameters in {fmt}",
        notes=(
            f"weights: {fmt} at {float(bits_per_weight(fmt, spec)):.3f} bits per weight on average x {count:,} "
            f"parameters = {weights / GB:,.1f} GB (block scales and 16-bit tensors included)",
            f"overhead: a flat {float(factor) - 1:.0%} of the weights, as in the two source articles",
        ),
    )
