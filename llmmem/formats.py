"""Weight formats and the exact bytes a model's weights take in each.

"4-bit" weights are never 4 bits: every quantized format stores *constants* beside the weights (a scale
per block, a zero point, a scale for the scales), and most deployments keep some tensors (embedding,
lm_head, norms) in 16 bits. This module counts both, exactly:

* :func:`bits_per_weight` -- the format's bits per weight, constants included, as an exact ``Fraction``;
* :func:`weight_bytes` -- exact bytes of a model's weights, from a plain count ("70B") or, better, from a
  :class:`~llmmem.model.ModelSpec`, tensor by tensor (rounding up to whole blocks and bytes);
* :func:`gguf_tensor_types` -- the per-tensor types llama.cpp picks for a GGUF file type ("q4_k_m").

Three families of names (case-insensitive, "-" and "_" are the same):

* ``float``: fp32, fp16, bf16 -- every tensor in that dtype;
* ``quantized``: fp8, int8, int4, nf4, nf4_dq, mxfp4, mxfp8, nvfp4 -- linear layers quantized, and by
  default embedding, lm_head, norms/biases and MoE routers kept in 16 bits (``keep_16bit``);
* ``gguf``: llama.cpp block types (q4_0 ... q6_k, iq4_xs) and file types (q4_k_m, q5_k_s, ..., f16).
  With a ModelSpec a file type follows llama.cpp's per-tensor rules; with a plain count every weight is
  in the block type of the same name (a name like "q4_k_m" that is only a mixture needs a ModelSpec).

Standard library only.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from fractions import Fraction
from math import ceil

from .model import ModelSpec, Tensor
from .quantization import checkpoint_tensor_bytes, checkpoint_weight_bytes
from .units import parse_count
from .validation import MAX_TEXT, WrongTypeError, listing, quote
from .validation import name as _text_name

__all__ = [
    "WeightFormat",
    "Tensor",
    "FORMATS",
    "GGUF_FILE_TYPES",
    "DEFAULT_KEEP_16BIT",
    "format_names",
    "get_format",
    "bits_per_weight",
    "weight_bytes",
    "weight_tensors",
    "weight_bytes_by_tensor",
    "gguf_tensor_types",
]

# What quantized loaders keep in 16 bits by default (see weight_bytes for the sources).
DEFAULT_KEEP_16BIT = ("embedding", "lm_head", "norms", "router")
KEEPABLE = ("embedding", "lm_head", "norms", "router", "attention", "mlp")


@dataclass(frozen=True)
class WeightFormat:
    """How one weight format stores a matrix: element bits plus constants per block, row and tensor.

    A block of ``block_size`` weights stores ``block_size * element_bits`` bits of weights and
    ``block_bits`` bits of constants (scales, zero points, mins). NF4 with double quantization adds a
    second level: one ``super_bits`` constant per ``super_blocks`` blocks. ``row_bits`` (one scale per
    output channel) and ``tensor_bits`` (one scale per tensor) depend on the matrix shape, so they are
    counted by :func:`weight_bytes` with a ModelSpec but not in :attr:`bits_per_weight`.
    Blocks run along a row (the input dimension) unless ``flat_blocks`` (bitsandbytes flattens the tensor).
    """

    name: str
    family: str  # "float", "quantized" or "gguf"
    element_bits: int
    block_size: int = 1
    block_bits: int = 0
    super_blocks: int = 0
    super_bits: int = 0
    row_bits: int = 0
    tensor_bits: int = 0
    flat_blocks: bool = False
    description: str = ""
    source: str = ""

    @property
    def bits_per_weight(self) -> Fraction:
        """Exact bits per weight with the block constants (per-row/per-tensor constants excluded)."""
        bits = self.element_bits + Fraction(self.block_bits, self.block_size)
        if self.super_blocks:
            bits += Fraction(self.super_bits, self.block_size * self.super_blocks)
        return bits

    @property
    def overhead_bits(self) -> Fraction:
        """Bits per weight spent on block constants: bits_per_weight - element_bits."""
        return self.bits_per_weight - self.element_bits

    @property
    def block_bytes(self) -> Fraction:
        """Bytes of one block (weights + its constants); a whole number for every GGUF type."""
        return Fraction(self.block_size * self.element_bits + self.block_bits, 8)

    def matrix_bits(self, rows: int, cols: int) -> int:
        """Exact bits of a rows x cols matrix (cols = input features, the dimension blocks run along)."""
        n = rows * cols
        blocks = ceil(n / self.block_size) if self.flat_blocks else rows * ceil(cols / self.block_size)
        bits = self._stored(n, blocks) * self.element_bits + blocks * self.block_bits
        if self.super_blocks:
            bits += ceil(blocks / self.super_blocks) * self.super_bits
        return bits + rows * self.row_bits + self.tensor_bits

    def _stored(self, n: int, blocks: int) -> int:
        # A ggml block is a fixed struct: a partial block is padded to block_size weights. Other formats
        # pack only the weights there are (a partial group just has fewer weights sharing its scale).
        return blocks * self.block_size if self.family == "gguf" else n

    def count_bits(self, n: int) -> int:
        """Exact bits of n weights in one flat run of blocks (no rows, no tensor constants)."""
        blocks = ceil(n / self.block_size)
        bits = self._stored(n, blocks) * self.element_bits + blocks * self.block_bits
        if self.super_blocks:
            bits += ceil(blocks / self.super_blocks) * self.super_bits
        return bits


def _ggml(name, element_bits, block_size, block_bits, layout):
    # ggml/src/ggml-common.h (ggml-org/llama.cpp): the block structs and their static_asserts, e.g.
    # static_assert(sizeof(block_q6_K) == sizeof(ggml_half) + QK_K/16 + 3*QK_K/4). QK_K = 256.
    return WeightFormat(name, "gguf", element_bits, block_size, block_bits,
                        description=f"ggml {name.upper()}: blocks of {block_size}, {layout}",
                        source="ggml/src/ggml-common.h block_" + name + " (ggml-org/llama.cpp)")


_FORMAT_LIST = [
    # ---- floats: no constants
    WeightFormat("fp32", "float", 32, description="IEEE float32, 4 bytes", source="IEEE 754"),
    WeightFormat("fp16", "float", 16, description="IEEE float16, 2 bytes", source="IEEE 754"),
    WeightFormat("bf16", "float", 16, description="bfloat16 (8-bit exponent, 7-bit mantissa), 2 bytes",
                 source="Google bfloat16; PyTorch torch.bfloat16"),
    # ---- quantized checkpoints (linear layers only; see keep_16bit)
    WeightFormat("fp8", "quantized", 8, tensor_bits=32,
                 description="FP8 E4M3 with one fp32 scale per tensor (32 bits per tensor: negligible)",
                 source="Micikevicius et al. 2022, 'FP8 Formats for Deep Learning' (arXiv:2209.05433); "
                        "vLLM quantization/fp8.py (per-tensor weight_scale, float32)"),
    WeightFormat("int8", "quantized", 8, row_bits=32,
                 description="int8 with one fp32 scale per output channel (row): 32/in_features bits more",
                 source="Dettmers et al. 2022, LLM.int8() (arXiv:2208.07339): row-wise absmax, bitsandbytes "
                        "SCB float32; vLLM compressed_tensors_w8a8_int8.py channel weight_scale float32"),
    WeightFormat("int4", "quantized", 4, block_size=128, block_bits=16 + 4,
                 description="GPTQ/AWQ 4-bit, group size 128: fp16 scale + 4-bit zero point per group",
                 source="Frantar et al. 2022 GPTQ (arXiv:2210.17323), Lin et al. 2023 AWQ (arXiv:2306.00978); "
                        "checkpoints store scales fp16 [in/128, out] and qzeros packed 8 per int32 [in/128, out/8]"),
    WeightFormat("nf4", "quantized", 4, block_size=64, block_bits=32, flat_blocks=True,
                 description="NF4, blocks of 64 with an fp32 absmax each: 4 + 32/64 = 4.5 bits",
                 source="Dettmers et al. 2023, QLoRA (arXiv:2305.14314); bitsandbytes blocksize 64"),
    WeightFormat("nf4_dq", "quantized", 4, block_size=64, block_bits=8, super_blocks=256, super_bits=32,
                 flat_blocks=True,
                 description="NF4 + double quantization: 8-bit absmax per 64, fp32 per 256 absmaxes",
                 source="QLoRA (arXiv:2305.14314) sec. 3: 8/64 + 32/(64*256) = 0.127 bits per parameter"),
    WeightFormat("mxfp4", "quantized", 4, block_size=32, block_bits=8,
                 description="OCP MX FP4 (E2M1) in blocks of 32 sharing one 8-bit E8M0 scale",
                 source="OCP Microscaling Formats (MX) v1.0 specification (2023)"),
    WeightFormat("mxfp8", "quantized", 8, block_size=32, block_bits=8,
                 description="OCP MX FP8 (E4M3) in blocks of 32 sharing one 8-bit E8M0 scale",
                 source="OCP Microscaling Formats (MX) v1.0 specification (2023)"),
    WeightFormat("nvfp4", "quantized", 4, block_size=16, block_bits=8, tensor_bits=32,
                 description="NVIDIA NVFP4: E2M1 in blocks of 16 with an FP8 E4M3 scale, + fp32 per tensor",
                 source="NVIDIA, 'Introducing NVFP4 for efficient and accurate low-precision inference' (2025)"),
    # ---- ggml block types: element bits + constants per block (bytes per block in the comment)
    _ggml("q4_0", 4, 32, 16, "fp16 scale d + 16 bytes of nibbles (18 bytes)"),
    _ggml("q4_1", 4, 32, 32, "fp16 d and min m + 16 bytes (20 bytes)"),
    _ggml("q5_0", 5, 32, 16, "fp16 d + 4 bytes of 5th bits + 16 bytes (22 bytes)"),
    _ggml("q5_1", 5, 32, 32, "fp16 d, m + 4 + 16 bytes (24 bytes)"),
    _ggml("q8_0", 8, 32, 16, "fp16 d + 32 int8 (34 bytes)"),
    _ggml("q2_k", 2, 256, 160, "16 bytes of 4-bit scales/mins + 64 bytes + fp16 d, dmin (84 bytes)"),
    _ggml("q3_k", 3, 256, 112, "32 bytes hmask + 64 bytes + 12 bytes of 6-bit scales + fp16 d (110 bytes)"),
    _ggml("q4_k", 4, 256, 128, "fp16 d, dmin + 12 bytes of 6-bit scales/mins + 128 bytes (144 bytes)"),
    _ggml("q5_k", 5, 256, 128, "fp16 d, dmin + 12 bytes scales + 32 bytes qh + 128 bytes (176 bytes)"),
    _ggml("q6_k", 6, 256, 144, "128 bytes ql + 64 bytes qh + 16 int8 scales + fp16 d (210 bytes)"),
    _ggml("iq4_nl", 4, 32, 16, "fp16 d + 16 bytes of non-linear 4-bit codes (18 bytes)"),
    _ggml("iq4_xs", 4, 256, 64, "fp16 d + 2 bytes scales_h + 4 bytes scales_l + 128 bytes (136 bytes)"),
    WeightFormat("f16", "gguf", 16, description="GGUF F16 file: 2-D weights in fp16, 1-D tensors in F32",
                 source="llama.cpp convert_hf_to_gguf.py (1-D tensors and norms are written as F32)"),
]
FORMATS: dict[str, WeightFormat] = {f.name: f for f in _FORMAT_LIST}
_F32 = WeightFormat("f32", "gguf", 32, description="ggml F32")

# Other names people use for the same formats.
_ALIASES = {
    "float32": "fp32", "float16": "fp16", "half": "fp16", "bfloat16": "bf16",
    "fp8_e4m3": "fp8", "e4m3": "fp8", "float8": "fp8",
    "llm.int8": "int8", "w8a8": "int8",
    "gptq": "int4", "awq": "int4", "w4a16": "int4", "int4_g128": "int4",
    "nf4_double_quant": "nf4_dq", "qlora": "nf4_dq",
}

# llama.cpp file types (llama_ftype) -> the default ggml type of their quantized tensors.
# src/llama-quant.cpp, llama_ftype_get_default_type.
GGUF_FILE_TYPES: dict[str, str] = {
    "q4_0": "q4_0", "q4_1": "q4_1", "q5_0": "q5_0", "q5_1": "q5_1", "q8_0": "q8_0", "f16": "f16",
    "q2_k": "q2_k", "q2_k_s": "q2_k",
    "q3_k_s": "q3_k", "q3_k_m": "q3_k", "q3_k_l": "q3_k",
    "q4_k_s": "q4_k", "q4_k_m": "q4_k",
    "q5_k_s": "q5_k", "q5_k_m": "q5_k",
    "q6_k": "q6_k", "iq4_nl": "iq4_nl", "iq4_xs": "iq4_xs",
}
# GGUF tensor layouts are modelled for these llama-style dense architectures (separate q/k/v, gated MLP).
GGUF_MODEL_TYPES = ("llama", "mistral", "qwen2", "qwen3")


def format_names() -> list[str]:
    """Every accepted name: formats, then GGUF file types that are not also a block type."""
    return list(FORMATS) + [n for n in GGUF_FILE_TYPES if n not in FORMATS]


def _gguf_names() -> list[str]:
    return [n for n in format_names() if n in GGUF_FILE_TYPES or FORMATS[n].family == "gguf"]


def _normalize(fmt) -> str:
    if not isinstance(fmt, str):
        raise WrongTypeError(f"a weight format is a name like 'bf16', 'int4' or 'q4_k_m'; got {quote(fmt)}")
    key = _text_name(fmt, "a weight format", "bf16").replace("-", "_")
    return _ALIASES.get(key, key)


def canonical_format(fmt) -> str:
    """The one name of a weight format: case-insensitive, '-' = '_', aliases resolved ('FP32', 'float32' ->
    'fp32'); "auto" (the checkpoint's own quantization) stays "auto"; ValueError for an unknown name. Every
    estimate compares formats by this name only."""
    key = _normalize(fmt)
    if key != "auto" and key not in FORMATS and key not in GGUF_FILE_TYPES:
        raise _unknown(fmt)
    return key


def _unknown(fmt) -> ValueError:
    known = format_names()
    key = _normalize(fmt) if isinstance(fmt, str) and len(fmt) <= MAX_TEXT else ""
    close = difflib.get_close_matches(key, known + list(_ALIASES), n=3, cutoff=0.6) if key else []
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return ValueError(f"unknown weight format {quote(fmt, 40)}.{hint} Known formats: "
                      f"{listing(known, 10, 'llmmem.format_names()')}")


def get_format(fmt) -> WeightFormat:
    """The :class:`WeightFormat` of a name (case-insensitive; aliases like 'gptq' or 'bfloat16' accepted).

    A GGUF *file type* that is only a mixture ("q4_k_m") has no single format: ValueError.
    """
    key = _normalize(fmt)
    if key in FORMATS:
        return FORMATS[key]
    if key in GGUF_FILE_TYPES:
        raise ValueError(
            f"{quote(fmt)} is a llama.cpp file type that mixes block types tensor by tensor, so it has no "
            f"single bits-per-weight; pass a ModelSpec (weight_bytes(spec, {key!r}) or "
            f"bits_per_weight({key!r}, spec)), or use the pure block type {GGUF_FILE_TYPES[key]!r}"
        )
    raise _unknown(fmt)


# ====================================================================== tensors of a model


def weight_tensors(spec: ModelSpec) -> list[Tensor]:
    """Every parameter tensor of a ModelSpec, with GGUF-style names; their numel sums to num_params().

    The shapes have one home, :meth:`ModelSpec.weight_tensors` (llmmem/model.py); this returns them as a
    list. Fused projections (falcon's query_key_value, phi3's qkv_proj) are listed as their separate parts:
    same numbers of weights, and blocks run along the same input dimension.
    """
    if not isinstance(spec, ModelSpec):
        raise ValueError(f"weight_tensors needs a ModelSpec; got {type(spec).__name__}")
    return list(spec.weight_tensors())


# ====================================================================== bytes


def _check_keep(keep_16bit) -> tuple[str, ...]:
    if isinstance(keep_16bit, str):
        keep_16bit = (keep_16bit,)
    try:
        keep = tuple(keep_16bit)
    except TypeError:
        raise ValueError(f"keep_16bit must be a tuple of names from {KEEPABLE}; got {quote(keep_16bit)}") from None
    bad = [k for k in keep if k not in KEEPABLE]
    if bad:
        raise ValueError(f"keep_16bit accepts {', '.join(KEEPABLE)}; got {', '.join(map(repr, bad))}")
    return keep


def _kept(t: Tensor, keep: tuple[str, ...]) -> bool:
    # "norms" stands for every 1-D tensor (norm weights and biases): no quantizer touches them.
    return (t.component in keep or (t.kind == "vector" and "norms" in keep)
            or (t.kind == "router" and "router" in keep))


def weight_bytes(spec_or_params, fmt="auto", keep_16bit=None) -> int:
    """Exact bytes of the weights in a format, constants included, rounded up to whole blocks and bytes.

    ``spec_or_params``: a ModelSpec, or a plain parameter count (70e9, "70B", 8_030_261_248).

    * ``fmt="auto"`` (the default): as the checkpoint stores them -- a spec whose config carries a
      ``quantization_config`` is counted by :func:`llmmem.quantization.checkpoint_weight_bytes` (its ignore
      lists honoured, tensor by tensor); anything else is bf16. An explicit format overrides the checkpoint.

    * Plain count: every weight in the format (block constants included; per-row and per-tensor scales
      need shapes and are left out: at most 32/in_features bits per weight). GGUF mixtures need a spec.
    * ModelSpec, float formats: every tensor in that dtype.
    * ModelSpec, quantized formats: the linear layers in the format; the tensors named in ``keep_16bit``
      in 16 bits. Default ``("embedding", "lm_head", "norms", "router")``: what the loaders do --
      vLLM quantizes only LinearBase/FusedMoE layers (quantization/fp8.py ``Fp8Config.get_quant_method``;
      gptq.py ``lm_head_quantized`` defaults to False; embeddings use UnquantizedEmbeddingMethod),
      transformers keeps the lm_head in full precision (integrations ``get_keys_to_not_convert``), and
      vLLM's MoE models build the router ``gate`` with ``quant_config=None``. "norms" also covers biases
      (all 1-D tensors). ``keep_16bit=()`` quantizes everything: the textbook P x bits / 8.
    * ModelSpec, GGUF names: llama.cpp's per-tensor rules (:func:`gguf_tensor_types`); this counts the
      tensor data only (what llama-bench reports as "size"); the .gguf file adds a few MB of metadata
      and tokenizer.
    """
    key = _normalize(fmt)
    if key == "auto":
        if isinstance(spec_or_params, ModelSpec) and spec_or_params.quantization is not None:
            if keep_16bit is not None:
                raise ValueError("keep_16bit does not apply to fmt='auto' with a quantized checkpoint: its "
                                 "quantization_config decides; pass an explicit format to override it")
            return checkpoint_weight_bytes(spec_or_params)
        key = "bf16"
    if key not in FORMATS and key not in GGUF_FILE_TYPES:
        raise _unknown(fmt)
    if not isinstance(spec_or_params, ModelSpec):
        if keep_16bit is not None:
            raise ValueError("keep_16bit needs a ModelSpec (a plain count has no embedding or norms to keep)")
        n = parse_count(spec_or_params)
        return ceil(get_format(key).count_bits(n) / 8)
    spec = spec_or_params
    if key in GGUF_FILE_TYPES or FORMATS[key].family == "gguf":
        if keep_16bit is not None:
            raise ValueError("keep_16bit does not apply to GGUF: llama.cpp decides per tensor (see gguf_tensor_types)")
        return sum(row["bytes"] for row in gguf_tensor_types(spec, key))
    return sum(b for _, b in weight_bytes_by_tensor(spec, key, keep_16bit))


def weight_bytes_by_tensor(spec: ModelSpec, fmt="auto", keep_16bit=None) -> list[tuple[Tensor, int]]:
    """(tensor, exact bytes) for every tensor of the spec, in a float or quantized format or "auto".

    What :func:`weight_bytes` sums; per tensor, so that a pipeline stage can sum its own layers. GGUF file
    types are not split per tensor here (see :func:`gguf_tensor_types`).
    """
    if not isinstance(spec, ModelSpec):
        raise ValueError(f"weight_bytes_by_tensor needs a ModelSpec; got {type(spec).__name__}")
    key = _normalize(fmt)
    if key == "auto":
        if spec.quantization is not None:
            if keep_16bit is not None:
                raise ValueError("keep_16bit does not apply to fmt='auto' with a quantized checkpoint")
            return checkpoint_tensor_bytes(spec)
        key = "bf16"
    if key in GGUF_FILE_TYPES or (key in FORMATS and FORMATS[key].family == "gguf"):
        raise ValueError("weight_bytes_by_tensor takes float and quantized formats; GGUF: gguf_tensor_types")
    if key not in FORMATS:
        raise _unknown(fmt)
    form = FORMATS[key]
    keep = _check_keep(DEFAULT_KEEP_16BIT if keep_16bit is None and form.family == "quantized"
                       else keep_16bit or ())
    return [(t, 2 * t.numel if _kept(t, keep) else t.count * ceil(form.matrix_bits(t.rows, t.cols) / 8))
            for t in weight_tensors(spec)]


def bits_per_weight(fmt, spec: ModelSpec | None = None, keep_16bit=None) -> Fraction:
    """Exact bits per weight of a format, its block constants included (e.g. nf4_dq -> 4.126953125).

    With a ModelSpec: the *effective* bits per parameter of that model, 8 * weight_bytes / num_params,
    which counts the tensors kept in 16 bits and, for GGUF file types like "q4_k_m", the per-tensor mix.
    """
    if spec is None:
        if keep_16bit is not None:
            raise ValueError("keep_16bit needs a ModelSpec")
        return get_format(fmt).bits_per_weight
    if not isinstance(spec, ModelSpec):
        raise ValueError(f"spec must be a ModelSpec; got {type(spec).__name__}")
    return Fraction(8 * weight_bytes(spec, fmt, keep_16bit), spec.num_params())


# ====================================================================== llama.cpp GGUF mixtures


def _use_more_bits(i_layer: int, n_layers: int) -> bool:
    # src/llama-quant.cpp, llama_tensor_get_type_impl: the first and last eighth of the layers and every
    # third layer in between get more bits (C++ integer division; i < n/8 short-circuits the modulo).
    return i_layer < n_layers // 8 or i_layer >= 7 * n_layers // 8 or (i_layer - n_layers // 8) % 3 == 2


# llama-quant.cpp tensor_type_fallback: a row length that is not a multiple of the block size.
_FALLBACK = {"q2_k": "q4_0", "q3_k": "q4_0", "q4_k": "q5_0", "q5_k": "q5_1", "q6_k": "q8_0", "iq4_xs": "iq4_nl"}


def _ggml_type(ftype: str, category: str, i_layer: int, spec: ModelSpec, cols: int) -> str:
    """llama.cpp's choice for one 2-D tensor (src/llama-quant.cpp, llama_tensor_get_type_impl).

    Transcribed for the file types in GGUF_FILE_TYPES, dense models (n_expert <= 1), no importance
    matrix, and not falcon; the i-quant 1-3 bit types are not modelled.
    """
    default = GGUF_FILE_TYPES[ftype]
    if default == "f16":  # not a quantized type: no mixture rules
        return "f16"
    new, n, gqa = default, spec.num_layers, spec.num_heads // spec.num_kv_heads
    if category == "output":  # also token_embd when the embeddings are tied
        if cols % FORMATS[new].block_size:
            new = "q8_0"
        elif new != "q8_0":
            new = "q6_k"
    elif category == "attn_v":
        if ftype == "q2_k":
            new = "q4_k" if gqa >= 4 else "q3_k"
        elif ftype == "q2_k_s" and gqa >= 4:
            new = "q4_k"
        elif ftype == "q3_k_m":
            new = "q5_k" if i_layer < 2 else "q4_k"
        elif ftype == "q3_k_l":
            new = "q5_k"
        elif ftype in ("iq4_nl", "iq4_xs") and gqa >= 4:
            new = "q5_k"
        elif ftype in ("q4_k_m", "q5_k_m") and _use_more_bits(i_layer, n):
            new = "q6_k"
        elif ftype == "q4_k_s" and i_layer < 4:
            new = "q5_k"
        # "In the 70B model we have 8 heads sharing the same attn_v weights ...": llama-model.cpp gives
        # LLM_TYPE_70B to llama-arch models with 80 layers and GQA.
        if spec.model_type == "llama" and n == 80 and gqa > 1 and new in ("q3_k", "q4_k"):
            new = "q5_k"
    elif category == "ffn_down":
        if ftype == "q2_k":
            new = "q3_k"
        elif ftype == "q2_k_s":
            new = "q4_k" if i_layer < n // 8 else new
        elif ftype == "q3_k_m":
            new = "q5_k" if i_layer < n // 16 else "q4_k"  # non-falcon: Q4_K for all the others
        elif ftype == "q3_k_l":
            new = "q5_k"
        elif ftype == "q4_k_m":
            new = "q6_k" if _use_more_bits(i_layer, n) else new
        elif ftype in ("iq4_nl", "iq4_xs") and i_layer < n // 8:
            new = "q5_k"
        elif ftype == "q5_k_m" and _use_more_bits(i_layer, n):
            new = "q6_k"
        elif ftype == "q4_k_s" and i_layer < n // 8:
            new = "q5_k"
    elif category == "attn_output":
        new = {"q2_k": "q3_k", "q3_k_m": "q4_k", "q3_k_l": "q5_k"}.get(ftype, new)
    # tensor_type_fallback: rows must hold whole blocks; else a 32-block type, else F16.
    if cols % FORMATS[new].block_size:
        new = _FALLBACK.get(new, new)
        if cols % FORMATS[new].block_size:
            new = "f16"
    return new


def gguf_tensor_types(spec: ModelSpec, ftype: str = "q4_k_m") -> list[dict]:
    """The tensors of a llama.cpp GGUF file of a given file type: name, shape, ggml type and exact bytes.

    Rules: llama.cpp src/llama-quant.cpp (``tensor_allows_quantization``, ``llama_tensor_get_type``,
    ``tensor_type_fallback``). 1-D tensors (norms, biases) are never quantized and stay F32, as
    convert_hf_to_gguf.py writes them. A block type that is not a file type ("q4_k") gives a ``--pure``
    file: every 2-D tensor in that type. Dense llama-style models only (GGUF_MODEL_TYPES); Llama 3's
    64-float ``rope_freqs`` tensor (256 bytes) is not counted; no importance matrix is assumed.
    """
    if not isinstance(spec, ModelSpec):
        raise ValueError(f"gguf_tensor_types needs a ModelSpec; got {type(spec).__name__}")
    key = _normalize(ftype)
    pure = key not in GGUF_FILE_TYPES
    if pure and (key not in FORMATS or FORMATS[key].family != "gguf"):
        if key in FORMATS:
            raise ValueError(f"{quote(ftype)} is not a GGUF type; GGUF types: {', '.join(_gguf_names())}")
        raise _unknown(ftype)
    if spec.model_type not in GGUF_MODEL_TYPES or spec.is_moe or spec.uses_mla:
        raise ValueError(
            f"GGUF mixtures are modelled for dense llama-style models ({', '.join(GGUF_MODEL_TYPES)}); "
            f"got model_type {spec.model_type!r}{' (MoE)' if spec.is_moe else ''}"
        )
    rows_out = []
    for t in weight_tensors(spec):
        if t.kind == "vector":
            gtype = "f32"
        elif pure:
            gtype = key
            if t.cols % FORMATS[key].block_size:
                gtype = _FALLBACK.get(key, key)
                gtype = gtype if t.cols % FORMATS[gtype].block_size == 0 else "f16"
        else:
            category = t.name.split(".")[-2] if t.layer is not None else t.name.split(".")[0]
            if category == "token_embd":
                category = "output" if spec.tie_embeddings else "token_embd"
            gtype = _ggml_type(key, category, t.layer or 0, spec, t.cols)
        form = _F32 if gtype == "f32" else FORMATS[gtype]
        nbytes = t.count * ceil(form.matrix_bits(t.rows, t.cols) / 8)
        rows_out.append(dict(name=t.name, shape=(t.rows, t.cols), count=t.count, type=gtype.upper(),
                             bytes=nbytes))
    return rows_out
