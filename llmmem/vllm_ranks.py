"""What one tensor-parallel rank of vLLM holds: the weights it keeps whole instead of sharding them, and the
parameters it allocates (:func:`vllm_rank_tensor_bytes`).

vLLM v0.19.0 shards the column- and row-parallel linears, the vocab-parallel embedding and the LM head,
but some tensors are built whole on every rank (:func:`vllm_replicated_params`):

* the text model's norms (model_executor/layers/layernorm.py: RMSNorm / LayerNorm weights have no TP
  split): a few MB at most (Llama 3.1 405B at TP 8: 7.3 MB per GPU beyond an even split);
* MoE routers: the ``gate`` is a ``ReplicatedLinear`` in every MoE model vLLM ships (deepseek_v2.py's
  ``GateLinear`` (fused_moe/router/gate_linear.py) subclasses it; qwen2_moe.py, qwen3_moe.py, mixtral.py);
* MLA's latent projections, deepseek_v2.py ``DeepseekV2MLAAttention``: ``kv_a_proj_with_mqa`` is a
  ``ReplicatedLinear``, and with a ``q_lora_rank`` the fused ``q_a_proj`` + ``kv_a_proj_with_mqa``
  (``DeepSeekV2FusedQkvAProjLinear``) is built with ``disable_tp=True``;
* MoonViT (Kimi-VL), kimi_vl.py / moonvit.py: the projector's two ``ReplicatedLinear`` and its LayerNorm,
  the patch Conv2d, the position grid, every LayerNorm, and the biases of the row-parallel ``wo`` / ``fc1``
  (the rank-0 ``Loaded weight ... with shape`` lines of the llm-d-planner TP 2 log, d3121e05
  accuracy/results/v0.19.0/logs/moonshotai-kimi-vl-a3b-i--h100-80gb--tp2pp1dp1--8192.log, list exactly
  these whole: 241,905,848 vision + projector parameters on rank 0 against 447,545,840 in all).

Other vision towers are left as sharded: their vLLM layouts are not checked against a log here.
"""

from __future__ import annotations

from math import prod

from .model import ModelSpec, Tensor
from .units import round_up

# MoonViT (vLLM v0.19.0 moonvit.py): wqkv / fc0 are column-parallel (weight and bias split), wo / fc1
# row-parallel (weight split, bias whole). llmmem.architectures.vision names them attn.qkv / mlp.fc1 and
# attn.o_proj / mlp.fc2.
_MOONVIT_ROW_PARALLEL = ("encoder.blocks.attn.o_proj", "encoder.blocks.mlp.fc2")
_MOONVIT_SPLIT = ("encoder.blocks.attn.qkv", "encoder.blocks.mlp.fc1")


def _moonvit_whole(name: str, component: str) -> bool:
    if component == "projector":
        return True
    if any(part in name for part in _MOONVIT_SPLIT):
        return False
    if any(part in name for part in _MOONVIT_ROW_PARALLEL):
        return name.endswith(".bias")
    return True  # patch_embed.proj, patch_embed.pos_emb, the norms


def vllm_replicated_params(spec: ModelSpec) -> int:
    """Parameters vLLM v0.19.0 holds whole on every tensor-parallel rank (see the module docstring).

    >>> from llmmem.model import ModelSpec
    >>> spec = ModelSpec(name="toy", model_type="llama", vocab_size=10, hidden_size=64, num_layers=2,
    ...                  num_heads=4, num_kv_heads=2, head_dim=16, intermediate_size=128)
    >>> vllm_replicated_params(spec)  # dense and text-only: its norms, 2 per layer and the final one, of 64
    320
    """
    if not isinstance(spec, ModelSpec):
        raise ValueError(f"spec must be a ModelSpec; got {type(spec).__name__}")
    moonvit = any(t.name == "vision_tower.patch_embed.pos_emb.weight" for t in spec.weight_tensors())
    return sum(t.numel for t in spec.weight_tensors() if _is_whole(t, moonvit))


def _is_whole(t: Tensor, moonvit: bool) -> bool:
    """Whether vLLM builds tensor ``t`` whole on every TP rank (the module docstring)."""
    if t.component in ("vision_tower", "projector"):
        return moonvit and _moonvit_whole(t.name, t.component)
    return t.kind == "router" or t.module in ("kv_a_proj", "q_a_proj", "position_embedding") \
        or t.component == "norms"


def _check_tp(spec: ModelSpec, tp) -> int:
    """tp as vLLM accepts it for ``spec`` (heads and KV heads split evenly: llmmem.inference's rule)."""
    from .inference import _kv_heads_per_rank  # inference imports this module: look it up at call time

    _kv_heads_per_rank(spec, tp)
    return tp


