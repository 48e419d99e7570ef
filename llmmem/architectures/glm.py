"""Zhipu GLM-4.5 / GLM-4.6 (glm4_moe)."""

from __future__ import annotations

from ._common import Config, llama_family_core, moe_fields


def read_glm4_moe(c: Config) -> dict:
    # transformers/models/glm4_moe/configuration_glm4_moe.py: num_key_value_heads=8, attention_bias=False
    # (q, k, v only: o_proj never has a bias), use_qk_norm=False (RMSNorm(head_dim) on q and k when set),
    # n_routed_experts=128, n_shared_experts=1, moe_intermediate_size=1408, num_experts_per_tok=8,
    # first_k_dense_replace=1, tie_word_embeddings=False. modeling_glm4_moe.py: layer i is MoE when
    # i >= first_k_dense_replace; the router weight is (E, hidden) and its e_score_correction_bias is a
    # buffer (not counted); the shared experts are one gated MLP of moe_intermediate_size * n_shared_experts.
    # Partial rotary embeddings have no parameters. The checkpoint's extra MTP layers
    # (num_nextn_predict_layers) are not built by transformers and are not counted.
    fields = llama_family_core(c, kv_default=8)
    layers = fields["num_layers"]
    experts = c.count("n_routed_experts", 128)
    first_dense = c.count("first_k_dense_replace", 1)
    moe_layers = tuple(i for i in range(layers) if experts and i >= first_dense)
    width = c.size("moe_intermediate_size", default=1408)
    out = dict(fields, tie_embeddings=c.tie(False), qkv_bias=c.flag("attention_bias", False),
               qk_norm=c.flag("use_qk_norm", False))
    if moe_layers:
        out.update(moe_fields(experts, c.size("num_experts_per_tok", default=8), width, moe_layers))
        out["shared_experts_intermediate_size"] = width * c.count("n_shared_experts", 1)
    return out
