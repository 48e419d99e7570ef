"""DeepSeek-V2 / V3: Multi-head Latent Attention and fine-grained experts with shared experts."""

from __future__ import annotations

from ._common import Config, moe_fields


def read_deepseek(c: Config, v3: bool) -> dict:
    # Defaults from transformers/models/deepseek_v2/configuration_deepseek_v2.py and
    # transformers/models/deepseek_v3/configuration_deepseek_v3.py (V2 | V3):
    #   num_key_value_heads None -> heads | 128, q_lora_rank 1536, kv_lora_rank 512, qk_nope_head_dim 128,
    #   qk_rope_head_dim 64, v_head_dim 128, n_routed_experts 64 | 256, n_shared_experts 2 | 1,
    #   num_experts_per_tok None | 8, moe_intermediate_size 1407 | 2048, first_k_dense_replace 0 | 3.
    # modeling_deepseek_v2.py / _v3.py: layer i is MoE when i >= first_k_dense_replace; a MoE block has
    # n_routed_experts gated experts, a router weight (n_routed_experts x hidden) and one shared MLP of
    # width moe_intermediate_size * n_shared_experts. V3's e_score_correction_bias is a registered
    # buffer in transformers, not a parameter, so it is not counted (it is saved in the checkpoint).
    # DeepSeek's own code also requires i % moe_layer_freq == 0; transformers ignores moe_layer_freq;
    # every released checkpoint has moe_layer_freq = 1, where the two agree. We follow DeepSeek's code.
    hidden = c.size("hidden_size")
    heads = c.size("num_attention_heads")
    layers = c.size("num_hidden_layers")
    nope = c.size("qk_nope_head_dim", default=128)
    rope = c.size("qk_rope_head_dim", default=64)
    experts = c.count("n_routed_experts", 256 if v3 else 64)
    moe_layers: tuple[int, ...] = ()
    top_k = 0
    if experts:
        first_dense = c.count("first_k_dense_replace", 3 if v3 else 0)
        freq = c.size("moe_layer_freq", default=1)
        moe_layers = tuple(i for i in range(layers) if i >= first_dense and i % freq == 0)
        top_k = c.size("num_experts_per_tok", default=8 if v3 else None)
    moe_width = c.size("moe_intermediate_size", default=2048 if v3 else 1407)
    bias = c.flag("attention_bias", False)
    fields = dict(
        vocab_size=c.size("vocab_size"),
        hidden_size=hidden,
        num_layers=layers,
        num_heads=heads,
        num_kv_heads=c.kv_heads(heads, default=128 if v3 else None),
        head_dim=nope + rope,
        intermediate_size=c.size("intermediate_size"),
        tie_embeddings=c.tie(False),
        qkv_bias=bias,
        o_bias=bias,
        mlp_bias=False if v3 else c.flag("mlp_bias", False),
        q_lora_rank=c.optional_size("q_lora_rank", default=1536),
        kv_lora_rank=c.size("kv_lora_rank", default=512),
        qk_nope_head_dim=nope,
        qk_rope_head_dim=rope,
        v_head_dim=c.size("v_head_dim", default=128),
    )
    if moe_layers:
        fields.update(moe_fields(experts, top_k, moe_width, moe_layers))
        fields["shared_experts_intermediate_size"] = moe_width * c.count("n_shared_experts", 1 if v3 else 2)
    return fields
