"""AllenAI OLMo 2."""

from __future__ import annotations

from ._common import Config, llama_family_core


def read_olmo2(c: Config) -> dict:
    # transformers/models/olmo2/configuration_olmo2.py: num_key_value_heads=None (-> heads),
    # attention_bias=False, tie_word_embeddings=False. modeling_olmo2.py: norms after the sublayers
    # (post_attention_layernorm, post_feedforward_layernorm: two per layer, no input norm), and q_norm /
    # k_norm RMSNorms over the whole projection (heads * head_dim, kv_heads * head_dim), not per head.
    fields = llama_family_core(c, kv_default=None)
    bias = c.flag("attention_bias", False)
    return dict(fields, tie_embeddings=c.tie(False), qk_norm=True, qk_norm_full=True, qkv_bias=bias, o_bias=bias)
