"""Training memory: the source article's "General Process" as written, then the accounting that matches practice.

Bytes per parameter (what each precision keeps per weight):

| precision    | weights | master weights | gradients | each optimizer state |
|--------------|---------|----------------|-----------|----------------------|
| fp32         | 4       | -              | 4         | 4                    |
| bf16, fp16   | 2       | -              | 2         | 2                    |
| mixed-bf16/16| 2       | 4              | 2         | 4                    |

Mixed precision with AdamW is the ZeRO paper's 2 + 2 + 12 = 16 bytes per parameter (Rajbhandari et al.,
SC20, Sec. 3.1: fp16 weights and gradients, fp32 master weights, momentum and variance). DeepSpeed's current
estimator counts 18, keeping fp32 gradients for accumulation; `fp32_grad_accumulation=True` gives that.
"""

from __future__ import annotations

import math
from fractions import Fraction

from .breakdown import Breakdown
from .inference import NON_TORCH_BYTES_SINGLE_GPU
from .model import ModelSpec
from .units import GB, GiB, format_count, parse_count
from .validation import WrongTypeError, check_batch, check_nonneg, check_parallel, check_tokens, choice, quote
from .validation import name as _name

# --------------------------------------------------------------------------- the seed, as written

SEED_BYTES_PER_PARAM = {4: "float32", 2: "bf16/fp16", 1: "int8", 0.5: "int4"}
SEED_OPTIMIZER_STATES = {"adamw": 2, "sgd": 1}  # "AdamW optimizer: 2 * P; SGD optimizer: P" (the serving article)


def training_memory_seed(params, bytes_per_param=4, optimizer="adamw") -> Breakdown:
    """The serving article's "General Process", step by step and exactly as written.

    S = P * b; M_inf ~ S; M_train ~ 4 * M_inf; then it *adds* gradients (P * b) and optimizer states
    (AdamW 2 * P * b, SGD P * b). 13B at 4 bytes: 208 + 52 + 104 = 364 GB, and `.with_margin(0.2)` gives
    the article's 436.8 ~ 437 GB. The "4 x inference" already stands for weights, gradients and two Adam
    moments, so this counts them twice: see `training_memory` for the standard accounting.
    """
    count = parse_count(params)
    if bytes_per_param not in SEED_BYTES_PER_PARAM or isinstance(bytes_per_param, bool):
        raise ValueError(f"bytes_per_param must be one of 4, 2, 1, 0.5 (float32, bf16, int8, int4); "
                         f"got {quote(bytes_per_param)}")
    key = _name(optimizer, "optimizer")
    if key not in SEED_OPTIMIZER_STATES:
        raise ValueError(f"the article's process knows optimizers 'adamw' and 'sgd'; got {quote(optimizer)}")
    storage = Fraction(count) * Fraction(bytes_per_param)
    parts = {
        "training_4x_inference": 4 * storage,
        "gradients": storage,
        "optimizer_states": SEED_OPTIMIZER_STATES[key] * storage,
    }
    return Breakdown(
        {k: _exact(v) for k, v in parts.items()},
        title=(f"The serving article's training estimate: {format_count(count)} parameters at {bytes_per_param} "
               f"bytes, {key}"),
        notes=(f"S = P x b = {float(storage) / GB:,.1f} GB; M_train = 4 x S; + gradients P x b; "
               f"+ {key} states {SEED_OPTIMIZER_STATES[key]} x P x b (as the article writes it: counts them twice)",),
    )


# --------------------------------------------------------------------------- the standard accounting

PRECISIONS = ("fp32", "bf16", "fp16", "mixed-bf16", "mixed-fp16")
OPTIMIZERS = ("adamw", "adam", "sgd", "sgd-momentum", "lion", "adamw-8bit", "adafactor",
              "paged-adamw", "paged-adamw-8bit")
RECOMPUTE = ("none", "selective", "full")
ATTENTION = ("eager", "sdpa")

