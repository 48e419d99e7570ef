"""The peak of one training step, as a GPU's memory statistics report it.

`training_memory` adds up everything a step keeps; a real run never holds all of it at once, and what a tool
prints ("peak memory") is one of several statistics. `training_peak` follows one step through its moments and
returns the largest:

- **forward**: model states + the saved activations + the loss's tensors while it is computed (the logits, an
  fp32 upcast copy, the log-softmax it saves);
- **backward**: at its start the loss's gradients (as large as the log-softmax, twice: the gradient of the
  output and of the input) join the saved activations; deeper in, with activation checkpointing, one layer is
  recomputed at a time while the gradients of the head have appeared;
- **optimizer step**: activations are gone, all gradients are there, and the optimizer's temporaries.

Each term's source is given where it is computed. What is not modelled: `torch.compile` (it changes what is
saved; its effect is read off the measurements in notebook 06, not predicted), fragmentation of the caching
allocator, and communication buffers beyond FSDP's gathered units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

from .allocator import cuda_segment_bytes
from .breakdown import Breakdown
from .finetune import lora_adapter_matrices, resolve_targets
from .formats import weight_bytes
from .model import ModelSpec
from .training import (
    OPTIMIZER_IMPLS,
    OPTIMIZERS,
    PRECISIONS,
    RECOMPUTE,
    _bytes_per_param,
    activation_terms,
    has_exact_activations,
    korthikanti_activation_bytes,
    logits_bytes,
    optimizer_state_bytes,
    optimizer_step_temporaries,
    shaped_optimizer_state_bytes,
)
from .units import GB, GiB, MiB
from .validation import MAX_BATCH, check_batch, check_parallel, check_positive, check_tokens, quote
from .validation import choice as _choice

METHODS = ("full", "lora", "qlora")
METRICS = ("allocated", "active", "reserved", "nvidia-smi")
STRATEGIES = (None, "ddp", "fsdp", "fsdp-offload")

# What a process holds on the GPU beyond PyTorch's allocator once CUDA and its kernels are loaded: 1343 MiB
# measured with pynvml after `torch.ones((1, 1)).to("cuda")` in Hugging Face's "Model training anatomy"
# (huggingface/transformers docs/source/en/model_memory_anatomy.md). nvidia-smi and pynvml include it; PyTorch's
# allocated/reserved statistics do not. It varies with GPU, driver and CUDA version (lazy module loading since
# CUDA 11.7 makes it smaller).
CUDA_CONTEXT_NVML_BYTES = 1343 * MiB

# The framework a run used decides details of what is saved; each preset says where it is read from.
FRAMEWORKS: dict[str, dict[str, Any]] = {
    # transformers + peft: RMSNorm upcasts to fp32 (modeling_llama.py), K/V not repeated for SDPA (enable_gqa),
    # ForCausalLMLoss upcasts the logits to fp32 and the caller holds the model output's logits; peft keeps one
    # dropout per module and upcasts adapters to fp32 (autocast_adapter_dtype=True); QLoRA through bnb Linear4bit.
    "transformers": {"norm_upcast": True, "kv_expand": False, "loss_upcast": True, "keep_logits": True,
                     "loss_chunks": 8, "dropout_per": "module", "nf4_saves_input": True, "lora_adapter_bytes": 4},
    # torchtune (recipes/full_finetune_single_device.py, lora_finetune_single_device.py): RMSNorm in fp32,
    # MultiHeadAttention expands K/V to all heads before SDPA, the decoder returns `self.output(h).float()`
    # (torchtune/modules/transformer.py) and the recipe runs `del logits` after the loss ("free logits otherwise
    # it peaks backward memory"); CEWithChunkedOutputLoss projects 8 chunks in bf16 and upcasts one at a time;
    # adapters in the model dtype; QLoRA through torchao's linear_nf4.
    "torchtune": {"norm_upcast": True, "kv_expand": True, "loss_upcast": True, "keep_logits": False,
                  "loss_chunks": 8, "chunked_upcast": True, "dropout_per": "module", "nf4_saves_input": False,
                  "lora_adapter_bytes": None},
    # LitGPT at 8641822 (finetune/lora.py, lit_gpt/model.py, rmsnorm.py): RMSNorm in the model dtype, fused qkv
    # with one LoRA dropout, K/V expanded for GQA, `lm_head_chunk_size=128` and chunked_cross_entropy on bf16
    # chunks (no upcast), the logits list held by the training loop, bnb Linear4bit for nf4. Its resource table
    # (torch 2.1) grows by 7.8 GB from micro-batch 1 to 2 at 1,304 tokens: what a layer saves when every Linear
    # and norm keeps its input as in full training, not what a frozen base saves on torch 2.13 (measured with
    # peft): `frozen_saves` reads the run that way (inferred from the measurements, not from the code).
    "litgpt": {"frozen_saves": True, "norm_upcast": False, "kv_expand": True, "loss_upcast": False, "keep_logits": True,
               "loss_chunk_tokens": 128, "chunked_upcast": False, "dropout_per": "input", "nf4_saves_input": True,
               "lora_adapter_bytes": None},
}


@dataclass(frozen=True)
class TrainingPeak:
    """The estimate: `.bytes` of the chosen `.metric` at its peak, the `.phase` where it falls, the `.breakdown`
    at that moment, and every moment's Breakdown in `.phases`."""
    bytes: int
    phase: str
    breakdown: Breakdown
    metric: str
    phases: dict = field(default_factory=dict)
    notes: tuple = ()

    def __repr__(self) -> str:
        return (f"TrainingPeak({self.metric} {self.bytes / GiB:,.2f} GiB = {self.bytes / GB:,.2f} GB "
                f"in the {self.phase})")


