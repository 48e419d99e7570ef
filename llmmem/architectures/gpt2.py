"""GPT-2: learned positions, Conv1D layers with bias, LayerNorm."""

from __future__ import annotations

from ._common import Config, classic_core


def read_gpt2(c: Config) -> dict:
    # transformers/models/gpt2/configuration_gpt2.py: n_positions=1024, n_inner=None (-> 4 * n_embd),
    # tie_word_embeddings=True. modeling_gpt2.py: Conv1D layers with bias everywhere, LayerNorm ln_1, ln_2,
    # ln_f, and a learned position table wpe of n_positions rows.
    fields = classic_core(c)
    width = c.optional_size("n_inner") or 4 * fields["hidden_size"]
    return dict(fields, intermediate_size=width, qkv_bias=True, o_bias=True, mlp_bias=True,
                learned_positions=c.size("n_positions", "max_position_embeddings", default=1024))
