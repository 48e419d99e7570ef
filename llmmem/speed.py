"""Memory decides speed: a roofline for decoding and prefill, built on the kit's exact byte counts.

Generating one token (a *decode step*) multiplies every weight matrix by a vector, per sequence in the
batch. Each weight is read from GPU memory once per step and used for 2 FLOPs per sequence (a multiply
and an add), so at batch 1 a card does 2 FLOPs for every 2 bytes (bf16) it reads, while an H100 can do
about 300 FLOPs in the time it reads one byte. Decode is therefore bound by memory bandwidth:

    step time = max(bytes read / bandwidth, FLOPs / peak FLOP/s)          (the roofline)
    bytes read = weights (for MoE: only the experts the batch touches) + every sequence's KV cache
    tokens/s per sequence = 1 / step time; in total = batch / step time

Batching re-uses each weight read for more tokens, until the FLOPs catch up (the *ridge batch*) or the
KV cache, which is not shared between sequences, dominates the bytes. Every byte count comes from
:func:`llmmem.formats.weight_bytes` and :func:`llmmem.inference.kv_cache_bytes`; the derivation lives in
:mod:`llmmem.symbolic` (``decode_*`` functions) and tests/test_speed.py proves the two agree.

Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import ceil, expm1, isfinite, log1p
from types import MappingProxyType

from .breakdown import Breakdown
from .formats import FORMATS, _normalize, weight_bytes, weight_tensors
from .gpus import GPU, get_gpu
from .inference import (
    KV_CACHE_FORMATS,
    _check_positive_int,
    _check_spec,
    _kv_heads_per_rank,
    _weight_bytes,
    kv_cache_bytes,
)
from .model import ModelSpec
from .validation import MAX_BATCH

__all__ = [
    "DEFAULT_DECODE_EFFICIENCY",
    "DEFAULT_PREFILL_EFFICIENCY",
    "DecodeResult",
    "SpeculativeResult",
    "decode_throughput",
    "default_decode_efficiency",
    "expected_distinct_experts",
    "flops_per_token",
    "prefill_time",
    "ridge_batch",
    "speculative_decoding",
    "speculative_expected_tokens",
    "weight_bytes_read",
    "weight_family",
]

# Achieved share of peak bandwidth at batch 1, by weight family: the medians of measured / roofline bound over
# the 30 published batch-1 decode rows in notebooks/data/decode_measurements.json (llama.cpp on RTX 3090/4090,
# A100, H100 PCIe, Apple M1 Max / M2 Ultra / M3 Max; Llama-2-7B and Llama-3-8B). 16-bit weights (13 rows: median
# 0.754) stream closer to peak than quantized ones (17 rows, Q4_0 ... Q8_0: median 0.498), whose kernels also
# spend time unpacking blocks and whose smaller reads leave the fixed per-step cost a larger share.
# tests/test_speed.py recomputes both medians from the file and checks these constants against them.
DEFAULT_DECODE_EFFICIENCY = MappingProxyType({"float": 0.75, "quantized": 0.50})
# Achieved share of peak dense FLOP/s in prefill: the median of roofline bound time / measured time over the 10
# llama-bench pp512 rows of the same file (Llama-3-8B on RTX 3090/4090 and Apple M-series, F16 and Q4_K_M): 0.746.
DEFAULT_PREFILL_EFFICIENCY = 0.75

# The ridge search stops at the largest batch the kit accepts (validation.MAX_BATCH, 10^7 sequences): beyond it,
# "never" for any real server.
_MAX_RIDGE_SEARCH = MAX_BATCH


# ====================================================================== validation


def _check_efficiency(efficiency, default: float) -> float:
    if efficiency is None:
        return default
    if isinstance(efficiency, bool) or not isinstance(efficiency, (int, float)) or not isfinite(efficiency):
        raise ValueError(f"efficiency must be a number in (0, 1] or None (the measured default); got {efficiency!r}")
    if not 0 < efficiency <= 1:
        raise ValueError(f"efficiency must be in (0, 1] (1.0 = peak bandwidth and FLOP/s); got {efficiency!r}")
    return float(efficiency)


def weight_family(weights: str) -> str:
    """"float" for 16/32-bit float weights (bf16, fp16, fp32, GGUF f16), "quantized" for everything else."""
    key = _normalize(weights)
    return "float" if key == "f16" or (key in FORMATS and FORMATS[key].family == "float") else "quantized"


def default_decode_efficiency(weights: str) -> float:
    """The measured batch-1 share of peak bandwidth for this weight family (see DEFAULT_DECODE_EFFICIENCY)."""
    return DEFAULT_DECODE_EFFICIENCY[weight_family(weights)]


def _card(gpu) -> GPU:
    card = get_gpu(gpu)
    if not card.bandwidth_bytes_per_s or not card.dense_flops:
        raise ValueError(f"{card.name} has no bandwidth or FLOP/s in the catalog (llmmem/data/gpus.json)")
    return card


def _compute_dtype(weights: str) -> str:
    """Which tensor-core rate a step runs at: fp8/int8 checkpoints (W8A8) use those units; every other
    format (bf16, fp16, and weight-only int4/nf4/GGUF, which dequantise to 16 bits) runs at bf16/fp16."""
    key = _normalize(weights)
    return key if key in ("fp8", "int8") else "bf16"


def _peak(card: GPU, weights: str) -> tuple[int, str]:
    dtype = _compute_dtype(weights)
    try:
        return card.peak_flops(dtype), dtype
    except ValueError:  # e.g. fp8 weights on an A100: they are upcast and run at bf16
        return card.peak_flops("bf16"), "bf16"


# ====================================================================== bytes and FLOPs of a step


def expected_distinct_experts(num_experts: int, top_k: int, tokens: int) -> float:
    """Expected number of distinct experts that ``tokens`` tokens, each choosing ``top_k`` of ``num_experts``,
    touch in one MoE layer: E * (1 - (1 - k/E)^b), assuming uniform, independent routing.

    >>> round(expected_distinct_experts(8, 2, 1), 12)
    2.0
    """
    e = _check_positive_int(num_experts, "num_experts")
    k = _check_positive_int(top_k, "top_k")
    b = _check_positive_int(tokens, "tokens")
    if k > e:
        raise ValueError(f"top_k cannot exceed num_experts ({e}); got {k}")
    if k == e:
        return float(e)
    # 1 - (1 - k/E)^b as -expm1(b log1p(-k/E)): exact to rounding, and fast for any b (a Fraction power is not).
    return e * -expm1(b * log1p(-k / e))


@lru_cache(maxsize=256)
def _routed_expert_bytes(spec: ModelSpec, fmt: str) -> int:
    """Exact bytes of all routed-expert matrices in a float or quantized format (experts are never kept in 16 bits)."""
    form = FORMATS[_normalize(fmt)]
    return sum(t.count * ceil(form.matrix_bits(t.rows, t.cols) / 8)
               for t in weight_tensors(spec) if t.name.endswith("_exps.weight"))


def weight_bytes_read(spec, weights="bf16", batch=1, tp=1):
    """Weight bytes one GPU reads in one decode step of ``batch`` sequences.

    Dense model: all of :func:`~llmmem.formats.weight_bytes`, / tp. MoE: the non-expert weights, plus the
    routed experts in the share E(1-(1-k/E)^b)/E that the batch's tokens are expected to touch.
    The input embedding is counted whole (a lookup reads only ``batch`` rows: this overcounts by its share,
    2 % for Llama-2-7B), as the textbook "every weight read once per token" does.
    """
    spec = _check_spec(spec)
    batch = _check_positive_int(batch, "batch")
    _check_positive_int(tp, "tp")
    total = _weight_bytes(spec, weights)  # llmmem.formats.weight_bytes, cached per (spec, format)
    if not spec.is_moe:
        return total // tp if total % tp == 0 else total / tp
    experts = _routed_expert_bytes(spec, weights)
    share = expected_distinct_experts(spec.num_experts, spec.experts_per_token, batch) / spec.num_experts
    return ((total - experts) + experts * share) / tp


def _matmul_params(spec: ModelSpec) -> int:
    """Active parameters that take part in a matmul: the active total less the input-embedding lookup
    (kept when tied: then it is also the LM head)."""
    active = spec.num_active_params()
    return active if spec.tie_embeddings else active - spec.param_counts()["embedding"]


def _attention_flops_per_token(spec: ModelSpec, context: int) -> int:
    """FLOPs of attention for one new token over ``context`` cached tokens: per layer, q.K^T and p.V are
    2 x heads x (qk_dim + v_dim) x tokens attended (sliding-window layers attend at most the window)."""
    if spec.uses_mla:
        per_token = 2 * spec.num_heads * (spec.qk_nope_head_dim + spec.qk_rope_head_dim + spec.v_head_dim)
    else:
        per_token = 2 * spec.num_heads * 2 * spec.head_dim
    window = spec.sliding_window
    sliding = len(spec.sliding_window_layers) if window else 0
    attended = (spec.num_layers - sliding) * context + sliding * min(context, window or context)
    return per_token * attended


def flops_per_token(spec, context=1) -> int:
    """FLOPs to generate one token at ``context`` tokens of cache: 2 per active (matmul) parameter plus
    attention over the context. Exact integer."""
    spec = _check_spec(spec)
    context = _check_positive_int(context, "context")
    return 2 * _matmul_params(spec) + _attention_flops_per_token(spec, context)


def _step(spec, card, weights, kv_cache, batch, context, tp, eff):
    w = weight_bytes_read(spec, weights, batch, tp)
    kv = kv_cache_bytes(spec, seq_len=context, batch=batch, fmt=kv_cache, tp=tp)
    flops = batch * flops_per_token(spec, context)
    flops = flops // tp if flops % tp == 0 else flops / tp
    peak, _ = _peak(card, weights)
    t_mem = (w + kv) / (card.bandwidth_bytes_per_s * eff)
    t_cmp = flops / (peak * eff)
    return w, kv, flops, t_mem, t_cmp


# ====================================================================== decode


@dataclass(frozen=True)
class DecodeResult:
    """One decode step on one GPU (per GPU under TP), by the roofline."""

    tokens_per_s_per_seq: float
    tokens_per_s_total: float
    bound: str  # "memory" or "compute"
    bytes_per_step: float  # weights read + KV read, per GPU
    flops_per_step: float
    weight_bytes_per_step: float
    kv_bytes_per_step: int
    step_time_s: float
    memory_time_s: float
    compute_time_s: float
    ridge_batch: int | None  # smallest batch at this context that is compute-bound; None: never
    efficiency: float
    gpu: str
    notes: tuple = ()

    @property
    def time_per_output_token_s(self) -> float:
        """TPOT: the time between two tokens of one sequence (= the step time)."""
        return self.step_time_s

    def memory_breakdown(self) -> Breakdown:
        """The bytes one step reads, as a Breakdown (weights, kv_cache)."""
        return Breakdown({"weights": self.weight_bytes_per_step, "kv_cache": self.kv_bytes_per_step},
                         title=f"Bytes read per decode step on one {self.gpu}")


def decode_throughput(spec, gpu="A100-80GB", weights="bf16", kv_cache="bf16", batch=1, context=1, tp=1,
                      efficiency=1.0) -> DecodeResult:
    """Decode speed by the roofline: step time = max(bytes / bandwidth, FLOPs / peak), both x ``efficiency``.

    * bytes: :func:`weight_bytes_read` (MoE: the experts the batch touches) + ``batch`` sequences' KV cache at
      ``context`` tokens (:func:`~llmmem.inference.kv_cache_bytes`), per GPU under tensor parallelism ``tp``;
    * FLOPs: ``batch`` x :func:`flops_per_token` / tp, at the card's dense bf16 rate (fp8/int8 for those formats);
    * ``efficiency``: the achieved share of peak; ``None`` = the measured default for the weight family
      (:data:`DEFAULT_DECODE_EFFICIENCY`: 0.75 for 16-bit weights, 0.50 for quantized ones).

    TP's all-reduce time (two per layer) is not modelled: the answer is an upper bound for tp > 1.

    >>> spec = ModelSpec.from_catalog("llama-2-7b")
    >>> round(decode_throughput(spec, "A100-80GB", weights="fp16", kv_cache="fp16").tokens_per_s_per_seq, 1)
    151.3
    """
    spec = _check_spec(spec)
    card = _card(gpu)
    batch = _check_positive_int(batch, "batch")
    context = _check_positive_int(context, "context")
    _kv_heads_per_rank(spec, tp)
    if kv_cache not in KV_CACHE_FORMATS:
        raise ValueError(f"unknown KV-cache format {kv_cache!r}; accepted: {', '.join(KV_CACHE_FORMATS)}")
    _weight_bytes(spec, weights)  # validates the format name before anything else
    eff = _check_efficiency(efficiency, default_decode_efficiency(weights))
    w, kv, flops, t_mem, t_cmp = _step(spec, card, weights, kv_cache, batch, context, tp, eff)
    step = max(t_mem, t_cmp)
    _, dtype = _peak(card, weights)
    notes = [
        f"bytes: {weights} weights read once per step"
        + (f" (MoE: expected {expected_distinct_experts(spec.num_experts, spec.experts_per_token, batch):.2f}"
           f" of {spec.num_experts} experts per layer for {batch} token(s))" if spec.is_moe else "")
        + f" + {batch} x KV cache at {context:,} tokens ({kv_cache})" + (f", per GPU under TP={tp}" if tp > 1 else ""),
        f"FLOPs: 2 per active parameter per token + attention over the context; peak = {card.name} dense {dtype}",
        f"efficiency {eff:.2f} of peak bandwidth and FLOP/s"
        + (" (the default, measured: see notebooks/data/decode_measurements.json)" if efficiency is None else ""),
    ]
    if tp > 1:
        # Megatron-style TP: one all-reduce after attention and one after the MLP, of the bf16 hidden states
        # (Shoeybi et al. 2019, "Megatron-LM", section 3); a ring all-reduce sends 2(n-1)/n of the data per GPU.
        sent = 2 * spec.num_layers * batch * spec.hidden_size * 2 * 2 * (tp - 1) / tp
        notes.append(f"TP all-reduce not included (2 per layer, {2 * spec.num_layers} per step, each GPU sending "
                     f"{sent / 1e6:,.2f} MB in all: small, but each costs a few microseconds of latency): "
                     "an upper bound")
    return DecodeResult(
        tokens_per_s_per_seq=1 / step,
        tokens_per_s_total=batch / step,
        bound="memory" if t_mem >= t_cmp else "compute",
        bytes_per_step=w + kv,
        flops_per_step=flops,
        weight_bytes_per_step=w,
        kv_bytes_per_step=kv,
        step_time_s=step,
        memory_time_s=t_mem,
        compute_time_s=t_cmp,
        ridge_batch=ridge_batch(spec, card, weights, kv_cache, context, tp),
        efficiency=eff,
        gpu=card.name,
        notes=tuple(notes),
    )


def ridge_batch(spec, gpu="A100-80GB", weights="bf16", kv_cache="bf16", context=1, tp=1) -> int | None:
    """The smallest batch at which a decode step at ``context`` tokens turns compute-bound, or None if it never
    does (long contexts: every sequence brings KV bytes that need only ~heads/kv_heads FLOPs per byte).

    Dense, context 1: about (peak / bandwidth) x bytes per parameter / 2; e.g. ~153 at bf16 on an A100.
    Efficiency scales both roofs alike, so it does not move the ridge.
    """
    spec = _check_spec(spec)
    card = _card(gpu)
    context = _check_positive_int(context, "context")

    def compute_bound(b: int) -> bool:
        *_, t_mem, t_cmp = _step(spec, card, weights, kv_cache, b, context, tp, 1.0)
        return t_cmp >= t_mem

    # t_cmp - t_mem is convex in b (linear FLOPs minus concave MoE bytes; linear for dense) and negative at
    # b = 1 unless the model is compute-bound already: it crosses zero at most once. Double, then bisect.
    if compute_bound(1):
        return 1
    hi = 2
    while not compute_bound(hi):
        if hi >= _MAX_RIDGE_SEARCH:
            return None
        hi = min(2 * hi, _MAX_RIDGE_SEARCH)
    lo = hi // 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if compute_bound(mid) else (mid, hi)
    return hi


# ====================================================================== prefill


def prefill_time(spec, gpu="H100-80GB", prompt_tokens=2048, weights="bf16", tp=1, efficiency=1.0) -> float:
    """Seconds to prefill one prompt of ``prompt_tokens`` tokens: the time to first token when nothing waits.

    FLOPs = tokens x 2 x active matmul parameters + causal attention (token i attends to i tokens);
    bytes = the weights once (/ tp). Time = max(FLOPs / peak, bytes / bandwidth), both x ``efficiency``
    (``None`` = :data:`DEFAULT_PREFILL_EFFICIENCY`, measured on llama-bench pp512). Long prompts are
    compute-bound: prefill is where FLOP/s matter; decode is where bandwidth does.
    """
    spec = _check_spec(spec)
    card = _card(gpu)
    n = _check_positive_int(prompt_tokens, "prompt_tokens")
    _kv_heads_per_rank(spec, tp)
    eff = _check_efficiency(efficiency, DEFAULT_PREFILL_EFFICIENCY)
    # sum over i = 1..n of attention over i tokens; attention flops are linear in the attended count, except
    # where a sliding window caps it, so sum them exactly per distinct context only when a window exists.
    if spec.sliding_window:
        attention = sum(_attention_flops_per_token(spec, i) for i in range(1, n + 1))
    else:
        attention = _attention_flops_per_token(spec, 1) * n * (n + 1) // 2
    flops = (n * 2 * _matmul_params(spec) + attention) / tp
    peak, _ = _peak(card, weights)
    t_cmp = flops / (peak * eff)
    t_mem = _weight_bytes(spec, weights) / tp / (card.bandwidth_bytes_per_s * eff)
    return max(t_cmp, t_mem)


# ====================================================================== speculative decoding


def speculative_expected_tokens(alpha, gamma) -> float:
    """Expected tokens a target step yields with ``gamma`` drafted tokens, each accepted with probability
    ``alpha``: (1 - alpha^(gamma+1)) / (1 - alpha)  (Leviathan, Kalman, Matias, "Fast Inference from
    Transformers via Speculative Decoding", ICML 2023, eq. 1). alpha = 1 gives gamma + 1.
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha (acceptance rate) must be a number in [0, 1]; got {alpha!r}")
    gamma = _check_positive_int(gamma, "gamma (drafted tokens per step)")
    if alpha == 1:
        return float(gamma + 1)
    return (1 - alpha ** (gamma + 1)) / (1 - alpha)


@dataclass(frozen=True)
class SpeculativeResult:
    expected_tokens_per_step: float  # (1 - a^(g+1)) / (1 - a)
    cost_ratio: float  # c: one draft step / one target step (roofline times)
    speedup: float  # Leviathan et al. eq. 3: (1 - a^(g+1)) / ((1 - a)(g c + 1))
    tokens_per_s: float  # per sequence, with speculation
    draft_memory: Breakdown  # the draft's weights + KV cache, on top of the target's
    notes: tuple = ()


def speculative_decoding(target, draft, gpu="H100-80GB", alpha=0.8, gamma=4, weights="bf16", kv_cache="bf16",
                         context=1, draft_weights=None, efficiency=None) -> SpeculativeResult:
    """Speculative decoding at batch 1: the draft proposes ``gamma`` tokens, the target verifies them in one step.

    The verify step reads the target's bytes once for gamma + 1 tokens (still memory-bound), so its cost is
    about one decode step; ``cost_ratio`` c = draft step / target step from the roofline. The draft lives in
    the same GPU memory: ``draft_memory`` is its weights plus its KV cache at ``context`` tokens.
    """
    target, draft = _check_spec(target), _check_spec(draft)
    expected = speculative_expected_tokens(alpha, gamma)
    dw = draft_weights or weights
    t_step = decode_throughput(target, gpu, weights, kv_cache, 1, context, 1, efficiency).step_time_s
    d_step = decode_throughput(draft, gpu, dw, kv_cache, 1, context, 1, efficiency).step_time_s
    c = d_step / t_step
    speedup = expected / (gamma * c + 1)
    memory = Breakdown({"draft_weights": weight_bytes(draft, dw),
                        "draft_kv_cache": kv_cache_bytes(draft, seq_len=context, fmt=kv_cache)},
                       title=f"Draft model {draft.name}: extra memory beside {target.name}")
    return SpeculativeResult(
        expected_tokens_per_step=expected, cost_ratio=c, speedup=speedup,
        tokens_per_s=speedup / t_step, draft_memory=memory,
        notes=(f"alpha={alpha}, gamma={gamma}: {expected:.2f} tokens per target step (Leviathan et al. 2023)",
               "verify step costed as one target decode step (memory-bound: gamma+1 tokens share one weight read)"),
    )
