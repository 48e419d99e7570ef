"""One home for input validation: counts, token lengths, batch, parallel degrees, fractions, formats, names.

Every public function of llmmem checks what it is given with the helpers here, so that a bad value raises a
``ValueError`` (for a value of the wrong kind altogether, a :class:`WrongTypeError`, which is also a
``TypeError``) with a short message a student
understands, never an ``OverflowError``, a ``KeyError`` or a silent wrong answer.

Rules, the same everywhere:

* whole numbers may be any ``numbers.Integral`` (``int``, ``numpy.int64``, ...) but never ``bool``
  (``True`` is 1 to Python and a typo to a person);
* real numbers must be finite (no NaN, no infinity);
* every quantity has a documented range (below), so that no input can ask for a million-digit integer or a
  spec that takes minutes to count;
* a message quotes at most :data:`QUOTE_CHARS` characters of the bad value.

This module imports only the standard library.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from numbers import Integral, Real
from typing import Any

__all__ = [
    "MAX_BATCH", "MAX_BYTES", "MAX_COUNT", "MAX_DIM", "MAX_EXPERTS", "MAX_LAYERS", "MAX_PARALLEL", "MAX_PARAMS",
    "MAX_TEXT", "MAX_TOKENS", "MissingFileError", "QUOTE_CHARS", "WrongTypeError", "canonical_kv_format",
    "check_batch", "check_fraction", "check_int", "check_nonneg", "check_parallel", "check_positive", "check_real",
    "check_tokens", "choice", "is_finite", "listing", "name", "quote", "spec_fields",
]


class WrongTypeError(ValueError, TypeError):
    """A value of the wrong kind (a string where a number belongs, a bool, a list ...).

    Both a ``ValueError`` (what llmmem's design promises for every bad input) and a ``TypeError`` (what Python
    code expects), so either ``except`` catches it.
    """


class MissingFileError(FileNotFoundError, ValueError):
    """A file that is not there: a ``FileNotFoundError`` as ``open()`` raises, and a ``ValueError`` like every
    other bad input to llmmem (a path is input too)."""


# ---------------------------------------------------------------------------------------------- ranges
# Each bound is far above anything real, and low enough that arithmetic on it stays instant.

# Parameters (and other counts such as training tokens): the largest published models have ~2 x 10^12
# parameters (Switch-C 1.6T, arXiv:2101.03961; Kimi K2 1.04T, moonshotai/Kimi-K2-Instruct config), and the
# largest training runs ~3.6 x 10^13 tokens (Qwen3, 36T). 10^15 leaves 500x headroom.
MAX_PARAMS = 10**15
MAX_COUNT = MAX_PARAMS

# Tokens in one sequence: the longest advertised context is 10^7 (Llama 4 Scout, 10M tokens, Meta model card);
# 10^9 is 100x that. Also caps seq_len, max_model_len, prompt lengths.
MAX_TOKENS = 10**9

# Sequences at once: vLLM's default max_num_seqs is 1024 (vllm/engine/arg_utils.py); 10^7 is 10,000x that.
MAX_BATCH = 10**7

# GPUs, tensor/pipeline degrees: the largest training clusters have ~10^5 GPUs (xAI Colossus, 2024);
# 10^6 is 10x that.
MAX_PARALLEL = 10**6

# Layers: the deepest published LLMs have 126 (Llama 3.1 405B) to ~160 layers; 10_000 is 60x that, and keeps
# per-layer tuples (MoE layer lists, layer types) small: 10^8 layers took 17-25 s and 3.9 GB (issue 12).
MAX_LAYERS = 10_000

# Widths (hidden size, vocabulary, MLP width, heads, head_dim, ranks): the widest real ones are vocabularies
# of ~2.6 x 10^5 (Gemma 2, 256,000) and MLP widths of ~5 x 10^4 (Llama 3.1 405B, 53,248); 10^8 is 400x that.
MAX_DIM = 10**8

# Routed experts per MoE layer: DeepSeek-V3 and Kimi K2 have 256 and 384; 10^5 leaves 260x headroom.
MAX_EXPERTS = 10**5

# Bytes: 10^15 parameters x 32 bytes of training state is 3.2 x 10^16; 10^24 (a yottabyte) is far above and
# still exact enough as a float for GB/GiB display.
MAX_BYTES = 10**24

# Strings longer than this are not a count, a format or a name (the longest real input is a few dozen chars).
MAX_TEXT = 200

# How much of a bad value a message quotes.
QUOTE_CHARS = 80


def quote(value: Any, limit: int = QUOTE_CHARS) -> str:
    """``repr(value)``, cut to at most ``limit`` characters ("..." and the length where it was cut).

    Never calls ``repr`` on a huge int (Python refuses above 4300 digits) or walks a deep container.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > 200:
            return f"<an integer of about {int(value.bit_length() * 0.30103)} digits>"
        text = repr(value)
    elif isinstance(value, (str, bytes)):
        text = repr(value[: limit + 1])
        if len(value) > limit:
            return f"{text[: limit - 3]}... ({len(value):,} characters)"
    elif isinstance(value, (float, Fraction, Decimal, bool)) or value is None:
        text = repr(value)
    elif isinstance(value, (Mapping, list, tuple, set, frozenset)):
        return f"<a {type(value).__name__} of {len(value)} items>"
    else:
        try:
            text = repr(value)
        except Exception:  # a hostile __repr__
            text = f"<a {type(value).__name__}>"
    if len(text) > limit:
        return text[: limit - 3] + "..."
    return text


