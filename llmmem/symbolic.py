"""The kit's formulas as sympy expressions: the source of truth that the notebooks derive on screen.

Import this module only where a derivation is shown: sympy takes about half a second to import, and
`import llmmem` must stay light. The numeric functions in `llmmem.estimate` compute the same formulas
in plain Python; tests/test_symbolic.py proves that the two agree.
"""

from __future__ import annotations

import sympy as sp

# Symbols as the two source articles name them: "Calculating GPU memory for serving LLMs" (the serving
# article, seeds/000 in the project notes) and the "Magic Formula" article (seeds/002).
P = sp.Symbol("P", positive=True)  # number of parameters
Q = sp.Symbol("Q", positive=True)  # bits per parameter when the model is loaded (16, 8, 4)
B = sp.Symbol("B", positive=True)  # bytes per parameter at full (32-bit) precision: 4
o = sp.Symbol("o", positive=True)  # overhead multiplier: 1.2 = 20 % extra
M = sp.Symbol("M", positive=True)  # GPU memory, bytes
P_b = sp.Symbol("P_billions", positive=True)  # parameters in billions
M_GB = sp.Symbol("M_GB", positive=True)  # memory in GB (10^9 bytes)

ARTICLE_BYTES_PER_PARAM = sp.Integer(4)
ARTICLE_OVERHEAD = sp.Rational(6, 5)  # the articles' 20 %, kept exact so 70B x 16 bits is exactly 168 GB


def serving_article_form() -> sp.Expr:
    """M = (P * 4B) / (32 / Q) * 1.2, as "Calculating GPU memory for serving LLMs" writes it, left unsimplified."""
    with sp.evaluate(False):
        return (P * B) / (sp.Integer(32) / Q) * o


def serving_formula() -> sp.Expr:
    """The serving article's formula simplified, overhead kept symbolic: M = B*P*Q*o/32 bytes."""
    return sp.simplify(serving_article_form().doit())


def serving_derivation() -> list[tuple[str, sp.Eq]]:
    """The derivation step by step, each step an equation the notebook displays."""
    as_written = serving_article_form()
    with sp.evaluate(False):
        plugged = (P * ARTICLE_BYTES_PER_PARAM) / (sp.Integer(32) / Q) * ARTICLE_OVERHEAD
    simplified = sp.simplify(plugged.doit())  # 3*P*Q/20
    decimal = sp.Float(simplified / (P * Q), 2) * P * Q  # 0.15*P*Q
    per_billion = sp.simplify(simplified.subs(P, P_b * 10**9) / 10**9)  # GB with P in billions
    return [
        ("the article's formula (bytes)", sp.Eq(M, as_written, evaluate=False)),
        ("4 bytes per 32-bit parameter, 20 % overhead", sp.Eq(M, plugged, evaluate=False)),
        ("simplified (bytes)", sp.Eq(M, simplified)),
        ("as a decimal (bytes)", sp.Eq(M, decimal, evaluate=False)),
        ("in GB, with P in billions: the interview shortcut",
         sp.Eq(M_GB, sp.Float(per_billion / (P_b * Q), 2) * P_b * Q, evaluate=False)),
    ]


def serving_simplified() -> sp.Expr:
    """3*P*Q/20: the serving article's formula with its constants plugged in (bytes)."""
    return serving_formula().subs({B: ARTICLE_BYTES_PER_PARAM, o: ARTICLE_OVERHEAD})


def magic_formula_as_printed() -> sp.Expr:
    """The "Magic Formula" article's formula as printed, M = (P * 4B / Q) * 1.2: the 32 is missing."""
    return (P * ARTICLE_BYTES_PER_PARAM / Q) * ARTICLE_OVERHEAD


def serving_article_fp8_as_written() -> sp.Expr:
    """The serving article's FP8 section: 1 byte per parameter *and* Q = 8, so precision is applied twice."""
    return (P * 1) / (sp.Integer(32) / Q) * ARTICLE_OVERHEAD


# ------------------------------------------------------------- training (the serving article's "General Process")

b_param = sp.Symbol("b", positive=True)  # bytes per parameter
k_states = sp.Symbol("k", positive=True)  # optimizer states per parameter: 2 for AdamW, 1 for SGD (as the article says)
m_margin = sp.Symbol("m", nonnegative=True)  # safety margin: 0.2 = 20 %