def _kv_share(spec: ModelSpec, tp: int) -> float:
    """The share of k_proj / v_proj one rank holds: max(1, kv_heads // tp) of the kv_heads (replicated past them)."""
    return max(1, spec.num_kv_heads // tp) / spec.num_kv_heads


def _is_kv(t: Tensor, spec: ModelSpec) -> bool:
    return t.module in ("k_proj", "v_proj") and not spec.uses_mla


def vllm_replicated_extra_bytes(spec: ModelSpec, tp: int, dtype_bytes: int = 2) -> int:
    """Bytes per rank beyond an even 1/tp split: the (tp - 1)/tp share of the tensors kept whole, and the k/v
    projections' share beyond 1/tp when there are fewer KV heads than GPUs (each rank keeps one, replicated).

    Counted in the model dtype (``dtype_bytes``): the runs that need it hold these tensors unquantized.
    Floor-divided where tp does not divide the bytes.
    """
    if not isinstance(spec, ModelSpec):
        raise ValueError(f"spec must be a ModelSpec; got {type(spec).__name__}")
    if dtype_bytes not in (2, 4):
        raise ValueError(f"dtype_bytes must be 2 or 4; got {dtype_bytes!r}")
    tp = _check_tp(spec, tp)
    extra = vllm_replicated_params(spec) * dtype_bytes * (tp - 1) // tp
    if spec.num_kv_heads < tp and not spec.uses_mla:
        kv = sum(t.numel for t in spec.weight_tensors() if _is_kv(t, spec)) * dtype_bytes
        extra += int(kv * _kv_share(spec, tp)) - kv // tp
    return extra


# vLLM's fused parameters: the transformers-style modules of the kit that one vLLM parameter holds together
# (model_executor/layers/linear.py: QKVParallelLinear, MergedColumnParallelLinear; fused_moe/layer.py: the
# experts' w13_weight and w2_weight; deepseek_v2.py: fused_qkv_a_proj, or kv_a_proj_with_mqa alone).
_VLLM_PARAMETER = {"q_proj": "qkv_proj", "k_proj": "qkv_proj", "v_proj": "qkv_proj",
                   "gate_proj": "gate_up_proj", "up_proj": "gate_up_proj",
                   "expert_gate_proj": "w13", "expert_up_proj": "w13", "expert_down_proj": "w2",
                   "shared_gate_proj": "shared_gate_up_proj", "shared_up_proj": "shared_gate_up_proj",
                   "q_a_proj": "qkv_a_proj", "kv_a_proj": "qkv_a_proj"}
VOCAB_PADDING = 64  # vocab_parallel_embedding.py: DEFAULT_VOCAB_PADDING_SIZE, rows padded before the TP split


def _element_bits(spec: ModelSpec, fmt: str) -> int:
    """Bits of one stored value of the quantized matrices: the format's, or the checkpoint's scheme's."""
    from .formats import FORMATS
    from .quantization import read_quantization

    if fmt == "auto":
        q = spec.quantization
        return read_quantization(q).element_bits if q is not None else 16
    return FORMATS[fmt].element_bits


def vllm_rank_tensor_bytes(spec: ModelSpec, fmt: str = "auto", tp: int = 1) -> list[int]:
    """Bytes of each weight parameter one TP rank of vLLM v0.19.0 allocates: fused as vLLM fuses them, split
    or whole as it splits them. What the allocator's block rounding (:mod:`llmmem.allocator`) applies to.

    Matrices only: norms and biases are a few KiB each, and vision towers are left out. A quantized matrix is
    listed as its packed values, rows x cols x element bits / 8 (vLLM keeps the scales and zero points in
    tensors of their own, a few MiB at most; Marlin's repacking keeps the values' size). KV heads follow
    vLLM's replication (max(1, kv_heads // tp) per rank); embedding and LM head rows are padded to 64 first.
    gpt-oss's MXFP4 experts are the padded, swizzled tensors of
    :func:`llmmem.vllm_mxfp4.vllm_mxfp4_expert_tensors`.
    """
    from .formats import canonical_format, weight_bytes_by_tensor
    from .vllm_mxfp4 import uses_vllm_mxfp4_experts, vllm_mxfp4_expert_tensors

    if not isinstance(spec, ModelSpec):
        raise ValueError(f"spec must be a ModelSpec; got {type(spec).__name__}")
    tp = _check_tp(spec, tp)
    fmt = canonical_format(fmt)
    mxfp4 = uses_vllm_mxfp4_experts(spec, fmt)
    from .inference import _act_bytes

    element = _act_bytes(fmt)  # bytes of an unquantized weight: the model dtype
    packed_bits = _element_bits(spec, fmt)
    parameters: dict[tuple, float] = {}
    for t, b in weight_bytes_by_tensor(spec, fmt):
        if t.kind == "vector" or t.component in ("vision_tower", "projector") or (mxfp4 and t.kind == "expert"):
            continue  # gpt-oss's MXFP4 experts are added below, as vLLM lays them out
        if b != t.numel * element:  # quantized: its packed values
            b = t.numel * packed_bits // 8
        if _is_whole(t, moonvit=False):
            share: float = b
        elif _is_kv(t, spec):
            share = b * _kv_share(spec, tp)
        elif t.module in ("embedding", "lm_head"):
            share = b * round_up(t.rows, VOCAB_PADDING) / t.rows / tp
        else:
            share = b / tp
        key = (t.layer, t.component, _VLLM_PARAMETER.get(t.module, t.module))
        parameters[key] = parameters.get(key, 0) + share
    out = [int(b) for b in parameters.values()]
    if mxfp4:
        per_layer = [size * prod(shape) for _, shape, size in vllm_mxfp4_expert_tensors(spec, tp)]
        out += per_layer * len(spec.moe_layers)
    return out
