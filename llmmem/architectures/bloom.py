"""BLOOM."""

from __future__ import annotations

from ._common import Config


def read_bloom(c: Config) -> dict:
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
