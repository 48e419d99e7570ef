"""Gemma 2."""

from __future__ import annotations

from ._common import Config, llama_family_core


def read_gemma2(c: Config) -> dict:
    # transformers/models/gemma2/configuration_gemma2.py: num_key_value_heads=4, head_dim=256,
    # attention_bias=False, tie_word_embeddings=True, sliding_window=4096 on every other layer
    # (layer_types: layer i slides when i is even). modeling_gemma2.py: four RMSNorms per layer
    # (input, post_attention, pre_feedforward, post_feedforward) and a gated GeGLU MLP.
    fields = llama_family_core(c, kv_default=4, head_dim_default=256)
    bias = c.flag("attention_bias", False)
    window = c.optional_size("sliding_window", default=4096)
    layers = c.layer_types_sliding(fields["num_layers"])
    if layers is None:
        layers = tuple(range(0, fields["num_layers"], 2)) if window else ()
    return dict(fields, tie_embeddings=c.tie(True), norms_per_layer=4, qkv_bias=bias, o_bias=bias,
                sliding_window=window, sliding_window_layers=layers)
