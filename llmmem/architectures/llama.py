"""Llama and its close kin: llama, mistral, mixtral."""

from __future__ import annotations

from ._common import Config, llama_family_core, moe_fields, window_everywhere


def read_llama(c: Config) -> dict:
    # transformers/models/llama/configuration_llama.py: num_key_value_heads=None (-> heads), head_dim=None
    # (-> hidden / heads), attention_bias=False (q, k, v and o), mlp_bias=False, tie_word_embeddings=False.
    fields = llama_family_core(c, kv_default=None)
    bias = c.flag("attention_bias", False)
    return dict(fields, tie_embeddings=c.tie(False), qkv_bias=bias, o_bias=bias, mlp_bias=c.flag("mlp_bias", False))


def read_mistral(c: Config) -> dict:
    # transformers/models/mistral/configuration_mistral.py: num_key_value_heads=8, head_dim=None,
    # sliding_window=4096 (all layers), tie_word_embeddings=False; no biases.
    fields = llama_family_core(c, kv_default=8)
    return dict(fields, tie_embeddings=c.tie(False), **window_everywhere(c, fields["num_layers"], 4096))


def read_mixtral(c: Config) -> dict:
    # transformers/models/mixtral/configuration_mixtral.py: num_key_value_heads=8, num_local_experts=8,
    # num_experts_per_tok=2, sliding_window=None. modeling_mixtral.py: every layer is MoE; experts are
    # gated MLPs of width intermediate_size; the router is Linear(hidden, num_experts, bias=False).
    fields = llama_family_core(c, kv_default=8)
    experts = c.size("num_local_experts", "num_experts", default=8)
    return dict(
        fields,
        tie_embeddings=c.tie(False),
        **moe_fields(experts, c.size("num_experts_per_tok", default=2), fields["intermediate_size"],
                      tuple(range(fields["num_layers"]))),
        **window_everywhere(c, fields["num_layers"], None),
    )
