"""Phi-3 / Phi-4."""

from __future__ import annotations

from ._common import Config, llama_family_core, window_everywhere


def read_phi3(c: Config) -> dict:
    # transformers/models/phi3/configuration_phi3.py: num_key_value_heads=None (-> heads),
    # tie_word_embeddings=False, sliding_window=None. modeling_phi3.py: fused qkv_proj and gate_up_proj
    # hold the same weights as separate q/k/v and gate/up projections; no biases.
    fields = llama_family_core(c, kv_default=None)
    return dict(fields, tie_embeddings=c.tie(False), **window_everywhere(c, fields["num_layers"], None))


def read_phi(c: Config) -> dict:
    # transformers/models/phi/configuration_phi.py (Phi-1/1.5/2): num_key_value_heads=None (-> heads),
    # qk_layernorm=False, tie_word_embeddings=False. modeling_phi.py: a parallel block with one LayerNorm
    # (input_layernorm), q/k/v and dense (o) projections with bias, a plain GELU MLP fc1/fc2 with bias,
    # final_layernorm, and an lm_head Linear with bias. Partial rotary embeddings have no parameters.
    fields = llama_family_core(c, kv_default=None)
    if c.flag("qk_layernorm", False):
        raise ValueError("phi configs with qk_layernorm=true (LayerNorms on q and k) are not supported")
    return dict(fields, tie_embeddings=c.tie(False), mlp_kind="plain", norm_kind="layernorm", norms_per_layer=1,
                qkv_bias=True, o_bias=True, mlp_bias=True, lm_head_bias=not c.tie(False))
