"""Model architecture and exact parameter counting.

A :class:`ModelSpec` is a small, immutable description of a decoder-only LLM: just the shapes that decide
how many parameters it has and how big its KV cache is. Build one from a Hugging Face ``config.json`` with
:meth:`ModelSpec.from_hf_config`; the counts then match what ``transformers`` builds, to the parameter.

How a ``config.json`` is read
-----------------------------
* A key that is absent takes the default of the ``transformers`` config class for that ``model_type``
  (each reader below cites the file it copies its defaults from).
* Exception: the core sizes (``vocab_size``, ``hidden_size``, number of layers, number of heads, and the MLP
  width where no rule derives it) must be present. Every real ``config.json`` has them, so a missing one is
  far more likely a typo than a wish for the library's toy default; it raises ``ValueError`` naming the key.
* Counting follows the module shapes in ``transformers``' ``modeling_<type>.py``: tied embeddings counted
  once, buffers (rotary tables, ALiBi slopes, DeepSeek-V3's ``e_score_correction_bias``) not counted,
  exactly like ``sum(p.numel() for p in model.parameters())``.

This module imports only the standard library, so ``import llmmem.model`` stays fast.
"""

from __future__ import annotations

import difflib
import errno
import functools
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

from .validation import MAX_DIM, MAX_LAYERS, MAX_TEXT, MissingFileError, WrongTypeError, listing, quote, spec_fields

__all__ = ["ModelSpec", "SUPPORTED_MODEL_TYPES", "catalog_names"]

# Types whose attention is one fused query_key_value / c_attn / qkv_proj Linear in transformers.
_FUSED_QKV = frozenset({"gpt2", "phi3", "falcon", "bloom"})