# Optimizer states per parameter, in units of the precision's state dtype. Sources: Adam(W) keeps first and
# second moments (Loshchilov & Hutter 2019); SGD with momentum one buffer (torch.optim.SGD); Lion keeps only
# momentum (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms", Alg. 2).
_STATES = {"adamw": 2, "adam": 2, "sgd": 0, "sgd-momentum": 1, "lion": 1, "paged-adamw": 2}
# 8-bit Adam: two 1-byte states plus one fp32 absmax per block of 2048 values per state (Dettmers et al. 2022,
# "8-bit Optimizers via Block-wise Quantization", Sec. 2); bitsandbytes keeps 1-D tensors in 32-bit states.
_BLOCK_8BIT = 2048
# One name per quantity (issue: "one overhead, named right"):
# - non-torch memory: what a process allocates on the GPU outside PyTorch's allocator once it runs (cuBLAS
#   workspaces, NCCL buffers): 0.25 GiB, vLLM's "non-torch forward increase memory" on one H100 (its one home is
#   llmmem.inference.NON_TORCH_BYTES_SINGLE_GPU; the sources are cited there). It does not include:
# - the CUDA context (driver state and loaded kernels): about 1.3 GiB, seen only by nvidia-smi / pynvml
#   (llmmem.peak.CUDA_CONTEXT_NVML_BYTES, measured in Hugging Face's "Model training anatomy").
# The estimates here match PyTorch's own statistics, so they add the first and not the second.
NON_TORCH_BYTES = NON_TORCH_BYTES_SINGLE_GPU
CUDA_CONTEXT_BYTES = NON_TORCH_BYTES  # the old, misleading name, kept for callers of the published API


def training_memory(spec_or_params, precision="mixed-bf16", optimizer="adamw", batch=1, seq_len=4096,
                    recompute="none", attention="sdpa", overhead_bytes=NON_TORCH_BYTES,
                    fp32_grad_accumulation=False) -> Breakdown:
    """Memory to train a model on one GPU: weights, master weights, gradients, optimizer, activations, logits.

    `spec_or_params` is a `ModelSpec` (activations and logits then follow from its shapes) or a parameter
    count (then only the model states are computed: activations need the architecture). See
    `activation_bytes` for what the activations count and `logits_bytes` for the loss.
    """
    precision = choice(precision, PRECISIONS, "precision")
    optimizer = choice(optimizer, OPTIMIZERS, "optimizer")
    spec = spec_or_params if isinstance(spec_or_params, ModelSpec) else None
    count = spec.num_params() if spec else parse_count(spec_or_params)
    w, master, grad, state = _bytes_per_param(precision)
    if fp32_grad_accumulation:
        grad = 4
    parts = {"weights": w * count}
    if master:
        parts["master_weights"] = master * count
    parts["gradients"] = grad * count
    parts["optimizer_states"] = optimizer_state_bytes(spec if spec else count, optimizer, state)
    master_note = f" + {master} B master" if master else ""
    notes = [f"{precision}: {w} B weights{master_note} + {grad} B gradients per parameter",
             f"{optimizer}: {_exact(Fraction(parts['optimizer_states'], count)):.4g} B of state per parameter"]
    if spec is not None:
        check_batch(batch)
        check_tokens(seq_len)
        parts["activations"], how = estimate_activation_bytes(spec, batch, seq_len, precision, recompute, attention)
        parts["logits"] = logits_bytes(spec, batch, seq_len, precision)
        notes.append(f"activations: tensors saved for backward, batch {batch} x {seq_len} tokens, {attention} "
                     f"attention, recompute={recompute} ({how})")
    else:
        choice(recompute, RECOMPUTE, "recompute"), choice(attention, ATTENTION, "attention")
        notes.append("activations not included: they need the architecture (pass a ModelSpec)")
    check_nonneg(overhead_bytes, "overhead_bytes")
    parts["overhead"] = overhead_bytes
    notes.append(f"overhead: {overhead_bytes / GiB:.2f} GiB of non-torch memory (workspaces and buffers outside "
                 "PyTorch's allocator); the CUDA context (~1.3 GiB) shows only in nvidia-smi")
    name = spec.name if spec else format_count(count)
    return Breakdown(parts, title=f"Training {name}: {precision}, {optimizer}", notes=notes)


