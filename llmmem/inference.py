"""Serving memory from the architecture: weights, KV cache, activations and overhead, per GPU.

Where the numbers come from
---------------------------
* KV cache: exact bytes. A standard attention layer caches a key and a value per KV head for every
  token: 2 * kv_heads * head_dim * bytes. Multi-head Latent Attention (DeepSeek-V2/V3) caches one latent
  of ``kv_lora_rank + qk_rope_head_dim`` per layer per token instead. Sliding-window layers keep at most
  ``window`` tokens.
* Tensor parallelism (TP) splits the KV heads across GPUs; when there are fewer KV heads than GPUs each
  GPU keeps one (replicated). MLA's latent is not split at all. Both as vLLM does it, see
  ``_kv_heads_per_rank``.
* vLLM paging: vLLM stores the cache in blocks of 16 tokens and reports how many whole blocks fit in the
  memory left after weights and its profiling run (``kv_cache_tokens``, ``vllm_available_kv_bytes``).
  Tests replay real vLLM 0.19 start-up logs (shared/reference/measurements.json) against these.
* Activations: an estimate, not an exact count (see ``prefill_activation_bytes``).
* Overhead: a measured constant from the same vLLM logs, or the source articles' flat fraction when asked.

Standard library only, so ``import llmmem`` stays fast.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from numbers import Real

from .allocator import cuda_block_bytes
from .architectures.rope import FP32_ROPE_TYPES
from .breakdown import Breakdown
from .formats import GGUF_FILE_TYPES, bits_per_weight, weight_bytes
from .formats import canonical_format as canonical_weight_format
from .gpus import get_gpu
from .model import ModelSpec
from .units import GB, GiB, round_up
from .validation import (
    MAX_BATCH,
    MAX_TOKENS,
    canonical_kv_format,
    check_batch,
    check_fraction,
    check_int,
    check_nonneg,
    check_parallel,
    check_positive,
    check_tokens,
    quote,
)
from .vllm_mxfp4 import uses_vllm_mxfp4_experts, vllm_mxfp4_expert_surplus_bytes, vllm_mxfp4_rank_width
from .vllm_ranks import vllm_rank_tensor_bytes, vllm_replicated_extra_bytes

__all__ = [
    "KV_CACHE_FORMATS",
    "VLLM_BLOCK_SIZE",
    "VLLM_MAX_NUM_BATCHED_TOKENS",
    "VLLM_MAX_NUM_SEQS",
    "VLLM_GPU_MEMORY_UTILIZATION",
    "WeightFormatChoice",
    "cheapest_weight_format",
    "inference_memory",
    "kv_cache_bytes",
    "kv_cache_bytes_per_token",
    "kv_cache_tokens",
    "max_batch",
    "max_context_explained",
    "serving_gpus",
    "valid_tp_sizes",
    "pipeline_stage_weight_bytes",
    "vllm_model_loading_bytes",
    "vllm_rope_table_bytes",
    "vllm_kv_layer_slots",
    "max_concurrency",
    "max_context",
    "prefill_activation_bytes",
    "pipeline_stage_activation_bytes",
    "vllm_available_kv_bytes",
    "vllm_cuda_graph_pool_bytes",
]

# Bits per cached element. "fp8" is either OCP FP8 variant (e4m3 or e5m2): one byte each, as vLLM's
# --kv-cache-dtype fp8/fp8_e4m3/fp8_e5m2. "int4" (e.g. transformers' QuantizedCache, KIVI) also stores a
# scale and zero point per group of elements; that overhead (a few %) is NOT counted here.
KV_CACHE_FORMATS: Mapping[str, int] = {
    "fp32": 32,
    "bf16": 16,
    "fp16": 16,
    "fp8": 8,
    "fp8_e4m3": 8,
    "fp8_e5m2": 8,
    "int8": 8,
    "int4": 4,
}

# vLLM's defaults. Block size: vllm/config/cache.py (block_size 16 on CUDA). Batch budget: on GPUs with at
# least 70 GiB that are not A100 (H100, H200, MI300X) `vllm serve` uses max_num_batched_tokens = 8192 and
# max_num_seqs = 1024 (vllm/engine/arg_utils.py, EngineArgs.get_batch_defaults); smaller GPUs 2048 / 256.
VLLM_BLOCK_SIZE = 16
VLLM_MAX_NUM_BATCHED_TOKENS = 8192
VLLM_MAX_NUM_SEQS = 1024
GGUF_NAMES = frozenset(GGUF_FILE_TYPES) | {"q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_k", "q3_k", "q4_k", "q5_k",
                                           "q6_k", "iq4_nl", "iq4_xs", "f16"}
# vLLM's default share of the card a server may use (vllm/config: gpu_memory_utilization = 0.9).
VLLM_GPU_MEMORY_UTILIZATION = 0.9

# Non-torch memory ("non-torch forward increase memory") in the llm-d-planner vLLM 0.19 H100 logs
# (measurements.json, ids vllm-0.19.0-h100-*): 0.24-0.25 GiB on one GPU; 2.07-2.21 GiB per GPU with TP > 1,
# where NCCL and vLLM's custom all-reduce allocate communication buffers outside PyTorch's allocator.
NON_TORCH_BYTES_SINGLE_GPU = GiB // 4
NON_TORCH_BYTES_TP = 21 * GiB // 10

# Sampler workspace per logit, beyond the logits tensor itself (which is in the activation dtype): vLLM's
# sampler upcasts to fp32 and builds probabilities and log-probabilities (3 x 4 bytes), plus masks/indices.
# 13 bytes is calibrated on the vLLM 0.19 logs (tests/test_vllm_logs.py shows every comparison).
SAMPLER_FP32_BYTES_PER_LOGIT = 13

# With pipeline parallelism (TP=1) every stage logs 0.07 GiB of non-torch memory: the llm-d-planner vLLM 0.19
# H100 logs of Llama-3.1-8B at PP=2 (both ranks; rank 0 is in measurements.json) and PP=4 (rank 0). NCCL is
# set up for the pipeline before profiling, so its buffers are in the baseline, not in the profiled increase.
NON_TORCH_BYTES_PP = 7 * GiB // 100

# vLLM's fused-MoE kernels work on chunks of at most this many tokens (vllm/envs.py, VLLM_FUSED_MOE_CHUNK_SIZE,
# default 16 * 1024); with the default 8192 batched tokens a profiling step is one chunk.
VLLM_FUSED_MOE_CHUNK_SIZE = 16 * 1024

# Hidden-size tensors alive inside a layer during the profiling forward: residual, normed input, attention
# output, MLP output (_forward_bytes_per_token; calibrated with it on the dense vLLM 0.19 logs).
HIDDEN_TENSORS_ALIVE = 4

# CUDA-graph pool (vllm_cuda_graph_pool_bytes). vLLM 0.19 captures one graph per capture size and mode: the sizes
# are [1, 2, 4] + range(8, 256, 8) + range(256, largest + 1, 16) (vllm/config/vllm.py), 51 up to the default
# largest 512, 83 up to the 1024 that vllm/model_executor/models/config.py (GptOssForCausalLMConfig) sets for
# gpt-oss; FULL_AND_PIECEWISE captures each size twice. FlashAttention's FULL decode graphs keep a split-KV
# accumulator (vllm/v1/attention/backends/flash_attn.py: "[num_splits, num_heads, num_tokens, head_size]" fp32,
# plus the fp32 log-sum-exp) with num_splits = flash_attn_max_num_splits_for_cuda_graph (vllm/config/attention.py).
VLLM_MAX_CUDAGRAPH_CAPTURE_SIZE = 512
VLLM_GPT_OSS_MAX_CUDAGRAPH_CAPTURE_SIZE = 1024
FLASH_ATTN_MAX_NUM_SPLITS_FOR_CUDA_GRAPH = 32
# vLLM's multimodal prefix-LM types (vllm/config/model.py, is_mm_prefix_lm): their bidirectional image-token
# attention rules out FLASH_ATTN, so they run TRITON_ATTN, which keeps no split-KV accumulator.
VLLM_MM_PREFIX_LM_TYPES = frozenset({"bagel", "gemma3", "molmo2", "paligemma"})
# The rest is calibrated: a base, and per layer on the GPU per captured graph (the graphs' kernel nodes; each
# piecewise size is one graph per layer-sized piece, the FULL one all of them), more for a fused-MoE layer and
# more again when the MoE layer has a shared expert (vllm/model_executor/layers/fused_moe/runner/
# default_moe_runner.py runs it on a second CUDA stream). Least squares on the calibration half of the
# llm-d-planner vLLM 0.19 H100 logs in measurements.json (runs whose model is in an even position of the sorted
# model names, 26 runs); tests/test_vllm_activations.py refits them and checks the other 30 runs.
CUDA_GRAPH_POOL_BASE_BYTES = 129 * 2**20
CUDA_GRAPH_POOL_BYTES_PER_LAYER_GRAPH = 184 * 2**10
CUDA_GRAPH_POOL_MOE_BYTES_PER_LAYER_GRAPH = 34 * 2**10
CUDA_GRAPH_POOL_SHARED_EXPERT_BYTES_PER_LAYER_GRAPH = 148 * 2**10


# ====================================================================== validation


def _check_positive_int(value, what: str) -> int:
    """A whole number >= 1 of at most 10^9 (tokens, block sizes, request counts): see llmmem.validation."""
    return check_positive(value, what, MAX_TOKENS, "far above any real serving setting")


def _check_spec(spec) -> ModelSpec:
    if isinstance(spec, ModelSpec):
        return spec
    if isinstance(spec, Mapping):
        return ModelSpec.from_hf_config(spec)
    raise ValueError(f"spec must be a ModelSpec or a Hugging Face config dict; got {type(spec).__name__}")


def _kv_bits(fmt) -> int:
    return KV_CACHE_FORMATS[canonical_kv_format(fmt)]


def _kv_heads_per_rank(spec: ModelSpec, tp) -> int:
    """KV heads one GPU stores under tensor parallelism ``tp`` (validated as vLLM does).

    vLLM (vllm/config/model.py, ModelConfig.get_num_kv_heads): MLA -> 1 ("When using MLA during decode it
    becomes MQA": the latent is replicated on every rank, not split); otherwise
    max(1, kv_heads // tp), i.e. KV heads are replicated when there are fewer of them than GPUs.
    Attention heads must divide evenly (vllm/config/parallel.py verify_with_parallel_config), and the KV
    heads must divide tp or be divisible by it (QKVParallelLinear), so max(1, kv // tp) = ceil(kv / tp).
    """
    check_parallel(tp, "tp (tensor-parallel size)")
    if tp > spec.num_heads or spec.num_heads % tp:
        raise ValueError(
            f"tp must divide the number of attention heads ({spec.num_heads}); got tp={tp}"
        )
    if spec.uses_mla:
        return 1
    kv = spec.num_kv_heads
    if kv % tp and tp % kv:
        raise ValueError(f"tp={tp} and the {kv} KV heads must divide one another (e.g. tp in 1, 2, 4, 8)")
    return max(1, kv // tp)


def _pp_layers(num_layers: int, pp) -> list[range]:
    """Layer ranges of the pipeline stages, as vLLM's get_pp_indices (vllm/distributed/utils.py) splits them:
    an even share each, the remainder going one by one to the stages before the last."""
    check_parallel(pp, "pp (pipeline-parallel size)")
    if pp > num_layers:
        raise ValueError(f"pp cannot exceed the number of layers ({num_layers}); got pp={pp}")
    sizes = [num_layers // pp] * pp
    for i in range(2, num_layers % pp + 2):
        sizes[-i] += 1
    stages, start = [], 0
    for size in sizes:
        stages.append(range(start, start + size))
        start += size
    return stages


def pipeline_stage_weight_bytes(spec, fmt="auto", pp=2) -> list[int]:
    """Exact weight bytes of each pipeline stage (before TP), split the way vLLM splits the model.

    Layers follow :func:`_pp_layers` (vLLM's get_pp_indices: an even share, the remainder to the stages
    before the last); the first stage also holds the token embedding (and a VLM's vision tower and
    projector), the last the final norm and the LM head -- with tied embeddings the last stage keeps its own
    copy of the embedding matrix as LM head (vLLM's ParallelLMHead loads it there), so both ends pay it.
    Per-GPU memory is the largest stage's, not total / pp.
    """
    from .formats import weight_bytes_by_tensor

    spec = _check_spec(spec)
    stages = _pp_layers(spec.num_layers, pp)
    out = [0] * len(stages)
    first_layer = [st.start for st in stages]
    for t, b in weight_bytes_by_tensor(spec, fmt):
        if t.layer is not None:
            out[max(i for i, start in enumerate(first_layer) if start <= t.layer)] += b
        elif t.component in ("lm_head",) or t.module == "norm":
            out[-1] += b
        else:
            out[0] += b
            if t.component == "embedding" and t.module == "embedding" and spec.tie_embeddings and pp > 1:
                out[-1] += b
    return out


def _act_bytes(fmt: str) -> int:
    """Bytes per activation for a canonical weight format: fp32 models compute in fp32, all others in 16 bits."""
    return 4 if fmt == "fp32" else 2


def _check_act_bytes(act_bytes) -> int:
    if isinstance(act_bytes, bool) or act_bytes not in (2, 4):
        raise ValueError(f"act_bytes must be 2 (bf16/fp16) or 4 (fp32); got {quote(act_bytes)}")
    return act_bytes


def vllm_rope_table_bytes(spec, act_bytes=2) -> int:
    """Bytes of the RoPE cos/sin tables vLLM builds at load, on every GPU (TP does not split them).

    One table per distinct rotary embedding (``spec.rope_tables``, llmmem/architectures/rope.py), each
    rows x rotary_dim elements in the model dtype (vLLM v0.19.0 rotary_embedding/base.py: a
    ``cos_sin_cache`` buffer, ``cache.to(dtype)``), or in fp32 where the model asks for it (gpt-oss:
    ``FP32_ROPE_TYPES``). ``act_bytes``: 2 for bf16/fp16 models, 4 for fp32.
    """
    spec = _check_spec(spec)
    act_bytes = _check_act_bytes(act_bytes)
    element = 4 if spec.model_type in FP32_ROPE_TYPES else act_bytes
    return sum(rows * dim for rows, dim in spec.rope_tables) * element


def vllm_model_loading_bytes(spec, fmt="auto", tp=1, pp=1) -> float:
    """What vLLM logs as "Model loading took X GiB" on rank 0: the loaded weights plus the RoPE tables.

    vLLM v0.19.0 v1/worker/gpu_model_runner.py measures it with DeviceMemoryProfiler
    (utils/mem_utils.py): torch.cuda.max_memory_allocated right after reset_peak_memory_stats, before and
    after load_model -- i.e. the growth of PyTorch's allocated memory over the load, so every buffer built
    and kept while the model is constructed counts, not only the checkpoint's tensors. Per GPU that is
    * the weights of the largest pipeline stage (:func:`pipeline_stage_weight_bytes`) / tp: embedding and
      LM head are vocab-parallel, the linears column/row-parallel; plus, for pp == 1, the (tp - 1)/tp share
      of what vLLM keeps whole on every rank (:func:`llmmem.vllm_ranks.vllm_replicated_params`: norms,
      routers, MLA's kv_a projection, MoonViT's projector / patch / norms -- 0.067 GiB for Kimi-VL at TP 2),
      and the k/v projections' replication when there are fewer KV heads than GPUs;
    * plus the RoPE tables (:func:`vllm_rope_table_bytes`), whole on every rank: 0.03 GiB for Llama 3.1,
      0.56 GiB for Gemma 3, 2.5 GiB for Llama 4 (10,485,760 positions);
    * MXFP4 experts (gpt-oss, ``fmt="auto"``) as vLLM's TRITON MoE backend keeps them on an H100, padded and
      swizzled (:func:`llmmem.vllm_mxfp4.vllm_mxfp4_expert_bytes`), instead of their checkpoint bytes / tp;
    * plus, for pp == 1, what PyTorch's caching allocator counts beyond each parameter: a tensor of 10 MiB or
      more gets a segment rounded up to 2 MiB and keeps a remainder of 1 MiB or less (:mod:`llmmem.allocator`,
      over :func:`llmmem.vllm_ranks.vllm_rank_tensor_bytes`): 57 MiB for Qwen2.5-7B, 0 for Llama 3.1 8B.
    """
    spec = _check_spec(spec)
    tp, pp = _check_positive_int(tp, "tp"), _check_positive_int(pp, "pp")
    _kv_heads_per_rank(spec, tp)  # a TP size vLLM accepts for these heads
    fmt = canonical_weight_format(fmt)
    stages = pipeline_stage_weight_bytes(spec, fmt, pp) if pp > 1 else [_weight_bytes(spec, fmt)]
    # MXFP4 experts (gpt-oss): held padded and swizzled by vLLM's TRITON MoE backend, not as stored (vllm_mxfp4.py)
    stage = max(s / tp + vllm_mxfp4_expert_surplus_bytes(spec, fmt, tp, layers)
                for s, layers in zip(stages, _pp_layers(spec.num_layers, pp), strict=True))
    # what vLLM keeps whole on every rank (norms, routers, MLA's kv_a, MoonViT's pieces): llmmem/vllm_ranks.py;
    # and the allocator's block rounding of each parameter (llmmem/allocator.py). Per stage neither is split
    # out, so only single-stage runs add them; GGUF is not split per tensor.
    whole = rounding = 0
    if pp == 1:
        whole = vllm_replicated_extra_bytes(spec, tp, _act_bytes(fmt))
        if fmt not in GGUF_NAMES:
            rounding = sum(cuda_block_bytes(b) - b for b in vllm_rank_tensor_bytes(spec, fmt, tp))
    return stage + whole + rounding + vllm_rope_table_bytes(spec, _act_bytes(fmt))


# ====================================================================== KV cache


def kv_cache_bytes_per_token(spec, fmt="bf16", tp=1) -> int:
    """Bytes one token adds to the KV cache of one GPU, over all layers, before any window fills.

    standard attention: 2 * layers * ceil(kv_heads / tp) * head_dim * bits / 8
    MLA:                layers * (kv_lora_rank + qk_rope_head_dim) * bits / 8  (not split by TP)
    """
    spec = _check_spec(spec)
    layers = spec.num_layers - len(spec.cross_attention_layers)  # mllama's cross-attention layers: no text KV
    return layers * _layer_bytes_per_token(spec, _kv_bits(fmt), _kv_heads_per_rank(spec, tp))


def _layer_bytes_per_token(spec: ModelSpec, bits: int, heads: int) -> int:
    if spec.uses_mla:
        elems = spec.kv_lora_rank + spec.qk_rope_head_dim
    else:
        elems = 2 * heads * spec.head_dim
    return elems * bits // 8  # element counts are even, so int4's half byte always comes out whole


def kv_cache_bytes(spec, seq_len=8192, batch=1, fmt="bf16", tp=1, pp=1) -> int:
    """Exact bytes of KV cache on one GPU for ``batch`` sequences of ``seq_len`` tokens.

    KV = batch * sum over layers of tokens_kept(layer) * bytes per token per layer, where tokens_kept is
    seq_len, or min(seq_len, window) for sliding-window layers (Mistral-7B-v0.1: all 32 layers, window
    4096; Gemma-2: every other layer). Under tensor parallelism ``tp`` each GPU holds its share of the KV
    heads (at least one; MLA's latent is held whole by every GPU). Under pipeline parallelism ``pp`` the
    answer is for the stage with the most cache (the largest share of layers).
    ``fmt``: one of KV_CACHE_FORMATS ("bf16", "fp16", "fp32", "fp8", "int8", "int4"; int4 without its
    per-group scales).

    >>> from llmmem.model import ModelSpec
    >>> spec = ModelSpec(name="toy", model_type="llama", vocab_size=10, hidden_size=64, num_layers=2,
    ...                  num_heads=4, num_kv_heads=2, head_dim=16, intermediate_size=128)
    >>> kv_cache_bytes(spec, seq_len=10)   # 2 (K and V) x 2 layers x 2 heads x 16 x 2 bytes x 10 tokens
    2560
    """
    spec = _check_spec(spec)
    seq_len = check_tokens(seq_len)
    batch = check_batch(batch)
    per_layer = _layer_bytes_per_token(spec, _kv_bits(fmt), _kv_heads_per_rank(spec, tp))
    window = spec.sliding_window
    sliding = set(spec.sliding_window_layers) if window else set()
    best = 0
    cross = set(spec.cross_attention_layers)
    for stage in _pp_layers(spec.num_layers, pp) if pp != 1 else (range(spec.num_layers),):
        n_sliding = len(sliding.intersection(stage)) if sliding else 0
        n_self = len(stage) - len(cross.intersection(stage))  # cross-attention layers cache the image, not text
        tokens = (n_self - n_sliding) * seq_len + n_sliding * min(seq_len, window or seq_len)
        best = max(best, tokens)
    return batch * best * per_layer


# ====================================================================== vLLM paging


def vllm_kv_layer_slots(spec, layers=None) -> int:
    """Layers' worth of KV pages one token slot costs in vLLM's hybrid allocator (``layers``: a range).

    With full-attention and sliding-window layers mixed, vLLM V1 groups the layers of each attention type
    into KV-cache groups of one size, the smallest type's layer count (vllm/v1/core/kv_cache_utils.py,
    ``_get_kv_cache_groups_uniform_page_size``: group_size = min over types of their layer counts), and
    every group holds group_size layers' pages. A type whose count is not a multiple pays for a padded
    group: Gemma-3-4B's 5 global + 29 sliding layers cost 5 + 6 x 5 = 35 slots, not 34 (the logged
    468,144 tokens; 34 would give 2.9 % more). One attention type: the layer count.
    """
    spec = _check_spec(spec)
    stage = range(spec.num_layers) if layers is None else layers
    stage = [i for i in stage if i not in set(spec.cross_attention_layers)]  # mllama: no per-token KV there
    sliding = set(spec.sliding_window_layers) if spec.sliding_window else set()
    n_sliding = len(sliding.intersection(stage))
    n_full = len(stage) - n_sliding
    if not n_sliding or not n_full:
        return len(stage)
    group = min(n_full, n_sliding)
    return round_up(n_full, group) + round_up(n_sliding, group)


def kv_cache_tokens(available_bytes, spec, fmt="bf16", tp=1, block_size=VLLM_BLOCK_SIZE, pp=1) -> int:
    """Tokens of KV cache that fit in ``available_bytes`` on one GPU, in whole blocks, as vLLM counts them.

    vLLM V1 (vllm/v1/core/kv_cache_utils.py): page = block_size * bytes per token per layer;
    num_blocks = available // page // layers_on_this_gpu; it logs "GPU KV cache size: num_blocks *
    block_size tokens". Sliding-window layers take the same page per token here (vLLM gives them their own
    block tables; windows save memory per request, not per token slot; ``max_concurrency`` here assumes
    full attention, so it undercounts requests for windowed models). With pipeline
    parallelism, use the stage with the most layers (vLLM keeps the smallest block count over all GPUs).
    """
    spec = _check_spec(spec)
    check_nonneg(available_bytes, "available_bytes")
    block_size = _check_positive_int(block_size, "block_size")
    layers = max(vllm_kv_layer_slots(spec, stage) for stage in _pp_layers(spec.num_layers, pp))
    page = block_size * _layer_bytes_per_token(spec, _kv_bits(fmt), _kv_heads_per_rank(spec, tp))
    return int(available_bytes // page // layers) * block_size


def vllm_pipeline_kv_tokens(rank0_kv_bytes, rank0_activation_bytes, spec, fmt="bf16", tp=1, pp=2,
                            block_size=VLLM_BLOCK_SIZE) -> int:
    """KV tokens vLLM reports under pipeline parallelism, from rank 0's logged budget.

    vLLM gives every stage the block count of the tightest one (``get_kv_cache_configs`` in
    vllm/v1/core/kv_cache_utils.py). The last stage is the tightest: besides its layers it runs the sampler,
    so its activation peak is the last of :func:`pipeline_stage_activation_bytes` where rank 0's is only a
    forward pass over its layers (the logged ``activation_peak``). Its budget is rank 0's less that
    difference; the LM head and the embedding weigh the same (untied models), so the weights are taken as
    equal, and the non-torch memory is the same on every stage (NON_TORCH_BYTES_PP).
    """
    extra = max(0, pipeline_stage_activation_bytes(spec, pp, tp=tp)[-1] - rank0_activation_bytes)
    stages = (kv_cache_tokens(rank0_kv_bytes, spec, fmt, tp, block_size, pp),
              kv_cache_tokens(max(0, rank0_kv_bytes - extra), spec, fmt, tp, block_size, pp))
    return min(stages)


def max_concurrency(tokens, max_model_len, block_size=VLLM_BLOCK_SIZE) -> float:
    """How many requests of ``max_model_len`` tokens fit in ``tokens`` of KV cache at once.

    As vLLM logs "Maximum concurrency for N tokens per request" for full-attention models
    (get_max_concurrency_for_kv_cache_config): blocks available / blocks one full-length request needs.
    """
    tokens = check_int(tokens, "tokens", 0, MAX_TOKENS * MAX_BATCH, "a very large KV cache")
    max_model_len = _check_positive_int(max_model_len, "max_model_len")
    block_size = _check_positive_int(block_size, "block_size")
    return (tokens // block_size) / math.ceil(max_model_len / block_size)


def vllm_available_kv_bytes(total_gpu_bytes, weights, activation_peak, non_torch, gpu_memory_utilization=0.9) -> float:
    """vLLM's KV-cache budget on one GPU: total * gpu_memory_utilization - (weights + activations + non-torch).

    This is vLLM V1's Worker.determine_available_memory (vllm/v1/worker/gpu_worker.py): the requested share
    of the card, less the "Total non KV cache memory" of its profiling run = weights + "torch peak memory
    increase" + "non-torch forward increase memory". vLLM's default gpu_memory_utilization is 0.9.
    The CUDA-graph pool and the CUDA context live in the remaining headroom.
    """
    check_fraction(gpu_memory_utilization, "gpu_memory_utilization (e.g. 0.9)", open_min=True)
    for value, what in ((total_gpu_bytes, "total_gpu_bytes"), (weights, "weights"),
                        (activation_peak, "activation_peak"), (non_torch, "non_torch")):
        check_nonneg(value, what)
    return total_gpu_bytes * gpu_memory_utilization - (weights + activation_peak + non_torch)


# ====================================================================== activations


def _moe_workspace_bytes(spec: ModelSpec, tokens: int, tp: int, act_bytes: int) -> int:
    """Bytes of vLLM's fused-MoE scratch for one chunk of ``tokens`` tokens (0 for a dense model).

    vLLM's Triton MoE experts (vllm/model_executor/layers/fused_moe, TritonExperts.workspace_shapes, read in
    the vLLM 2026 main line that v0.19 belongs to) ask for two buffers per chunk of M tokens, with
    N = 2 * expert_width / tp (gate and up merged, split over TP) and K = hidden:
    workspace13 = M x top_k x max(N/2, K) (the activated product, later the k expert outputs) and
    workspace2 = M x top_k x max(N, K) (the gate/up output); the summed output reuses workspace13.
    M = min(tokens, VLLM_FUSED_MOE_CHUNK_SIZE). The buffers come from vLLM's WorkspaceManager
    (vllm/v1/worker/workspace.py), one buffer shared by all layers that grows to the largest request and
    is kept: it is still allocated while the sampler runs, so it adds to whichever of forward and sampler
    is the larger (the Mixtral, Qwen1.5-MoE, Qwen3-30B-A3B, DeepSeek-V2-Lite, Llama-4-Scout and Kimi-VL
    logs all sit 0.2-0.7 GiB above the sampler alone; tests/test_vllm_activations.py).
    Not for gpt-oss's MXFP4 experts, whose kernel takes no workspace (:func:`_mxfp4_moe_elements_per_token`).
    """
    if not spec.is_moe:
        return 0
    m = min(tokens, VLLM_FUSED_MOE_CHUNK_SIZE)
    n = 2 * spec.moe_intermediate_size // tp
    k, hidden = spec.experts_per_token, spec.hidden_size
    return m * k * (max(n // 2, hidden) + max(n, hidden)) * act_bytes


def _widest_dense_mlp(spec: ModelSpec, layers: range) -> int:
    """The widest dense MLP of ``layers``: intermediate_size, or a MoE layer's shared expert (0 without one)."""
    moe_layers = set(spec.moe_layers) if spec.is_moe else set()
    widths = [spec.shared_experts_intermediate_size if i in moe_layers else spec.intermediate_size for i in layers]
    return max(widths, default=0)


def _forward_bytes_per_token(spec: ModelSpec, layers: range, tp: int) -> int:
    """Elements per token alive inside the widest layer of ``layers`` (dense MLP or a MoE layer's shared MLP).

    Inside a dense MLP the gate+up output (2 x width), the activated product (1 x width) and four
    hidden-size tensors (residual, normed input, attention output, MLP output) are alive together; a MoE
    layer's routed experts live in :func:`_moe_workspace_bytes`, only its shared expert (a dense MLP) here.
    Calibrated on the dense vLLM 0.19 logs where the forward pass, not the sampler, sets the peak
    (CodeLlama-7B, Granite-3.x: within 3 %).
    """
    return HIDDEN_TENSORS_ALIVE * spec.hidden_size + 3 * _widest_dense_mlp(spec, layers) // tp


def _mxfp4_moe_elements_per_token(spec: ModelSpec, tp: int) -> int:
    """Activation-dtype elements per token that a gpt-oss MXFP4 MoE layer adds while it runs, freed after it.

    vLLM v0.19.0 runs these experts with the 'TRITON' Mxfp4 backend's monolithic kernel
    (fused_moe/gpt_oss_triton_kernels_moe.py, OAITritonMxfp4ExpertsMonolithic -> triton_kernel_moe_forward),
    which takes nothing from the WorkspaceManager (fused_moe/modular_kernel.py, FusedMoEKernelMonolithicImpl):
    its buffers are torch.empty per call and go back to the allocator after the layer, before the sampler.
    For M tokens, top_k = k, i = the per-rank expert width rounded up to 64 (vllm_mxfp4.TRITON_WIDTH_MULTIPLE)
    and hidden H, what is alive during the second matmul_ogs: the first matmul's output with its fused
    SwiGLU, (M * k, i) (``intermediate_cache``), and the second's unreduced rows (M * k, H) (triton_kernels
    matmul_ogs.py init_allocation: a "matmul" scratchpad whenever it scatters with n_expts_act > 1, reduced
    into the output afterwards); the output itself (M, H) is the MLP output of :func:`_forward_bytes_per_token`.
    The routing tensors (top-k values and indices, gather/scatter indices: a few int32 per k) are left out.
    """
    return spec.experts_per_token * (vllm_mxfp4_rank_width(spec, tp) + spec.hidden_size)


def _int8_activation_bytes_per_token(spec: ModelSpec, weights: str, layers: range, tp: int) -> int:
    """Bytes per token a W8A8 INT8 checkpoint adds to the dense MLP's peak: the int8 copy of the activated product.

    vLLM v0.19.0 serves compressed-tensors INT8 weights with INT8 input activations through
    CompressedTensorsW8A8Int8 (quantization/compressed_tensors/schemes/compressed_tensors_w8a8_int8.py), on sm90
    the CutlassInt8ScaledMMLinearKernel (kernels/linear/scaled_mm/cutlass.py): every linear quantizes its input
    with ops.scaled_int8_quant (_custom_ops.py: an int8 tensor like the input, plus one fp32 scale per token when
    dynamic and one int32 zero point per token when asymmetric). Under torch.compile the int8 buffer of the down
    projection's input is allocated before the Inductor kernel that computes silu(gate) * up, and the gate_up
    output is freed only after that kernel (the order Inductor's generated code shows for this graph with vLLM's
    enable_auto_functionalized_v2=False), so the gate+up output, the activated product and its int8 copy are
    alive together: width / tp more bytes per token, plus the scale and zero point. 0 for any other checkpoint.
    """
    q = spec.quantization if weights == "auto" else None
    if not q or q.get("quant_method") != "compressed-tensors":
        return 0
    for group in (q.get("config_groups") or {}).values():
        a = (group or {}).get("input_activations") or {}
        if a.get("type") == "int" and a.get("num_bits") == 8:
            per_token = (4 + (0 if a.get("symmetric", True) else 4)) if a.get("dynamic") else 0
            return _widest_dense_mlp(spec, layers) // tp + per_token
    return 0


def pipeline_stage_activation_bytes(spec, pp=1, tokens=VLLM_MAX_NUM_BATCHED_TOKENS, seqs=VLLM_MAX_NUM_SEQS, tp=1,
                                    act_bytes=2, weights="auto") -> list[int]:
    """Estimated activation peak of each pipeline stage (first to last), as vLLM's profiling run measures it.

    Every stage runs one forward pass over its own layers (:func:`_forward_bytes_per_token`) with the MoE
    scratch of its MoE layers (:func:`_moe_workspace_bytes`, kept between steps). Two weight formats change
    the forward (``weights``, a format name; "auto": the checkpoint's own quantization_config): gpt-oss's
    MXFP4 experts keep no workspace but add their own buffers while a MoE layer runs
    (:func:`_mxfp4_moe_elements_per_token`), and a W8A8 INT8 checkpoint adds the int8 copy of the MLP's
    activated product (:func:`_int8_activation_bytes_per_token`). Beyond that:

    * the last stage alone runs the LM head and the sampler: seqs * vocab * (act_bytes + 13) for the logits
      and the sampler's fp32 temporaries (SAMPLER_FP32_BYTES_PER_LOGIT), with the chunk's hidden states held;
    * every stage but the first keeps a receive buffer for the hidden states and residual of the stage
      before it, sized for the whole chunk (vLLM's GPU model runner allocates these IntermediateTensors once
      for max_num_batched_tokens on non-first ranks: vllm/v1/worker/gpu_model_runner.py);
    * every stage but the last hands the same two tensors on (the IntermediateTensors it returns).

    The two extra tensors are 2 * tokens * hidden * act_bytes each way. Against the logged Llama-3.1-8B
    runs (vLLM 0.19, H100): PP=2 rank 0 1.03 vs 1.10 GiB (-6 %), rank 1 2.02 vs 2.01 GiB; PP=4 rank 0
    1.03 vs 1.10 GiB, rank 3 2.02 vs 2.01 GiB (tests/test_vllm_activations.py). With pp=1 this is
    :func:`prefill_activation_bytes`.
    """
    spec = _check_spec(spec)
    tokens = _check_positive_int(tokens, "tokens")
    seqs = _check_positive_int(seqs, "seqs")
    _kv_heads_per_rank(spec, tp)  # validates tp
    weights = canonical_weight_format(weights)
    h = spec.hidden_size
    handed_on = 2 * tokens * h * act_bytes  # hidden_states + residual of one chunk
    stages = _pp_layers(spec.num_layers, pp)
    moe_layers = set(spec.moe_layers) if spec.is_moe else set()
    mxfp4 = uses_vllm_mxfp4_experts(spec, weights)
    out = []
    for i, layers in enumerate(stages):
        first, last = i == 0, i == len(stages) - 1
        has_moe = not moe_layers.isdisjoint(layers)
        workspace = _moe_workspace_bytes(spec, tokens, tp, act_bytes) if has_moe and not mxfp4 else 0
        forward = tokens * (_forward_bytes_per_token(spec, layers, tp) * act_bytes
                            + _int8_activation_bytes_per_token(spec, weights, layers, tp))
        if has_moe and mxfp4:  # the MoE layer's own buffers, then the larger of MoE layer and dense MLP
            forward = max(forward, tokens * (HIDDEN_TENSORS_ALIVE * h + _mxfp4_moe_elements_per_token(spec, tp))
                          * act_bytes)
        sampler = seqs * spec.vocab_size * (act_bytes + SAMPLER_FP32_BYTES_PER_LOGIT) + tokens * h * act_bytes
        peak = workspace + (max(forward, sampler) if last else forward)
        out.append(peak + (0 if first else handed_on) + (0 if last else handed_on))
    return out


def prefill_activation_bytes(spec, tokens=VLLM_MAX_NUM_BATCHED_TOKENS, seqs=VLLM_MAX_NUM_SEQS, tp=1,
                             act_bytes=2, weights="auto") -> int:
    """Estimated peak of temporary tensors while serving one step of ``tokens`` tokens for ``seqs`` requests.

    An estimate in the spirit of vLLM's profiling run (one forward pass over max_num_batched_tokens tokens,
    then the sampler on the last token of each of max_num_seqs requests); the peak is

        MoE scratch + the larger of (forward, sampler)

    * forward: tokens * (4 * hidden + 3 * mlp_width / tp) * act_bytes -- inside the MLP, the gate+up output
      (2 x width), the activated product (1 x width) and four hidden-size tensors (residual, normed input,
      attention output, MLP output) are alive together. In a MoE layer only the shared expert counts here.
    * sampler: seqs * vocab * (act_bytes + 13) + tokens * hidden * act_bytes -- the logits from the LM head,
      fp32 sampler temporaries (SAMPLER_FP32_BYTES_PER_LOGIT) and the hidden states still held.
    * MoE scratch: vLLM's fused-MoE workspaces for one chunk, kept between steps
      (:func:`_moe_workspace_bytes`: tokens x top_k x (max(width/tp, hidden) + max(2 width/tp, hidden))).
      gpt-oss's MXFP4 experts (``weights="auto"``) keep none; their per-layer buffers count in the forward.
    * W8A8 INT8 checkpoints (``weights="auto"``): the forward also holds the int8 copy of the activated
      product, tokens x width / tp bytes (+ a per-token fp32 scale).

    Against the vLLM 0.19 logs the estimate is within 5 % for every model the kit reads, dense and MoE
    (tests/test_vllm_activations.py prints the table). ``act_bytes``: 2 for bf16/fp16 activations (also with
    quantized weights), 4 for fp32; ``weights``: the weight format (default: the checkpoint's own
    quantization_config). Per pipeline stage: :func:`pipeline_stage_activation_bytes`.
    """
    return pipeline_stage_activation_bytes(spec, 1, tokens, seqs, tp, act_bytes, weights)[0]


# ====================================================================== CUDA graphs


def _cuda_graph_pool_terms(spec: ModelSpec, tp, pp, act_bytes=2) -> list[dict]:
    """Per pipeline stage, the source-given terms of vLLM 0.19's CUDA-graph pool (see the constants above):
    graphs captured, layers / MoE layers / shared-expert MoE layers on the stage, and the FlashAttention
    split-KV accumulator in bytes (0 where FLASH_ATTN's FULL graphs are not captured)."""
    gpt_oss = spec.model_type == "gpt_oss"
    largest = VLLM_GPT_OSS_MAX_CUDAGRAPH_CAPTURE_SIZE if gpt_oss else VLLM_MAX_CUDAGRAPH_CAPTURE_SIZE
    sizes = 3 + len(range(8, 256, 8)) + len(range(256, largest + 1, 16))
    # Llama 4's chunked local attention supports no FULL graphs (AttentionCGSupport.NEVER): PIECEWISE only.
    full = spec.model_type != "llama4"
    # FLASH_ATTN runs fp16/bf16 only (fp32 falls back to TRITON_ATTN). With attention sinks (gpt-oss) the logged
    # FULL first capture is 8 MiB: FA3 keeps no split accumulator there (the split count is chosen in its C++).
    flash = full and act_bytes == 2 and spec.model_type not in VLLM_MM_PREFIX_LM_TYPES and not spec.attn_sinks
    width = spec.kv_lora_rank if spec.uses_mla else spec.head_dim  # MLA decodes in the latent space
    split = FLASH_ATTN_MAX_NUM_SPLITS_FOR_CUDA_GRAPH * largest * (spec.num_heads // tp) * (width + 1) * 4
    moe_layers = set(spec.moe_layers) if spec.is_moe else set()
    out = []
    for stage in _pp_layers(spec.num_layers, pp):
        moe = len(moe_layers.intersection(stage))
        out.append({"graphs": sizes * (2 if full else 1), "layers": len(stage), "moe_layers": moe,
                    "shared_expert_layers": moe if spec.shared_experts_intermediate_size else 0,
                    "split_kv_bytes": split if flash else 0})
    return out


def vllm_cuda_graph_pool_bytes(spec, tp=1, pp=1, act_bytes=2) -> int:
    """Estimated memory of vLLM's CUDA-graph pool on one GPU (the largest pipeline stage), in bytes.

    vLLM 0.19 captures CUDA graphs after it has sized the KV cache, and by default does not count them in
    that budget (VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS is off in 0.19.0; the log says "In v0.19, CUDA
    graph memory profiling will be enabled by default", vllm/v1/worker/gpu_worker.py): the pool lives in
    the headroom above gpu_memory_utilization, beside the CUDA context. It is logged as "CUDA graph pool
    memory: X GiB (actual)" after "Profiling CUDA graph memory: PIECEWISE=51 (largest=512), FULL=51".

    What the pool holds (vllm/v1/worker/gpu_model_runner.py capture_model; vllm/compilation/cuda_graph.py):
    the sizes are captured largest first into one shared pool, every graph's output a weak reference, so the
    activations of the largest batch are allocated once and reused by the smaller ones. The pool grows with

    * the graphs: graphs x (CUDA_GRAPH_POOL_BYTES_PER_LAYER_GRAPH x layers + the MoE extras per MoE layer),
      graphs = 51 capture sizes (83 for gpt-oss) x 2 modes (PIECEWISE and FULL; PIECEWISE only for Llama 4).
      It does not grow with hidden size: the graphs' own memory follows their kernel count, i.e. the layers;
    * FlashAttention's split-KV accumulator of the FULL decode graphs, exact from the source:
      32 splits x 512 tokens x heads / tp x (head_dim + 1) x 4 bytes (260 MiB for Llama-3.1-8B, logged
      "Estimated FULL CUDA graph memory: 260.00 MiB first-capture"); kv_lora_rank for MLA; none for
      TRITON_ATTN (fp32, Gemma 3) or with attention sinks;
    * CUDA_GRAPH_POOL_BASE_BYTES (cuBLAS workspaces, the largest batch's activations; calibrated).

    Fitted on half the vLLM 0.19 H100 logs (the models in even positions of the sorted model names) and
    checked on the other half: tests/test_vllm_activations.py reports the held-out error (within 16 %, 6 % on
    average, gpt-oss-20b aside: its MXFP4 MoE runs triton_kernels' matmul_ogs, whose graphs take more, -38 %).
    ``act_bytes``: 4 for fp32 activations (no FLASH_ATTN). Max-num-batched-tokens does not enter (the largest
    captured batch is 512 tokens whatever the prefill chunk).
    """
    spec = _check_spec(spec)
    _kv_heads_per_rank(spec, tp)  # validates tp
    _check_act_bytes(act_bytes)
    return max(CUDA_GRAPH_POOL_BASE_BYTES + t["split_kv_bytes"] + t["graphs"] * (
        CUDA_GRAPH_POOL_BYTES_PER_LAYER_GRAPH * t["layers"]
        + CUDA_GRAPH_POOL_MOE_BYTES_PER_LAYER_GRAPH * t["moe_layers"]
        + CUDA_GRAPH_POOL_SHARED_EXPERT_BYTES_PER_LAYER_GRAPH * t["shared_expert_layers"])
        for t in _cuda_graph_pool_terms(spec, tp, pp, act_bytes))


# ====================================================================== the breakdown


@lru_cache(maxsize=256)
def _weight_bytes(spec: ModelSpec, fmt: str) -> int:  # fmt: canonical (hashable) name
    # Cached: a ModelSpec is immutable, and the formats module walks every tensor of the model.
    return weight_bytes(spec, fmt)


def _overhead_bytes(overhead, weights_total, tp, pp=1):
    if overhead is None:
        if tp > 1:
            constant, label = NON_TORCH_BYTES_TP, "2.1 GiB per GPU (TP > 1: NCCL buffers)"
        elif pp > 1:
            constant, label = NON_TORCH_BYTES_PP, "0.07 GiB per GPU (PP > 1: NCCL set up before profiling)"
        else:
            constant, label = NON_TORCH_BYTES_SINGLE_GPU, "0.25 GiB (one GPU)"
        return constant, (f"overhead: memory outside PyTorch's allocator, measured in vLLM's start-up logs on an H100 "
                          f"({label}); CUDA graphs and context not included")
    if isinstance(overhead, bool) or not isinstance(overhead, Real) or not 0 <= overhead <= 1:
        raise ValueError(
            f"overhead must be None (a measured constant) or a fraction of the weights between 0 and 1 "
            f"(0.2 = the source articles' 20 %); got {quote(overhead)}"
        )
    return overhead * weights_total, (f"overhead: {overhead:.0%} of the weights, the two source articles' flat margin, "
                                      "used instead of the vLLM non-torch constant")


def _weights_note(spec: ModelSpec, weights: str) -> str:
    """What the weights component counts, and whether an explicit format overrode the checkpoint's own."""
    q = spec.quantization
    if q is not None and str(weights).strip().lower() == "auto":
        from .quantization import read_quantization

        scheme = read_quantization(q)
        return (f"weights: as the spec's quantization_config stores them ({scheme.description}; its ignore list "
                "kept in 16 bits, embedding/norms/router/LM head/vision tower in 16 bits)")
    shown = "bf16 (weights='auto': the checkpoint carries no quantization_config)" if str(weights).strip().lower() \
        == "auto" else weights
    base = f"weights: every tensor in {shown}, block scales included (quantized formats keep the embedding, " \
           "LM head and norms in 16 bits)"
    if q is not None:
        base += f"; this explicit format overrides the checkpoint's quantization_config ({q.get('quant_method')})"
    return base


def _weights_label(spec: ModelSpec, weights: str) -> str:
    if str(weights).strip().lower() != "auto":
        return str(weights)
    q = spec.quantization
    if q is None:
        return "bf16"
    from .quantization import read_quantization

    return read_quantization(q).name


def inference_memory(spec, weights="auto", kv_cache="bf16", batch=1, seq_len=8192, tp=1, overhead=None,
                     pp=1, max_num_batched_tokens=VLLM_MAX_NUM_BATCHED_TOKENS,
                     max_num_seqs=VLLM_MAX_NUM_SEQS) -> Breakdown:
    """Memory on one GPU to serve ``batch`` sequences of ``seq_len`` tokens, component by component.

    * weights: weight_bytes(spec, weights) / tp, for the largest pipeline stage when pp > 1
      (:func:`pipeline_stage_weight_bytes`: vLLM's uneven layer split, embedding first, LM head last).
      vLLM shards the embedding and the LM head across TP ranks too (VocabParallelEmbedding,
      ParallelLMHead); only the norms (< 0.01 %) are replicated, and they are divided here as well.
      ``weights="auto"`` (default): the checkpoint's own quantization_config, else bf16.
    * kv_cache: exact, see :func:`kv_cache_bytes`.
    * activations: an estimate, :func:`prefill_activation_bytes` with chunked prefill of
      min(batch * seq_len, max_num_batched_tokens) tokens and min(batch, max_num_seqs) requests sampled.
    * overhead: ``None`` -> vLLM's measured non-torch memory (0.25 GiB on one GPU, 2.1 GiB per GPU with
      TP > 1); a fraction such as 0.2 -> that share of the weights (the source articles' 20 %), instead.
    """
    spec = _check_spec(spec)
    batch = check_batch(batch)
    seq_len = check_tokens(seq_len)
    _check_positive_int(max_num_batched_tokens, "max_num_batched_tokens")
    _check_positive_int(max_num_seqs, "max_num_seqs")
    # Computed from the canonical names ('BF16', 'bfloat16' and 'bf16' give the same answer); shown as given.
    kv_format, weight_format = canonical_kv_format(kv_cache), canonical_weight_format(weights)
    kv = kv_cache_bytes(spec, seq_len=seq_len, batch=batch, fmt=kv_format, tp=tp, pp=pp)
    ranks = tp * pp
    weights_total = _weight_bytes(spec, weight_format)
    if pp != 1 and weight_format not in GGUF_NAMES:
        weights_total = max(pipeline_stage_weight_bytes(spec, weight_format, pp))  # the largest stage, on each of tp
        ranks = tp
    weights_gpu = weights_total // ranks if weights_total % ranks == 0 else weights_total / ranks
    act_bytes = _act_bytes(weight_format)
    tokens = min(batch * seq_len, max_num_batched_tokens)
    # Per pipeline stage: the largest (the last, with the sampler, unless the first stage's layers are wider).
    activations = max(pipeline_stage_activation_bytes(spec, pp, tokens, min(batch, max_num_seqs), tp=tp,
                                                      act_bytes=act_bytes, weights=weight_format))
    extra, overhead_note = _overhead_bytes(overhead, weights_gpu, tp, pp)
    where = f"per GPU, TP={tp}" + (f", PP={pp}" if pp != 1 else "")
    # The RoPE tables are whole on every GPU (2.5 GiB for Llama 4's 10M positions): their own line, when there are any.
    rope = vllm_rope_table_bytes(spec, act_bytes)
    components = {"weights": weights_gpu, **({"rope_tables": rope} if rope else {}), "kv_cache": kv,
                  "activations": activations, "overhead": extra}
    tables = ", ".join(f"{rows:,} x {dim}" for rows, dim in spec.rope_tables)
    rope_note = (f"rope_tables: precomputed by vLLM at load, a cos/sin row for every position ({tables}), "
                 "whole on every GPU",) if rope else ()
    graphs = vllm_cuda_graph_pool_bytes(spec, tp, pp, act_bytes=act_bytes)
    vision_note: tuple[str, ...] = ()
    if spec.is_multimodal and pp == 1:  # name both parts: the language model's weights and the vision tower + projector
        vision = weights_total - _weight_bytes(replace(spec, vision_tensors=()), weights)
        vision_gpu = vision // ranks if vision % ranks == 0 else vision / ranks
        components = {"weights": weights_gpu - vision_gpu, "vision_weights": vision_gpu, **{
            k: v for k, v in components.items() if k != "weights"}}
        vision_note = ("vision_weights: the vision tower and projector, loaded by vLLM beside the language model; "
                       "they keep no KV cache (kv_cache counts the language layers only)",)
    return Breakdown(
        components,
        title=(f"Serving {spec.name}: {_weights_label(spec, weights)} weights, {kv_cache} KV cache, "
               f"{batch} x {seq_len:,} tokens ({where})"),
        notes=(
            f"{_weights_note(spec, weights)}"
            + (f", the largest of {pp} pipeline stages (vLLM's layer split: embedding on the first, final norm "
               f"and LM head on the last)" if ranks != tp * pp else "")
            + f", / {ranks} GPU(s): vLLM shards embedding and LM head over TP too",
            f"kv_cache: exact, {kv_cache} ({KV_CACHE_FORMATS[kv_format]} bits per element), "
            "windows and TP replication included",
            f"activations: an estimate of the peak while reading the prompt, for one prefill chunk of {tokens:,} "
            f"tokens (vLLM reads a long prompt at most {max_num_batched_tokens:,} tokens at a time, so this part "
            "does not grow with the context)",
            overhead_note,
            f"not in the total: vLLM's CUDA-graph pool, about {graphs / GiB:.1f} GiB "
            "per GPU (vllm_cuda_graph_pool_bytes, calibrated on vLLM 0.19 logs), captured after the KV cache is "
            "sized; it lives in the headroom above gpu_memory_utilization, beside the CUDA context",
            *rope_note,
            *vision_note,
        ),
    )


# ====================================================================== inverse questions


def _capacity(gpu, gpu_memory_utilization) -> float:
    card = get_gpu(gpu)
    check_fraction(gpu_memory_utilization, "gpu_memory_utilization", open_min=True)
    return card.memory_bytes * gpu_memory_utilization


def _largest(fits, limit: int, start: int = 1) -> int:
    """Largest n in [start, limit] with fits(n) (fits is monotone: true, ..., true, false, ...), or start - 1.

    Doubling then bisection: about 2 log2(answer) calls, and never an n above ``limit`` (the documented
    range of the argument, llmmem.validation), so the search is bounded whatever the model.
    """
    if not fits(start):
        return start - 1
    lo, hi = start, min(start * 2, limit)
    while hi > lo and fits(hi):
        if hi == limit:  # everything up to the range's end fits
            return limit
        lo, hi = hi, min(hi * 2, limit)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def max_context(spec, gpu, batch=1, weights="auto", kv_cache="bf16", tp=1, overhead=None,
                gpu_memory_utilization=VLLM_GPU_MEMORY_UTILIZATION, cap_at_model_limit=True, **kwargs):
    """Longest seq_len whose :func:`inference_memory` total fits on one ``gpu`` (per GPU under TP).

    * ``gpu_memory_utilization`` (default 0.9, vLLM's default): the share of the card the server may use;
      1.0 asks what fits on the whole card.
    * ``cap_at_model_limit`` (default True): never more than the model's ``max_position_embeddings`` (the
      length it was built and rope-scaled for: 131,072 for Llama 3.1) -- memory may allow more, the model
      does not; vLLM refuses a longer ``max_model_len`` too. :func:`max_context_explained` says which
      limit bound.

    Returns 0 when not even one token fits. When memory stops growing with the context (every layer has a
    sliding window) any length fits: the model limit is returned, or None when the config states none.
    """
    return max_context_explained(spec, gpu, batch, weights, kv_cache, tp, overhead, gpu_memory_utilization,
                                 cap_at_model_limit, **kwargs)[0]


def max_context_explained(spec, gpu, batch=1, weights="auto", kv_cache="bf16", tp=1, overhead=None,
                          gpu_memory_utilization=VLLM_GPU_MEMORY_UTILIZATION, cap_at_model_limit=True,
                          **kwargs) -> tuple[int | None, str]:
    """:func:`max_context` and a sentence saying what bound it (memory, or the model's position limit)."""
    spec = _check_spec(spec)
    n, why = _max_context_by_memory(spec, gpu, batch, weights, kv_cache, tp, overhead, gpu_memory_utilization,
                                    **kwargs)
    limit = spec.max_position_embeddings
    if cap_at_model_limit and limit is not None and (n is None or n > limit):
        shown = "any length" if n is None else f"{n:,} tokens"
        return limit, (f"capped at the model's max_position_embeddings, {limit:,} tokens: memory alone "
                       f"would allow {shown}")
    return n, why


def _max_context_by_memory(spec, gpu, batch, weights, kv_cache, tp, overhead, gpu_memory_utilization, **kwargs):
    capacity = _capacity(gpu, gpu_memory_utilization)
    share = f"{gpu_memory_utilization:.0%} of the {get_gpu(gpu).name}"

    def fits(n):
        return inference_memory(spec, weights, kv_cache, batch, n, tp, overhead, **kwargs).total <= capacity

    window = spec.sliding_window
    if window and len(spec.sliding_window_layers) == spec.num_layers:
        big = max(window, kwargs.get("max_num_batched_tokens", VLLM_MAX_NUM_BATCHED_TOKENS))
        if fits(big):
            return None, f"every layer slides: memory stops growing with the context within {share}"
    return _largest(fits, MAX_TOKENS), f"memory-bound: the longest context that fits in {share}"


def max_batch(spec, gpu, seq_len=8192, weights="auto", kv_cache="bf16", tp=1, overhead=None,
              gpu_memory_utilization=VLLM_GPU_MEMORY_UTILIZATION, **kwargs) -> int:
    """Most sequences of ``seq_len`` tokens that fit on one ``gpu`` at once (0 if not even one).

    The budget is ``gpu_memory_utilization`` (default 0.9, vLLM's default) of the card; 1.0 uses it all.
    """
    spec = _check_spec(spec)
    capacity = _capacity(gpu, gpu_memory_utilization)

    def fits(n):
        return inference_memory(spec, weights, kv_cache, n, seq_len, tp, overhead, **kwargs).total <= capacity

    return _largest(fits, MAX_BATCH)


@dataclass(frozen=True)
class WeightFormatChoice:
    """Which weight formats fit. ``best``: the most precise that fits (None if none does);
    ``fitting``: every candidate that fits, most bits first; ``totals``: bytes per GPU for each candidate."""

    best: str | None
    fitting: tuple
    totals: Mapping[str, float]


DEFAULT_WEIGHT_CANDIDATES = ("bf16", "fp8", "int8", "int4", "nf4-dq")


def cheapest_weight_format(spec, gpu, seq_len=8192, batch=1, candidates=DEFAULT_WEIGHT_CANDIDATES,
                           kv_cache="bf16", tp=1, overhead=None, gpu_memory_utilization=VLLM_GPU_MEMORY_UTILIZATION,
                           **kwargs) -> WeightFormatChoice:
    """The weight formats that let the model serve ``batch`` x ``seq_len`` tokens on one ``gpu``.

    The budget is ``gpu_memory_utilization`` (default 0.9, vLLM's default) of the card; 1.0 uses it all.

    "Cheapest" means cheapest in quality: of the formats that fit, ``best`` is the one with the most bits
    per weight (quantize no more than you must). ``fitting`` lists all that fit, most bits first (ties keep
    the order of ``candidates``).
    """
    spec = _check_spec(spec)
    capacity = _capacity(gpu, gpu_memory_utilization)
    if isinstance(candidates, str) or not candidates:
        raise ValueError("candidates must be a non-empty list of weight formats, e.g. ('bf16', 'fp8', 'int4')")
    totals = {}
    for fmt in candidates:
        totals[fmt] = inference_memory(spec, fmt, kv_cache, batch, seq_len, tp, overhead, **kwargs).total
    order = sorted(candidates, key=lambda f: -bits_per_weight(f))  # stable: ties keep the given order
    fitting = tuple(f for f in order if totals[f] <= capacity)
    return WeightFormatChoice(best=fitting[0] if fitting else None, fitting=fitting, totals=totals)


# ====================================================================== how many GPUs, with TP's rules


def valid_tp_sizes(spec, limit: int = 64) -> list[int]:
    """Tensor-parallel sizes vLLM accepts for this model, up to ``limit``.

    vLLM requires tp to divide the attention heads (vllm/config: "Total number of attention heads must be
    divisible by tensor parallel size"), and its QKV layer either splits the KV heads (tp divides them) or
    replicates them (kv_heads divides tp) -- vllm/model_executor/layers/linear.py QKVParallelLinear.
    MLA models have no KV-head constraint.
    """
    spec = _check_spec(spec)
    sizes = []
    for tp in range(1, limit + 1):
        if spec.num_heads % tp:
            continue
        kv = spec.num_kv_heads
        if not spec.uses_mla and kv % tp and tp % kv:
            continue
        sizes.append(tp)
    return sizes


def serving_gpus(spec, gpu, weights="auto", kv_cache="bf16", batch=1, seq_len=8192, overhead=None,
                 gpu_memory_utilization=VLLM_GPU_MEMORY_UTILIZATION, tp_divides_heads=True, max_tp=64,
                 **kwargs) -> tuple[int, Breakdown, str]:
    """Fewest GPUs (the TP size) on which the per-GPU :func:`inference_memory` fits, with the rule used.

    Returns (tp, the per-GPU Breakdown at that tp, a sentence of arithmetic). Two rules, both options:

    * ``gpu_memory_utilization`` (default 0.9): each card offers that share, as vLLM's default does;
    * ``tp_divides_heads`` (default True): only TP sizes vLLM accepts (:func:`valid_tp_sizes`): Llama-3.1-70B
      with 64 heads can run on 1, 2, 4, 8 GPUs but not 3. False gives the plain answer,
      ceil(one-GPU total / usable capacity), with that one-GPU Breakdown.

    ValueError when no TP size up to ``max_tp`` fits.
    """
    spec = _check_spec(spec)
    capacity = _capacity(gpu, gpu_memory_utilization)
    card = get_gpu(gpu)
    if not tp_divides_heads:
        b = inference_memory(spec, weights, kv_cache, batch, seq_len, 1, overhead, **kwargs)
        count = math.ceil(b.total / capacity)
        return count, b, (f"{b.total / GB:,.1f} GB / {capacity / GB:,.1f} GB usable ({gpu_memory_utilization:.0%} "
                          f"of a {card.name}) -> {count}; TP divisibility not applied")
    sizes = valid_tp_sizes(spec, max_tp)
    for tp in sizes:
        b = inference_memory(spec, weights, kv_cache, batch, seq_len, tp, overhead, **kwargs)
        if b.total > capacity:
            continue
        skipped = [n for n in range(1, tp) if n not in sizes]
        rule = f"TP must divide the {spec.num_heads} attention heads"
        if not spec.uses_mla:
            rule += f" and fit the {spec.num_kv_heads} KV heads"
        if skipped:
            rule += f" ({', '.join(map(str, skipped))} GPU(s) not a valid TP size)"
        text = (f"{b.total / GB:,.1f} GB per GPU at TP={tp} <= {gpu_memory_utilization:.0%} of "
                f"{card.memory_bytes / GB:,.1f} GB ({card.name}) = {capacity / GB:,.1f} GB; {rule}")
        return tp, b, text
    raise ValueError(f"{spec.name} does not fit on up to {max_tp} x {card.name} at {gpu_memory_utilization:.0%} "
                     f"utilization (TP sizes tried: {', '.join(map(str, sizes))})")