def _flag(value, what):
    if not isinstance(value, bool):
        raise ValueError(f"{what} must be True or False; got {quote(value)}")
    return value


def training_peak(spec, method="full", precision="bf16", optimizer="adamw", batch=1, seq_len=2048,
                  recompute="none", lora_rank=None, lora_targets=None, lora_dropout=0.0, optimizer_impl="foreach",
                  optimizer_in_backward=False, chunked_loss=False, activation_offload=False, n_gpus=1, strategy=None,
                  metric="allocated", *, framework="transformers", attention="sdpa", adapter_dtype=None,
                  base_format=None, grad_accumulation=1, compile=False) -> TrainingPeak:
    """Peak GPU memory of one training step, per GPU, in the statistic `metric` reports.

    `method`: "full", "lora" or "qlora" (NF4 base with double quantization, bf16 adapters). `precision`:
    "bf16"/"fp16" (pure: weights, gradients and torch optimizer states in 16 bits, torchtune and LitGPT's
    `bf16-true`), "mixed-bf16" (fp32 master weights and states) or "fp32". `optimizer`: as `training_memory`;
    "paged-*" optimizers (bitsandbytes) keep their states in CUDA managed memory (`cudaMallocManaged`,
    bitsandbytes functional.py `get_paged`), which PyTorch's statistics do not see: they count in "nvidia-smi"
    only. `optimizer_impl`: torch's "foreach" (default on CUDA) holds one state-sized temporary per group during
    the step (torch.optim docs: foreach "uses more peak memory, roughly sizeof(params)"), "fused" none, "forloop"
    one tensor's worth. `optimizer_in_backward`: each gradient is applied and freed as soon as it is computed
    (torchtune's `optimizer_in_bwd`; PyTorch tutorial "How to save memory by fusing the optimizer step into the
    backward pass"). `chunked_loss`: the logits are projected and cross-entropy computed in chunks (torchtune's
    CEWithChunkedOutputLoss, LitGPT's chunked_cross_entropy). `activation_offload`: the decoder layers' saved
    tensors wait in CPU memory (torchtune's OffloadActivations), one layer's worth stays on the GPU.
    `strategy`: None (one GPU), "ddp" (full replica; DDP's buckets copy the gradients unless
    `gradient_as_bucket_view=True`, torch DDP docs), "fsdp" (ZeRO-3: weights, gradients and states sharded over
    `n_gpus`; one unit gathered plus one prefetched, FSDP's default backward prefetch), "fsdp-offload" (the
    same with parameters, gradients and states in CPU memory). `metric`: "allocated" (torch.cuda.max_memory_
    allocated), "active" (memory_stats' active_bytes.all.peak: the same blocks here), "reserved" (the caching
    allocator's segments: block rounding of the model's tensors; fragmentation not modelled), "nvidia-smi"
    (reserved + CUDA context + paged optimizer states).
    `framework`: "transformers", "torchtune" or "litgpt" — the implementation details each saves differently
    (see `FRAMEWORKS`).
    """
    if not isinstance(spec, ModelSpec):
        raise ValueError("training_peak needs a ModelSpec (ModelSpec.from_catalog('llama-3.2-3b') or from_hf_config)")
    method = _choice(method, METHODS, "method")
    precision = _choice(precision, PRECISIONS, "precision")
    optimizer = _choice(optimizer, OPTIMIZERS, "optimizer")
    recompute = _choice(recompute, RECOMPUTE, "recompute")
    optimizer_impl = _choice(optimizer_impl, OPTIMIZER_IMPLS, "optimizer_impl")
    metric = _choice(metric, METRICS, "metric")
    framework = _choice(framework, tuple(FRAMEWORKS), "framework")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of None, 'ddp', 'fsdp', 'fsdp-offload'; got {quote(strategy)}")
    batch, seq_len = check_batch(batch), check_tokens(seq_len)
    n_gpus = check_parallel(n_gpus, "n_gpus")
    grad_accumulation = check_positive(grad_accumulation, "grad_accumulation", MAX_BATCH, "as many steps as sequences")
    for value, what in ((optimizer_in_backward, "optimizer_in_backward"), (chunked_loss, "chunked_loss"),
                        (activation_offload, "activation_offload"), (compile, "compile")):
        _flag(value, what)
    if strategy is None and n_gpus != 1:
        raise ValueError(f"n_gpus={n_gpus} needs a strategy: 'ddp', 'fsdp' or 'fsdp-offload'")
    if isinstance(lora_dropout, bool) or not isinstance(lora_dropout, Real) or not 0 <= float(lora_dropout) < 1:
        raise ValueError(f"lora_dropout must be a probability in [0, 1); got {quote(lora_dropout)}")
    if optimizer_in_backward and grad_accumulation > 1:
        raise ValueError("optimizer_in_backward steps at every backward: it cannot accumulate gradients")
    fw = FRAMEWORKS[framework]
    a = 4 if precision == "fp32" else 2  # activation bytes; mixed precision computes in 16 bits
    notes = [f"{spec.name}: {method}, {precision}, {optimizer} ({optimizer_impl}), batch {batch} x {seq_len} "
             f"tokens, recompute={recompute}, {framework} implementation"]
    tokens = batch * seq_len
    count = spec.num_params()
    matrices = spec.weight_matrices()
    w_b, master_b, grad_b, state_b = _bytes_per_param(precision)
    if optimizer in ("adamw-8bit", "paged-adamw-8bit"):
        state_b = 1

    # ------------------------------------------------------------------ model states
    static, tensors = {}, []  # tensors: persistent tensor sizes, for the allocator's rounding
    if method == "full":
        trainable = matrices
        static["weights"] = w_b * count
        if master_b:
            static["master_weights"] = master_b * count
        grads = grad_b * count
        torch_state_b = state_b if precision not in ("bf16", "fp16") else w_b  # torch states follow the param dtype
        states = optimizer_state_bytes(spec, optimizer, torch_state_b)
        step_state_b = torch_state_b
        largest = max(r * c for _, r, c, _ in matrices)
        layer_params = sum(r * c for name, r, c, n in matrices if n == spec.num_layers)
        for _, r, c, n in matrices:
            tensors += [r * c * w_b] * n + [r * c * grad_b] * n
        targets = ()
        frozen_b = w_b
    else:
        rank = 16 if lora_rank is None else lora_rank
        chosen = lora_targets if lora_targets is not None else ("attention" if method == "lora" else "all-linear")
        targets = resolve_targets(spec, chosen)
        adapters = lora_adapter_matrices(spec, rank, targets)
        trainable = adapters
        n_train = sum(r * c * n for _, r, c, n in adapters)
        if method == "qlora":
            default_ad = "bf16"  # QLoRA's adapters in bf16 (Dettmers et al. 2023, Sec. 3; qlora.py casts them)
        elif fw["lora_adapter_bytes"] == 4:
            default_ad = "fp32"
        else:
            default_ad = "fp32" if precision == "fp32" else "bf16"
        ad_name = adapter_dtype or default_ad
        if ad_name not in ("fp32", "bf16", "fp16"):
            raise ValueError(f"adapter_dtype must be 'fp32', 'bf16' or 'fp16'; got {quote(adapter_dtype)}")
        ad_b = 4 if ad_name == "fp32" else 2
        fmt = base_format or ("nf4_dq" if method == "qlora" else ("fp32" if precision == "fp32" else "bf16"))
        static["weights"] = weight_bytes(spec, fmt)
        static["adapter_weights"] = ad_b * n_train
        grads = ad_b * n_train
        states = shaped_optimizer_state_bytes(adapters, 0, optimizer, state_bytes=1 if state_b == 1 else ad_b)
        step_state_b = ad_b
        largest = max(r * c for _, r, c, _ in adapters)
        layer_params = sum(r * c for _, r, c, n in matrices if n == spec.num_layers)
        for _, r, c, n in matrices:
            tensors += [math.ceil(r * c * (2 if fmt in ("bf16", "fp16") else 4 if fmt == "fp32" else 0.52))] * n
        frozen_b = 2 if fmt in ("bf16", "fp16") else 4 if fmt == "fp32" else 0.52
        notes.append(f"LoRA rank {rank} on {', '.join(targets)}: {n_train:,} trainable parameters in {ad_name}; "
                     f"base frozen in {fmt}")
    paged = optimizer.startswith("paged")
    if paged:
        notes.append("paged optimizer: states in CUDA managed memory (bitsandbytes), outside PyTorch's statistics")

    # ------------------------------------------------------------------ sharding
    shard = n_gpus if strategy in ("fsdp", "fsdp-offload") else 1
    gathered = 0
    if strategy in ("fsdp", "fsdp-offload"):
        unit = max(layer_params, max(r * c for _, r, c, n in matrices if n == 1))
        gathered = math.ceil(2 * unit * (w_b if method == "full" else frozen_b))  # current unit + prefetched one
        notes.append(f"FSDP over {n_gpus} GPUs: states sharded, one unit gathered and one prefetched "
                     f"({gathered / GiB:.2f} GiB)")
    on_gpu = 0 if strategy == "fsdp-offload" else 1
    model = {k: on_gpu * math.ceil(v / shard) for k, v in static.items()}
    states_gpu = 0 if paged else on_gpu * math.ceil(states / shard)
    grads_gpu = on_gpu * math.ceil(grads / shard)
    if strategy == "fsdp-offload":
        notes.append("fsdp-offload: parameters, gradients and optimizer states in CPU memory")
    base = dict(model)
    if states_gpu:
        base["optimizer_states"] = states_gpu
    if gathered:
        base["gathered_unit"] = gathered

    # ------------------------------------------------------------------ activations
    frozen = method != "full" and not fw.get("frozen_saves", False)
    base_saves = method == "qlora" and fw["nf4_saves_input"] and (base_format or "nf4_dq").startswith("nf4")
    rank_used = 0 if method == "full" else (16 if lora_rank is None else lora_rank)
    if has_exact_activations(spec):
        kwargs = dict(trainable=not frozen, lora_targets=targets, lora_rank=rank_used, lora_dropout=lora_dropout,
                      adapter_bytes=(a if method == "full" else ad_b), dropout_per=fw["dropout_per"],
                      base_saves_input=base_saves, norm_upcast=fw["norm_upcast"], kv_expand=fw["kv_expand"])
        per_layer, once = activation_terms(spec, batch, seq_len, precision, recompute, attention, **kwargs)
        layer_full, _ = activation_terms(spec, batch, seq_len, precision, "none", attention, **kwargs)
    else:
        acts = korthikanti_activation_bytes(spec, batch, seq_len, recompute)
        per_layer, once = acts // spec.num_layers, acts - acts // spec.num_layers * spec.num_layers
        layer_full = korthikanti_activation_bytes(spec, batch, seq_len, "none") // spec.num_layers
        notes.append(f"activations: Korthikanti et al.'s formula, an approximation for {spec.model_type}")
    layers_saved = spec.num_layers * per_layer
    if activation_offload:
        offloaded = layers_saved - per_layer
        layers_saved = per_layer
        notes.append(f"activation offloading: {offloaded / GiB:.2f} GiB of saved layer tensors in CPU memory")
    activations = layers_saved + once

    # ------------------------------------------------------------------ loss
    V = spec.vocab_size
    head_saves = method == "full" or base_saves
    chunks = 1
    if chunked_loss:
        chunks = math.ceil(seq_len / fw["loss_chunk_tokens"]) if "loss_chunk_tokens" in fw else fw["loss_chunks"]
        upcast = fw.get("chunked_upcast", True)
    else:
        upcast = fw["loss_upcast"]
    c = 4 if upcast else a  # bytes of the saved log-softmax
    saved_loss = logits_bytes(spec, batch, seq_len, precision, logit_bytes=c, head_saves_input=head_saves)
    logits_16 = a * V * tokens  # the LM head's output
    upcast_copy = (4 * V * tokens) // chunks if upcast and a != 4 else 0
    held = logits_16 if fw["keep_logits"] else 0
    fwd_loss = logits_16 + upcast_copy  # while the loss is computed: logits, fp32 copy (one chunk), log-softmax
    bwd_loss = held + 2 * c * V * tokens // chunks  # gradients of log-softmax's output and input (one chunk)
    grad_accum_gpu = grads_gpu if grad_accumulation > 1 else 0
    head_params = V * spec.hidden_size
    head_grad = 0 if method != "full" else math.ceil(head_params * grad_b / shard)
    if strategy in ("fsdp", "fsdp-offload") and method == "full":
        head_grad = head_params * grad_b  # unsharded until reduce-scattered

    # ------------------------------------------------------------------ the moments
    phases = {}
    common = {**base, "activations": activations}
    if grad_accum_gpu:
        common["gradients"] = grad_accum_gpu
    phases["forward"] = Breakdown({**common, "loss_saved": saved_loss, "loss_transient": fwd_loss},
                                  title="forward: the loss being computed")
    start = {**common, "loss_saved": saved_loss, "loss_transient": bwd_loss}
    recompute_layer = layer_full if recompute != "none" else 0
    deeper = {**common, "loss_saved": 0, "gradients": grad_accum_gpu + head_grad,
              "recomputed_layer": recompute_layer, "layer_gradients": 0 if method != "full" else layer_params * grad_b}
    if activation_offload:
        deeper["prefetched_layer"] = per_layer
    b1, b2 = Breakdown(start, title="backward: start"), Breakdown(deeper, title="backward: first layers")
    phases["backward"] = b1 if b1.total >= b2.total else b2
    if optimizer_in_backward:
        temps = optimizer_step_temporaries("forloop" if optimizer_impl != "fused" else "fused", optimizer, largest,
                                  step_state_b, trainable)
        phases["backward"] = Breakdown({**dict(phases["backward"]), "step_temporaries": temps},
                                       title=phases["backward"].title + ", optimizer in backward")
        notes.append("optimizer in backward: each gradient applied and freed as it is produced; no optimizer phase")
    else:
        temps = optimizer_step_temporaries(optimizer_impl, optimizer, largest, step_state_b, trainable)
        step = {**base, "gradients": grads_gpu, "step_temporaries": math.ceil(temps / shard)}
        if strategy == "ddp":
            step["ddp_buckets"] = grads_gpu
        phases["optimizer step"] = Breakdown(step, title=f"optimizer step ({optimizer_impl})")
    if strategy == "ddp":
        phases["backward"] = Breakdown({**dict(phases["backward"]), "ddp_buckets": grads_gpu},
                                       title=phases["backward"].title)
    if compile:
        notes.append("torch.compile: not modelled (it changes what is saved); this is the eager estimate")

    # ------------------------------------------------------------------ the metric
    phase = max(phases, key=lambda k: phases[k].total)
    peak = phases[phase]
    parts = dict(peak)
    if metric in ("reserved", "nvidia-smi"):
        rounding = sum(cuda_segment_bytes(int(t)) - int(t) for t in tensors if t) // shard * on_gpu
        parts["allocator_rounding"] = rounding
        notes.append("reserved: block rounding of the model's tensors (512 B, 2 MiB above 10 MiB); "
                     "fragmentation not modelled")
    if metric == "nvidia-smi":
        parts["cuda_context"] = CUDA_CONTEXT_NVML_BYTES
        if paged:
            parts["paged_optimizer_states"] = math.ceil(states / shard)
    breakdown = Breakdown({k: v for k, v in parts.items() if v}, title=f"{spec.name}: peak {metric} in the {phase}",
                          notes=notes)
    return TrainingPeak(bytes=int(breakdown.total), phase=phase, breakdown=breakdown, metric=metric,
                        phases=phases, notes=tuple(notes))