@dataclass(frozen=True)
class ModelSpec:
    """Shapes of a decoder-only transformer, enough to count its parameters exactly.

    Attention is standard multi-head / grouped-query attention unless ``kv_lora_rank`` is set, in which
    case it is DeepSeek's Multi-head Latent Attention (MLA) and the ``q_lora_rank`` / ``qk_*`` / ``v_head_dim``
    fields describe it. The MLP of a layer is a routed mixture of experts when the layer's index is in
    ``moe_layers``, and a dense MLP of width ``intermediate_size`` otherwise.
    """

    name: str
    model_type: str
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int  # 1 = multi-query, num_heads = multi-head, in between = grouped-query
    head_dim: int  # per-head width of q and k (for MLA: qk_nope_head_dim + qk_rope_head_dim)
    intermediate_size: int  # width of the dense MLP
    tie_embeddings: bool = False  # lm_head shares the input embedding matrix (counted once)

    # Module flavours.
    mlp_kind: str = "gated"  # "gated": gate/up/down (SwiGLU, GeGLU); "plain": up/down (GELU MLP)
    norm_kind: str = "rmsnorm"  # "rmsnorm": weight only; "layernorm": weight + bias
    norms_per_layer: int = 2  # gemma2 has 4; falcon-7b's parallel block has 1
    qk_norm: bool = False  # qwen3: an RMSNorm of size head_dim on q and on k in every layer
    embedding_norm: bool = False  # bloom: a LayerNorm right after the word embeddings
    qkv_bias: bool = False  # bias on the q, k, v projections (for MLA: on q_a_proj, kv_a_proj)
    o_bias: bool = False  # bias on the attention output projection
    mlp_bias: bool = False  # bias on the dense MLP (and shared-expert) projections
    learned_positions: int = 0  # rows of a learned position table (gpt2 wpe); 0 = RoPE/ALiBi (no params)

    # Mixture of experts (num_experts == 0: dense model). Routed experts are gated MLPs without bias.
    num_experts: int = 0
    experts_per_token: int = 0
    moe_intermediate_size: int = 0  # width of one routed expert
    shared_experts_intermediate_size: int = 0  # width of the always-on shared MLP (all shared experts)
    moe_layers: tuple[int, ...] = ()  # indices of the layers whose MLP is a MoE block

    # Multi-head Latent Attention (DeepSeek-V2/V3); kv_lora_rank == 0 means standard attention.
    q_lora_rank: int | None = None  # None: q is a plain projection, no low-rank bottleneck
    kv_lora_rank: int = 0
    qk_nope_head_dim: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0

    # Sliding-window attention: the window, and which layers use it (information for KV-cache estimates).
    sliding_window: int | None = None
    sliding_window_layers: tuple[int, ...] = ()

    source: str = ""  # where the spec came from: a file path, "dict", a catalog entry, ...

    def __post_init__(self) -> None:
        # No path can build an absurd spec: sizes bounded and positive, heads dividing (llmmem.validation).
        for key, value in spec_fields(self).items():
            object.__setattr__(self, key, value)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_hf_config(cls, cfg: Mapping[str, Any] | str | os.PathLike, name: str | None = None) -> ModelSpec:
        """Build a spec from a Hugging Face config: a dict, a path to ``config.json``, or a model folder.

        Supported ``model_type`` values are listed in ``SUPPORTED_MODEL_TYPES``; any other raises
        ``ValueError``. A malformed config (missing core size, non-positive size, heads that do not divide
        the hidden size, ...) raises ``ValueError`` naming the offending key.
        """
        config, source = _load_config(cfg)
        model_type = config.get("model_type")
        if model_type is None:
            raise ValueError(f"config has no 'model_type'; supported types: {', '.join(SUPPORTED_MODEL_TYPES)}")
        if not isinstance(model_type, str):
            raise WrongTypeError(f"config 'model_type' must be a string such as 'llama'; got {quote(model_type)}")
        if name is not None and not isinstance(name, str):
            raise WrongTypeError(f"name must be a string; got {quote(name)}")
        reader = _READERS.get(model_type)
        if reader is None:
            raise ValueError(
                f"unsupported model_type {quote(model_type)}; supported types: {', '.join(SUPPORTED_MODEL_TYPES)}"
            )
        fields = reader(_Config(config, model_type))
        spec_name = name or config.get("_name_or_path") or model_type
        if not isinstance(spec_name, str) or len(spec_name) > MAX_TEXT:
            spec_name = model_type  # a non-string or absurd '_name_or_path' is only a label: not worth failing
        return cls(name=spec_name, model_type=model_type, source=source, **fields)

    @classmethod
    def from_catalog(cls, name: str) -> ModelSpec:
        """Build the spec of a well-known model from the catalog shipped with llmmem (works offline).

        ``name`` is case-insensitive, e.g. ``"llama-3.1-70b"``; :func:`catalog_names` lists them all.
        Each entry keeps the model's Hugging Face ``config.json`` and where it was read (``llmmem/data/models.json``).
        """
        if not isinstance(name, str):
            raise WrongTypeError(f"name must be a string such as 'llama-3.1-70b'; got {type(name).__name__}")
        models = _catalog()["models"]
        key = name.strip().lower()
        if key not in models:
            close = difflib.get_close_matches(key, list(models), n=3, cutoff=0.5) if len(key) <= MAX_TEXT else []
            hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
            raise ValueError(f"no model {quote(name, 40)} in the catalog; {hint}known names: "
                             f"{listing(models, 6, 'llmmem models')}")
        return replace(cls.from_hf_config(models[key]["config"], name=key), source=f"catalog:{key}")

    # ------------------------------------------------------------------ parameter counts

    def param_counts(self) -> dict[str, int]:
        """Parameters by component; the values sum to :meth:`num_params`.

        ``embedding``: token embedding + learned position table; ``attention``: all attention projections;
        ``mlp``: dense MLPs, routed experts, routers and shared experts; ``norms``: every norm's weight and
        bias; ``lm_head``: the output projection, 0 when it is tied to the embedding.
        """
        attention = self.num_layers * self._attention_params_per_layer()
        moe_layers = len(self.moe_layers)
        mlp = (self.num_layers - moe_layers) * self._dense_mlp_params() + moe_layers * self._moe_params_per_layer()
        return {
            "embedding": self.vocab_size * self.hidden_size + self.learned_positions * self.hidden_size,
            "attention": attention,
            "mlp": mlp,
            "norms": self._norm_params(),
            "lm_head": 0 if self.tie_embeddings else self.vocab_size * self.hidden_size,
        }

    def num_params(self) -> int:
        """Exact number of parameters, tied embeddings counted once."""
        return sum(self.param_counts().values())

    def num_active_params(self, include_embedding: bool = True) -> int:
        """Parameters one token passes through: the total less the routed experts it does not use.

        active = total - routed_expert_params * (E - k) / E, with E experts of which k are chosen per token.
        Shared experts, routers, attention and dense layers are always active. For a dense model this is
        :meth:`num_params`.

        Vendors differ on the input embedding (a lookup, not a matmul): Mixtral and Qwen count it as active
        (``include_embedding=True``, the default), DeepSeek does not (``include_embedding=False`` subtracts
        the ``embedding`` component: token embedding, plus learned positions where the model has them).
        """
        unused_experts = self.num_experts - self.experts_per_token
        routed_unused = len(self.moe_layers) * unused_experts * self._expert_params()
        active = self.num_params() - routed_unused
        if not include_embedding:
            active -= self.param_counts()["embedding"]
        return active

    # ------------------------------------------------------------------ KV cache

    def kv_cache_bytes_per_token(self, bytes_per_elem: int | float = 2) -> int:
        """Bytes of KV cache one token adds, over all layers, at ``bytes_per_elem`` bytes per element.

        Standard attention caches a key and a value per KV head: 2 * layers * kv_heads * head_dim.
        MLA caches one compressed latent plus the shared rotary key per layer, (kv_lora_rank +
        qk_rope_head_dim) * layers, with no factor 2: this is how vLLM and SGLang store it.
        (Sliding-window layers are counted in full here: per token, before the window fills.)
        """
        if bytes_per_elem <= 0:
            raise ValueError(f"bytes_per_elem must be positive; got {bytes_per_elem}")
        if self.kv_lora_rank:
            elems = (self.kv_lora_rank + self.qk_rope_head_dim) * self.num_layers
        else:
            elems = 2 * self.num_layers * self.num_kv_heads * self.head_dim
        return int(elems * bytes_per_elem)

    # ------------------------------------------------------------------ weight shapes

    def weight_matrices(self) -> tuple[tuple[str, int, int, int], ...]:
        """Every 2-D weight as (name, rows, cols, how many in the model); the rest are 1-D vectors.

        What optimizers that factor their state (Adafactor) and formats that quantize per tensor (GGUF)
        need. Fused projections stay fused as transformers builds them (gpt2, phi3, falcon, bloom), since
        a fused matrix factors differently from its parts. The 1-D rest (norms, biases) is
        ``num_params() - sum(rows * cols * count)``.
        """
        h, L, d = self.hidden_size, self.num_layers, self.head_dim
        dense_layers = L - len(self.moe_layers)
        mats = [("embedding", self.vocab_size, h, 1)]
        if self.learned_positions:
            mats.append(("position_embedding", self.learned_positions, h, 1))
        if not self.tie_embeddings:
            mats.append(("lm_head", self.vocab_size, h, 1))
        if self.uses_mla:
            qk = self.qk_nope_head_dim + self.qk_rope_head_dim
            if self.q_lora_rank is None:
                mats.append(("q_proj", self.num_heads * qk, h, L))
            else:
                mats += [("q_a_proj", self.q_lora_rank, h, L), ("q_b_proj", self.num_heads * qk, self.q_lora_rank, L)]
            mats += [
                ("kv_a_proj", self.kv_lora_rank + self.qk_rope_head_dim, h, L),
                ("kv_b_proj", self.num_heads * (self.qk_nope_head_dim + self.v_head_dim), self.kv_lora_rank, L),
                ("o_proj", h, self.num_heads * self.v_head_dim, L),
            ]
        elif self.model_type in _FUSED_QKV:
            mats.append(("qkv_proj", (self.num_heads + 2 * self.num_kv_heads) * d, h, L))
            mats.append(("o_proj", h, self.num_heads * d, L))
        else:
            mats += [
                ("q_proj", self.num_heads * d, h, L),
                ("k_proj", self.num_kv_heads * d, h, L),
                ("v_proj", self.num_kv_heads * d, h, L),
                ("o_proj", h, self.num_heads * d, L),
            ]
        f = self.intermediate_size
        if dense_layers:
            if self.mlp_kind == "plain":
                mats += [("up_proj", f, h, dense_layers), ("down_proj", h, f, dense_layers)]
            elif self.model_type == "phi3":  # gate_up_proj: one fused (2f, h) matrix
                mats += [("gate_up_proj", 2 * f, h, dense_layers), ("down_proj", h, f, dense_layers)]
            else:
                mats += [("gate_proj", f, h, dense_layers), ("up_proj", f, h, dense_layers),
                         ("down_proj", h, f, dense_layers)]
        moe = len(self.moe_layers)
        if moe:
            e, fe = self.num_experts, self.moe_intermediate_size
            mats += [("router", e, h, moe), ("expert_gate_proj", fe, h, moe * e), ("expert_up_proj", fe, h, moe * e),
                     ("expert_down_proj", h, fe, moe * e)]
            fs = self.shared_experts_intermediate_size
            if fs:
                mats += [("shared_gate_proj", fs, h, moe), ("shared_up_proj", fs, h, moe),
                         ("shared_down_proj", h, fs, moe)]
        return tuple(mats)

    # ------------------------------------------------------------------ pieces

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0 and len(self.moe_layers) > 0

    @property
    def uses_mla(self) -> bool:
        return self.kv_lora_rank > 0

    def _attention_params_per_layer(self) -> int:
        h = self.hidden_size
        if self.uses_mla:
            qk_head_dim = self.qk_nope_head_dim + self.qk_rope_head_dim
            if self.q_lora_rank is None:  # q_proj, never biased
                q = h * self.num_heads * qk_head_dim
            else:  # q_a_proj -> q_a_layernorm (in norms) -> q_b_proj
                q = h * self.q_lora_rank + self.q_lora_rank * self.num_heads * qk_head_dim
                q += self.q_lora_rank if self.qkv_bias else 0
            kv_a = h * (self.kv_lora_rank + self.qk_rope_head_dim)
            kv_a += self.kv_lora_rank + self.qk_rope_head_dim if self.qkv_bias else 0
            kv_b = self.kv_lora_rank * self.num_heads * (self.qk_nope_head_dim + self.v_head_dim)
            o = self.num_heads * self.v_head_dim * h + (h if self.o_bias else 0)
            return q + kv_a + kv_b + o
        q_out = self.num_heads * self.head_dim
        kv_out = 2 * self.num_kv_heads * self.head_dim
        qkv = h * (q_out + kv_out) + ((q_out + kv_out) if self.qkv_bias else 0)
        o = q_out * h + (h if self.o_bias else 0)
        return qkv + o

    def _dense_mlp_params(self, width: int | None = None) -> int:
        h, f = self.hidden_size, self.intermediate_size if width is None else width
        if self.mlp_kind == "gated":  # gate_proj, up_proj: h -> f; down_proj: f -> h
            return 3 * h * f + ((2 * f + h) if self.mlp_bias else 0)
        return 2 * h * f + ((f + h) if self.mlp_bias else 0)  # up: h -> f; down: f -> h

    def _expert_params(self) -> int:
        return 3 * self.hidden_size * self.moe_intermediate_size  # a gated MLP, no bias

    def _moe_params_per_layer(self) -> int:
        router = self.num_experts * self.hidden_size  # a bias-free Linear(hidden, num_experts)
        shared_width = self.shared_experts_intermediate_size
        shared = self._dense_mlp_params(shared_width) if shared_width else 0
        return self.num_experts * self._expert_params() + router + shared

    def _norm_params(self) -> int:
        per_norm = 2 if self.norm_kind == "layernorm" else 1  # LayerNorm has a bias, RMSNorm does not
        per_layer = self.norms_per_layer * self.hidden_size
        if self.qk_norm:
            per_layer += 2 * self.head_dim
        if self.uses_mla:
            per_layer += self.kv_lora_rank + (self.q_lora_rank or 0)  # kv_a_layernorm, q_a_layernorm
        final_and_embedding = self.hidden_size * (1 + int(self.embedding_norm))
        return per_norm * (self.num_layers * per_layer + final_and_embedding)


