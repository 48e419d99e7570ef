"""Counts and bytes: parsing "70B", and showing GB (10^9) beside GiB (2^30).

GPU vendors print "80 GB" on a card that the driver reports as 81920 MiB = 80 GiB = 85.9 GB, while model
sizes and most articles use GB = 10^9 bytes. Mixing the two is the most common silent error in memory
estimates, so every number the kit shows carries both.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from numbers import Real
from typing import TypeVar

_N = TypeVar("_N")

GB = 10**9
GiB = 2**30
MiB = 2**20

# Suffixes as model cards write them: "70B" params, "1.5T" tokens.
_SUFFIX = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "G": 10**9, "T": 10**12}
_COUNT = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([KMBGT]?)\s*$", re.IGNORECASE)


def parse_count(value) -> int:
    """A positive whole count from "70B", "1.5T", "7e9", "13_000_000_000" or a number.

    Suffixes: K = 10^3, M = 10^6, B or G = 10^9, T = 10^12 (case-insensitive).
    """
    if type(value) is int and value > 0:  # the common case, first
        return value
    if isinstance(value, bool):
        raise ValueError(f"a count must be a number or a string like '70B'; got {value!r}")
    if isinstance(value, str):
        text = value.replace("_", "").replace(",", "")
        match = _COUNT.match(text)
        if not match:
            raise ValueError(
                f"cannot read {value!r} as a count; write a number with an optional suffix "
                "K, M, B or T, e.g. '70B', '1.5T', '7e9' or 13000000000"
            )
        try:
            exact = Decimal(match.group(1)) * _SUFFIX[match.group(2).upper()]
        except InvalidOperation as err:  # pragma: no cover - the regex admits only valid decimals
            raise ValueError(f"cannot read {value!r} as a count") from err
    elif isinstance(value, Real):
        if not math.isfinite(value):
            raise ValueError(f"a count must be finite; got {value!r}")
        exact = Decimal(value) if isinstance(value, float) else Decimal(int(math.trunc(value)))
    else:
        raise ValueError(f"a count must be a number or a string like '70B'; got {type(value).__name__}")
    if exact != exact.to_integral_value():
        raise ValueError(f"a count must be a whole number; {value!r} is {exact}")
    count = int(exact)
    if count <= 0:
        raise ValueError(f"a count must be positive; got {value!r}")
    return count


# Context lengths: k = 1024 tokens and M = 1024 x 1024, as model cards mean them: Llama 3.1's "128k context" is
# max_position_embeddings = 131072 (meta-llama/Llama-3.1-8B config.json).
_CONTEXT = re.compile(r"^\s*([0-9]+)\s*([kKmM]?)\s*$")
_CONTEXT_SCALE = {"": 1, "k": 1024, "m": 1024 * 1024}


def parse_context(text) -> int:
    """Tokens from '128k' (131,072), '8192' or '1M' (1,048,576): k = 1024, M = 1024 x 1024."""
    match = _CONTEXT.match(str(text).replace("_", "").replace(",", ""))
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"cannot read {text!r} as a number of tokens; write e.g. 8192, '128k' (= 131,072) or '1M'")
    return int(match.group(1)) * _CONTEXT_SCALE[match.group(2).lower()]


def check_bytes(n_bytes: _N, what: str = "memory") -> _N:
    """`n_bytes` unchanged, or a ValueError if it is not a finite, non-negative byte count."""
    if isinstance(n_bytes, bool) or not isinstance(n_bytes, Real):
        raise ValueError(f"{what} must be a number of bytes; got {n_bytes!r}")
    if not math.isfinite(n_bytes) or n_bytes < 0:
        raise ValueError(f"{what} must be a finite, non-negative number of bytes; got {n_bytes!r}")
    return n_bytes


def to_gb(n_bytes) -> float:
    """Bytes in GB (10^9 bytes), the unit of model cards and of the seed articles."""
    return n_bytes / GB


def to_gib(n_bytes) -> float:
    """Bytes in GiB (2^30 bytes), the unit of nvidia-smi, PyTorch and vLLM logs."""
    return n_bytes / GiB


def format_bytes(n_bytes, digits: int = 1) -> str:
    """'168.0 GB (156.5 GiB)': both units, so nobody has to guess which one was meant."""
    return f"{to_gb(n_bytes):,.{digits}f} GB ({to_gib(n_bytes):,.{digits}f} GiB)"


def format_count(count: int) -> str:
    """'70B', '1.5T', '124.4M': a parameter count as people say it."""
    for suffix, scale in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if abs(count) >= scale:
            return f"{count / scale:.4g}{suffix}"
    return str(count)