def training_article_derivation() -> list[tuple[str, sp.Eq]]:
    """The serving article's training estimate as it writes it: 4 x inference, plus gradients, plus optimizer states."""
    S, M_inf, M_train, G, M_opt, T = sp.symbols("S M_inf M_train G O M_total", positive=True)
    total = 4 * P * b_param + P * b_param + k_states * P * b_param
    return [
        ("storage", sp.Eq(S, P * b_param)),
        ("inference memory", sp.Eq(M_inf, S)),
        ("training: 4 x inference", sp.Eq(M_train, 4 * M_inf)),
        ("plus gradients", sp.Eq(G, P * b_param)),
        ("plus optimizer states", sp.Eq(M_opt, k_states * P * b_param)),
        ("total, as the article adds it", sp.Eq(T, sp.factor(total))),
        ("with a safety margin m", sp.Eq(T, sp.factor(total) * (1 + m_margin))),
    ]


def training_article_total(with_margin: bool = False) -> sp.Expr:
    """(5 + k) * P * b, times (1 + m) with the margin: the article's sum, 7 P b for AdamW."""
    expr = sp.factor(4 * P * b_param + P * b_param + k_states * P * b_param)
    return expr * (1 + m_margin) if with_margin else expr


def adam_states_fp32() -> sp.Expr:
    """Weights + gradients + two Adam moments, all fp32: 4P + 4P + 2 * 4P = 16P bytes = 4 x (4P).

    The serving article's "4 x inference" at 4 bytes is exactly this: it already holds gradients and optimizer states.
    """
    return 4 * P + 4 * P + 2 * 4 * P


def mixed_precision_adam_bytes() -> sp.Expr:
    """ZeRO's mixed-precision Adam: 2P (fp16 weights) + 2P (fp16 grads) + K P with K = 12 (fp32 master,
    momentum, variance) = 16P bytes (Rajbhandari et al., SC20, Sec. 3.1)."""
    K = sp.Integer(12)
    return 2 * P + 2 * P + K * P


# ---------------------------------------------------------------------- parameters of a dense decoder (Llama-style)

# Shapes of a Llama-style decoder, as in transformers' modeling_llama.py: vocabulary V, hidden size h, L layers,
# n_h query heads and n_kv key/value heads of width d, MLP width i, tied = 1 when lm_head shares the embedding.
DD_V, DD_h, DD_L, DD_nh, DD_nkv, DD_d, DD_i = sp.symbols("V h L n_h n_kv d i", positive=True, integer=True)
DD_tied = sp.Symbol("tied", nonnegative=True, integer=True)


def dense_decoder_components() -> dict[str, sp.Expr]:
    """Parameters by component, read off the weight shapes (bias-free Linear layers, RMSNorm weights only).

    attention: q_proj (h x n_h d), k_proj and v_proj (h x n_kv d each), o_proj (n_h d x h) per layer;
    mlp: gate_proj, up_proj (h x i) and down_proj (i x h) per layer; norms: two per layer plus the final one.
    """
    return {
        "embedding": DD_V * DD_h,
        "attention": DD_L * (DD_h * DD_nh * DD_d + 2 * DD_h * DD_nkv * DD_d + DD_nh * DD_d * DD_h),
        "mlp": DD_L * 3 * DD_h * DD_i,
        "norms": DD_L * 2 * DD_h + DD_h,
        "lm_head": (1 - DD_tied) * DD_V * DD_h,
    }


def dense_decoder_params() -> sp.Expr:
    """Total parameters of a Llama-style dense decoder in V, h, L, n_h, n_kv, d, i, tied."""
    return sp.expand(sum(dense_decoder_components().values()))


def dense_decoder_values(spec) -> dict[sp.Symbol, int]:
    """The symbol values of a ModelSpec, for ``dense_decoder_params().subs(dense_decoder_values(spec))``."""
    return {DD_V: spec.vocab_size, DD_h: spec.hidden_size, DD_L: spec.num_layers, DD_nh: spec.num_heads,
            DD_nkv: spec.num_kv_heads, DD_d: spec.head_dim, DD_i: spec.intermediate_size,
            DD_tied: int(spec.tie_embeddings)}


# --------------------------------------------------------------------------- weight formats (llmmem.formats)

# A block of g_1 weights of e bits each stores c_1 bits of constants (scale, zero point); a second level
# (NF4 double quantization) stores c_2 bits per g_2 first-level blocks.
FMT_e, FMT_c1, FMT_g1, FMT_c2, FMT_g2 = sp.symbols("e c_1 g_1 c_2 g_2", positive=True)
FMT_b = sp.Symbol("b", positive=True)  # bits per weight, constants included


def format_bits_per_weight() -> sp.Expr:
    """b = e + c_1/g_1 + c_2/(g_1 g_2): bits per weight of a block-quantized format (llmmem.formats)."""
    return FMT_e + FMT_c1 / FMT_g1 + FMT_c2 / (FMT_g1 * FMT_g2)


