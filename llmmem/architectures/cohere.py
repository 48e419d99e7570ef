"""Cohere Command R7B / Command A (cohere2)."""

from __future__ import annotations

from ._common import Config, llama_family_core


def read_cohere2(c: Config) -> dict:
    # transformers/models/cohere2/configuration_cohere2.py: num_key_value_heads=None (-> heads), head_dim
    # from hidden / heads, attention_bias=False, tie_word_embeddings=True, sliding_window=4096 with
    # sliding_window_pattern=4 (layer i global when (i + 1) % 4 == 0). modeling_cohere2.py: a parallel block
    # with one Cohere2LayerNorm (weight only, no bias) per layer, and a gated MLP.
    fields = llama_family_core(c, kv_default=None)
    bias = c.flag("attention_bias", False)
    window = c.optional_size("sliding_window", default=4096)
    layers = c.layer_types_sliding(fields["num_layers"])
    if layers is None:
        pattern = c.size("sliding_window_pattern", default=4)
        layers = tuple(i for i in range(fields["num_layers"]) if (i + 1) % pattern) if window else ()
    return dict(fields, tie_embeddings=c.tie(True), norms_per_layer=1, qkv_bias=bias, o_bias=bias,
                sliding_window=window, sliding_window_layers=layers)
