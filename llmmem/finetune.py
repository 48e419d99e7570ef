"""Fine-tuning memory: LoRA and QLoRA.

LoRA (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models") freezes the base weights and learns,
for each targeted r_out x r_in weight matrix W, a low-rank update B A with A: rank x r_in and B: r_out x rank.
Only A and B get gradients and optimizer states; the frozen base still holds its weights and the activations
still flow through every layer. QLoRA (Dettmers et al. 2023) stores the frozen base in NF4 with double
quantization, keeps the adapters in bf16, and uses paged AdamW: its reference code defaults to
`optim="paged_adamw_32bit"` (artidoro/qlora@7f4e95a6:qlora.py), 32-bit states in CUDA managed memory.
"""

from __future__ import annotations

from .breakdown import Breakdown
from .formats import weight_bytes
from .model import ModelSpec
from .training import (
    NON_TORCH_BYTES,
    activation_terms,
    estimate_activation_bytes,
    has_exact_activations,
    logits_bytes,
    shaped_optimizer_state_bytes,
)
from .units import GiB
from .validation import quote

# Module names as peft's `target_modules` takes them; "all-linear" is peft's shorthand for every linear layer
# but the output head (peft tuners_utils.py, INCLUDE_LINEAR_LAYERS_SHORTHAND).
TARGET_GROUPS = {
    "attention": ("q_proj", "k_proj", "v_proj", "o_proj", "qkv_proj",
                  "q_a_proj", "q_b_proj", "kv_a_proj", "kv_b_proj"),
    "mlp": ("gate_proj", "up_proj", "down_proj", "gate_up_proj",
            "shared_gate_proj", "shared_up_proj", "shared_down_proj"),
}
TARGET_GROUPS["all-linear"] = TARGET_GROUPS["attention"] + TARGET_GROUPS["mlp"]
# Not adapter targets here: embeddings and lm_head (not linear projections of a layer), the MoE router, and
# routed experts (recent transformers store them as fused 3-D parameters that peft's LoRA does not wrap).
_NOT_TARGETS = ("embedding", "position_embedding", "lm_head", "router")
ADAPTER_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}


def lora_target_names(spec: ModelSpec) -> tuple:
    """The linear modules of this model that LoRA can target, by name."""
    return tuple(name for name, *_ in spec.weight_matrices()
                 if name not in _NOT_TARGETS and not name.startswith("expert_"))


def _targets(spec: ModelSpec, targets) -> tuple:
    available = lora_target_names(spec)
    if isinstance(targets, str):
        if targets in TARGET_GROUPS:
            chosen = tuple(n for n in available if n in TARGET_GROUPS[targets])
            if not chosen:
                raise ValueError(f"{spec.name} has no {quote(targets)} modules LoRA can target; "
                                 f"it has {', '.join(available)}")
            return chosen
        targets = (targets,)
    try:
        chosen = tuple(targets)
    except TypeError:
        raise ValueError(f"targets must be a group ({', '.join(TARGET_GROUPS)}) or module names; "
                         f"got {quote(targets)}") from None
    unknown = [t for t in chosen if t not in available]
    if unknown or not chosen:
        shown = ", ".join(quote(t, 40) for t in unknown[:3]) + (" ..." if len(unknown) > 3 else "")
        raise ValueError(f"unknown target module {shown or '(none given)'} for {spec.name}; "
                         f"it has {', '.join(available)} (or a group: {', '.join(TARGET_GROUPS)})")
    return tuple(dict.fromkeys(chosen))


def resolve_targets(spec: ModelSpec, targets) -> tuple:
    """The module names a `targets` argument stands for (a group such as "all-linear", or names), validated."""
    return _targets(spec, targets)


def _check_rank(rank) -> int:
    if isinstance(rank, bool) or not isinstance(rank, int) or rank <= 0:
        raise ValueError(f"LoRA rank must be a positive whole number (8, 16, 64 ...); got {quote(rank)}")
    return rank


def lora_adapter_matrices(spec: ModelSpec, rank=16, targets="attention") -> tuple:
    """The adapters as (name, rows, cols, count): for each targeted rows x cols matrix, A (rank x cols) and
    B (rows x rank), both bias-free (peft's LoRA layers)."""
    rank = _check_rank(rank)
    chosen = set(_targets(spec, targets))
    adapters = []
    for name, rows, cols, n in spec.weight_matrices():
        if name in chosen:
            adapters += [(f"{name}.lora_A", rank, cols, n), (f"{name}.lora_B", rows, rank, n)]
    return tuple(adapters)


def lora_trainable_params(spec: ModelSpec, rank=16, targets="attention") -> int:
    """Exact number of LoRA parameters: rank x (rows + cols) for every targeted matrix."""
    return sum(r * c * n for _, r, c, n in lora_adapter_matrices(spec, rank, targets))