def _bytes_per_param(precision: str) -> tuple:
    """(weights, master weights, gradients, one optimizer state) in bytes per parameter."""
    if precision == "fp32":
        return 4, 0, 4, 4
    if precision in ("bf16", "fp16"):
        return 2, 0, 2, 2
    return 2, 4, 2, 4  # mixed: 16-bit model, fp32 master copy and fp32 optimizer states (ZeRO, Sec. 3.1)


def optimizer_state_bytes(spec_or_params, optimizer="adamw", state_bytes=4) -> int:
    """Bytes of optimizer state. Adafactor and 8-bit Adam depend on tensor shapes, so they need a ModelSpec.

    Adafactor (Shazeer & Stern 2018; transformers' `Adafactor` defaults: no first moment) keeps, for each
    r x c matrix, a row and a column statistic (r + c values) instead of r x c, and a full second moment for
    1-D tensors. 8-bit Adam keeps two 1-byte states per matrix element plus fp32 block scales, and 32-bit
    states for 1-D tensors.
    """
    optimizer = choice(optimizer, OPTIMIZERS, "optimizer")
    if optimizer in _STATES:
        count = spec_or_params.num_params() if isinstance(spec_or_params, ModelSpec) else parse_count(spec_or_params)
        return _STATES[optimizer] * state_bytes * count
    if not isinstance(spec_or_params, ModelSpec):
        raise ValueError(f"{optimizer} state depends on the shapes of the weights: pass a ModelSpec, not a count")
    spec = spec_or_params
    matrices = spec.weight_matrices()
    vectors = spec.num_params() - sum(r * c * n for _, r, c, n in matrices)
    return shaped_optimizer_state_bytes(matrices, vectors, optimizer, state_bytes)


def shaped_optimizer_state_bytes(matrices, vectors: int, optimizer="adamw", state_bytes=4) -> int:
    """Optimizer state for explicit weights: `matrices` as (name, rows, cols, count), plus `vectors` 1-D values.

    The one home of the shape-dependent rules (Adafactor's factored moment, 8-bit Adam's block scales), used
    for a whole model (`optimizer_state_bytes`) and for LoRA adapters (`llmmem.finetune`).
    """
    optimizer = choice(optimizer, OPTIMIZERS, "optimizer")
    in_matrices = sum(r * c * n for _, r, c, n in matrices)
    if optimizer in _STATES:
        return _STATES[optimizer] * state_bytes * (in_matrices + vectors)
    if optimizer == "adafactor":
        return state_bytes * (sum((r + c) * n for _, r, c, n in matrices) + vectors)
    # adamw-8bit, paged-adamw-8bit: per matrix 2 states x (1 byte + 4 bytes per block of 2048)
    blocks = sum(math.ceil(r * c / _BLOCK_8BIT) * n for _, r, c, n in matrices)
    return 2 * (in_matrices + 4 * blocks) + 2 * 4 * vectors


