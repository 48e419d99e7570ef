"""Counts and bytes: parsing "70B", and showing GB (10^9) beside GiB (2^30).

GPU vendors print "80 GB" on a card that the driver reports as 81920 MiB = 80 GiB = 85.9 GB, while model
sizes and most articles use GB = 10^9 bytes. Mixing the two is the most common silent error in memory
estimates, so every number the kit shows carries both.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction
from numbers import Integral, Real
from typing import Any, TypeVar

from .validation import MAX_BYTES, MAX_COUNT, MAX_TEXT, MAX_TOKENS, WrongTypeError, check_tokens, is_finite, quote

_N = TypeVar("_N")

GB = 10**9
GiB = 2**30
MiB = 2**20

# Suffixes as model cards write them: "70B" params, "1.5T" tokens. ASCII only: re.IGNORECASE alone would let
# the Kelvin sign (U+212A) match "k".
_SUFFIX = {"": 0, "K": 3, "M": 6, "B": 9, "G": 9, "T": 12}  # powers of ten
_COUNT = re.compile(r"([0-9]*\.?[0-9]+)(?:[eE]([+-]?[0-9]{1,6}))?\s*([KMBGT]?)", re.IGNORECASE | re.ASCII)
# A comma is a thousands separator only between groups of three digits: "13,000,000,000", "131,072".
_THOUSANDS = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])", re.ASCII)


def _strip_thousands(text: str, value, example: str) -> str:
    """``text`` without thousands separators; a decimal comma ("1,5B") is refused, never read as 15B."""
    if "," not in text:
        return text
    cleaned = _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)
    if "," in cleaned:
        raise ValueError(f"cannot read {quote(value)}: a comma only separates thousands (13,000,000,000); "
                         f"for a decimal write a point ({example})")
    return cleaned


def parse_count(value, what: str = "a count", maximum: int = MAX_COUNT) -> int:
    """A positive whole count from "70B", "1.5T", "7e9", "13_000_000_000", "13,000,000,000" or a number.

    Suffixes: K = 10^3, M = 10^6, B or G = 10^9, T = 10^12 (case-insensitive). At most ``maximum``
    (default 10^15, see :data:`llmmem.validation.MAX_PARAMS`); the size is checked before any big integer is
    built, so '1e999999' is refused at once. Decimal commas are refused ("write 1.5B, not 1,5B"), and so is
    anything that is not a whole number (3.5, Fraction(7, 2)): nothing is silently truncated.
    """
    if type(value) is int and 0 < value <= maximum:  # the common case, first
        return value
    if isinstance(value, str):
        exact = _parse_count_text(value, what, maximum)
    elif isinstance(value, bool) or not isinstance(value, (Real, Decimal)):
        raise WrongTypeError(f"{what} must be a number or a string like '70B'; got {quote(value)} "
                             f"({type(value).__name__})")
    elif isinstance(value, Integral):
        exact = Fraction(int(value))
    else:
        number: Any = value
        if not is_finite(number):
            raise ValueError(f"{what} must be finite; got {quote(value)}")
        if abs(number) > maximum:
            raise ValueError(f"{what} must be at most {maximum:,}; got {quote(value)}")
        try:
            exact = Fraction(number)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"cannot read {quote(value)} as {what}") from None
    if exact.denominator != 1:
        raise ValueError(f"{what} must be a whole number; got {quote(value)}")
    count = int(exact)
    if count <= 0:
        raise ValueError(f"{what} must be positive; got {quote(value)}")
    if count > maximum:
        raise ValueError(f"{what} must be at most {maximum:,} (10^{len(str(maximum)) - 1}); got {quote(value)}")
    return count


def _parse_count_text(value: str, what: str, maximum: int) -> Fraction:
    hint = "write a number with an optional suffix K, M, B or T, e.g. '70B', '1.5T', '7e9' or 13000000000"
    if len(value) > MAX_TEXT:
        raise ValueError(f"{what} is a short text like '70B'; got {len(value):,} characters")
    text = _strip_thousands(value.strip().replace("_", ""), value, "1.5B, not 1,5B")
    match = _COUNT.fullmatch(text)
    if not match:
        raise ValueError(f"cannot read {quote(value)} as {what}; {hint}")
    digits, exponent, suffix = match.group(1), int(match.group(2) or 0), match.group(3).upper()
    mantissa = Decimal(digits)
    if mantissa == 0:
        raise ValueError(f"{what} must be positive; got {quote(value)}")
    magnitude = mantissa.adjusted() + exponent + _SUFFIX[suffix]  # 10^magnitude <= value < 10^(magnitude + 1)
    if magnitude > len(str(maximum)) - 1:
        raise ValueError(f"{what} must be at most {maximum:,}; {quote(value)} is about 10^{magnitude}")
    if magnitude < 0:
        raise ValueError(f"{what} must be a whole number of at least 1; got {quote(value)}")
    return Fraction(mantissa) * Fraction(10) ** (exponent + _SUFFIX[suffix])


# Context lengths: k = 1024 tokens and M = 1024 x 1024, as model cards mean them: Llama 3.1's "128k context" is
# max_position_embeddings = 131072 (meta-llama/Llama-3.1-8B config.json).
_CONTEXT = re.compile(r"([0-9]+)\s*([kKmM]?)", re.ASCII)
_CONTEXT_SCALE = {"": 1, "k": 1024, "m": 1024 * 1024}


def parse_context(text) -> int:
    """Tokens from '128k' (131,072), '8192', '131,072' or '1M' (1,048,576): k = 1024, M = 1024 x 1024.

    An int (numpy ints too) is taken as tokens. At most 10^9 tokens (:data:`llmmem.validation.MAX_TOKENS`).
    """
    hint = "write e.g. 8192, '128k' (= 131,072) or '1M'"
    if isinstance(text, Integral) and not isinstance(text, bool):
        return check_tokens(text, "a context length in tokens")
    if not isinstance(text, str):
        raise WrongTypeError(f"a context length is a number of tokens or a text like '128k'; got {quote(text)} "
                             f"({type(text).__name__})")
    if len(text) > MAX_TEXT:
        raise ValueError(f"a context length is a short text like '128k'; got {len(text):,} characters")
    cleaned = _strip_thousands(text.strip().replace("_", ""), text, "k = 1024 tokens, so 1.5k is 1536")
    match = _CONTEXT.fullmatch(cleaned)
    if not match:
        raise ValueError(f"cannot read {quote(text)} as a number of tokens; {hint}")
    digits = match.group(1).lstrip("0") or "0"
    if len(digits) > 10:
        raise ValueError(f"a context length must be at most {MAX_TOKENS:,} tokens; got {quote(text)}")
    return check_tokens(int(digits) * _CONTEXT_SCALE[match.group(2).lower()], "a context length in tokens")


def round_up(value: int, multiple: int) -> int:
    """``value`` rounded up to a multiple of ``multiple`` (allocator blocks, vocab padding, kernel widths)."""
    return -(-value // multiple) * multiple


def check_bytes(n_bytes: _N, what: str = "memory") -> _N:
    """`n_bytes` unchanged, or a ValueError if it is not a finite, non-negative byte count."""
    if isinstance(n_bytes, bool) or not isinstance(n_bytes, Real):
        raise ValueError(f"{what} must be a number of bytes; got {quote(n_bytes)}")
    number: Any = n_bytes
    if not is_finite(number) or not 0 <= number <= MAX_BYTES:
        raise ValueError(f"{what} must be a finite, non-negative number of bytes (at most 10^24); got {quote(n_bytes)}")
    return n_bytes


def _finite(value, what: str):
    """A finite real number (negative allowed: differences of bytes are shown too), unchanged."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise WrongTypeError(f"{what} must be a number; got {quote(value)} ({type(value).__name__})")
    number: Any = value
    if not is_finite(number) or abs(number) > MAX_BYTES:
        raise ValueError(f"{what} must be finite, at most 10^24 in size; got {quote(value)}")
    return value


def to_gb(n_bytes) -> float:
    """Bytes in GB (10^9 bytes), the unit of model cards and of the source articles."""
    return _finite(n_bytes, "n_bytes") / GB


def to_gib(n_bytes) -> float:
    """Bytes in GiB (2^30 bytes), the unit of nvidia-smi, PyTorch and vLLM logs."""
    return _finite(n_bytes, "n_bytes") / GiB


def format_bytes(n_bytes, digits: int = 1) -> str:
    """'168.0 GB (156.5 GiB)': both units, so nobody has to guess which one was meant."""
    return f"{to_gb(n_bytes):,.{digits}f} GB ({to_gib(n_bytes):,.{digits}f} GiB)"


def format_count(count: int) -> str:
    """'70B', '1.5T', '124.4M': a parameter count as people say it."""
    count = _finite(count, "count")
    for suffix, scale in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if abs(count) >= scale:
            return f"{count / scale:.4g}{suffix}"
    return str(count)
