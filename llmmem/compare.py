"""Several weight formats side by side: the table the popular web calculators show.

For one model and one GPU type, each format's memory, what that is per GPU, and how many GPUs it takes. The
numbers are the kit's own estimates (`serving_breakdown` with a format; `inference_memory` for a context), so
the table and the calculators above it always agree. Standard library only, like the estimates it calls.
"""

from __future__ import annotations

from typing import NamedTuple

from .estimate import serving_breakdown
from .formats import FORMATS, GGUF_FILE_TYPES, _normalize
from .gpus import get_gpu, gpus_needed
from .inference import inference_memory
from .model import ModelSpec

# fp32 / bf16 / fp8 / int8 / int4 and llama.cpp's most used file type: the precisions people compare.
COMPARE_FORMATS = ("fp32", "bf16", "fp8", "int8", "int4", "q4_k_m")
TP_DEGREES = (1, 2, 4, 8, 16)  # the tensor-parallel splits a server offers (powers of two, up to two nodes)


class FormatRow(NamedTuple):
    """One format's line: memory in all, per GPU, and GPUs needed (None with `note` when it cannot be said)."""

    fmt: str
    total_bytes: float | None
    per_gpu_bytes: float | None
    n_gpus: int | None
    note: str = ""


def needs_architecture(fmt: str) -> bool:
    """True for llama.cpp file types that mix block types tensor by tensor (q4_k_m, q3_k_s, ...)."""
    return pure_block_type(fmt) is not None


def pure_block_type(fmt: str) -> str | None:
    """The main block type of a mixed llama.cpp file type ('q4_k' for 'q4_k_m'); None for any other format."""
    key = _normalize(fmt)
    return GGUF_FILE_TYPES[key] if key not in FORMATS and key in GGUF_FILE_TYPES else None


def compare_serving_formats(model, gpu="A100-80GB", formats=COMPARE_FORMATS, overhead=1.2) -> list[FormatRow]:
    """Serving memory (weights in each format x the overhead multiplier) and the GPUs it takes.

    ``model``: a ModelSpec, or a parameter count ("70B"); a count cannot say what a mixed llama.cpp file type
    (q4_k_m) costs, so that row carries a note instead of numbers.
    """
    card = get_gpu(gpu)
    rows = []
    for fmt in formats:
        if needs_architecture(fmt) and not isinstance(model, ModelSpec):
            rows.append(FormatRow(fmt, None, None, None, "needs a model's architecture (pick a model)"))
            continue
        total = serving_breakdown(model, overhead=overhead, fmt=fmt).total
        n = max(gpus_needed(total, gpu=card), 1)
        rows.append(FormatRow(fmt, total, total / n, n))
    return rows


def compare_inference_formats(spec, gpu="H100-80GB", formats=COMPARE_FORMATS, kv_cache="bf16", batch=1,
                              seq_len=8192, degrees=TP_DEGREES) -> list[FormatRow]:
    """`inference_memory` in each weight format at the smallest tensor-parallel degree whose per-GPU memory fits.

    A degree the model cannot be split into (heads not divisible) is skipped, as a server would refuse it.
    """
    card = get_gpu(gpu)
    rows = []
    for fmt in formats:
        row = FormatRow(fmt, None, None, None, f"does not fit on {max(degrees)} GPUs")
        for tp in degrees:
            try:
                per_gpu = inference_memory(spec, weights=fmt, kv_cache=kv_cache, batch=batch, seq_len=seq_len,
                                           tp=tp).total
            except ValueError:  # this split is impossible for this model (e.g. 8 KV heads over 16 GPUs)
                continue
            if per_gpu <= card.memory_bytes:
                row = FormatRow(fmt, per_gpu * tp, per_gpu, tp)
                break
        rows.append(row)
    return rows