def activation_bytes(spec: ModelSpec, batch=1, seq_len=4096, precision="bf16", recompute="none",
                     attention="sdpa") -> int:
    """Bytes of tensors autograd saves in one forward pass of a Llama-family model (embedding, decoder layers,
    final norm), counting each storage once, as `torch.autograd.graph.saved_tensors_hooks` sees them.

    Read off transformers 5.23 `modeling_llama.py` on torch 2.13 and checked storage by storage against
    `llmmem.measure` (exact to the byte for pure fp32/bf16, no attention mask, `position_ids` left to the model).
    h hidden, q = heads x head_dim, k = kv_heads x head_dim, f MLP width, H heads, s sequence length,
    a = activation bytes (4 for fp32, else 2). Per layer and token:
      - each RMSNorm (two per layer): its input upcast to fp32 (4h, saved by pow and mul), 1/rms (4, rsqrt's
        output), the normalized 16/32-bit tensor (a*h, saved by `weight *`), and the norm's output (a*h, saved by
        the q/k/v or gate/up Linear that reads it);
      - rotary: `q * cos` and `rotate_half(q) * sin` save only cos and sin (they do not require grad), not q or k;
      - attention, sdpa: q and k after rotary, v (a*(q + 2k): with `enable_gqa`, which transformers passes when
        there is no mask, K/V are not repeated), the output (a*q; o_proj saves the same storage, as
        `transpose(1, 2).contiguous()` of the BSHD output is a no-op) and the fp32 logsumexp (4 per head);
      - attention, eager: q and K, V after `repeat_kv` (3 x a*q: K/V repeated to all heads), the fp32 softmax
        (4*H*s) and its cast back to 16 bits (a*H*s, the same storage when a = 4), o_proj's input (a*q);
      - SwiGLU MLP: gate output (a*f, silu's input), silu(gate) and up (a*f each, the mul), their product (a*f,
        down_proj's input).
    Once per forward: the token ids (8 B per token, embedding), rotary cos and sin (2*a*head_dim per position,
    shape [1, s, head_dim]: shared by the layers and the batch), the final norm (4h + 4 + a*h per token; its
    output is saved by the LM head and counted in `logits_bytes`).

    `recompute="full"` (transformers' gradient checkpointing, non-reentrant) saves each layer's input only
    (a*h per layer and token) plus the ids and the final norm; cos/sin stay alive in the checkpoint's closure
    but are not saved tensors (2*a*s*head_dim bytes, not counted). Backward then recomputes one layer at a time,
    adding one layer's worth at the peak (not counted here). "selective" (Korthikanti et al. 2022) also keeps
    the core attention's inputs (q, k, v before repeat_kv) and output but recomputes the s-sized softmax: for
    eager attention it drops 4*H*s + a*H*s and saves K/V un-repeated; sdpa already saves nothing s-sized.
    Mixed precision is counted as bf16 (a = 2); autocast's casts change the details.
    """
    per_layer, once = activation_terms(spec, batch, seq_len, precision, recompute, attention)
    return spec.num_layers * per_layer + once


# Which saved input each linear module of a Llama layer reads: q/k/v read the first norm's output, o_proj the
# attention output, gate/up the second norm's output, down_proj the SwiGLU product (transformers modeling_llama.py).
LINEAR_INPUTS = {"q_proj": "attn_in", "k_proj": "attn_in", "v_proj": "attn_in", "qkv_proj": "attn_in",
                 "o_proj": "o_in", "gate_proj": "mlp_in", "up_proj": "mlp_in", "gate_up_proj": "mlp_in",
                 "down_proj": "down_in"}


