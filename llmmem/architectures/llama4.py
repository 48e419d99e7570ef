"""Llama 4 (Scout, Maverick): the text model; the vision tower is read in vision.py."""

from __future__ import annotations

from ._common import Config, index_list, llama_family_core, moe_fields


def read_llama4_text(c: Config) -> dict:
    # transformers/models/llama4/configuration_llama4.py (Llama4TextConfig): num_key_value_heads=8,
    # head_dim=128, intermediate_size=8192 (one expert and the shared expert), intermediate_size_mlp=16384
    # (dense layers), num_local_experts=16, num_experts_per_tok=1, interleave_moe_layer_step=1, and
    # moe_layers = every interleave_moe_layer_step-th layer (indices step-1, 2*step-1, ...) unless listed.
    # modeling_llama4.py: a MoE block is a router Linear(hidden, E, bias=False), E experts (gate_up_proj,
    # down_proj) and one shared expert, a gated MLP of intermediate_size; use_qk_norm is an L2 norm without
    # weights; the no-RoPE layers have no parameters; tie_word_embeddings=False.
    fields = llama_family_core(c, kv_default=8, head_dim_default=128)
    layers = fields["num_layers"]
    step = c.size("interleave_moe_layer_step", default=1)
    listed = c.config.get("moe_layers")
    moe_layers = tuple(index_list(c, "moe_layers")) if listed is not None else tuple(range(step - 1, layers, step))
    expert_width = fields["intermediate_size"]
    bias = c.flag("attention_bias", False)
    return dict(
        fields,
        intermediate_size=c.size("intermediate_size_mlp", default=16384),
        tie_embeddings=c.tie(False),
        qkv_bias=bias,
        o_bias=bias,
        **moe_fields(c.size("num_local_experts", default=16), c.size("num_experts_per_tok", default=1),
                     expert_width, moe_layers),
        shared_experts_intermediate_size=expert_width,
    )
