"""Several weight formats side by side: the table the popular web calculators show.

For one model and one GPU type, each format's memory, what that is per GPU, and how many GPUs it takes. The
numbers are the kit's own estimates (`serving_breakdown` with a format; `inference_memory` for a context), so
the table and the calculators above it always agree. Standard library only, like the estimates it calls.
"""

from __future__ import annotations

import json
from dataclasses import replace
from fractions import Fraction
from typing import NamedTuple

from .estimate import serving_breakdown
from .formats import FORMATS, GGUF_FILE_TYPES, _normalize, bits_per_weight, weight_bytes
from .gpus import get_gpu, gpus_needed
from .inference import VLLM_GPU_MEMORY_UTILIZATION, serving_gpus
from .model import ModelSpec

# fp32 / bf16 / fp8 / int8 / int4 and llama.cpp's most used file type: the precisions people compare.
COMPARE_FORMATS = ("fp32", "bf16", "fp8", "int8", "int4", "q4_k_m")


class FormatRow(NamedTuple):
    """One format's line: memory in all, per GPU, and GPUs needed (None with `note` when it cannot be said).

    The quantization table adds the weights alone: their exact bytes and bits per parameter (scales, zero points
    and the tensors kept in 16 bits included); the other tables leave them None.
    """

    fmt: str
    total_bytes: float | None
    per_gpu_bytes: float | None
    n_gpus: int | None
    note: str = ""
    weight_bytes: int | None = None
    bits_per_param: Fraction | None = None


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


# Group sizes GPTQ and AWQ checkpoints are published with (AutoGPTQ / AutoAWQ's q_group_size; 128 the default).
GROUP_SIZES = (32, 64, 128)
# llama.cpp file types compared in chapter 04: 8-bit, and the k-quant mixtures from 6 down to 2 bits.
GGUF_COMPARED = ("q8_0", "q6_k", "q5_k_m", "q4_k_m", "q3_k_m", "q2_k")


class QuantOption(NamedTuple):
    """One way to store the weights: a label, and either a weight format or a checkpoint's quantization_config."""

    key: str  # stable across group sizes: "bf16", "gptq", "awq", "q4_k_m", ...
    label: str
    fmt: str  # a weight format name, or "auto": the `quantization` config below (llmmem.quantization's rules)
    quantization: dict | None = None


def quantization_options(group_size: int = 128) -> tuple[QuantOption, ...]:
    """The formats chapter 04 compares, GPTQ and AWQ at ``group_size``.

    GPTQ and AWQ are described as the checkpoints' own quantization_config, so `llmmem.quantization` counts
    them: GPTQ symmetric, as vLLM serves it (an fp16 scale per group, no zero points: v0.19.0's gptq_marlin.py
    takes only sym=True for 4 and 8 bits, and MarlinLinearKernel.process_weights_after_loading in
    kernels/linear/mixed_precision/marlin.py swaps the loaded qzeros, and g_idx without desc_act, for empty
    tensors), AWQ with a 4-bit zero point per group beside the scale (the `int4` format is that, at group 128).
    """
    if isinstance(group_size, bool) or group_size not in GROUP_SIZES:
        raise ValueError(f"group size must be one of {', '.join(map(str, GROUP_SIZES))}; got {group_size!r}")
    gptq = {"quant_method": "gptq", "bits": 4, "group_size": group_size, "sym": True, "desc_act": False}
    awq = {"quant_method": "awq", "bits": 4, "group_size": group_size, "zero_point": True}
    return (QuantOption("bf16", "bf16", "bf16"), QuantOption("fp8", "fp8", "fp8"), QuantOption("int8", "int8", "int8"),
            QuantOption("gptq", f"GPTQ int4, group {group_size}", "auto", gptq),
            QuantOption("awq", f"AWQ int4, group {group_size}", "auto", awq),
            QuantOption("nf4", "nf4", "nf4"), QuantOption("nf4_dq", "nf4 + double quant", "nf4_dq"),
            *(QuantOption(f, f, f) for f in GGUF_COMPARED))


def checkpoint_option(spec: ModelSpec) -> QuantOption | None:
    """The checkpoint's own storage as an option ("this checkpoint (awq)", weights="auto"); None if unquantized."""
    if spec.quantization is None:
        return None
    method = spec.quantization.get("quant_method", "its quantization_config")
    return QuantOption("checkpoint", f"this checkpoint ({method})", "auto")


def stored_as(spec: ModelSpec, option: QuantOption) -> ModelSpec:
    """The spec whose weights="auto" is ``option``: its quantization_config set, as from_hf_config stores one."""
    if option.quantization is None:
        return spec
    return replace(spec, quantization_config=json.dumps(option.quantization, sort_keys=True))


def compare_quantized_formats(spec, gpu="H100-80GB", options=None, kv_cache="bf16", batch=1, seq_len=8192,
                              gpu_memory_utilization=VLLM_GPU_MEMORY_UTILIZATION, max_tp=16) -> list[FormatRow]:
    """Each of ``options`` (default: :func:`quantization_options`): the weights' exact bytes and bits per
    parameter, and the fewest GPUs that serve the model so (:func:`llmmem.inference.serving_gpus`, the rules
    of `llmmem serve`). A checkpoint with its own quantization_config gets a first row, as it is stored."""
    if not isinstance(spec, ModelSpec):
        raise ValueError(f"comparing quantized formats needs a ModelSpec; got {type(spec).__name__}")
    options = quantization_options() if options is None else tuple(options)
    own = checkpoint_option(spec)
    if own is not None:
        options = (own, *options)
    rows = []
    for option in options:
        stored = stored_as(spec, option)
        try:
            weights = weight_bytes(stored, option.fmt)
        except ValueError as err:  # a llama.cpp mixture on a family its rules are not modelled for
            rows.append(FormatRow(option.label, None, None, None, f"not counted: {err}"))
            continue
        bits = bits_per_weight(option.fmt, stored)
        try:
            tp, b, _ = serving_gpus(stored, gpu, weights=option.fmt, kv_cache=kv_cache, batch=batch,
                                    seq_len=seq_len, gpu_memory_utilization=gpu_memory_utilization, max_tp=max_tp)
        except ValueError:  # no TP size up to max_tp fits
            rows.append(FormatRow(option.label, None, None, None, f"does not fit on {max_tp} GPUs", weights, bits))
            continue
        rows.append(FormatRow(option.label, b.total * tp, b.total, tp, "", weights, bits))
    return rows
