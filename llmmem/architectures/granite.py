"""IBM Granite 3.x: granite (dense) and granitemoe."""

from __future__ import annotations

from ._common import Config, llama_family_core, moe_fields


def read_granite(c: Config) -> dict:
    # transformers/models/granite/configuration_granite.py: llama's layout and defaults
    # (num_key_value_heads=None -> heads, attention_bias=False, mlp_bias=False, tie_word_embeddings=False)
    # plus four scalar multipliers (embedding, attention, residual, logits) that are config numbers, not
    # parameters. Released Granite 3.x configs set tie_word_embeddings=true.
    fields = llama_family_core(c, kv_default=None)
    bias = c.flag("attention_bias", False)
    return dict(fields, tie_embeddings=c.tie(False), qkv_bias=bias, o_bias=bias, mlp_bias=c.flag("mlp_bias", False))


def read_granitemoe(c: Config) -> dict:
    # transformers/models/granitemoe/configuration_granitemoe.py: num_local_experts=8, num_experts_per_tok=2,
    # intermediate_size is the width of one expert. modeling_granitemoe.py: every layer is MoE; the experts'
    # input_linear holds gate and up (2 x width rows), output_linear the down projection; the router is a
    # Linear(hidden, num_experts, bias=False); no dense MLP, no shared expert.
    fields = llama_family_core(c, kv_default=None)
    bias = c.flag("attention_bias", False)
    experts = c.size("num_local_experts", default=8)
    return dict(fields, tie_embeddings=c.tie(False), qkv_bias=bias, o_bias=bias,
                **moe_fields(experts, c.size("num_experts_per_tok", default=2), fields["intermediate_size"],
                             tuple(range(fields["num_layers"]))))
