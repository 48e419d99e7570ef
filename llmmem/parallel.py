"""Many GPUs: data parallelism with ZeRO / FSDP sharding, tensor and pipeline parallelism, CPU offload.

ZeRO (Rajbhandari et al., SC20) partitions the model states over the N data-parallel ranks in three stages:
stage 1 the optimizer states (with the fp32 master weights: the paper's K = 12 bytes), stage 2 also the
gradients, stage 3 also the 16-bit weights. PyTorch FSDP's sharding strategies map onto them: NO_SHARD = DDP,
SHARD_GRAD_OP = stage 2, FULL_SHARD = stage 3, HYBRID_SHARD = stage 3 within a node, replicated across nodes.
Tensor parallelism (Megatron-LM, Shoeybi et al. 2019) splits every layer's matrices over `tp` GPUs; pipeline
parallelism splits the layers into `pp` stages.
"""

from __future__ import annotations

import math
from fractions import Fraction
from numbers import Integral

from .breakdown import Breakdown
from .gpus import get_gpu, usable_bytes
from .model import ModelSpec
from .training import (
    NON_TORCH_BYTES,
    estimate_activation_bytes,
    korthikanti_activation_bytes,
    logits_bytes,
    training_memory,
)
from .units import GB, format_count, parse_count
from .validation import check_parallel, choice, quote

# strategy -> (ZeRO stage, shards only within a node)
STRATEGIES = {
    "ddp": (0, False), "zero1": (1, False), "zero2": (2, False), "zero3": (3, False),
    "fsdp-no-shard": (0, False), "fsdp-shard-grad-op": (2, False), "fsdp-full-shard": (3, False),
    "fsdp-hybrid-shard": (3, True),
}
SCHEDULES = ("1f1b", "gpipe")
_STATE_PARTS = ("weights", "master_weights", "gradients", "optimizer_states")


