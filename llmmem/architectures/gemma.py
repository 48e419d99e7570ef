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


def read_gemma(c: Config) -> dict:
    # transformers/models/gemma/configuration_gemma.py: num_key_value_heads=16, head_dim=256,
    # attention_bias=False, tie_word_embeddings=True. modeling_gemma.py: llama layout, GemmaRMSNorm (weight
    # only, stored as an offset from 1), input and post-attention norms, gated GeGLU MLP.
    fields = llama_family_core(c, kv_default=16, head_dim_default=256)
    bias = c.flag("attention_bias", False)
    return dict(fields, tie_embeddings=c.tie(True), qkv_bias=bias, o_bias=bias)


def read_gemma3_text(c: Config) -> dict:
    # transformers/models/gemma3/configuration_gemma3.py (Gemma3TextConfig): num_key_value_heads=4,
    # head_dim=256, sliding_window=4096, sliding_window_pattern=6 (layer i is global when (i + 1) % 6 == 0,
    # sliding otherwise; an explicit layer_types list wins), tie_word_embeddings=True.
    # modeling_gemma3.py: gemma2's four norms per layer plus q_norm / k_norm RMSNorm(head_dim).
    # Unlike most families, Google's gemma3 text_config files leave out the sizes that equal the class
    # defaults (google/gemma-3-4b-it gives only hidden_size, intermediate_size, num_hidden_layers), so here
    # the core sizes take Gemma3TextConfig's defaults too: vocab_size=262208, hidden_size=2304,
    # intermediate_size=9216, num_hidden_layers=26, num_attention_heads=8.
    hidden = c.size("hidden_size", default=2304)
    heads = c.size("num_attention_heads", default=8)
    fields = dict(
        vocab_size=c.size("vocab_size", default=262208),
        hidden_size=hidden,
        num_layers=c.size("num_hidden_layers", default=26),
        num_heads=heads,
        num_kv_heads=c.kv_heads(heads, default=4),
        head_dim=c.head_dim(hidden, heads, default=256),
        intermediate_size=c.size("intermediate_size", default=9216),
    )
    bias = c.flag("attention_bias", False)
    window = c.optional_size("sliding_window", default=4096)
    layers = c.layer_types_sliding(fields["num_layers"])
    if layers is None:
        pattern = c.size("sliding_window_pattern", default=6)
        layers = tuple(i for i in range(fields["num_layers"]) if (i + 1) % pattern) if window else ()
    return dict(fields, tie_embeddings=c.tie(True), norms_per_layer=4, qk_norm=True, qkv_bias=bias, o_bias=bias,
                sliding_window=window, sliding_window_layers=layers,
                max_position_embeddings=c.size("max_position_embeddings", default=131072))