__all__ = ["CUDA_CONTEXT_NVML_BYTES", "FRAMEWORKS", "TrainingPeak", "training_peak"]


# --------------------------------------------------------------------------- published runs

_PEAK_KEYS = ("method", "precision", "optimizer", "batch", "seq_len", "recompute", "lora_rank", "lora_targets",
              "lora_dropout", "optimizer_impl", "optimizer_in_backward", "chunked_loss", "activation_offload",
              "n_gpus", "strategy", "framework", "adapter_dtype", "base_format", "compile")
_UNITS = {"GB": GB, "GiB": GiB}


def estimate_run(run: dict) -> TrainingPeak:
    """`training_peak` for one entry of notebooks/data/training_runs.json (its "settings" and "reported" metric)."""
    settings = run["settings"]
    spec = ModelSpec.from_catalog(settings["model"])
    kwargs = {k: settings[k] for k in _PEAK_KEYS if k in settings}
    if "lora_targets" in kwargs:
        kwargs["lora_targets"] = tuple(kwargs["lora_targets"])
    return training_peak(spec, metric=run["reported"]["metric"], **kwargs)


def compare_runs(runs) -> list:
    """One row per run: id, reported bytes, estimated bytes, ratio, phase, and whether it counts as fully known."""
    rows = []
    for run in runs:
        reported = run["reported"]["value"] * _UNITS[run["reported"]["unit"]]
        peak = estimate_run(run)
        rows.append({"id": run["id"], "reported_bytes": reported, "estimate_bytes": peak.bytes,
                     "ratio": peak.bytes / reported, "phase": peak.phase, "unit": run["reported"]["unit"],
                     "metric": run["reported"]["metric"], "fully_known": run["fully_known"] and run["modelled"],
                     "upper_bound": run.get("upper_bound", False)})
    return rows
