"""What every family reader shares: typed access to a config dict, and the sizes most configs spell alike.

Standard library only: ``import llmmem`` stays light.
"""

from __future__ import annotations

from typing import Any

from ..validation import MAX_DIM, MAX_LAYERS, quote

_REQUIRED = object()


class Config:
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
        return positive_int(key, value)

    def optional_size(self, *keys: str, default: int | None = None) -> int | None:
        """A positive int or None (null means 'derive it' or 'absent feature', as in transformers)."""
        key, value = self._lookup(keys, default)
        return None if value is None else positive_int(key, value)

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


def positive_int(key: str, value: Any) -> int:
    """A positive int, bounded before any per-layer tuple is built (llmmem.validation: layers <= 10,000,
    other sizes <= 10^8), so a config with 10^8 layers or a 400-digit vocab_size is refused at once."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"config key {key!r} must be a positive integer; got {quote(value)}")
    limit, why = (MAX_LAYERS, "60x the deepest published LLM") if key in _LAYER_KEYS else (MAX_DIM, "400x real widths")
    if value > limit:
        raise ValueError(f"config key {key!r} must be at most {limit:,} ({why}); got {quote(value)}")
    return value


def index_list(c: Config, key: str) -> list[int]:
    """A config list of layer indices (e.g. mlp_only_layers); null or missing is empty."""
    value = c.config.get(key) or []
    if not isinstance(value, list) or not all(type(i) is int for i in value):
        raise ValueError(f"config key {key!r} must be a list of layer indices; got {quote(value)}")
    return value


def llama_family_core(c: Config, *, kv_default: int | None, head_dim_default: int | None = None) -> dict:
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


def classic_core(c: Config, hidden_keys: tuple[str, ...] = ("n_embd", "hidden_size"),
                 head_keys: tuple[str, ...] = ("n_head", "num_attention_heads"),
                 layer_keys: tuple[str, ...] = ("n_layer", "num_hidden_layers")) -> dict:
    """Sizes shared by the pre-llama configs (gpt2, gpt_bigcode, bloom, falcon): multi-head attention with
    head_dim = hidden / heads, a plain MLP, LayerNorms, tied embeddings by default. Each family names the same
    sizes its own way: the first key of each tuple is the one its error message uses."""
    hidden = c.size(*hidden_keys)
    heads = c.size(*head_keys)
    if hidden % heads:
        raise ValueError(f"{hidden_keys[0]} ({hidden}) is not divisible by {head_keys[0]} ({heads})")
    return dict(vocab_size=c.size("vocab_size"), hidden_size=hidden, num_layers=c.size(*layer_keys),
                num_heads=heads, num_kv_heads=heads, head_dim=hidden // heads, tie_embeddings=c.tie(True),
                mlp_kind="plain", norm_kind="layernorm")


def sparse_moe_layers(c: Config, num_layers: int, experts: int) -> tuple[int, ...]:
    """Qwen-MoE style: layer i is MoE unless listed in mlp_only_layers or (i + 1) % decoder_sparse_step != 0
    (transformers modeling_qwen2_moe.py / modeling_qwen3_moe.py)."""
    step = c.size("decoder_sparse_step", default=1)
    mlp_only = set(index_list(c, "mlp_only_layers"))
    return tuple(i for i in range(num_layers) if experts > 0 and i not in mlp_only and (i + 1) % step == 0)


def window_everywhere(c: Config, num_layers: int, default: int | None) -> dict:
    """Mistral/Phi3 style: when sliding_window is set, every layer uses it."""
    window = c.optional_size("sliding_window", default=default)
    layers = c.layer_types_sliding(num_layers)
    if layers is None:
        layers = tuple(range(num_layers)) if window else ()
    return dict(sliding_window=window, sliding_window_layers=layers)


def window_qwen(c: Config, num_layers: int) -> dict:
    """Qwen2/Qwen3 style: a window only with use_sliding_window, on layers >= max_window_layers."""
    window = c.optional_size("sliding_window", default=4096) if c.flag("use_sliding_window", False) else None
    layers = c.layer_types_sliding(num_layers)
    if layers is None:
        first = c.count("max_window_layers", 28)
        layers = tuple(range(first, num_layers)) if window else ()
    return dict(sliding_window=window, sliding_window_layers=layers)



def moe_fields(experts: int, top_k: int, width: int, moe_layers: tuple[int, ...]) -> dict:
    if top_k > experts:
        raise ValueError(f"num_experts_per_tok ({top_k}) cannot exceed the number of experts ({experts})")
    return dict(num_experts=experts, experts_per_token=top_k, moe_intermediate_size=width, moe_layers=moe_layers)
