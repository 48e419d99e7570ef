"""Falcon."""

from __future__ import annotations

from ._common import Config, classic_core


def read_falcon(c: Config) -> dict:
    # transformers/models/falcon/configuration_falcon.py: num_kv_heads=None (-> heads), multi_query=True,
    # new_decoder_architecture=False, parallel_attn=True, bias=False, ffn_hidden_size=None (-> 4 * hidden),
    # num_ln_in_parallel_attn=None (-> 2 with the new architecture), tie_word_embeddings=True (base class).
    # modeling_falcon.py: the fused query_key_value projection has
    #   new architecture: (heads + 2 * num_kv_heads) * head_dim outputs (grouped-query),
    #   else multi_query: hidden + 2 * head_dim (one shared KV head), else 3 * hidden (multi-head);
    # bias applies to query_key_value, dense and the MLP; LayerNorms: 2 per layer unless the block is
    # parallel with a single norm. ALiBi and rotary have no parameters.
    fields = classic_core(c, hidden_keys=("hidden_size", "n_embed"), head_keys=("num_attention_heads", "n_head"),
                          layer_keys=("num_hidden_layers", "n_layer"))
    heads = fields["num_heads"]
    new_arch = c.flag("new_decoder_architecture", False)
    if new_arch:
        kv_heads = c.kv_heads(heads, "num_kv_heads", "n_head_kv")
    else:
        kv_heads = 1 if c.flag("multi_query", True) else heads
    parallel = c.flag("parallel_attn", True)
    ln_in_parallel = c.optional_size("num_ln_in_parallel_attn") or (2 if new_arch else 1)
    bias = c.flag("bias", False)
    width = c.optional_size("ffn_hidden_size") or 4 * fields["hidden_size"]
    return dict(fields, num_kv_heads=kv_heads, intermediate_size=width,
                norms_per_layer=2 if (not parallel or ln_in_parallel == 2) else 1, qkv_bias=bias, o_bias=bias,
                mlp_bias=bias)