def _ceil_div(value, n: int):
    return -(-value // n) if isinstance(value, int) else value / n


def _check_stage(stage) -> int:
    if isinstance(stage, bool) or not isinstance(stage, Integral) or stage not in (0, 1, 2, 3):
        raise ValueError(f"ZeRO stage must be 0, 1, 2 or 3; got {quote(stage)}")
    return int(stage)


def shard_model_states(states: dict, n: int, stage: int) -> dict:
    """Per-rank bytes of each model-state component when ZeRO `stage` partitions them over `n` ranks."""
    sharded = {"master_weights": 1, "optimizer_states": 1, "gradients": 2, "weights": 3}
    return {k: (_ceil_div(v, n) if stage >= sharded[k] else v) for k, v in states.items()}


def zero_model_states_per_gpu(params, n_gpus, stage, precision="mixed-bf16", optimizer="adamw") -> Breakdown:
    """Model states (weights, master weights, gradients, optimizer states) per GPU under ZeRO stage 0-3.

    Mixed-precision Adam, 7.5B parameters, 64 GPUs (ZeRO paper, Figure 1): 120, 31.4, 16.6 and 1.9 GB.
    """
    stage = _check_stage(stage)
    n = check_parallel(n_gpus, "n_gpus")
    full = training_memory(params, precision=precision, optimizer=optimizer, overhead_bytes=0)
    states = {k: full[k] for k in _STATE_PARTS if k in full}
    per_gpu = shard_model_states(states, n, stage)
    count = full["weights"] // (2 if precision != "fp32" else 4)
    partitioned = ", ".join(k for k in _STATE_PARTS if k in per_gpu and per_gpu[k] != states[k]) or "nothing"
    title = f"ZeRO-{stage} on {n} GPUs: {format_count(count)} parameters, {precision} {optimizer}"
    return Breakdown(per_gpu, title=title, notes=(f"stage {stage} partitions {partitioned} over {n} ranks",))


def deepspeed_estimate(total_params, n_gpus, stage, largest_layer_params=0, offload_optimizer=False,
                       offload_params=False) -> int:
    """GPU bytes per rank by DeepSpeed's own estimators (deepspeed/runtime/zero/stage_1_and_2.py
    `estimate_zero2_model_states_mem_needs`, stage3.py `estimate_zero3_model_states_mem_needs`):
    stage 2: 4P + 16P/N (2P with optimizer offload); stage 3: 4 x largest layer + 18P/N (+2P/N with
    optimizer offload, nothing more with parameter offload). DeepSpeed keeps fp32 gradients (4 + 12 + ... = 18)."""
    p, n = parse_count(total_params), check_parallel(n_gpus, "n_gpus")
    if stage == 2:
        return 2 * p if offload_optimizer else 4 * p + int(16 * p / n)
    if stage == 3:
        largest = 4 * largest_layer_params
        if offload_optimizer:
            return largest if offload_params else largest + int(2 * p / n)
        return largest + int(18 * p / n)
    raise ValueError(f"DeepSpeed publishes estimators for stages 2 and 3; got {quote(stage)}")


def _stage_params(spec, count: int, pp: int) -> int:
    """Parameters on the heaviest pipeline stage: ceil(L/pp) layers plus the larger of embedding and head."""
    if pp == 1:
        return count
    if spec is None:
        return math.ceil(count / pp)
    c = spec.param_counts()
    per_layer = Fraction(c["attention"] + c["mlp"] + c["norms"], spec.num_layers)
    ends = max(c["embedding"], c["lm_head"] or c["embedding"])  # tied: first and last stage each keep a copy
    return math.ceil(math.ceil(spec.num_layers / pp) * per_layer) + ends


def sharded_training_memory(spec_or_params, n_gpus, strategy="zero3", tp=1, pp=1, precision="mixed-bf16",
                            optimizer="adamw", batch=1, seq_len=4096, recompute="none", attention="sdpa",
                            num_micro_batches=None, schedule="1f1b", offload_optimizer=False,
                            offload_params=False, gpus_per_node=8, overhead_bytes=NON_TORCH_BYTES) -> Breakdown:
    """Training memory per GPU with `n_gpus` = data parallel x `tp` x `pp`.

    Model states: split by tp (Megatron splits attention heads, MLP columns and the vocabulary; the small
    replicated norms are split too, here), then by pipeline stage (the heaviest: its layers plus the larger
    end), then sharded by ZeRO over the data-parallel ranks (within a node for hybrid sharding). Stage 3 also
    holds the gathered 16-bit weights of the unit being computed and the next one (FSDP's prefetch).
    Activations (needs a ModelSpec): one micro-batch of `batch` x `seq_len` per rank, scaled for tp by
    Korthikanti et al.'s factor (10 + 24/t + 5as/(ht)) / (34 + 5as/h), times the layers on a stage, times
    the micro-batches in flight on the first stage: min(pp, m) for 1F1B, m for GPipe.
    """
    strategy = choice(strategy, tuple(STRATEGIES), "strategy")
    schedule = choice(schedule, SCHEDULES, "schedule")
    n, tp, pp = (check_parallel(v, w) for v, w in ((n_gpus, "n_gpus"), (tp, "tp"), (pp, "pp")))
    spec = spec_or_params if isinstance(spec_or_params, ModelSpec) else None
    if n % (tp * pp):
        raise ValueError(f"n_gpus ({n}) must be a multiple of tp x pp ({tp} x {pp} = {tp * pp})")
    if spec is not None:
        if spec.num_heads % tp:
            raise ValueError(f"tp={tp} must divide the {spec.num_heads} attention heads of {spec.name} "
                             f"(tensor parallelism splits whole heads)")
        if pp > spec.num_layers:
            raise ValueError(f"pp={pp} is more pipeline stages than {spec.name}'s {spec.num_layers} layers")
    dp = n // (tp * pp)
    stage, within_node = STRATEGIES[strategy]
    shard_over = min(dp, check_parallel(gpus_per_node, "gpus_per_node")) if within_node else dp
    if offload_params and stage != 3:
        raise ValueError("offload_params needs parameters to be sharded: ZeRO-3 / FSDP full or hybrid shard")
    count = spec.num_params() if spec else parse_count(spec_or_params)
    local = _stage_params(spec, count, pp)
    full = training_memory(count, precision=precision, optimizer=optimizer, overhead_bytes=0)
    per_param = {k: Fraction(full[k], count) for k in _STATE_PARTS if k in full}
    states = {k: math.ceil(v * local / tp) for k, v in per_param.items()}
    parts = shard_model_states(states, shard_over, stage)
    notes = [f"{n} GPUs = {dp} data parallel x {tp} tensor x {pp} pipeline; {strategy} (ZeRO-{stage}) "
             f"shards over {shard_over} ranks"]
    offloaded = 0
    if offload_optimizer:
        for k in ("master_weights", "optimizer_states"):
            offloaded += parts.pop(k, 0)
    if offload_params:
        offloaded += parts.pop("weights")
    if offloaded:
        notes.append(f"offloaded to CPU RAM: {offloaded / GB:,.1f} GB per rank")
    if stage == 3 and spec is not None:
        c = spec.param_counts()
        # the larger unit FSDP gathers: a decoder layer or the embedding
        unit = max(Fraction(c["attention"] + c["mlp"], spec.num_layers), Fraction(c["embedding"]))
        parts["gathered_weights"] = math.ceil(2 * unit * per_param["weights"] / tp)
        notes.append("gathered_weights: the unit being computed and the prefetched next one, unsharded")
    if spec is not None:
        choice(recompute, ("none", "selective", "full"), "recompute")
        m = num_micro_batches or pp
        in_flight = min(pp, m) if schedule == "1f1b" else m
        tp_factor = Fraction(korthikanti_activation_bytes(spec, batch, seq_len, recompute, tp=tp),
                             korthikanti_activation_bytes(spec, batch, seq_len, recompute, tp=1))
        layers_here = Fraction(math.ceil(spec.num_layers / pp), spec.num_layers)
        act_dtype = "fp32" if precision == "fp32" else "bf16"
        act, _ = estimate_activation_bytes(spec, batch, seq_len, act_dtype, recompute, attention)
        parts["activations"] = math.ceil(act * tp_factor * layers_here * in_flight)
        parts["logits"] = math.ceil(Fraction(logits_bytes(spec, batch, seq_len, act_dtype), tp))
        notes.append(f"activations: micro-batch {batch} x {seq_len} tokens, {in_flight} in flight ({schedule}), "
                     f"{recompute} recompute; logits split over tp (vocab-parallel loss)")
    else:
        notes.append("activations not included: they need the architecture (pass a ModelSpec)")
    parts["overhead"] = overhead_bytes
    name = spec.name if spec else format_count(count)
    return Breakdown(parts, title=f"{name} on {n} GPUs, {strategy}, tp={tp}, pp={pp}: per GPU", notes=notes)


def gpus_needed_for_training(spec_or_params, gpu="H100-80GB", strategy="zero3", tp=1, pp=1, usable_fraction=1.0,
                             max_gpus=4096, **kwargs) -> int:
    """The fewest GPUs (a multiple of tp x pp) whose per-GPU training memory fits one `gpu`.

    Per-GPU memory never grows with the data-parallel degree (sharded states shrink, the rest stays), so the
    answer is found by bisection over the multiples of tp x pp: about log2(max_gpus) evaluations, whatever
    ``max_gpus`` (at most 10^6) is.
    """
    capacity = usable_bytes(gpu, usable_fraction)
    tp, pp = check_parallel(tp, "tp"), check_parallel(pp, "pp")
    max_gpus = check_parallel(max_gpus, "max_gpus")
    stage = STRATEGIES[choice(strategy, tuple(STRATEGIES), "strategy")][0]
    step = tp * pp
    if step > max_gpus:
        raise ValueError(f"tp x pp = {step} GPUs is more than max_gpus = {max_gpus}")

    def fits(k: int) -> bool:
        return sharded_training_memory(spec_or_params, k * step, strategy, tp, pp, **kwargs).total <= capacity

    # Plain data parallelism replicates everything: more GPUs never help, so only k = 1 can fit.
    high = 1 if stage == 0 else max_gpus // step
    if not fits(high):
        raise ValueError(f"no number of {get_gpu(gpu).name} up to {max_gpus} fits this with {strategy}, tp={tp}, "
                         f"pp={pp}; try a higher ZeRO stage, tensor or pipeline parallelism, offload, or "
                         "recomputation")
    low = 0  # fits(low) is false by convention (no GPUs), fits(high) is true
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if fits(mid) else (mid, high)
    return high * step