# ====================================================================== the catalog


@functools.lru_cache(maxsize=1)
def _catalog() -> dict:
    """The catalog file, read once: {"description": ..., "models": {name: {"hf_id", "source", "config", ...}}}."""
    text = resources.files("llmmem").joinpath("data").joinpath("models.json").read_text(encoding="utf-8")
    return json.loads(text)


def catalog_names() -> list[str]:
    """Names accepted by :meth:`ModelSpec.from_catalog`, in catalog order (smallest families first)."""
    return list(_catalog()["models"])


# ====================================================================== reading config.json


def _load_config(cfg: Mapping[str, Any] | str | os.PathLike) -> tuple[dict, str]:
    """Return (config dict, source description) from a dict, a config.json path or a model folder."""
    if isinstance(cfg, Mapping):
        return dict(cfg), "dict"
    if not isinstance(cfg, (str, os.PathLike)):
        raise ValueError(f"cfg must be a dict or a path to config.json or a model folder; got {type(cfg).__name__}")
    path = os.fspath(cfg)
    if os.path.isdir(path):
        path = os.path.join(path, "config.json")
    if not os.path.isfile(path):
        raise MissingFileError(errno.ENOENT, f"no config.json at {quote(path)}")
    from .checkpoint import read_json_file  # regular files only, size and nesting bounded

    config = read_json_file(path, MAX_CONFIG_BYTES, "config.json")
    if not isinstance(config, dict):
        raise ValueError(f"{path} must hold a JSON object; got {type(config).__name__}")
    return config, path


