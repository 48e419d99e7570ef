"""GPT-2: learned positions, Conv1D layers with bias, LayerNorm."""

from __future__ import annotations

from ._common import Config


def read_gpt2(c: Config) -> dict:
    # transformers/models/gpt2/configuration_gpt2.py: n_positions=1024, n_inner=None (-> 4 * n_embd),
    # tie_word_embeddings=True. modeling_gpt2.py: Conv1D layers with bias everywhere, LayerNorm ln_1, ln_2,
    # ln_f, and a learned position table wpe of n_positions rows.
    hidden = c.size("n_embd", "hidden_size")
    heads = c.size("n_head", "num_attention_heads")
    if hidden % heads:
        raise ValueError(f"n_embd ({hidden}) is not divisible by n_head ({heads})")
    return dict(
        vocab_size=c.size("vocab_size"),
        hidden_size=hidden,
        num_layers=c.size("n_layer", "num_hidden_layers"),
        num_heads=heads,
        num_kv_heads=heads,
        head_dim=hidden // heads,
        intermediate_size=c.optional_size("n_inner") or 4 * hidden,
        tie_embeddings=c.tie(True),
        mlp_kind="plain",
        norm_kind="layernorm",
        qkv_bias=True,
        o_bias=True,
        mlp_bias=True,
        learned_positions=c.size("n_positions", "max_position_embeddings", default=1024),
    )
