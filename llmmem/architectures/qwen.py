"""Qwen2, Qwen3, Qwen3-MoE."""

from __future__ import annotations

from ._common import Config, llama_family_core, moe_fields, sparse_moe_layers, window_qwen


def read_qwen2(c: Config) -> dict:
    # transformers/models/qwen2/configuration_qwen2.py: num_key_value_heads=32, use_sliding_window=False,
    # max_window_layers=28, tie_word_embeddings=False. modeling_qwen2.py: q/k/v_proj have bias, o_proj not.
    fields = llama_family_core(c, kv_default=32)
    return dict(fields, tie_embeddings=c.tie(False), qkv_bias=True, **window_qwen(c, fields["num_layers"]))


def read_qwen3(c: Config) -> dict:
    # transformers/models/qwen3/configuration_qwen3.py: num_key_value_heads=32, head_dim=128 (not
    # hidden / heads!), attention_bias=False (q, k, v, o), tie_word_embeddings=False.
    # modeling_qwen3.py: q_norm and k_norm, RMSNorm(head_dim), in every attention layer.
    fields = llama_family_core(c, kv_default=32, head_dim_default=128)
    bias = c.flag("attention_bias", False)
    return dict(fields, tie_embeddings=c.tie(False), qk_norm=True, qkv_bias=bias, o_bias=bias,
                **window_qwen(c, fields["num_layers"]))


def read_qwen3_moe(c: Config) -> dict:
    # transformers/models/qwen3_moe/configuration_qwen3_moe.py: num_key_value_heads=4, head_dim absent
    # (-> hidden / heads), num_experts=128, num_experts_per_tok=8, moe_intermediate_size=768,
    # decoder_sparse_step=1, mlp_only_layers=[] . modeling_qwen3_moe.py: layer i is MoE unless i is in
    # mlp_only_layers or (i + 1) % decoder_sparse_step != 0; no shared expert; q_norm/k_norm as qwen3.
    fields = llama_family_core(c, kv_default=4)
    experts = c.count("num_experts", 128)
    moe_layers = sparse_moe_layers(c, fields["num_layers"], experts)
    bias = c.flag("attention_bias", False)
    return dict(
        fields,
        tie_embeddings=c.tie(False),
        qk_norm=True,
        qkv_bias=bias,
        o_bias=bias,
        **moe_fields(experts, c.size("num_experts_per_tok", default=8),
                      c.size("moe_intermediate_size", default=768), moe_layers),
        **window_qwen(c, fields["num_layers"]),
    )


def read_qwen2_moe(c: Config) -> dict:
    # transformers/models/qwen2_moe/configuration_qwen2_moe.py: num_key_value_heads=16, num_experts=60,
    # num_experts_per_tok=4, moe_intermediate_size=1408, shared_expert_intermediate_size=5632,
    # decoder_sparse_step=1, mlp_only_layers=[]. modeling_qwen2_moe.py: qwen2 attention (q/k/v bias), layer i
    # is MoE unless in mlp_only_layers or (i + 1) % decoder_sparse_step != 0 (dense layers use
    # intermediate_size); a MoE block has a router gate, the experts, one shared expert (gated MLP of
    # shared_expert_intermediate_size) and shared_expert_gate, a Linear(hidden, 1) without bias.
    fields = llama_family_core(c, kv_default=16)
    experts = c.count("num_experts", 60)
    moe_layers = sparse_moe_layers(c, fields["num_layers"], experts)
    shared = c.count("shared_expert_intermediate_size", 5632)
    return dict(
        fields,
        tie_embeddings=c.tie(False),
        qkv_bias=True,
        **moe_fields(experts, c.size("num_experts_per_tok", default=4),
                     c.size("moe_intermediate_size", default=1408), moe_layers),
        shared_experts_intermediate_size=shared,
        shared_expert_gate=bool(shared),
        **window_qwen(c, fields["num_layers"]),
    )
