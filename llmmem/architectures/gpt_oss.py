"""OpenAI gpt-oss (20b, 120b)."""

from __future__ import annotations

from ._common import Config, llama_family_core, moe_fields


def read_gpt_oss(c: Config) -> dict:
    # transformers/models/gpt_oss/configuration_gpt_oss.py: num_key_value_heads=8, head_dim=64,
    # attention_bias=True, num_local_experts=128, num_experts_per_tok=4, sliding_window=128 on alternate
    # layers (layer_types: even layers slide), tie_word_embeddings=False. modeling_gpt_oss.py: q/k/v/o with
    # bias, a learned sink logit per head ("sinks"), a router Linear(hidden, E) with bias, experts whose
    # gate_up_proj and down_proj carry biases; every layer is MoE; no shared expert.
    fields = llama_family_core(c, kv_default=8, head_dim_default=64)
    layers = fields["num_layers"]
    bias = c.flag("attention_bias", True)
    window = c.optional_size("sliding_window", default=128)
    sliding = c.layer_types_sliding(layers)
    if sliding is None:
        sliding = tuple(range(0, layers, 2)) if window else ()
    return dict(
        fields,
        tie_embeddings=c.tie(False),
        qkv_bias=bias,
        o_bias=bias,
        attn_sinks=True,
        **moe_fields(c.size("num_local_experts", default=128), c.size("num_experts_per_tok", default=4),
                     fields["intermediate_size"], tuple(range(layers))),
        router_bias=True,
        expert_bias=True,
        sliding_window=window,
        sliding_window_layers=sliding,
    )
