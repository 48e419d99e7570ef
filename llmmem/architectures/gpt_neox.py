"""EleutherAI GPT-NeoX and Pythia."""

from __future__ import annotations

from ._common import Config, llama_family_core


def read_gpt_neox(c: Config) -> dict:
    # transformers/models/gpt_neox/configuration_gpt_neox.py: attention_bias=True, tie_word_embeddings=False,
    # use_parallel_residual=True (no effect on the count). modeling_gpt_neox.py: one fused query_key_value
    # Linear (3 * hidden) and dense, both with bias when attention_bias; dense_h_to_4h / dense_4h_to_h with
    # bias; input and post-attention LayerNorms with bias, final_layer_norm; embed_in and a separate
    # embed_out (lm_head). Multi-head: one KV head per query head.
    fields = llama_family_core(c, kv_default=None)
    fields["num_kv_heads"] = fields["num_heads"]
    bias = c.flag("attention_bias", True)
    return dict(fields, tie_embeddings=c.tie(False), mlp_kind="plain", norm_kind="layernorm", qkv_bias=bias,
                o_bias=bias, mlp_bias=True)
