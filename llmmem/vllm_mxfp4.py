"""What vLLM v0.19.0 keeps of MXFP4 routed experts (gpt-oss) on one H100, after its TRITON backend converts them.

The checkpoint stores each expert's gate_up and down matrices as MXFP4 (two 4-bit values per byte and
one E8M0 byte per 32 values) with bf16 biases; that is what :func:`llmmem.quantization.checkpoint_weight_bytes`
counts. vLLM does not keep them so: on an H100 (sm90) its "TRITON" MXFP4 MoE backend (the one the
v0.19.0 logs name, "Using 'TRITON' Mxfp4 MoE backend.") pads them, swizzles them into triton_kernels'
Hopper layouts and keeps the loaded scales as well. Per MoE layer and TP rank, with E experts, hidden
size H and intermediate size I (vLLM v0.19.0 source; triton_kernels as vendored in its wheel, triton v3.6.0):

1. Per-rank width. fused_moe/layer.py: ``I // tp``; the TRITON backend then rounds it up to a multiple
   of 64 (fused_moe/oracle/mxfp4.py ``mxfp4_round_up_hidden_size_and_intermediate_size``, last branch;
   H is not rounded there). gpt-oss-20b: 2880 at TP 1, 1440 -> 1472 at TP 2.
2. Loaded Parameters (quantization/mxfp4.py ``Mxfp4MoEMethod.create_weights``, in that padded width i):
   w13 (E, 2i, H/2) and w2 (E, H, i/2) uint8; scales w13 (E, 2i, H/32) and w2 (E, H, i/32) uint8;
   biases w13 (E, 2i) and w2 (E, H) bf16 (models/gpt_oss.py loads w2_bias whole on every rank).
3. process_weights_after_loading (oracle/mxfp4.py ``convert_to_mxfp4_moe_kernel_format``, TRITON
   branch, and quantization/utils/mxfp4_utils.py ``_swizzle_mxfp4``): the biases become fp32 and replace
   the bf16 ones; values and scales are transposed and ``convert_layout`` builds new tensors in the layouts
   ``make_default_matmul_mxfp4_w_layout`` / ``..._w_scale_layout`` pick for capability 9 (vLLM runs torch
   >= 2.8.1, so not the strided fallback): HopperMXValueLayout and HopperMXScaleLayout(num_warps=8).
   The value Parameters are deleted (``del layer.w13_weight``) and replaced by the swizzled tensors;
   the swizzled scales go into the PrecisionConfig, and the loaded scale Parameters stay registered on
   the layer (quantization/mxfp4.py ``_setup_kernel`` replaces only the weights for TRITON backends), so
   both copies of the scales stay allocated.
4. Padding of the layouts (triton_kernels/tensor_details/layout_details/):
   hopper_value.py ``swizzle_data`` pads both dims of the (H/2, 2i) and (i/2, H) byte matrices to
   multiples of 64 (its later tile pads, 16 and 32, then add nothing) and keeps the byte count;
   hopper_scale.py ``swizzle_data`` pads the scales' row dim (2i, resp. H) to a multiple of
   2 * num_warps * 2 * 8 = 256 and the block dim (H/32, resp. i/32) to a multiple of 2.

What "Model loading took" reads is what stays allocated after that (utils/mem_utils.py
DeviceMemoryProfiler), so :func:`vllm_mxfp4_expert_bytes` sums items 3 and 4. Checked against the
v0.19.0 H100 sweep (llm-d-planner @ d3121e05, accuracy/results/v0.19.0/logs/): gpt-oss-20b at TP 2 logs
7.01 GiB and at TP 1 13.64 GiB (the TP 1 run failed later, after the load). Other GPUs (Blackwell's
layouts, the FlashInfer or Marlin backends), expert parallelism and ROCm are not modelled.

Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable
from math import prod

from .model import ModelSpec
from .quantization import checkpoint_tensor_bytes
from .units import round_up
from .validation import check_parallel

__all__ = ["uses_vllm_mxfp4_experts", "vllm_mxfp4_expert_tensors", "vllm_mxfp4_expert_bytes",
           "vllm_mxfp4_expert_surplus_bytes"]

MXFP4_BLOCK = 32  # values per E8M0 scale (OCP MX); two values per byte
TRITON_WIDTH_MULTIPLE = 64  # oracle/mxfp4.py: round_up(intermediate_size, 64) for the TRITON backend on CUDA
HOPPER_VALUE_ALIGN = 64  # hopper_value.py: SWIZZLE_ALIGN_M = SWIZZLE_ALIGN_K = 64
HOPPER_SCALE_ALIGN_ROWS = 2 * 8 * 2 * 8  # hopper_scale.py: 2 * num_warps * 2 * 8, num_warps=8 (_swizzle_mxfp4)
HOPPER_SCALE_ALIGN_BLOCKS = 2  # hopper_scale.py: SWIZZLE_ALIGN_K


def uses_vllm_mxfp4_experts(spec: ModelSpec, fmt: str = "auto") -> bool:
    """Whether vLLM loads ``spec``'s experts with its MXFP4 MoE method: the checkpoint's own mxfp4 config."""
    from .formats import canonical_format

    q = spec.quantization
    return (canonical_format(fmt) == "auto" and q is not None and q.get("quant_method") == "mxfp4"
            and spec.num_experts > 0)


def vllm_mxfp4_rank_width(spec: ModelSpec, tp: int = 1) -> int:
    """One expert's width on one rank under the TRITON backend: moe_intermediate_size / tp rounded up to 64."""
    return round_up(spec.moe_intermediate_size // tp, TRITON_WIDTH_MULTIPLE)


def _check(spec: ModelSpec, tp) -> int:
    if not isinstance(spec, ModelSpec):
        raise ValueError(f"vllm_mxfp4_expert_bytes needs a ModelSpec; got {type(spec).__name__}")
    tp = check_parallel(tp, "tp (tensor-parallel size)")
    if not uses_vllm_mxfp4_experts(spec):
        raise ValueError(f"{spec.name} has no MXFP4 routed experts (quantization_config quant_method 'mxfp4')")
    if not spec.expert_bias:
        raise ValueError(f"{spec.name}: vLLM v0.19.0's TRITON MXFP4 path needs expert biases (it asserts them)")
    if spec.hidden_size % MXFP4_BLOCK or spec.moe_intermediate_size % MXFP4_BLOCK:
        raise ValueError(f"{spec.name}: MXFP4 needs hidden and expert sizes that are multiples of {MXFP4_BLOCK}")
    if spec.moe_intermediate_size % tp:
        raise ValueError(f"tp={tp} must divide the expert width {spec.moe_intermediate_size} "
                         "(models/gpt_oss.py asserts it)")
    return tp


def vllm_mxfp4_expert_tensors(spec: ModelSpec, tp: int = 1) -> list[tuple[str, tuple[int, ...], int]]:
    """(name, shape, bytes per element) of what one rank keeps for one MoE layer's experts (module docstring).

    Shapes are the allocations: a swizzled tensor is given as the padded matrix its layout stores.
    """
    tp = _check(spec, tp)
    e, h = spec.num_experts, spec.hidden_size
    i = vllm_mxfp4_rank_width(spec, tp)
    v, r, k = HOPPER_VALUE_ALIGN, HOPPER_SCALE_ALIGN_ROWS, HOPPER_SCALE_ALIGN_BLOCKS
    return [
        ("w13 values, Hopper swizzle", (e, round_up(h // 2, v), round_up(2 * i, v)), 1),
        ("w2 values, Hopper swizzle", (e, round_up(i // 2, v), round_up(h, v)), 1),
        ("w13 scales, Hopper swizzle", (e, round_up(2 * i, r), round_up(h // MXFP4_BLOCK, k)), 1),
        ("w2 scales, Hopper swizzle", (e, round_up(h, r), round_up(i // MXFP4_BLOCK, k)), 1),
        ("w13 scales as loaded (Parameter kept)", (e, 2 * i, h // MXFP4_BLOCK), 1),
        ("w2 scales as loaded (Parameter kept)", (e, h, i // MXFP4_BLOCK), 1),
        ("w13 bias, fp32", (e, 2 * i), 4),
        ("w2 bias, fp32 (whole on every rank)", (e, h), 4),
    ]


def _moe_layers(spec: ModelSpec, layers: Iterable[int] | None) -> int:
    moe = set(spec.moe_layers)
    return len(moe) if layers is None else len(moe.intersection(layers))


def vllm_mxfp4_expert_bytes(spec: ModelSpec, tp: int = 1, layers: Iterable[int] | None = None) -> int:
    """Exact bytes of the MXFP4 experts one TP rank holds after vLLM v0.19.0 loads them on an H100 (TRITON).

    ``layers``: the block indices on this rank (a pipeline stage's range); all of them by default.
    gpt-oss-20b, TP 2: 236,285,952 bytes per layer, against 211,783,680 in the checkpoint's half.
    """
    per_layer = sum(prod(shape) * size for _, shape, size in vllm_mxfp4_expert_tensors(spec, tp))
    return per_layer * _moe_layers(spec, layers)


def vllm_mxfp4_expert_surplus_bytes(spec: ModelSpec, fmt: str = "auto", tp: int = 1,
                                    layers: Iterable[int] | None = None) -> float:
    """What vLLM holds for the experts beyond the checkpoint's bytes / tp, per rank; 0 unless MXFP4 experts.

    The checkpoint's expert tensors (weights, scales, biases: ``Tensor.module`` "expert_*") of ``layers``,
    divided by tp, are replaced by :func:`vllm_mxfp4_expert_bytes`.
    """
    if not uses_vllm_mxfp4_experts(spec, fmt):
        return 0
    chosen = None if layers is None else set(layers)
    stored = sum(b for t, b in checkpoint_tensor_bytes(spec)
                 if t.module.startswith("expert_") and (chosen is None or t.layer in chosen))
    return vllm_mxfp4_expert_bytes(spec, tp, chosen) - stored / tp