def activation_terms(spec: ModelSpec, batch=1, seq_len=4096, precision="bf16", recompute="none", attention="sdpa",
                     *, trainable=True, lora_targets=(), lora_rank=0, lora_dropout=0.0, adapter_bytes=2,
                     dropout_per="module", dropout_mask_bytes=1, base_saves_input=False, norm_upcast=True,
                     kv_expand=False) -> tuple:
    """(bytes saved per decoder layer, bytes saved once per forward) for a Llama-family model: the one home of the
    saved-tensor accounting that `activation_bytes` documents (its default arguments are full training).

    The keywords describe what else can differ between real runs:
    - `trainable=False`: the base weights are frozen (LoRA). A frozen Linear saves no input (autograd saves a
      matmul's input only to compute the weight's gradient), a frozen norm weight no normalized tensor, a frozen
      embedding no token ids; what the *input* gradient needs (norm statistics, attention, SwiGLU) stays.
    - `base_saves_input=True`: the frozen Linear saves its input anyway. bitsandbytes' `MatMul4Bit.forward` keeps
      `ctx.tensors = (A, B)` whenever any input needs grad (bitsandbytes autograd/_functions.py), so a QLoRA run
      through bnb `Linear4bit` saves every linear input as full training does; torchao's `linear_nf4` (torchtune
      QLoRA) saves only the weight.
    - `lora_targets`, `lora_rank`, `lora_dropout`, `adapter_bytes`: each adapted module computes
      B(A(dropout(x))). With dropout 0 and adapters in the activation dtype, A saves x itself (shared with the
      base); adapters of another dtype save their own cast copy (peft casts x to the adapter dtype); with
      dropout > 0 each dropout saves its output (adapter dtype) and a 1-byte bool mask (`native_dropout`), per
      module (peft, torchtune: one dropout per module) or per input (`dropout_per="input"`: LitGPT's fused qkv
      has one). A's output (rank values) is saved by B. `dropout_mask_bytes`: 1 on CUDA (the fused
      `native_dropout` keeps a bool mask); on CPU ATen's dropout multiplies by a noise tensor of the input's dtype.
      With a frozen embedding nothing before the first adapter needs a gradient: layer 0's input norm and the
      dropout masks of its q/k/v adapters save nothing (checked storage by storage with peft on CPU).
    - `norm_upcast=False`: RMSNorm computed in the activation dtype (LitGPT's `RMSNorm`): saves its input and
      1/rms in 16 bits instead of the fp32 copy.
    - `kv_expand=True`: K and V are repeated to all query heads before SDPA (torchtune's `MultiHeadAttention`,
      LitGPT's `CausalSelfAttention`), so SDPA saves them at query size.
    """
    precision = choice(precision, PRECISIONS, "precision")
    recompute = choice(recompute, RECOMPUTE, "recompute")
    attention = choice(attention, ATTENTION, "attention")
    check_batch(batch)
    check_tokens(seq_len)
    if spec.uses_mla or spec.mlp_kind != "gated":
        raise ValueError(f"the activation accounting covers Llama-family layers (gated MLP, standard attention); "
                         f"{spec.model_type} differs: use `korthikanti_activation_bytes` for an approximation")
    a = 4 if precision == "fp32" else 2  # bytes of one activation; mixed precision computes in 16 bits
    h, d, heads, s = spec.hidden_size, spec.head_dim, spec.num_heads, seq_len
    q, k = heads * d, spec.num_kv_heads * d
    f = spec.intermediate_size
    tokens = batch * s
    ids = 8 if trainable else 0  # int64 token ids, saved by the embedding (EmbeddingBackward needs the indices)
    norm_in = 4 * h + 4 if norm_upcast else a * h + a  # fp32 input (pow, mul) and 1/rms (rsqrt), or 16-bit ones
    normalized = a * h if trainable else 0  # saved by `weight *` for the weight's gradient
    final_norm = norm_in + normalized  # its output is saved by the LM head: counted with the loss
    if recompute == "full":
        # checkpoint's _NoopSaveInputs saves each layer's input hidden states (a*h)
        return tokens * a * h, tokens * (ids + final_norm)
    kv = q if kv_expand else k
    already = set()
    if attention == "sdpa":
        core = a * (q + 2 * kv) + a * q + 4 * heads  # q, k, v; output (= o_proj input); fp32 logsumexp
        already.add("o_in")
    elif recompute == "selective":
        core = a * (q + 2 * k)  # core attention inputs (before repeat_kv)
    else:
        softmax = 4 * heads * s + (a * heads * s if a != 4 else 0)  # fp32 softmax (+ its 16-bit cast)
        core = 3 * a * q + softmax  # q, repeat_kv(K), repeat_kv(V) (matmuls)
    core += 3 * a * f  # SwiGLU: silu's input (gate), silu(gate) and up (the mul)
    widths = {"attn_in": h, "o_in": q, "mlp_in": h, "down_in": f}
    targets = tuple(lora_targets or ())
    inputs = 0
    for group, width in widths.items():
        mods = [t for t in targets if LINEAR_INPUTS.get(t) == group]
        shared = trainable or base_saves_input
        if mods:
            if lora_dropout > 0:
                copies = len(mods) if dropout_per == "module" else 1
                inputs += copies * (adapter_bytes + dropout_mask_bytes) * width  # dropped-out copy + mask
            elif adapter_bytes != a:
                inputs += len(mods) * adapter_bytes * width  # each module's cast copy of x
            else:
                shared = True  # A saves x itself
            inputs += len(mods) * adapter_bytes * lora_rank  # A's output, saved by B
        if shared and group not in already:
            inputs += a * width
    per_token_layer = 2 * (norm_in + normalized) + core + inputs
    rotary = 2 * a * d * s  # cos and sin, [1, s, head_dim], saved by q * cos and rotate_half(q) * sin
    first_layer = 0  # what layer 0 does not save when its input needs no gradient (frozen embedding)
    if not trainable:
        first_layer = norm_in
        attn_mods = [t for t in targets if LINEAR_INPUTS.get(t) == "attn_in"]
        if attn_mods and lora_dropout > 0:
            first_layer += (len(attn_mods) if dropout_per == "module" else 1) * dropout_mask_bytes * h
    return tokens * per_token_layer, tokens * (ids + final_norm - first_layer) + rotary