def listing(names, limit: int = 8, where: str = "") -> str:
    """'a, b, c' for a few names; the first ``limit`` and 'and N more' (``where`` tells where to see them all)."""
    names = list(names)
    if len(names) <= limit:
        return ", ".join(names)
    more = f" ({where})" if where else ""
    return f"{', '.join(names[:limit])} and {len(names) - limit} more{more}"


# ---------------------------------------------------------------------------------------------- numbers


def is_finite(value: Any) -> bool:
    """``math.isfinite`` that also answers for ints and Fractions too big for a float (they are finite)."""
    if isinstance(value, Decimal):
        return value.is_finite()
    try:
        return math.isfinite(value)
    except OverflowError:  # a 400-digit int or Fraction: finite, and any range check refuses it
        return True


def check_int(value: Any, what: str, minimum: int = 1, maximum: int | None = None, reason: str = "") -> int:
    """``value`` as a plain ``int`` if it is a whole number in [minimum, maximum], else ValueError/TypeError.

    Accepts any ``numbers.Integral`` (numpy integers too), not ``bool``, not floats: ``2.0`` is refused so
    that ``batch=2.5`` cannot be silently truncated. ``reason`` says why the maximum is what it is.
    """
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise WrongTypeError(f"{what} must be a whole number; got {quote(value)} ({type(value).__name__})")
    number = int(value)
    if number < minimum:
        kind = "positive" if minimum == 1 else "non-negative" if minimum == 0 else f"at least {minimum}"
        raise ValueError(f"{what} must be {kind}; got {quote(number)}")
    if maximum is not None and number > maximum:
        why = f" ({reason})" if reason else ""
        raise ValueError(f"{what} must be at most {maximum:,}{why}; got {quote(number)}")
    return number


def check_positive(value: Any, what: str, maximum: int | None = None, reason: str = "") -> int:
    """A whole number >= 1 (and <= ``maximum`` when given)."""
    return check_int(value, what, 1, maximum, reason)


def check_tokens(value: Any, what: str = "seq_len") -> int:
    """Tokens of one sequence: 1 .. 10^9 (100x the longest advertised context)."""
    return check_int(value, what, 1, MAX_TOKENS, "100x the longest advertised context, 10M tokens")


def check_batch(value: Any, what: str = "batch") -> int:
    """Sequences at once: 1 .. 10^7."""
    return check_int(value, what, 1, MAX_BATCH, "10,000x vLLM's default of 1024 sequences")


def check_parallel(value: Any, what: str) -> int:
    """A number of GPUs or a tensor/pipeline-parallel degree: 1 .. 10^6."""
    return check_int(value, what, 1, MAX_PARALLEL, "10x the largest GPU clusters")


