"""Every supported model_type counts exactly what transformers builds.

Each case is a small config; transformers instantiates it on the meta device (no memory, no weights) and
the test compares numel over the unique parameters (tied weights once) with ModelSpec.num_params(), and the
vision tower + projector with the spec's vision components. Configs vary the flags that change the count
(biases, ties, sliding windows, dense-vs-MoE layers), so a wrong default or a missed tensor fails.
"""

from __future__ import annotations

import warnings

import pytest

from llmmem import reference
from llmmem.model import SUPPORTED_MODEL_TYPES, ModelSpec

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

_T = dict(vocab_size=96, hidden_size=32, intermediate_size=48, num_hidden_layers=3, num_attention_heads=4,
          num_key_value_heads=2)
_VIT = dict(hidden_size=16, intermediate_size=24, num_hidden_layers=2, num_attention_heads=2, image_size=28,
            patch_size=14)

CASES: dict[str, list[dict]] = {
    "gpt2": [dict(vocab_size=96, n_embd=32, n_layer=2, n_head=4, n_positions=64)],
    "llama": [dict(_T), dict(_T, attention_bias=True, mlp_bias=True, tie_word_embeddings=True)],
    "mistral": [dict(_T)],
    "mixtral": [dict(_T, num_local_experts=4, num_experts_per_tok=2)],
    "qwen2": [dict(_T)],
    "qwen3": [dict(_T, head_dim=16)],
    "qwen3_moe": [dict(_T, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=16, mlp_only_layers=[1])],
    "gemma2": [dict(_T, head_dim=16)],
    "phi3": [dict(_T, pad_token_id=0)],
    "falcon": [dict(vocab_size=96, hidden_size=32, num_hidden_layers=2, num_attention_heads=4)],
    "bloom": [dict(vocab_size=96, hidden_size=32, n_layer=2, n_head=4)],
    "deepseek_v2": [dict(_T, q_lora_rank=None, kv_lora_rank=16, qk_nope_head_dim=8, qk_rope_head_dim=4,
                         v_head_dim=8, n_routed_experts=4, num_experts_per_tok=2, moe_intermediate_size=16,
                         first_k_dense_replace=1, n_group=1, topk_group=1)],
    "deepseek_v3": [dict(_T, q_lora_rank=16, kv_lora_rank=16, qk_nope_head_dim=8, qk_rope_head_dim=4,
                         v_head_dim=8, n_routed_experts=4, num_experts_per_tok=2, moe_intermediate_size=16,
                         first_k_dense_replace=1, n_group=1, topk_group=1)],
    "gemma": [dict(_T, head_dim=16)],
    "gemma3_text": [dict(_T, head_dim=16, num_hidden_layers=7)],
    "phi": [dict(_T, num_key_value_heads=4)],
    "granite": [dict(_T), dict(_T, tie_word_embeddings=True)],
    "granitemoe": [dict(_T, num_local_experts=4, num_experts_per_tok=2)],
    "qwen2_moe": [dict(_T, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=16,
                       shared_expert_intermediate_size=40, decoder_sparse_step=2)],
    "llama4_text": [dict(_T, head_dim=8, intermediate_size=16, intermediate_size_mlp=40, num_local_experts=4,
                         interleave_moe_layer_step=2)],
    "gpt_oss": [dict(_T, head_dim=8, num_local_experts=4, num_experts_per_tok=2)],
    "olmo2": [dict(_T)],
    "cohere2": [dict(_T, head_dim=8)],
    "starcoder2": [dict(_T), dict(_T, use_bias=False, tie_word_embeddings=False)],
    "gpt_bigcode": [dict(vocab_size=96, n_embd=32, n_layer=2, n_head=4, n_positions=64),
                    dict(vocab_size=96, n_embd=32, n_layer=2, n_head=4, n_positions=64, multi_query=False)],
    "gpt_neox": [dict(vocab_size=96, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                      num_attention_heads=4)],
    "glm4_moe": [dict(_T, head_dim=8, n_routed_experts=4, num_experts_per_tok=2, moe_intermediate_size=16,
                      n_group=1, topk_group=1, attention_bias=True, use_qk_norm=True)],
    # vision-language wrappers
    "gemma3": [dict(text_config=dict(_T, head_dim=16, model_type="gemma3_text"),
                    vision_config=dict(_VIT, vision_use_head=False), mm_tokens_per_image=4),
               dict(text_config=dict(_T, head_dim=16), vision_config=dict(_VIT), mm_tokens_per_image=4)],
    "llava": [dict(text_config=dict(_T, model_type="llama"), vision_config=dict(_VIT, model_type="clip_vision_model"))],
    "llava_next": [dict(text_config=dict(_T, model_type="llama"),
                        vision_config=dict(_VIT, model_type="clip_vision_model"))],
    "mistral3": [dict(text_config=dict(_T, model_type="mistral", tie_word_embeddings=False),
                      vision_config=dict(_VIT, model_type="pixtral", head_dim=8), tie_word_embeddings=False)],
    "llama4": [dict(text_config=dict(_T, head_dim=8, intermediate_size=16, intermediate_size_mlp=40,
                                     num_local_experts=4, interleave_moe_layer_step=2),
                    vision_config=dict(_VIT, vision_output_dim=20, projector_input_dim=40, projector_output_dim=40,
                                       pixel_shuffle_ratio=0.5))],
    "mllama": [dict(text_config=dict(_T, num_hidden_layers=4, cross_attention_layers=[1], pad_token_id=0),
                    vision_config=dict(_VIT, num_global_layers=1, vision_output_dim=40, intermediate_layers_indices=[0],
                                       max_num_tiles=2, supported_aspect_ratios=[[1, 1], [1, 2], [2, 1]]))],
    "qwen2_vl": [dict(text_config=dict(_T),
                      vision_config=dict(depth=2, embed_dim=16, hidden_size=32, mlp_ratio=2, num_heads=2))],
    "qwen2_5_vl": [dict(text_config=dict(_T),
                        vision_config=dict(depth=2, hidden_size=16, intermediate_size=24, out_hidden_size=32,
                                           num_heads=2))],
}

