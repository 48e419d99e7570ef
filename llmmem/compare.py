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
from .inference import VLLM_GPU_MEMORY_UTILIZATION, serving_gpus
from .model import ModelSpec

# fp32 / bf16 / fp8 / int8 / int4 and llama.cpp's most used file type: the precisions people compare.
COMPARE_FORMATS = ("fp32", "bf16", "fp8", "int8", "int4", "q4_k_m")


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
                              seq_len=8192, gpu_memory_utilization=VLLM_GPU_MEMORY_UTILIZATION,
                              max_tp=16) -> list[FormatRow]:
    """`inference_memory` in each weight format on the fewest GPUs that serve it, by the same rules as
    `llmmem serve` (:func:`llmmem.inference.serving_gpus`: vLLM's share of each card, a TP size that divides the
    heads), up to ``max_tp`` GPUs (two nodes of eight)."""
    rows = []
    for fmt in formats:
        try:
            tp, b, _ = serving_gpus(spec, gpu, weights=fmt, kv_cache=kv_cache, batch=batch, seq_len=seq_len,
                                    gpu_memory_utilization=gpu_memory_utilization, max_tp=max_tp)
        except ValueError:  # no TP size up to max_tp fits
            rows.append(FormatRow(fmt, None, None, None, f"does not fit on {max_tp} GPUs"))
            continue
        rows.append(FormatRow(fmt, b.total * tp, b.total, tp))
    return rows