def has_exact_activations(spec: ModelSpec) -> bool:
    """Whether `activation_bytes` covers this architecture: dense Llama-family layers (gated MLP, standard
    attention), the kind measured exact in PyTorch. MoE routing and MLA save other tensors."""
    return not (spec.uses_mla or spec.mlp_kind != "gated" or spec.is_moe)


def estimate_activation_bytes(spec: ModelSpec, batch=1, seq_len=4096, precision="bf16", recompute="none",
                              attention="sdpa") -> tuple:
    """(bytes, how): `activation_bytes` where it covers the architecture, else Korthikanti et al.'s GPT-style
    formula (16-bit activations; doubled for fp32) as a stated approximation."""
    if has_exact_activations(spec):
        return activation_bytes(spec, batch, seq_len, precision, recompute, attention), \
            "llmmem's Llama-family accounting, exact against PyTorch"
    approx = korthikanti_activation_bytes(spec, batch, seq_len, recompute)
    scale = 2 if choice(precision, PRECISIONS, "precision") == "fp32" else 1
    return scale * approx, f"Korthikanti et al. 2022's GPT-style formula: an approximation for {spec.model_type}"


def logits_bytes(spec: ModelSpec, batch=1, seq_len=4096, precision="bf16", *, logit_bytes=4,
                 head_saves_input=True) -> int:
    """Bytes saved by the LM head and the loss, counting each storage once (transformers' `ForCausalLMLoss`):
    the LM head's input, the final norm's output (a*h per token, a = 4 for fp32, else 2), the fp32
    log-softmax over the vocabulary (4*V per token: the loss upcasts logits to fp32, `log_softmax` saves its
    output), the int64 shifted labels (8 per token, `nll_loss`; one more with batch 1) and nll_loss's fp32
    `total_weight` scalar (4 B).
    The returned `logits` tensor itself (a*V per token) is not saved for backward, but stays alive as long as
    the caller holds the model's output.
    `logit_bytes=2`: a loss that does not upcast (`torch.nn.CrossEntropyLoss` on bf16 logits, torchtune's and
    LitGPT's recipes) saves a 16-bit log-softmax; `head_saves_input=False`: a frozen LM head (LoRA) saves no input."""
    precision = choice(precision, PRECISIONS, "precision")
    check_batch(batch)
    check_tokens(seq_len)
    a = 4 if precision == "fp32" else 2
    head = a * spec.hidden_size if head_saves_input else 0
    # ForCausalLMLoss pads the labels by one and keeps labels[..., 1:].contiguous(): with batch 1 that slice is
    # already contiguous, so nll_loss keeps the padded storage, one label (8 B) more
    padded = 8 if batch == 1 else 0
    return batch * seq_len * (head + logit_bytes * spec.vocab_size + 8) + padded + 4


def korthikanti_activation_bytes(spec: ModelSpec, batch=1, seq_len=4096, recompute="none", tp=1) -> int:
    """Activation memory of GPT-style layers by Korthikanti et al. 2022 ("Reducing Activation Recomputation in
    Large Transformer Models", Table 2): s*b*h*(34 + 5*a*s/h) bytes per layer at 16 bits with 1-byte dropout
    masks; with tensor parallelism t, s*b*h*(10 + 24/t + 5*a*s/(h*t)); selective recompute drops the 5as/h
    term, full recompute keeps 2*s*b*h (the layer input). It assumes a 4h GELU MLP and multi-head attention."""
    recompute = choice(recompute, RECOMPUTE, "recompute")
    check_batch(batch), check_tokens(seq_len), check_parallel(tp, "tp")
    s, b, h, a = seq_len, batch, spec.hidden_size, spec.num_heads
    if recompute == "full":
        per_layer = Fraction(2 * s * b * h)
    else:
        attention_scores = 0 if recompute == "selective" else Fraction(5 * a * s, h * tp)
        per_layer = s * b * h * (10 + Fraction(24, tp) + attention_scores)
    return math.ceil(spec.num_layers * per_layer)