def check_real(value: Any, what: str, minimum: float | None = None, maximum: float | None = None,
               open_min: bool = False, open_max: bool = False, accepted: str = "") -> Any:
    """A finite real number within the bounds (open or closed), returned unchanged; not bool, not a string."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise WrongTypeError(f"{what} must be a number{accepted and f' ({accepted})'}; got {quote(value)} "
                             f"({type(value).__name__})")
    number: Any = value
    if not is_finite(number):
        raise ValueError(f"{what} must be finite; got {quote(value)}")
    low = minimum is not None and (number <= minimum if open_min else number < minimum)
    high = maximum is not None and (number >= maximum if open_max else number > maximum)
    if low or high:
        left = "(" if open_min else "["
        right = ")" if open_max else "]"
        span = f"{left}{'-inf' if minimum is None else minimum}, {'inf' if maximum is None else maximum}{right}"
        raise ValueError(f"{what} must be in {span}{accepted and f' ({accepted})'}; got {quote(value)}")
    return value


def check_fraction(value: Any, what: str, open_min: bool = False, open_max: bool = False) -> Any:
    """A share between 0 and 1 (``open_min``/``open_max`` exclude the ends), e.g. a GPU memory utilization."""
    return check_real(value, what, 0, 1, open_min=open_min, open_max=open_max)


def check_nonneg(value: Any, what: str):
    """A finite, non-negative number of bytes (int or float), unchanged."""
    return check_real(value, what, 0, None, accepted="a number of bytes")


# ---------------------------------------------------------------------------------------------- names


def name(value: Any, what: str, example: str = "") -> str:
    """A name, stripped and lower-cased; TypeError if it is not a string, ValueError if it is absurdly long."""
    if not isinstance(value, str):
        hint = f" such as {example!r}" if example else ""
        raise WrongTypeError(f"{what} must be a name{hint}; got {quote(value)} ({type(value).__name__})")
    if len(value) > MAX_TEXT:
        raise ValueError(f"{what} is {len(value):,} characters long; names are short, e.g. {example or 'adamw'!r}")
    return value.strip().lower()


def choice(value: Any, allowed: tuple | Mapping, what: str) -> str:
    """``value`` normalised (stripped, lower case) if it is one of ``allowed``, else a ValueError listing them."""
    options = tuple(allowed)
    key = name(value, what, options[0] if options else "")
    if key not in options:
        raise ValueError(f"unknown {what} {quote(value)}; choose one of {listing(options, 12)}")
    return key


# KV-cache element formats and the names people write for them (vLLM --kv-cache-dtype uses fp8, fp8_e4m3,
# fp8_e5m2; PyTorch dtypes are float32, bfloat16, float16). Canonical name -> aliases.
_KV_ALIASES = {
    "fp32": ("float32", "f32"),
    "bf16": ("bfloat16",),
    "fp16": ("float16", "half", "f16"),
    "fp8": ("float8",),
    "fp8_e4m3": ("e4m3", "float8_e4m3fn", "fp8_e4m3fn"),
    "fp8_e5m2": ("e5m2", "float8_e5m2"),
    "int8": ("i8",),
    "int4": ("i4",),
}
_KV_LOOKUP = {alias: canon for canon, aliases in _KV_ALIASES.items() for alias in (canon, *aliases)}


def canonical_kv_format(fmt: Any) -> str:
    """The canonical KV-cache format name: case-insensitive, '-' = '_', aliases such as 'bfloat16' accepted."""
    key = name(fmt, "a KV-cache format", "bf16").replace("-", "_")
    if key not in _KV_LOOKUP:
        raise ValueError(f"unknown KV-cache format {quote(fmt)}; accepted: {', '.join(_KV_ALIASES)} "
                         "(any case; aliases such as bfloat16 or float32 too)")
    return _KV_LOOKUP[key]


# ---------------------------------------------------------------------------------------------- model specs

_SIZE_FIELDS = ("vocab_size", "hidden_size", "num_heads", "num_kv_heads", "head_dim")
_WIDTH_FIELDS = ("intermediate_size", "learned_positions", "moe_intermediate_size",
                 "shared_experts_intermediate_size", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim",
                 "v_head_dim")
_FLAG_FIELDS = ("tie_embeddings", "qk_norm", "embedding_norm", "qkv_bias", "o_bias", "mlp_bias")
_WIDTH_REASON = "400x the widest real vocabulary or MLP"


def spec_fields(spec: Any) -> dict[str, Any]:
    """The fields of a ModelSpec-like object checked and normalised; returns the ones to replace.

    Sizes are whole numbers within the ranges above (layers <= 10,000), heads divide evenly, per-layer index
    lists name existing layers, flags are bools, kinds are known. numpy integers become ``int`` and lists
    become tuples (so the spec stays hashable). Raises ValueError naming the field.
    """
    fixed: dict[str, Any] = {}
    for field in ("name", "model_type", "source"):
        value = getattr(spec, field)
        if not isinstance(value, str):
            raise WrongTypeError(f"ModelSpec.{field} must be a string; got {quote(value)}")
    fixed["num_layers"] = check_int(spec.num_layers, "ModelSpec.num_layers", 1, MAX_LAYERS,
                                    "60x the deepest published LLM; more only costs time and memory")
    for field in _SIZE_FIELDS:
        fixed[field] = check_int(getattr(spec, field), f"ModelSpec.{field}", 1, MAX_DIM, _WIDTH_REASON)
    for field in _WIDTH_FIELDS:
        fixed[field] = check_int(getattr(spec, field), f"ModelSpec.{field}", 0, MAX_DIM, _WIDTH_REASON)
    fixed["norms_per_layer"] = check_int(spec.norms_per_layer, "ModelSpec.norms_per_layer", 0, 64,
                                         "real blocks have 1 to 4")
    fixed["num_experts"] = check_int(spec.num_experts, "ModelSpec.num_experts", 0, MAX_EXPERTS,
                                     "260x DeepSeek-V3's 256 routed experts")
    fixed["experts_per_token"] = check_int(spec.experts_per_token, "ModelSpec.experts_per_token", 0,
                                           fixed["num_experts"], "a token cannot use more experts than exist")
    for field in ("q_lora_rank", "sliding_window"):
        value = getattr(spec, field)
        if value is not None:
            fixed[field] = check_int(value, f"ModelSpec.{field}", 1, MAX_DIM if field == "q_lora_rank" else MAX_TOKENS)
    for field in _FLAG_FIELDS:
        if not isinstance(getattr(spec, field), bool):
            raise WrongTypeError(f"ModelSpec.{field} must be True or False; got {quote(getattr(spec, field))}")
    if spec.mlp_kind not in ("gated", "plain"):
        raise ValueError(f"ModelSpec.mlp_kind must be 'gated' or 'plain'; got {quote(spec.mlp_kind)}")
    if spec.norm_kind not in ("rmsnorm", "layernorm"):
        raise ValueError(f"ModelSpec.norm_kind must be 'rmsnorm' or 'layernorm'; got {quote(spec.norm_kind)}")
    layers = fixed["num_layers"]
    for field in ("moe_layers", "sliding_window_layers"):
        value = getattr(spec, field)
        if not isinstance(value, (tuple, list)) or len(value) > layers:
            raise ValueError(f"ModelSpec.{field} must be a tuple of at most {layers} layer indices; got {quote(value)}")
        indices = tuple(check_int(i, f"ModelSpec.{field} entry", 0, layers - 1, f"the model has {layers} layers")
                        for i in value)
        if len(set(indices)) != len(indices):
            raise ValueError(f"ModelSpec.{field} lists a layer twice")
        fixed[field] = indices
    if fixed["num_heads"] % fixed["num_kv_heads"]:
        raise ValueError(f"ModelSpec.num_kv_heads ({fixed['num_kv_heads']}) must divide num_heads "
                         f"({fixed['num_heads']})")
    if fixed["moe_layers"] and not (fixed["num_experts"] and fixed["experts_per_token"]):
        raise ValueError("ModelSpec.moe_layers needs num_experts >= 1 and experts_per_token >= 1")
    if len(fixed["moe_layers"]) < layers and not fixed["intermediate_size"]:
        raise ValueError("ModelSpec.intermediate_size must be positive: the model has dense MLP layers")
    return {k: v for k, v in fixed.items() if getattr(spec, k) is not v}
