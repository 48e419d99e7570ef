"""GPUs and "how many of them": a catalog of cards with the memory their driver reports.

Capacities are what `nvidia-smi` (or `rocm-smi` for AMD) prints as total memory, in MiB, each with its
source in `llmmem/data/gpus.json`. That number, not the "80 GB" on the box, is what a model must fit in.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from numbers import Real

from .units import GB, GiB, MiB, check_bytes
from .validation import MAX_TEXT, is_finite, listing, quote


@dataclass(frozen=True)
class GPU:
    name: str
    memory_mib: int
    vendor: str
    nominal: str
    source: str
    aliases: tuple = ()
    bandwidth_bytes_per_s: int = 0  # peak memory bandwidth (datasheet), bytes/s; 0 = unknown
    dense_flops: tuple = ()  # ((dtype, peak dense FLOP/s), ...): never the "with sparsity" figures
    speed_source: str = ""

    @property
    def memory_bytes(self) -> int:
        return self.memory_mib * MiB

    def peak_flops(self, dtype: str = "bf16") -> int:
        """Peak dense tensor FLOP/s for ``dtype`` ("bf16", "fp16", "fp8", "int8"); bf16 and fp16 stand in for
        each other (a T4 or V100 has fp16 only). ValueError when the card has no such figure."""
        table = dict(self.dense_flops)
        for key in (dtype, {"bf16": "fp16", "fp16": "bf16"}.get(dtype, "")):
            if key in table:
                return table[key]
        have = ", ".join(table) or "none"
        raise ValueError(f"{self.name} has no dense {dtype} FLOP/s in the catalog; it has: {have}")

    def __str__(self) -> str:
        return (f"{self.name} ({self.memory_mib:,} MiB = {self.memory_bytes / GiB:.2f} GiB"
                f" = {self.memory_bytes / GB:.1f} GB)")


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@lru_cache(maxsize=1)
def _catalog() -> dict:
    raw = json.loads(resources.files("llmmem").joinpath("data/gpus.json").read_text())
    by_key: dict[str, GPU] = {}
    for entry in raw["gpus"]:
        gpu = GPU(
            name=entry["name"],
            memory_mib=int(entry["memory_mib"]),
            vendor=entry["vendor"],
            nominal=entry["nominal"],
            source=entry["source"],
            aliases=tuple(entry.get("aliases", ())),
            bandwidth_bytes_per_s=int(entry.get("bandwidth_bytes_per_s", 0)),
            dense_flops=tuple((k, int(v)) for k, v in entry.get("dense_flops", {}).items()),
            speed_source=entry.get("speed_source", ""),
        )
        for label in (gpu.name, *gpu.aliases):
            by_key.setdefault(_key(label), gpu)
    return by_key


def gpu_names() -> list:
    """The catalog's GPU names, in catalog order."""
    return list(dict.fromkeys(g.name for g in _catalog().values()))


def get_gpu(name) -> GPU:
    """A catalog GPU by name or alias ("A100-80GB", "a100 80gb", "H100"); a GPU passes through."""
    if isinstance(name, GPU):
        return name
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a GPU is named by a string such as 'A100-80GB'; got {quote(name)}")
    catalog = _catalog()
    found = catalog.get(_key(name)) if len(name) <= MAX_TEXT else None
    if found is None:
        close = difflib.get_close_matches(name, gpu_names(), n=3, cutoff=0.4) if len(name) <= MAX_TEXT else []
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown GPU {quote(name, 40)}.{hint} Known: {listing(gpu_names(), 8, 'llmmem gpus')}")
    return found


def _fraction(value, what: str, low, high) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, Real) or not is_finite(value):
        raise ValueError(f"{what} must be a finite number; got {quote(value)}")
    if not low < value <= high:
        raise ValueError(f"{what} must be in ({low}, {high}]; got {quote(value)}")
    return Fraction(repr(float(value)))


def usable_bytes(gpu="A100-80GB", usable_fraction=1.0, reserve_bytes=0) -> Fraction:
    """Bytes one GPU can give a model: capacity x usable_fraction - reserve_bytes."""
    card = get_gpu(gpu)
    fraction = _fraction(usable_fraction, "usable_fraction", 0, 1)
    reserve = check_bytes(reserve_bytes, what="reserve_bytes")
    usable = card.memory_bytes * fraction - Fraction(reserve)
    if usable <= 0:
        raise ValueError(f"nothing is left on a {card.name} after reserving {quote(reserve_bytes)} bytes")
    return usable


def gpus_needed(n_bytes, gpu="A100-80GB", usable_fraction=1.0, reserve_bytes=0) -> int:
    """How many GPUs hold `n_bytes`: ceil(n_bytes / (capacity x usable_fraction - reserve_bytes)).

    The rule: memory splits evenly across the cards (as tensor parallelism splits weights), each card
    offers its driver-reported capacity times `usable_fraction`, less `reserve_bytes` for what every
    process keeps there (the CUDA context and its kernels take about 1.3 GiB, llmmem.peak; vLLM lets a
    model use 90 % of the card, `gpu_memory_utilization=0.9`). The defaults (100 %, no reserve)
    reproduce the article's answer: 168 GB fits in two A100-80GB cards only because each one holds
    80 GiB = 85.9 GB. 0 bytes need 0 GPUs.

    >>> gpus_needed(168e9, gpu="A100-80GB")
    2
    """
    return gpus_needed_explained(n_bytes, gpu, usable_fraction, reserve_bytes)[0]


def gpus_needed_explained(n_bytes, gpu="A100-80GB", usable_fraction=1.0, reserve_bytes=0) -> tuple:
    """`gpus_needed` and the arithmetic behind it, as (count, "168.0 GB / 85.9 GB per A100-80GB = ...")."""
    need = check_bytes(n_bytes, what="n_bytes")
    card = get_gpu(gpu)
    per_gpu = usable_bytes(card, usable_fraction, reserve_bytes)
    ratio = Fraction(need) / per_gpu
    count = math.ceil(ratio)
    usable = "" if per_gpu == card.memory_bytes else " usable"
    text = (
        f"{need / GB:,.1f} GB / {float(per_gpu) / GB:,.1f} GB{usable} per {card.name} "
        f"= {float(ratio):.2f} -> {count} GPU{'s' if count != 1 else ''}"
    )
    return count, text