# --------------------------------------------------------------------------- the timeline of one step

OPTIMIZER_IMPLS = ("foreach", "fused", "forloop")


def optimizer_step_temporaries(impl: str, optimizer: str, largest: int, state_bytes: int, matrices) -> int:
    """Bytes an optimizer step allocates beyond its states, by implementation (torch/optim/adamw.py).

    - "foreach" (PyTorch's default on CUDA): `_multi_tensor_adamw` computes `exp_avg_sq_sqrt =
      torch._foreach_sqrt(exp_avg_sqs)` for the whole tensor list: one state-sized copy. The torch.optim docs:
      foreach "uses more peak memory ... roughly sizeof(params)" (counted here over `matrices`, the weights).
    - "fused": `_fused_adamw` keeps its intermediates in registers: none.
    - "forloop": `_single_tensor_adamw` builds one tensor's `denom` at a time: the `largest` parameter.
    Optimizers without a second moment (SGD, Lion) and bitsandbytes' 8-bit and paged kernels, which update
    block by block in place, add none here. The states themselves are allocated lazily, at the first step.
    """
    impl = choice(impl, OPTIMIZER_IMPLS, "optimizer_impl")
    if optimizer not in ("adamw", "adam") or impl == "fused":
        return 0
    if impl == "forloop":
        return largest * state_bytes
    return sum(r * c * n for _, r, c, n in matrices) * state_bytes


def training_timeline(spec: ModelSpec, optimizer_impl="foreach", **kwargs) -> dict:
    """Memory at the three moments of a training step that decide the peak, as Breakdowns.

    - after forward: the model states (weights, master weights, optimizer states) plus everything saved
      for backward (activations, logits); gradients are not allocated yet (`zero_grad(set_to_none=True)`).
    - start of backward: the same, plus the gradient of the logits (fp32, as large as the saved logits).
    - optimizer step: the activations are freed; model states plus the full gradients, plus the step's
      temporaries (`optimizer_step_temporaries`): with PyTorch's default foreach AdamW one more copy of the
      parameters' size, so the step, not the backward pass, is often the peak; fused AdamW adds nothing.
    The optimizer states exist from the first step on (allocated lazily there), so they are counted in every
    moment of a later step. `llmmem.training_peak` follows the same moments with more detail.
    """
    if not isinstance(spec, ModelSpec):  # a bare count has no activations: the timeline would be meaningless
        raise WrongTypeError(f"training_timeline needs a ModelSpec (activations need the architecture), e.g. "
                             f"ModelSpec.from_catalog('llama-3.1-8b'); got {quote(spec)}")
    full = training_memory(spec, **kwargs)
    optimizer = kwargs.get("optimizer", "adamw")
    precision = choice(kwargs.get("precision", "mixed-bf16"), PRECISIONS, "precision")
    state_b = _bytes_per_param(precision)[3]
    matrices = spec.weight_matrices()
    temps = optimizer_step_temporaries(optimizer_impl, _name(optimizer, "optimizer"),
                                       max(r * c for _, r, c, _ in matrices), state_b, matrices)
    static = {k: full[k] for k in ("weights", "master_weights", "optimizer_states", "overhead") if k in full}
    saved = {"activations": full["activations"], "logits": full["logits"]}
    step = {**static, "gradients": full["gradients"]}
    if temps:
        step["step_temporaries"] = temps
    return {
        "after forward": Breakdown({**static, **saved}, title="after forward"),
        "start of backward": Breakdown({**static, **saved, "logits_grad": full["logits"]}, title="start of backward"),
        "optimizer step": Breakdown(step, title=f"optimizer step ({optimizer_impl})"),
    }


def _exact(value: Fraction):
    return int(value) if value.denominator == 1 else float(value)
