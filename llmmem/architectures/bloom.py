"""BLOOM."""

from __future__ import annotations

from ._common import Config, classic_core


def read_bloom(c: Config) -> dict:
    # transformers/models/bloom/configuration_bloom.py: n_embed is an alias of hidden_size, n_layer and
    # n_head of the layer / head counts; tie_word_embeddings=True (base class). modeling_bloom.py:
    # word_embeddings_layernorm after the embedding, biases on every Linear, MLP width fixed at 4 * hidden,
    # two LayerNorms per block, ALiBi (no position parameters).
    fields = classic_core(c, hidden_keys=("hidden_size", "n_embed"))
    return dict(fields, intermediate_size=4 * fields["hidden_size"], embedding_norm=True, qkv_bias=True,
                o_bias=True, mlp_bias=True)