# Checked another way (no native transformers class), with how:
NOT_IN_TRANSFORMERS: dict[str, str] = {
    "kimi_vl": "trust_remote_code. Its text model is counted by the deepseek_v3 reader (checked above); MoonViT has "
               "SigLIP-so400m's parameter shapes, checked against transformers' SiglipVisionModel below; the "
               "projector (LayerNorm + two biased Linears) is counted by hand in the test",
}


def _transformers_count(model_type: str, cfg: dict) -> tuple[int, int]:
    """(all unique parameters, those of the vision tower + projector) of the model transformers builds."""
    conf = transformers.AutoConfig.for_model(model_type, **cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.device("meta"):
            if "vision_config" in cfg:
                model = transformers.AutoModelForImageTextToText.from_config(conf)
            else:
                model = transformers.AutoModelForCausalLM.from_config(conf)
    unique = {id(p): (name, p) for name, p in model.named_parameters()}
    total = sum(p.numel() for _, p in unique.values())
    vision = sum(p.numel() for name, p in unique.values()
                 if any(k in name for k in ("vision_tower", "vision_model", "multi_modal_projector", "visual",
                                            "image_newline")))
    return total, vision


def test_every_supported_type_has_a_case():
    assert set(CASES) | set(NOT_IN_TRANSFORMERS) == set(SUPPORTED_MODEL_TYPES)


@pytest.mark.parametrize(("model_type", "index"),
                         [(t, i) for t, cases in CASES.items() for i in range(len(cases))])
def test_count_matches_transformers_on_meta_device(model_type, index):
    cfg = CASES[model_type][index]
    total, vision = _transformers_count(model_type, cfg)
    spec = ModelSpec.from_hf_config(dict(cfg, model_type=model_type))
    counts = spec.param_counts()
    assert spec.num_params() == total
    assert counts.get("vision_tower", 0) + counts.get("projector", 0) == vision
    assert spec.num_language_params() == total - vision


@pytest.mark.parametrize("entry", reference.configs(), ids=lambda e: e["hf_id"])
def test_real_configs_match_their_recorded_counts(entry):
    """The shared reference's real configs (text-only and vision-language): total, vision tower, projector."""
    spec = ModelSpec.from_hf_config(entry["config"])
    exact, counts = entry["exact_counts"], spec.param_counts()
    assert spec.num_params() == exact["total_params"]
    assert counts.get("vision_tower", 0) == exact["vision_tower_params"]
    assert counts.get("projector", 0) == exact["projector_params"]
    lm_head_weight = counts["lm_head"] - (spec.vocab_size if spec.lm_head_bias else 0)  # phi-2's lm_head has a bias
    assert lm_head_weight == (0 if exact["tied_embeddings"] else exact["lm_head_params"])


def test_kimi_vl_is_deepseek_v3_plus_moonvit_plus_its_projector():
    text = dict(_T, q_lora_rank=None, kv_lora_rank=16, qk_nope_head_dim=8, qk_rope_head_dim=4, v_head_dim=8,
                n_routed_experts=4, num_experts_per_tok=2, moe_intermediate_size=16, first_k_dense_replace=1,
                n_group=1, topk_group=1, model_type="deepseek_v3")
    vit = dict(hidden_size=16, intermediate_size=24, num_hidden_layers=2, patch_size=14, init_pos_emb_height=2,
               init_pos_emb_width=2, merge_kernel_size=[2, 2])
    spec = ModelSpec.from_hf_config({"model_type": "kimi_vl", "text_config": text, "vision_config": vit})
    text_total, _ = _transformers_count("deepseek_v3", {k: v for k, v in text.items() if k != "model_type"})
    siglip = transformers.SiglipVisionConfig(hidden_size=16, intermediate_size=24, num_hidden_layers=2,
                                             num_attention_heads=2, image_size=28, patch_size=14,
                                             vision_use_head=False)  # 2 x 2 patches = MoonViT's 2 x 2 grid
    with torch.device("meta"):
        tower = sum(p.numel() for p in transformers.SiglipVisionModel(siglip).parameters())
    merged = 16 * 2 * 2
    projector = 2 * 16 + (merged * merged + merged) + (merged * 32 + 32)
    counts = spec.param_counts()
    assert counts["vision_tower"] == tower and counts["projector"] == projector
    assert spec.num_params() == text_total + tower + projector
    assert spec.kv_cache_bytes_per_token() == ModelSpec.from_hf_config(text).kv_cache_bytes_per_token()


def test_mllama_cross_attention_layers_keep_no_text_kv_cache():
    from llmmem.inference import kv_cache_bytes

    cfg = dict(CASES["mllama"][0], model_type="mllama")
    spec = ModelSpec.from_hf_config(cfg)
    text_only = ModelSpec.from_hf_config(dict(_T, num_hidden_layers=4, model_type="llama"))
    assert spec.cross_attention_layers == (1,)
    assert spec.kv_cache_bytes_per_token() == text_only.kv_cache_bytes_per_token() * 3 // 4
    assert kv_cache_bytes(spec, seq_len=100) == kv_cache_bytes(text_only, seq_len=100) * 3 // 4