# A real config.json is a few kB (DeepSeek-V3's is 1.7 kB); 10 MB is far above any of them.
MAX_CONFIG_BYTES = 10_000_000

_REQUIRED = object()


class _Config:
    """Typed access to a config dict: aliases, transformers defaults, and errors that name the key."""

    def __init__(self, config: dict, model_type: str):
        self.config = config
        self.model_type = model_type

    def _lookup(self, keys: tuple[str, ...], default: Any) -> tuple[str, Any]:
        for key in keys:
            if key in self.config:
                return key, self.config[key]
        if default is _REQUIRED:
            aka = f" (or {', '.join(repr(k) for k in keys[1:])})" if len(keys) > 1 else ""
            raise ValueError(f"{self.model_type} config is missing required key {keys[0]!r}{aka}")
        return keys[0], default

    def size(self, *keys: str, default: Any = _REQUIRED) -> int:
        """A positive int; a key present with value null takes the default too."""
        key, value = self._lookup(keys, default)
        if value is None:
            value = default
        if value is None or value is _REQUIRED:
            got = "got null" if key in self.config else "it is missing"
            raise ValueError(f"{self.model_type} config key {key!r} must be a positive integer; {got}")
        return _positive_int(key, value)

    def optional_size(self, *keys: str, default: int | None = None) -> int | None:
        """A positive int or None (null means 'derive it' or 'absent feature', as in transformers)."""
        key, value = self._lookup(keys, default)
        return None if value is None else _positive_int(key, value)

    def count(self, key: str, default: int = 0) -> int:
        """A non-negative int (null counts as 0)."""
        value = self.config.get(key, default)
        value = 0 if value is None else value
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DIM:
            raise ValueError(f"config key {key!r} must be a whole number from 0 to {MAX_DIM:,}; got {quote(value)}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.config.get(key, default)
        if not isinstance(value, bool):
            raise ValueError(f"config key {key!r} must be true or false; got {quote(value)}")
        return value

    def head_dim(self, hidden_size: int, num_heads: int, default: int | None = None) -> int:
        """Explicit ``head_dim``, else hidden_size / num_heads (which must then divide evenly)."""
        explicit = self.optional_size("head_dim", default=default)
        if explicit is not None:
            return explicit
        if hidden_size % num_heads:
            raise ValueError(
                f"hidden_size ({hidden_size}) is not divisible by num_attention_heads ({num_heads}) "
                f"and the config gives no head_dim"
            )
        return hidden_size // num_heads

    def kv_heads(self, num_heads: int, *keys: str, default: int | None = None) -> int:
        kv = self.optional_size(*(keys or ("num_key_value_heads",)), default=default) or num_heads
        if num_heads % kv:
            raise ValueError(f"num_key_value_heads ({kv}) must divide num_attention_heads ({num_heads})")
        return kv

    def tie(self, default: bool) -> bool:
        return self.flag("tie_word_embeddings", default)

    def layer_types_sliding(self, num_layers: int) -> tuple[int, ...] | None:
        """Sliding layers from an explicit ``layer_types`` list, or None when the config has none."""
        layer_types = self.config.get("layer_types")
        if layer_types is None:
            return None
        if not isinstance(layer_types, list) or len(layer_types) != num_layers:
            raise ValueError(f"layer_types must be a list of {num_layers} entries (one per layer)")
        return tuple(i for i, t in enumerate(layer_types) if t == "sliding_attention")


_LAYER_KEYS = frozenset({"num_hidden_layers", "n_layer", "num_layers"})


def _positive_int(key: str, value: Any) -> int:
    """A positive int, bounded before any per-layer tuple is built (llmmem.validation: layers <= 10,000,
    other sizes <= 10^8), so a config with 10^8 layers or a 400-digit vocab_size is refused at once."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"config key {key!r} must be a positive integer; got {quote(value)}")
    limit, why = (MAX_LAYERS, "60x the deepest published LLM") if key in _LAYER_KEYS else (MAX_DIM, "400x real widths")
    if value > limit:
        raise ValueError(f"config key {key!r} must be at most {limit:,} ({why}); got {quote(value)}")
    return value


def _llama_family_core(c: _Config, *, kv_default: int | None, head_dim_default: int | None = None) -> dict:
    """Sizes shared by the llama-style configs (llama, mistral, mixtral, qwen*, gemma2, phi3)."""
    hidden = c.size("hidden_size")
    heads = c.size("num_attention_heads")
    return dict(
        vocab_size=c.size("vocab_size"),
        hidden_size=hidden,
        num_layers=c.size("num_hidden_layers"),
        num_heads=heads,
        num_kv_heads=c.kv_heads(heads, default=kv_default),
        head_dim=c.head_dim(hidden, heads, default=head_dim_default),
        intermediate_size=c.size("intermediate_size"),
    )


def _window_everywhere(c: _Config, num_layers: int, default: int | None) -> dict:
    """Mistral/Phi3 style: when sliding_window is set, every layer uses it."""
    window = c.optional_size("sliding_window", default=default)
    layers = c.layer_types_sliding(num_layers)
    if layers is None:
        layers = tuple(range(num_layers)) if window else ()
    return dict(sliding_window=window, sliding_window_layers=layers)


def _window_qwen(c: _Config, num_layers: int) -> dict:
    """Qwen2/Qwen3 style: a window only with use_sliding_window, on layers >= max_window_layers."""
    window = c.optional_size("sliding_window", default=4096) if c.flag("use_sliding_window", False) else None
    layers = c.layer_types_sliding(num_layers)
    if layers is None:
        first = c.count("max_window_layers", 28)
        layers = tuple(range(first, num_layers)) if window else ()
    return dict(sliding_window=window, sliding_window_layers=layers)


# --- one reader per model_type: config dict -> ModelSpec fields --------------------------------------------


def _read_gpt2(c: _Config) -> dict:
    # transformers/models/gpt2/configuration_gpt2.py: n_positions=1024, n_inner=None (-> 4 * n_embd),
    # tie_word_embeddings=True. modeling_gpt2.py: Conv1D layers with bias everywhere, LayerNorm ln_1, ln_2,
    # ln_f, and a learned position table wpe of n_positions rows.
    hidden = c.size("n_embd", "hidden_size")
    heads = c.size("n_head", "num_attention_heads")
    if hidden % heads:
        raise ValueError(f"n_embd ({hidden}) is not divisible by n_head ({heads})")
    return dict(
        vocab_size=c.size("vocab_size"),
        hidden_size=hidden,
        num_layers=c.size("n_layer", "num_hidden_layers"),
        num_heads=heads,
        num_kv_heads=heads,
        head_dim=hidden // heads,
        intermediate_size=c.optional_size("n_inner") or 4 * hidden,
        tie_embeddings=c.tie(True),
        mlp_kind="plain",
        norm_kind="layernorm",
        qkv_bias=True,
        o_bias=True,
        mlp_bias=True,
        learned_positions=c.size("n_positions", "max_position_embeddings", default=1024),
    )


def _read_llama(c: _Config) -> dict:
    # transformers/models/llama/configuration_llama.py: num_key_value_heads=None (-> heads), head_dim=None
    # (-> hidden / heads), attention_bias=False (q, k, v and o), mlp_bias=False, tie_word_embeddings=False.
    fields = _llama_family_core(c, kv_default=None)
    bias = c.flag("attention_bias", False)
    return dict(fields, tie_embeddings=c.tie(False), qkv_bias=bias, o_bias=bias, mlp_bias=c.flag("mlp_bias", False))


def _read_mistral(c: _Config) -> dict:
    # transformers/models/mistral/configuration_mistral.py: num_key_value_heads=8, head_dim=None,
    # sliding_window=4096 (all layers), tie_word_embeddings=False; no biases.
    fields = _llama_family_core(c, kv_default=8)
    return dict(fields, tie_embeddings=c.tie(False), **_window_everywhere(c, fields["num_layers"], 4096))


def _read_mixtral(c: _Config) -> dict:
    # transformers/models/mixtral/configuration_mixtral.py: num_key_value_heads=8, num_local_experts=8,
    # num_experts_per_tok=2, sliding_window=None. modeling_mixtral.py: every layer is MoE; experts are
    # gated MLPs of width intermediate_size; the router is Linear(hidden, num_experts, bias=False).
    fields = _llama_family_core(c, kv_default=8)
    experts = c.size("num_local_experts", "num_experts", default=8)
    return dict(
        fields,
        tie_embeddings=c.tie(False),
        **_moe_fields(experts, c.size("num_experts_per_tok", default=2), fields["intermediate_size"],
                      tuple(range(fields["num_layers"]))),
        **_window_everywhere(c, fields["num_layers"], None),
    )


def _read_qwen2(c: _Config) -> dict:
    # transformers/models/qwen2/configuration_qwen2.py: num_key_value_heads=32, use_sliding_window=False,
    # max_window_layers=28, tie_word_embeddings=False. modeling_qwen2.py: q/k/v_proj have bias, o_proj not.
    fields = _llama_family_core(c, kv_default=32)
    return dict(fields, tie_embeddings=c.tie(False), qkv_bias=True, **_window_qwen(c, fields["num_layers"]))


def _read_qwen3(c: _Config) -> dict:
    # transformers/models/qwen3/configuration_qwen3.py: num_key_value_heads=32, head_dim=128 (not
    # hidden / heads!), attention_bias=False (q, k, v, o), tie_word_embeddings=False.
    # modeling_qwen3.py: q_norm and k_norm, RMSNorm(head_dim), in every attention layer.
    fields = _llama_family_core(c, kv_default=32, head_dim_default=128)
    bias = c.flag("attention_bias", False)
    return dict(fields, tie_embeddings=c.tie(False), qk_norm=True, qkv_bias=bias, o_bias=bias,
                **_window_qwen(c, fields["num_layers"]))


def _read_qwen3_moe(c: _Config) -> dict:
    # transformers/models/qwen3_moe/configuration_qwen3_moe.py: num_key_value_heads=4, head_dim absent
    # (-> hidden / heads), num_experts=128, num_experts_per_tok=8, moe_intermediate_size=768,
    # decoder_sparse_step=1, mlp_only_layers=[] . modeling_qwen3_moe.py: layer i is MoE unless i is in
    # mlp_only_layers or (i + 1) % decoder_sparse_step != 0; no shared expert; q_norm/k_norm as qwen3.
    fields = _llama_family_core(c, kv_default=4)
    experts = c.count("num_experts", 128)
    step = c.size("decoder_sparse_step", default=1)
    mlp_only_list = c.config.get("mlp_only_layers") or []
    if not isinstance(mlp_only_list, list) or not all(type(i) is int for i in mlp_only_list):
        raise ValueError(f"config key 'mlp_only_layers' must be a list of layer indices; got {quote(mlp_only_list)}")
    mlp_only = set(mlp_only_list)
    moe_layers = tuple(
        i for i in range(fields["num_layers"]) if experts > 0 and i not in mlp_only and (i + 1) % step == 0
    )
    bias = c.flag("attention_bias", False)
    return dict(
        fields,
        tie_embeddings=c.tie(False),
        qk_norm=True,
        qkv_bias=bias,
        o_bias=bias,
        **_moe_fields(experts, c.size("num_experts_per_tok", default=8),
                      c.size("moe_intermediate_size", default=768), moe_layers),
        **_window_qwen(c, fields["num_layers"]),
    )


def _read_gemma2(c: _Config) -> dict:
    # transformers/models/gemma2/configuration_gemma2.py: num_key_value_heads=4, head_dim=256,
    # attention_bias=False, tie_word_embeddings=True, sliding_window=4096 on every other layer
    # (layer_types: layer i slides when i is even). modeling_gemma2.py: four RMSNorms per layer
    # (input, post_attention, pre_feedforward, post_feedforward) and a gated GeGLU MLP.
    fields = _llama_family_core(c, kv_default=4, head_dim_default=256)
    bias = c.flag("attention_bias", False)
    window = c.optional_size("sliding_window", default=4096)
    layers = c.layer_types_sliding(fields["num_layers"])
    if layers is None:
        layers = tuple(range(0, fields["num_layers"], 2)) if window else ()
    return dict(fields, tie_embeddings=c.tie(True), norms_per_layer=4, qkv_bias=bias, o_bias=bias,
                sliding_window=window, sliding_window_layers=layers)


def _read_phi3(c: _Config) -> dict:
    # transformers/models/phi3/configuration_phi3.py: num_key_value_heads=None (-> heads),
    # tie_word_embeddings=False, sliding_window=None. modeling_phi3.py: fused qkv_proj and gate_up_proj
    # hold the same weights as separate q/k/v and gate/up projections; no biases.
    fields = _llama_family_core(c, kv_default=None)
    return dict(fields, tie_embeddings=c.tie(False), **_window_everywhere(c, fields["num_layers"], None))


def _read_falcon(c: _Config) -> dict:
    # transformers/models/falcon/configuration_falcon.py: num_kv_heads=None (-> heads), multi_query=True,
    # new_decoder_architecture=False, parallel_attn=True, bias=False, ffn_hidden_size=None (-> 4 * hidden),
    # num_ln_in_parallel_attn=None (-> 2 with the new architecture), tie_word_embeddings=True (base class).
    # modeling_falcon.py: the fused query_key_value projection has
    #   new architecture: (heads + 2 * num_kv_heads) * head_dim outputs (grouped-query),
    #   else multi_query: hidden + 2 * head_dim (one shared KV head), else 3 * hidden (multi-head);
    # bias applies to query_key_value, dense and the MLP; LayerNorms: 2 per layer unless the block is
    # parallel with a single norm. ALiBi and rotary have no parameters.
    hidden = c.size("hidden_size", "n_embed")
    heads = c.size("num_attention_heads", "n_head")
    if hidden % heads:
        raise ValueError(f"hidden_size ({hidden}) is not divisible by num_attention_heads ({heads})")
    new_arch = c.flag("new_decoder_architecture", False)
    if new_arch:
        kv_heads = c.kv_heads(heads, "num_kv_heads", "n_head_kv")
    else:
        kv_heads = 1 if c.flag("multi_query", True) else heads
    parallel = c.flag("parallel_attn", True)
    ln_in_parallel = c.optional_size("num_ln_in_parallel_attn") or (2 if new_arch else 1)
    bias = c.flag("bias", False)
    return dict(
        vocab_size=c.size("vocab_size"),
        hidden_size=hidden,
        num_layers=c.size("num_hidden_layers", "n_layer"),
        num_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=hidden // heads,
        intermediate_size=c.optional_size("ffn_hidden_size") or 4 * hidden,
        tie_embeddings=c.tie(True),
        mlp_kind="plain",
        norm_kind="layernorm",
        norms_per_layer=2 if (not parallel or ln_in_parallel == 2) else 1,
        qkv_bias=bias,
        o_bias=bias,
        mlp_bias=bias,
    )


def _read_bloom(c: _Config) -> dict:
    # transformers/models/bloom/configuration_bloom.py: n_embed is an alias of hidden_size, n_layer and
    # n_head of the layer / head counts; tie_word_embeddings=True (base class). modeling_bloom.py:
    # word_embeddings_layernorm after the embedding, biases on every Linear, MLP width fixed at 4 * hidden,
    # two LayerNorms per block, ALiBi (no position parameters).
    hidden = c.size("hidden_size", "n_embed")
    heads = c.size("n_head", "num_attention_heads")
    if hidden % heads:
        raise ValueError(f"hidden_size ({hidden}) is not divisible by n_head ({heads})")
    return dict(
        vocab_size=c.size("vocab_size"),
        hidden_size=hidden,
        num_layers=c.size("n_layer", "num_hidden_layers"),
        num_heads=heads,
        num_kv_heads=heads,
        head_dim=hidden // heads,
        intermediate_size=4 * hidden,
        tie_embeddings=c.tie(True),
        mlp_kind="plain",
        norm_kind="layernorm",
        embedding_norm=True,
        qkv_bias=True,
        o_bias=True,
        mlp_bias=True,
    )


def _read_deepseek(c: _Config, v3: bool) -> dict:
    # Defaults from transformers/models/deepseek_v2/configuration_deepseek_v2.py and
    # transformers/models/deepseek_v3/configuration_deepseek_v3.py (V2 | V3):
    #   num_key_value_heads None -> heads | 128, q_lora_rank 1536, kv_lora_rank 512, qk_nope_head_dim 128,
    #   qk_rope_head_dim 64, v_head_dim 128, n_routed_experts 64 | 256, n_shared_experts 2 | 1,
    #   num_experts_per_tok None | 8, moe_intermediate_size 1407 | 2048, first_k_dense_replace 0 | 3.
    # modeling_deepseek_v2.py / _v3.py: layer i is MoE when i >= first_k_dense_replace; a MoE block has
    # n_routed_experts gated experts, a router weight (n_routed_experts x hidden) and one shared MLP of
    # width moe_intermediate_size * n_shared_experts. V3's e_score_correction_bias is a registered
    # buffer in transformers, not a parameter, so it is not counted (it is saved in the checkpoint).
    # DeepSeek's own code also requires i % moe_layer_freq == 0; transformers ignores moe_layer_freq;
    # every released checkpoint has moe_layer_freq = 1, where the two agree. We follow DeepSeek's code.
    hidden = c.size("hidden_size")
    heads = c.size("num_attention_heads")
    layers = c.size("num_hidden_layers")
    nope = c.size("qk_nope_head_dim", default=128)
    rope = c.size("qk_rope_head_dim", default=64)
    experts = c.count("n_routed_experts", 256 if v3 else 64)
    moe_layers: tuple[int, ...] = ()
    top_k = 0
    if experts:
        first_dense = c.count("first_k_dense_replace", 3 if v3 else 0)
        freq = c.size("moe_layer_freq", default=1)
        moe_layers = tuple(i for i in range(layers) if i >= first_dense and i % freq == 0)
        top_k = c.size("num_experts_per_tok", default=8 if v3 else None)
    moe_width = c.size("moe_intermediate_size", default=2048 if v3 else 1407)
    bias = c.flag("attention_bias", False)
    fields = dict(
        vocab_size=c.size("vocab_size"),
        hidden_size=hidden,
        num_layers=layers,
        num_heads=heads,
        num_kv_heads=c.kv_heads(heads, default=128 if v3 else None),
        head_dim=nope + rope,
        intermediate_size=c.size("intermediate_size"),
        tie_embeddings=c.tie(False),
        qkv_bias=bias,
        o_bias=bias,
        mlp_bias=False if v3 else c.flag("mlp_bias", False),
        q_lora_rank=c.optional_size("q_lora_rank", default=1536),
        kv_lora_rank=c.size("kv_lora_rank", default=512),
        qk_nope_head_dim=nope,
        qk_rope_head_dim=rope,
        v_head_dim=c.size("v_head_dim", default=128),
    )
    if moe_layers:
        fields.update(_moe_fields(experts, top_k, moe_width, moe_layers))
        fields["shared_experts_intermediate_size"] = moe_width * c.count("n_shared_experts", 1 if v3 else 2)
    return fields


def _moe_fields(experts: int, top_k: int, width: int, moe_layers: tuple[int, ...]) -> dict:
    if top_k > experts:
        raise ValueError(f"num_experts_per_tok ({top_k}) cannot exceed the number of experts ({experts})")
    return dict(num_experts=experts, experts_per_token=top_k, moe_intermediate_size=width, moe_layers=moe_layers)


_READERS: dict[str, Callable[[_Config], dict]] = {
    "gpt2": _read_gpt2,
    "llama": _read_llama,
    "mistral": _read_mistral,
    "mixtral": _read_mixtral,
    "qwen2": _read_qwen2,
    "qwen3": _read_qwen3,
    "qwen3_moe": _read_qwen3_moe,
    "gemma2": _read_gemma2,
    "phi3": _read_phi3,
    "falcon": _read_falcon,
    "bloom": _read_bloom,
    "deepseek_v2": lambda c: _read_deepseek(c, v3=False),
    "deepseek_v3": lambda c: _read_deepseek(c, v3=True),
}

SUPPORTED_MODEL_TYPES: tuple[str, ...] = tuple(_READERS)
