"""Model architecture and exact parameter counting.

A :class:`ModelSpec` is a small, immutable description of a decoder-only LLM: just the shapes that decide
how many parameters it has and how big its KV cache is. Build one from a Hugging Face ``config.json`` with
:meth:`ModelSpec.from_hf_config`; the counts then match what ``transformers`` builds, to the parameter.

How a ``config.json`` is read
-----------------------------
* Each family has its reader in ``llmmem/architectures/<family>.py``; the registry there maps
  ``model_type`` to reader (``SUPPORTED_MODEL_TYPES``). A vision-language config (``text_config`` +
  ``vision_config``) is read by its text model's reader plus the vision tower and projector.
* A key that is absent takes the default of the ``transformers`` config class for that ``model_type``
  (each reader cites the file it copies its defaults from).
* Exception: the core sizes (``vocab_size``, ``hidden_size``, number of layers, number of heads, and the MLP
  width where no rule derives it) must be present. Every real ``config.json`` has them, so a missing one is
  far more likely a typo than a wish for the library's toy default; it raises ``ValueError`` naming the key.
  (Gemma 3's text_config is the exception that proves it: Google's files omit sizes equal to the class
  defaults, so that reader takes them.)
* Weight shapes have one home, :meth:`ModelSpec.weight_tensors`; the counts, ``weight_matrices`` and
  ``llmmem.formats`` derive from it. A checkpoint's ``quantization_config`` is kept on the spec and counted by
  ``llmmem.quantization``.
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
from collections.abc import Mapping
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

from .validation import MAX_TEXT, MissingFileError, WrongTypeError, listing, quote, spec_fields

__all__ = ["ModelSpec", "Tensor", "SUPPORTED_MODEL_TYPES", "catalog_names"]

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
    qk_norm_full: bool = False  # olmo2: q_norm over all heads (heads * head_dim), k_norm over kv_heads * head_dim
    lm_head_bias: bool = False  # phi-2: the lm_head Linear has a bias
    attn_sinks: bool = False  # gpt-oss: one learned attention-sink logit per head and layer

    # Mixture of experts (num_experts == 0: dense model). Routed experts are gated MLPs without bias.
    num_experts: int = 0
    experts_per_token: int = 0
    moe_intermediate_size: int = 0  # width of one routed expert
    shared_experts_intermediate_size: int = 0  # width of the always-on shared MLP (all shared experts)
    moe_layers: tuple[int, ...] = ()  # indices of the layers whose MLP is a MoE block
    router_bias: bool = False  # gpt-oss: the router Linear has a bias
    expert_bias: bool = False  # gpt-oss: every expert projection has a bias
    shared_expert_gate: bool = False  # qwen2_moe: a Linear(hidden, 1) gate on the shared expert

    # Multi-head Latent Attention (DeepSeek-V2/V3); kv_lora_rank == 0 means standard attention.
    q_lora_rank: int | None = None  # None: q is a plain projection, no low-rank bottleneck
    kv_lora_rank: int = 0
    qk_nope_head_dim: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0

    # Sliding-window attention: the window, and which layers use it (information for KV-cache estimates).
    sliding_window: int | None = None
    sliding_window_layers: tuple[int, ...] = ()

    # Mllama (Llama 3.2 Vision): the text layers that cross-attend to the image instead of self-attending.
    # They keep no per-token KV cache (their K/V come from the image), and add q/k norms and two gates.
    cross_attention_layers: tuple[int, ...] = ()
    extra_embedding_rows: int = 0  # mllama: embed_tokens has vocab_size + 8 rows (image and padding tokens)

    # Vision-language models: the vision tower and projector as (name, component, rows, cols, count) tensors,
    # component "vision_tower" or "projector"; () for a text-only model. They hold weights, never KV cache.
    vision_tensors: tuple[tuple[str, str, int, int, int], ...] = ()

    # How long a sequence the model is built for (max_position_embeddings, or the rope-scaled limit); None
    # when the config does not say.
    max_position_embeddings: int | None = None
    # The RoPE cos/sin tables vLLM precomputes at load, one (positions, rotary_dim) pair per distinct table
    # (architectures.rope_tables); () for learned or ALiBi positions. Not parameters, but loaded memory.
    rope_tables: tuple[tuple[int, int], ...] = ()
    # The checkpoint's own quantization_config, as canonical JSON ("" when the checkpoint is not quantized);
    # read it through the ``quantization`` property.
    quantization_config: str = ""

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
        from .architectures import read_config

        config, source = _load_config(cfg)
        if name is not None and not isinstance(name, str):
            raise WrongTypeError(f"name must be a string; got {quote(name)}")
        model_type, fields = read_config(config)
        spec_name = name or config.get("_name_or_path") or model_type
        if not isinstance(spec_name, str) or len(spec_name) > MAX_TEXT:
            spec_name = model_type  # a non-string or absurd '_name_or_path' is only a label: not worth failing
        return cls(name=spec_name, model_type=model_type, source=source, **fields)

    @property
    def quantization(self) -> dict[str, Any] | None:
        """The checkpoint's ``quantization_config`` (a new dict each call), or None when it has none."""
        return json.loads(self.quantization_config) if self.quantization_config else None

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

    # ------------------------------------------------------------------ the one home of weight shapes

    def weight_tensors(self) -> tuple[Tensor, ...]:
        """Every parameter tensor, with GGUF-style names; their numel sums to :meth:`num_params`.

        This is the one place that lists weight shapes: :meth:`param_counts`, :meth:`weight_matrices`,
        ``llmmem.formats.weight_tensors`` and the checkpoint-quantization rules all read it. Shapes follow
        the module layout of transformers' ``modeling_<type>.py``, written (out_features, in_features);
        1-D tensors (norm weights, biases) have ``rows == 1``. Fused projections (gpt2's c_attn, phi3's
        qkv_proj, ...) are listed as their parts with ``module`` naming the fused Linear.
        """
        return _tensors(self)

    def param_counts(self) -> dict[str, int]:
        """Parameters by component; the values sum to :meth:`num_params`.

        ``embedding``: token embedding + learned position table; ``attention``: all attention projections
        (and gpt-oss's attention sinks); ``mlp``: dense MLPs, routed experts, routers and shared experts;
        ``norms``: every norm's weight and bias; ``lm_head``: the output projection (and its bias), 0 when
        tied to the embedding. Vision-language models add ``vision_tower`` and ``projector``.
        """
        counts = {"embedding": 0, "attention": 0, "mlp": 0, "norms": 0, "lm_head": 0}
        for t in self.weight_tensors():
            counts[t.component] = counts.get(t.component, 0) + t.numel
        return counts

    def num_params(self) -> int:
        """Exact number of parameters, tied embeddings counted once (vision tower included for a VLM)."""
        return sum(self.param_counts().values())

    def num_language_params(self) -> int:
        """Parameters of the language model alone (a VLM's vision tower and projector left out)."""
        c = self.param_counts()
        return self.num_params() - c.get("vision_tower", 0) - c.get("projector", 0)

    def num_active_params(self, include_embedding: bool = True) -> int:
        """Parameters one token passes through: the total less the routed experts it does not use.

        active = total - routed_expert_params * (E - k) / E, with E experts of which k are chosen per token.
        Shared experts, routers, attention and dense layers are always active. For a dense model this is
        :meth:`num_params`.

        Vendors differ on the input embedding (a lookup, not a matmul): Mixtral and Qwen count it as active
        (``include_embedding=True``, the default), DeepSeek does not (``include_embedding=False`` subtracts
        the ``embedding`` component: token embedding, plus learned positions where the model has them).
        """
        active = self.num_params()
        if self.num_experts:
            routed = sum(t.numel for t in self.weight_tensors() if t.kind == "expert")
            active -= routed * (self.num_experts - self.experts_per_token) // self.num_experts
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
        A vision-language model's vision tower keeps no KV cache: only the language layers count.
        """
        if bytes_per_elem <= 0:
            raise ValueError(f"bytes_per_elem must be positive; got {bytes_per_elem}")
        layers = self.num_layers - len(self.cross_attention_layers)  # cross-attention K/V come from the image
        if self.kv_lora_rank:
            elems = (self.kv_lora_rank + self.qk_rope_head_dim) * layers
        else:
            elems = 2 * layers * self.num_kv_heads * self.head_dim
        return int(elems * bytes_per_elem)

    # ------------------------------------------------------------------ weight shapes

    def weight_matrices(self) -> tuple[tuple[str, int, int, int], ...]:
        """Every 2-D weight as (name, rows, cols, how many in the model); the rest are 1-D vectors.

        What optimizers that factor their state (Adafactor) and formats that quantize per tensor (GGUF)
        need. Derived from :meth:`weight_tensors`. Fused projections stay fused as transformers builds them
        (gpt2, phi3, falcon, bloom, gpt_neox, gpt_bigcode), since a fused matrix factors differently from its
        parts. The 1-D rest (norms, biases) is ``num_params() - sum(rows * cols * count)``.
        """
        per_layer: dict[tuple, list] = {}  # (layer, module) -> [rows, cols, count]
        for t in self.weight_tensors():
            if t.rows == 1 and t.kind == "vector":
                continue
            key = (t.layer, t.module)
            if key in per_layer:  # a fused module: its parts stack along the output dimension
                per_layer[key][0] += t.rows
            else:
                per_layer[key] = [t.rows, t.cols, t.count]
        merged: dict[tuple[str, int, int], int] = {}
        for (_, module), (rows, cols, count) in per_layer.items():
            merged[(module, rows, cols)] = merged.get((module, rows, cols), 0) + count
        return tuple((m, r, c, n) for (m, r, c), n in merged.items())

    # ------------------------------------------------------------------ pieces

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0 and len(self.moe_layers) > 0

    @property
    def uses_mla(self) -> bool:
        return self.kv_lora_rank > 0

    @property
    def is_multimodal(self) -> bool:
        return bool(self.vision_tensors)


@dataclass(frozen=True)
class Tensor:
    """``count`` identical weight tensors: rows x cols (cols = input features; 1-D tensors have rows=1).

    ``component`` is the ModelSpec.param_counts() key the tensor belongs to; ``kind`` says what it is
    ("matrix", "vector" for norms and biases, "router", "expert" for routed experts); ``layer`` is its
    block index (None outside blocks); ``module`` is the transformers-style module name it lives in
    ("q_proj", "qkv_proj" for a fused projection, "expert_gate_proj", ...); ``path`` is the canonical
    checkpoint path ("model.layers.3.self_attn.q_proj") that quantization ignore lists are matched against.
    """

    name: str
    component: str
    rows: int
    cols: int
    count: int = 1
    kind: str = "matrix"
    layer: int | None = None
    module: str = ""
    path: str = ""

    @property
    def numel(self) -> int:
        return self.count * self.rows * self.cols


# Types whose attention is one fused query_key_value / c_attn / qkv_proj Linear in transformers.
_FUSED_QKV = frozenset({"gpt2", "phi3", "falcon", "bloom", "gpt_neox", "gpt_bigcode"})
# Types whose gated MLP is one fused gate_up_proj Linear.
_FUSED_GATE_UP = frozenset({"phi3"})


@functools.lru_cache(maxsize=256)
def _tensors(s: ModelSpec) -> tuple[Tensor, ...]:
    h = s.hidden_size
    norm_vectors = 2 if s.norm_kind == "layernorm" else 1  # weight (+ bias)
    out: list[Tensor] = [Tensor("token_embd.weight", "embedding", s.vocab_size + s.extra_embedding_rows, h,
                                module="embedding", path="model.embed_tokens")]
    if s.learned_positions:
        out.append(Tensor("position_embd.weight", "embedding", s.learned_positions, h, module="position_embedding",
                          path="model.embed_positions"))
    if s.embedding_norm:
        out.append(Tensor("token_embd_norm", "norms", 1, h, norm_vectors, "vector", module="embedding_norm",
                          path="model.embed_norm"))
    qkv_fused = s.model_type in _FUSED_QKV
    gate_up_fused = s.model_type in _FUSED_GATE_UP
    moe = set(s.moe_layers)

    for i in range(s.num_layers):
        attn, mlp = f"model.layers.{i}.self_attn", f"model.layers.{i}.mlp"

        def lin(name, component, rows, cols, module, path, bias=False, count=1, kind="matrix", layer=i):
            out.append(Tensor(f"blk.{layer}.{name}.weight", component, rows, cols, count, kind, layer, module, path))
            if bias:
                out.append(Tensor(f"blk.{layer}.{name}.bias", component, 1, rows, count, "vector", layer, module,
                                  path))

        def vec(name, size, copies, path, layer=i):
            out.append(Tensor(f"blk.{layer}.{name}", "norms", 1, size, copies * norm_vectors, "vector", layer,
                              name, path))

        vec("norms", h, s.norms_per_layer, f"model.layers.{i}.norms")
        if s.qk_norm:
            if s.qk_norm_full:  # olmo2: one RMSNorm over all q heads, one over all k heads
                vec("attn_q_norm", s.num_heads * s.head_dim, 1, f"{attn}.q_norm")
                vec("attn_k_norm", s.num_kv_heads * s.head_dim, 1, f"{attn}.k_norm")
            else:
                vec("attn_qk_norm", s.head_dim, 2, f"{attn}.qk_norm")
        # ---- attention
        if s.uses_mla:
            qk = s.qk_nope_head_dim + s.qk_rope_head_dim
            if s.q_lora_rank is None:
                lin("attn_q", "attention", s.num_heads * qk, h, "q_proj", f"{attn}.q_proj")
            else:
                lin("attn_q_a", "attention", s.q_lora_rank, h, "q_a_proj", f"{attn}.q_a_proj", s.qkv_bias)
                vec("attn_q_a_norm", s.q_lora_rank, 1, f"{attn}.q_a_layernorm")
                lin("attn_q_b", "attention", s.num_heads * qk, s.q_lora_rank, "q_b_proj", f"{attn}.q_b_proj")
            lin("attn_kv_a_mqa", "attention", s.kv_lora_rank + s.qk_rope_head_dim, h, "kv_a_proj",
                f"{attn}.kv_a_proj_with_mqa", s.qkv_bias)
            vec("attn_kv_a_norm", s.kv_lora_rank, 1, f"{attn}.kv_a_layernorm")
            lin("attn_kv_b", "attention", s.num_heads * (s.qk_nope_head_dim + s.v_head_dim), s.kv_lora_rank,
                "kv_b_proj", f"{attn}.kv_b_proj")
            lin("attn_output", "attention", h, s.num_heads * s.v_head_dim, "o_proj", f"{attn}.o_proj", s.o_bias)
        else:
            q_out, kv_out = s.num_heads * s.head_dim, s.num_kv_heads * s.head_dim
            for part, rows in (("q", q_out), ("k", kv_out), ("v", kv_out)):
                module = "qkv_proj" if qkv_fused else f"{part}_proj"
                lin(f"attn_{part}", "attention", rows, h, module, f"{attn}.{module}", s.qkv_bias)
            lin("attn_output", "attention", h, q_out, "o_proj", f"{attn}.o_proj", s.o_bias)
            if i in s.cross_attention_layers:  # mllama: q_norm, k_norm (head_dim) and the two tanh gates
                vec("cross_attn_qk_norm", s.head_dim, 2, f"{attn}.cross_qk_norm")
                out.append(Tensor(f"blk.{i}.cross_attn_gates", "attention", 1, 2, 1, "vector", i, "gates",
                                  f"model.layers.{i}.cross_attn_gates"))
            if s.attn_sinks:  # gpt-oss: one learned sink logit per head
                out.append(Tensor(f"blk.{i}.attn_sinks", "attention", 1, s.num_heads, 1, "vector", i, "sinks",
                                  f"{attn}.sinks"))
        # ---- MLP
        if i in moe:
            w, e = s.moe_intermediate_size, s.num_experts
            lin("ffn_gate_inp", "mlp", e, h, "router", f"{mlp}.gate", s.router_bias, kind="router")
            ex = f"{mlp}.experts"
            lin("ffn_gate_exps", "mlp", w, h, "expert_gate_proj", f"{ex}.gate_proj", s.expert_bias, e, "expert")
            lin("ffn_up_exps", "mlp", w, h, "expert_up_proj", f"{ex}.up_proj", s.expert_bias, e, "expert")
            lin("ffn_down_exps", "mlp", h, w, "expert_down_proj", f"{ex}.down_proj", s.expert_bias, e, "expert")
            if s.shared_experts_intermediate_size:
                ws, sh = s.shared_experts_intermediate_size, f"{mlp}.shared_expert"
                lin("ffn_gate_shexp", "mlp", ws, h, "shared_gate_proj", f"{sh}.gate_proj", s.mlp_bias)
                lin("ffn_up_shexp", "mlp", ws, h, "shared_up_proj", f"{sh}.up_proj", s.mlp_bias)
                lin("ffn_down_shexp", "mlp", h, ws, "shared_down_proj", f"{sh}.down_proj", s.mlp_bias)
                if s.shared_expert_gate:  # qwen2_moe: Linear(hidden, 1) scaling the shared expert
                    lin("ffn_gate_inp_shexp", "mlp", 1, h, "shared_expert_gate", f"{mlp}.shared_expert_gate",
                        kind="router")
        else:
            f = s.intermediate_size
            if s.mlp_kind == "gated":
                module = "gate_up_proj" if gate_up_fused else "gate_proj"
                lin("ffn_gate", "mlp", f, h, module, f"{mlp}.{module}", s.mlp_bias)
            module = "gate_up_proj" if gate_up_fused and s.mlp_kind == "gated" else "up_proj"
            lin("ffn_up", "mlp", f, h, module, f"{mlp}.{module}", s.mlp_bias)
            lin("ffn_down", "mlp", h, f, "down_proj", f"{mlp}.down_proj", s.mlp_bias)
    out.append(Tensor("output_norm", "norms", 1, h, norm_vectors, "vector", module="norm", path="model.norm"))
    if not s.tie_embeddings:
        out.append(Tensor("output.weight", "lm_head", s.vocab_size, h, module="lm_head", path="lm_head"))
        if s.lm_head_bias:
            out.append(Tensor("output.bias", "lm_head", 1, s.vocab_size, kind="vector", module="lm_head",
                              path="lm_head"))
    for name, component, rows, cols, count in s.vision_tensors:
        kind = "vector" if rows == 1 else "matrix"
        out.append(Tensor(name, component, rows, cols, count, kind, module=name.rsplit(".", 1)[0], path=name))
    return tuple(out)


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


from .architectures import SUPPORTED_MODEL_TYPES  # noqa: E402  (the registry lives with the readers)