def format_values(fmt) -> dict[sp.Symbol, int]:
    """Symbol values of a llmmem.formats.WeightFormat, for ``format_bits_per_weight().subs(...)``."""
    return {FMT_e: fmt.element_bits, FMT_c1: fmt.block_bits, FMT_g1: fmt.block_size,
            FMT_c2: fmt.super_bits, FMT_g2: fmt.super_blocks or 1}


def nf4_double_quant_derivation() -> list[tuple[str, sp.Eq]]:
    """QLoRA's double quantization: the constants of NF4 from 0.5 to 0.127 bits per parameter.

    NF4 keeps one fp32 absmax per block of 64 weights; double quantization stores those absmaxes in 8 bits
    and adds one fp32 constant per 256 of them (Dettmers et al. 2023, arXiv:2305.14314, section 3).
    """
    overhead = FMT_c1 / FMT_g1 + FMT_c2 / (FMT_g1 * FMT_g2)
    ovh = sp.Symbol("overhead", positive=True)
    plain = (FMT_c1 / FMT_g1).subs({FMT_c1: 32, FMT_g1: 64})
    with sp.evaluate(False):
        dq_plugged = sp.Integer(8) / 64 + sp.Integer(32) / (sp.Integer(64) * 256)
    dq = overhead.subs({FMT_c1: 8, FMT_g1: 64, FMT_c2: 32, FMT_g2: 256})
    return [
        ("bits per weight of a block format", sp.Eq(FMT_b, format_bits_per_weight())),
        ("NF4: one fp32 absmax per 64 weights", sp.Eq(ovh, plain)),
        ("double quantization: 8-bit absmax per 64, fp32 per 256 blocks", sp.Eq(ovh, dq_plugged, evaluate=False)),
        ("exactly", sp.Eq(ovh, dq)),
        ("as a decimal", sp.Eq(ovh, sp.Float(dq, 9))),
        ("saving per parameter", sp.Eq(sp.Symbol("saving", positive=True), plain - dq)),
    ]


# ---- KV cache (llmmem.inference.kv_cache_bytes computes the same numbers; tests/test_inference.py proves it)
# L layers, n_kv KV heads of width d, b bytes per element, T tokens per sequence, B sequences, t GPUs (TP).
KV_L, KV_nkv, KV_d, KV_T, KV_B, KV_t = sp.symbols("L n_kv d T B t", positive=True, integer=True)
KV_b = sp.Symbol("b", positive=True)  # bytes per cached element: 2 (bf16), 1 (fp8/int8), 1/2 (int4)
KV_r, KV_rope = sp.symbols("r_kv d_rope", positive=True, integer=True)  # MLA latent rank, rotary key width
M_KV = sp.Symbol("M_KV", positive=True)


def kv_cache_formula(per_gpu: bool = False) -> sp.Expr:
    """KV-cache bytes of standard attention: one key and one value (the 2) per layer, KV head and token.

    M_KV = 2 * L * n_kv * d * b * T * B. With ``per_gpu=True`` the KV heads are split over t GPUs
    (tensor parallelism): n_kv / t per GPU (vLLM keeps at least one head per GPU; see llmmem.inference).
    """
    heads = KV_nkv / KV_t if per_gpu else KV_nkv
    return 2 * KV_L * heads * KV_d * KV_b * KV_T * KV_B


def kv_cache_mla_formula() -> sp.Expr:
    """MLA (DeepSeek-V2/V3) caches one latent of r_kv plus the shared rotary key per layer and token."""
    return KV_L * (KV_r + KV_rope) * KV_b * KV_T * KV_B


def kv_cache_values(spec, seq_len: int, batch: int = 1, bytes_per_elem=2, tp: int = 1) -> dict:
    """Symbol values of a ModelSpec for ``kv_cache_formula(...).subs(kv_cache_values(...))``."""
    return {KV_L: spec.num_layers, KV_nkv: spec.num_kv_heads, KV_d: spec.head_dim, KV_T: seq_len, KV_B: batch,
            KV_b: sp.nsimplify(bytes_per_elem), KV_t: tp, KV_r: spec.kv_lora_rank or 1,
            KV_rope: spec.qk_rope_head_dim or 1}


# --------------------------------------------------------------------------- LoRA and ZeRO

LR_r, LR_in, LR_out = sp.symbols("r d_in d_out", positive=True, integer=True)
Z_psi, Z_K, Z_N = sp.symbols("Psi K N_d", positive=True)