def lora_memory(spec: ModelSpec, rank=16, targets="attention", base_format="bf16", adapter_dtype="fp32",
                optimizer="adamw", batch=1, seq_len=2048, recompute="none", attention="sdpa",
                overhead_bytes=NON_TORCH_BYTES, lora_dropout=0.0) -> Breakdown:
    """Memory to fine-tune with LoRA on one GPU.

    Frozen base weights in `base_format`; adapters, their gradients and optimizer states in `adapter_dtype`
    (peft's default upcasts adapters to fp32: `autocast_adapter_dtype=True`). Activations are what a frozen
    base saves (`training.activation_terms(trainable=False)`, checked storage by storage against peft): frozen
    Linears keep no input, but the norms, attention and SwiGLU still do, and each adapted module keeps what its
    adapter needs. With `lora_dropout > 0` (QLoRA used 0.05) every adapted module saves its own dropped-out
    copy of the input and a mask, so LoRA's activations can *exceed* full training's: "as full training" is no
    upper bound. A bitsandbytes 4-bit base (QLoRA) saves every linear input as full training does
    (`MatMul4Bit` keeps its input whenever it needs a gradient). Logits and loss as in training, with a frozen
    head that saves no input (unless 4-bit).
    """
    if not isinstance(spec, ModelSpec):
        raise ValueError("LoRA memory needs a ModelSpec (the adapters' size depends on the layer shapes)")
    if adapter_dtype not in ADAPTER_BYTES:
        raise ValueError(f"adapter_dtype must be one of {', '.join(ADAPTER_BYTES)}; got {quote(adapter_dtype)}")
    adapters = lora_adapter_matrices(spec, rank, targets)
    trainable = sum(r * c * n for _, r, c, n in adapters)
    a = ADAPTER_BYTES[adapter_dtype]
    chosen_targets = _targets(spec, targets)
    bnb_4bit = str(base_format).startswith(("nf4", "fp4", "int4"))
    if has_exact_activations(spec):
        per_layer, once = activation_terms(spec, batch, seq_len, "bf16", recompute, attention, trainable=False,
                                           lora_targets=chosen_targets, lora_rank=rank, lora_dropout=lora_dropout,
                                           adapter_bytes=a, base_saves_input=bnb_4bit)
        activations = spec.num_layers * per_layer + once
    else:  # other families: full training's approximation
        activations = estimate_activation_bytes(spec, batch, seq_len, "bf16", recompute, attention)[0]
    parts = {
        "weights": weight_bytes(spec, base_format),
        "adapter_weights": a * trainable,
        "gradients": a * trainable,
        "optimizer_states": shaped_optimizer_state_bytes(adapters, 0, optimizer, state_bytes=4),
        "activations": activations,
        "logits": logits_bytes(spec, batch, seq_len, head_saves_input=bnb_4bit),
        "overhead": overhead_bytes,
    }
    chosen = ", ".join(_targets(spec, targets))
    notes = (
        f"LoRA rank {rank} on {chosen}: {trainable:,} trainable parameters "
        f"({100 * trainable / spec.num_params():.2f} % of {spec.num_params():,})",
        f"base weights frozen in {base_format}; adapters, gradients in {adapter_dtype}; "
        f"{optimizer} states for adapters only",
        f"activations: batch {batch} x {seq_len} tokens, recompute={recompute}, {attention} attention, "
        f"frozen base{' (4-bit: linear inputs saved)' if bnb_4bit else ''}, lora_dropout={lora_dropout}",
        f"overhead: {overhead_bytes / GiB:.2f} GiB of non-torch memory (outside PyTorch's allocator; the CUDA "
        "context, ~1.3 GiB, shows only in nvidia-smi)",
    )
    return Breakdown(parts, title=f"LoRA fine-tuning {spec.name}", notes=notes)


def qlora_memory(spec: ModelSpec, rank=64, targets="all-linear", batch=1, seq_len=512, recompute="full",
                 **kwargs) -> Breakdown:
    """QLoRA as its reference code runs it: NF4 base with double quantization, bf16 adapters on every linear
    layer, paged AdamW with 32-bit states (`optim="paged_adamw_32bit"`, artidoro/qlora@7f4e95a6:qlora.py; the
    paper's 8-bit option is `optimizer="paged-adamw-8bit"`), gradient checkpointing (Dettmers et al. 2023,
    Sec. 3 and 4; rank 64 for the Guanaco runs). Other `lora_memory` keywords may override these. The paged
    states are counted here: they live in managed memory the driver still has to back, though
    `torch.cuda.max_memory_allocated` does not see them (`llmmem.training_peak` separates the two)."""
    options = {"base_format": "nf4_dq", "adapter_dtype": "bf16", "optimizer": "paged-adamw", **kwargs}
    b = lora_memory(spec, rank=rank, targets=targets, batch=batch, seq_len=seq_len, recompute=recompute, **options)
    return Breakdown(dict(b), title=f"QLoRA fine-tuning {spec.name}", notes=b.notes)