def lora_params_per_matrix() -> sp.Eq:
    """A (r x d_in) plus B (d_out x r): r (d_in + d_out) trainable parameters in place of d_in d_out."""
    return sp.Eq(sp.Symbol("LoRA"), sp.factor(LR_r * LR_in + LR_out * LR_r))


def zero_stage_memory() -> dict:
    """Model-state bytes per GPU by ZeRO stage, with Psi parameters, K bytes of optimizer state per parameter and
    N_d data-parallel ranks (Rajbhandari et al., SC20, Figure 1): 2Psi weights + 2Psi gradients + K Psi states."""
    return {
        "baseline (DDP)": (2 + 2 + Z_K) * Z_psi,
        "stage 1 (optimizer states)": 2 * Z_psi + 2 * Z_psi + Z_K * Z_psi / Z_N,
        "stage 2 (+ gradients)": 2 * Z_psi + (2 + Z_K) * Z_psi / Z_N,
        "stage 3 (+ weights)": (2 + 2 + Z_K) * Z_psi / Z_N,
    }


# --------------------------------------------------------------------------- saved activations (measured)

ACT_h, ACT_f, ACT_H, ACT_Hkv, ACT_d, ACT_s, ACT_a = sp.symbols("h f H H_kv d s a", positive=True, integer=True)


def saved_activations_per_layer_token(attention: str = "sdpa") -> dict[str, sp.Expr]:
    """Bytes one Llama decoder layer saves for backward per token, by module, as `llmmem.training.activation_bytes`
    counts them (read off transformers 5.23 and measured with torch 2.13: notebook 06). a = bytes per activation,
    H heads, H_kv KV heads of width d, f the MLP width; eager also keeps the s-long fp32 softmax row per head
    and its 16-bit copy (write a = 4 and drop the copy for fp32)."""
    h, f, H, Hkv, d, s, a = ACT_h, ACT_f, ACT_H, ACT_Hkv, ACT_d, ACT_s, ACT_a
    norms = 2 * (4 * h + 4 + 2 * a * h)  # fp32 input, 1/rms, normalized, the Linear input that follows
    if attention == "sdpa":
        attn = a * H * d + 2 * a * Hkv * d + a * H * d + 4 * H  # q, k, v, output, fp32 logsumexp
    elif attention == "eager":
        attn = 4 * a * H * d + 4 * H * s + a * H * s  # q, repeated K and V, o_proj input; softmax fp32 + copy
    else:
        raise ValueError(f"attention must be 'sdpa' or 'eager'; got {attention!r}")
    return {"norms": norms, "attention": attn, "mlp": 4 * a * f}


KOR_b = sp.Symbol("b", positive=True, integer=True)  # sequences in the batch


def korthikanti_per_layer_terms() -> dict[str, sp.Expr]:
    """Bytes one GPT-style layer saves for backward at 16 bits, term by term as Korthikanti et al. 2022
    ("Reducing Activation Recomputation in Large Transformer Models", Sec. 4.1) count them, for s tokens, b
    sequences, width h and H heads (the paper calls the heads a). Dropout masks take 1 byte per element."""
    s, b, h, H = ACT_s, KOR_b, ACT_h, ACT_H
    sbh, scores = s * b * h, H * s**2 * b
    return {
        "QKV input": 2 * sbh,
        "Q and K (for QK^T)": 4 * sbh,
        "softmax output": 2 * scores,
        "softmax dropout mask": scores,
        "dropout output and V (attention over V)": 2 * scores + 2 * sbh,
        "output projection input": 2 * sbh,
        "attention dropout mask": sbh,
        "MLP: first linear input": 2 * sbh,
        "MLP: GeLU input (4h)": 8 * sbh,
        "MLP: second linear input (4h)": 8 * sbh,
        "MLP dropout mask": sbh,
        "two LayerNorm inputs": 4 * sbh,
    }


def korthikanti_per_layer() -> sp.Expr:
    """The sum of `korthikanti_per_layer_terms`, in the paper's form s*b*h*(34 + 5*H*s/h)."""
    s, b, h = ACT_s, KOR_b, ACT_h
    return s * b * h * sp.expand(sum(korthikanti_per_layer_terms().values()) / (s * b * h))


# --------------------------------------------------------------------------- decode speed (llmmem.speed)

SPD_BW, SPD_F, SPD_W, SPD_KV, SPD_f, SPD_eta = sp.symbols("BW F W KV_seq f eta", positive=True)
SPD_b = sp.Symbol("b", positive=True)  # batch: sequences decoded together
SPD_P, SPD_s = sp.symbols("P s", positive=True)  # active parameters, bytes per parameter
SPD_E, SPD_k = sp.symbols("E k", positive=True, integer=True)  # experts, experts chosen per token
SPD_alpha = sp.Symbol("alpha", positive=True)  # speculative acceptance rate
SPD_gamma = sp.Symbol("gamma", positive=True, integer=True)  # drafted tokens per target step


def decode_step_time() -> sp.Expr:
    """The roofline of one decode step: max(bytes / bandwidth, FLOPs / peak), each at efficiency eta.
    Bytes = W (weights read once) + b KV_seq (each sequence's own cache); FLOPs = b f (f per token)."""
    return sp.Max((SPD_W + SPD_b * SPD_KV) / (SPD_eta * SPD_BW), SPD_b * SPD_f / (SPD_eta * SPD_F))


def decode_tokens_per_s(bound: str = "memory") -> sp.Expr:
    """Tokens/s of one sequence on one side of the roofline: eta BW / (W + b KV_seq) when memory-bound,
    eta F / (b f) when compute-bound. The smaller of the two is the answer."""
    if bound == "memory":
        return SPD_eta * SPD_BW / (SPD_W + SPD_b * SPD_KV)
    if bound == "compute":
        return SPD_eta * SPD_F / (SPD_b * SPD_f)
    raise ValueError(f"bound must be 'memory' or 'compute'; got {bound!r}")


def decode_ridge_batch() -> sp.Expr:
    """The batch where the two roofs meet, solved from (W + b KV_seq) / BW = b f / F:
    b* = F W / (BW f - F KV_seq) (no positive root, i.e. never compute-bound, when BW f <= F KV_seq)."""
    (root,) = sp.solve(sp.Eq((SPD_W + SPD_b * SPD_KV) / SPD_BW, SPD_b * SPD_f / SPD_F), SPD_b)
    return root


def decode_intensity_derivation() -> list[tuple[str, sp.Eq]]:
    """Why batch-1 decode is memory-bound: FLOPs per byte read, dense model, context ~ 0."""
    intensity, R = sp.symbols("I R", positive=True)
    return [
        ("one token: 2 FLOPs per parameter, each parameter read once (s bytes)",
         sp.Eq(intensity, sp.Mul(2, SPD_P, sp.Pow(SPD_s * SPD_P, -1, evaluate=False), evaluate=False))),
        ("so the arithmetic intensity of batch-1 decode is", sp.Eq(intensity, 2 / SPD_s)),
        ("the card can do R FLOPs per byte it reads (its ridge point)", sp.Eq(R, SPD_F / SPD_BW)),
        ("a batch of b re-uses every weight read b times", sp.Eq(intensity, 2 * SPD_b / SPD_s)),
        ("compute-bound once I >= R, i.e. b >= R s / 2", sp.Eq(SPD_b, SPD_F * SPD_s / (2 * SPD_BW))),
    ]


def moe_expected_experts() -> sp.Expr:
    """Expected distinct experts touched by b tokens each choosing k of E: E (1 - (1 - k/E)^b)."""
    return SPD_E * (1 - (1 - SPD_k / SPD_E) ** SPD_b)


def speculative_expected_tokens_formula() -> sp.Eq:
    """Tokens per target step with gamma drafted tokens accepted with probability alpha (Leviathan et al. 2023):
    the sum of alpha^i for i = 0..gamma, = (1 - alpha^(gamma+1)) / (1 - alpha)."""
    i = sp.Symbol("i", integer=True, nonnegative=True)
    return sp.Eq(sp.Sum(SPD_alpha**i, (i, 0, SPD_gamma)), (1 - SPD_alpha ** (SPD_gamma + 1)) / (1 - SPD_alpha))


def decode_values(spec, gpu, weights="bf16", kv_cache="bf16", batch=1, context=1, tp=1, efficiency=1.0) -> dict:
    """The symbols above, filled in from llmmem for one case (per GPU under TP), for .subs()."""
    from .inference import kv_cache_bytes
    from .speed import _card, _peak, flops_per_token, weight_bytes_read

    card = _card(gpu)
    return {
        SPD_BW: card.bandwidth_bytes_per_s, SPD_F: _peak(card, weights)[0],
        SPD_W: weight_bytes_read(spec, weights, batch, tp),
        SPD_KV: kv_cache_bytes(spec, seq_len=context, batch=1, fmt=kv_cache, tp=tp),
        SPD_f: sp.Rational(flops_per_token(spec, context), tp), SPD_b: batch, SPD_eta: sp.nsimplify(efficiency),
    }
