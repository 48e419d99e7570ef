"""Tests for llmmem.model: exact parameter counts against real models, config parsing, errors."""

import ast
import json
import sys
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from llmmem import reference
from llmmem.model import SUPPORTED_MODEL_TYPES, ModelSpec

REFERENCE_MODELS = reference.models()


# ---------------------------------------------------------------------------------------------------------
# 1. Every model of llmmem/data/reference/models.json (counts computed with transformers on the meta device)


@pytest.mark.parametrize("entry", REFERENCE_MODELS, ids=lambda e: e["name"])
def test_reference_total_params_exact(entry):
    spec = ModelSpec.from_hf_config(entry["config"], name=entry["name"])
    assert spec.num_params() == entry["total_params"]
    assert spec.tie_embeddings == entry["tied_embeddings"]


@pytest.mark.parametrize("entry", REFERENCE_MODELS, ids=lambda e: e["name"])
def test_reference_components(entry):
    spec = ModelSpec.from_hf_config(entry["config"])
    counts = spec.param_counts()
    assert list(counts) == ["embedding", "attention", "mlp", "norms", "lm_head"]
    assert sum(counts.values()) == spec.num_params()
    assert all(isinstance(v, int) and v >= 0 for v in counts.values())
    # The reference's input_embedding_params is the token table only; our "embedding" component also holds
    # a learned position table (GPT-2's wpe), so add it back for the comparison.
    assert counts["embedding"] == entry["input_embedding_params"] + spec.learned_positions * spec.hidden_size
    assert counts["lm_head"] == entry["lm_head_params"]


@pytest.mark.parametrize("entry", REFERENCE_MODELS, ids=lambda e: e["name"])
def test_reference_active_params(entry):
    spec = ModelSpec.from_hf_config(entry["config"])
    if "active_params" in entry:
        assert spec.is_moe
        assert spec.num_active_params() == entry["active_params"]
        assert spec.num_active_params(include_embedding=False) == entry["active_params_excluding_input_embedding"]
    else:
        assert not spec.is_moe
        assert spec.num_active_params() == spec.num_params()


def test_reference_data_covers_moe_and_mla():
    types = {e["config"]["model_type"] for e in REFERENCE_MODELS}
    assert {"gpt2", "llama", "mistral", "mixtral", "qwen2", "qwen3_moe", "deepseek_v2"} <= types


# ---------------------------------------------------------------------------------------------------------
# 2. Model types not in models.json: real configs with their published exact parameter counts


QWEN3_8B = dict(  # Qwen/Qwen3-8B config.json
    model_type="qwen3", vocab_size=151936, hidden_size=4096, intermediate_size=12288, num_hidden_layers=36,
    num_attention_heads=32, num_key_value_heads=8, head_dim=128, tie_word_embeddings=False,
)
QWEN3_0_6B = dict(  # Qwen/Qwen3-0.6B config.json
    model_type="qwen3", vocab_size=151936, hidden_size=1024, intermediate_size=3072, num_hidden_layers=28,
    num_attention_heads=16, num_key_value_heads=8, head_dim=128, tie_word_embeddings=True,
)
GEMMA2_2B = dict(  # google/gemma-2-2b config.json (tie_word_embeddings absent: Gemma2Config default True)
    model_type="gemma2", vocab_size=256000, hidden_size=2304, intermediate_size=9216, num_hidden_layers=26,
    num_attention_heads=8, num_key_value_heads=4, head_dim=256,
)
GEMMA2_9B = dict(  # google/gemma-2-9b config.json
    model_type="gemma2", vocab_size=256000, hidden_size=3584, intermediate_size=14336, num_hidden_layers=42,
    num_attention_heads=16, num_key_value_heads=8, head_dim=256,
)
GEMMA2_27B = dict(  # google/gemma-2-27b config.json (head_dim 128 with hidden 4608 and 32 heads)
    model_type="gemma2", vocab_size=256000, hidden_size=4608, intermediate_size=36864, num_hidden_layers=46,
    num_attention_heads=32, num_key_value_heads=16, head_dim=128,
)
PHI3_MINI = dict(  # microsoft/Phi-3-mini-4k-instruct config.json
    model_type="phi3", vocab_size=32064, hidden_size=3072, intermediate_size=8192, num_hidden_layers=32,
    num_attention_heads=32, num_key_value_heads=32, tie_word_embeddings=False, sliding_window=2047,
)
BLOOM_560M = dict(  # bigscience/bloom-560m config.json (uses the n_embed / n_layer aliases)
    model_type="bloom", vocab_size=250880, n_embed=1024, n_layer=24, num_attention_heads=16,
)
DEEPSEEK_V3 = dict(  # deepseek-ai/DeepSeek-V3 config.json (architecture keys)
    model_type="deepseek_v3", vocab_size=129280, hidden_size=7168, intermediate_size=18432,
    moe_intermediate_size=2048, num_hidden_layers=61, num_attention_heads=128, num_key_value_heads=128,
    n_shared_experts=1, n_routed_experts=256, q_lora_rank=1536, kv_lora_rank=512, qk_rope_head_dim=64,
    v_head_dim=128, qk_nope_head_dim=128, num_experts_per_tok=8, first_k_dense_replace=3, moe_layer_freq=1,
    tie_word_embeddings=False,
)

PUBLISHED = [
    # Hugging Face Hub safetensors metadata of Qwen/Qwen3-8B: total 8,190,735,360 (BF16), as quoted in public
    # fixtures found with the code search (e.g. an HF-API mock `"safetensors":{"total":8190735360}`).
    ("Qwen3-8B", QWEN3_8B, 8_190_735_360),
    # sum(p.numel() for p in model.parameters()) on Qwen/Qwen3-0.6B in transformers = 596,049,920
    # (public snippet found with the code search; tied embeddings).
    ("Qwen3-0.6B", QWEN3_0_6B, 596_049_920),
    # keras-team/keras-hub : keras_hub/src/models/gemma/gemma_presets.py ("params" of gemma2_2b_en,
    # gemma2_9b_en, gemma2_27b_en); the same numbers are the Hub's safetensors totals.
    ("Gemma-2-2B", GEMMA2_2B, 2_614_341_888),
    ("Gemma-2-9B", GEMMA2_9B, 9_241_705_984),
    ("Gemma-2-27B", GEMMA2_27B, 27_227_128_320),
    # keras-team/keras-hub : keras_hub/src/models/phi3/phi3_presets.py (phi3_mini_4k_instruct_en); equals the
    # Hub's safetensors total for microsoft/Phi-3-mini-4k-instruct (BF16: 3,821,079,552).
    ("Phi-3-mini-4k", PHI3_MINI, 3_821_079_552),
    # keras-team/keras-hub : keras_hub/src/models/bloom/bloom_presets.py (bloom_560m_multi); huggingface_hub's
    # safetensors-metadata test reads parameter_count == {"F16": 559214592} for the 560m checkpoint.
    ("BLOOM-560M", BLOOM_560M, 559_214_592),
]


@pytest.mark.parametrize("name, config, published", PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_published_counts(name, config, published):
    spec = ModelSpec.from_hf_config(config, name=name)
    assert spec.num_params() == published
    assert sum(spec.param_counts().values()) == published


def test_deepseek_v3_against_checkpoint_count():
    # The DeepSeek-V3 checkpoint holds 671,026,419,200 main-model parameters (a checkpoint-header audit found
    # with the code search; FP8 scales and the MTP layer 61 excluded) and DeepSeek's activated count without
    # the input embedding is 36,625,618,432 ("36.6B", advertised as 37B). Both include one
    # e_score_correction_bias of 256 values per MoE layer (58 layers), which transformers registers as a
    # buffer (modeling_deepseek_v3.py: DeepseekV3TopkRouter), so model.parameters() is 58 * 256 smaller.
    spec = ModelSpec.from_hf_config(DEEPSEEK_V3)
    correction_bias = len(spec.moe_layers) * spec.num_experts
    assert len(spec.moe_layers) == 58 and correction_bias == 14_848
    assert spec.num_params() + correction_bias == 671_026_419_200
    assert spec.num_active_params(include_embedding=False) + correction_bias == 36_625_618_432


# ---------------------------------------------------------------------------------------------------------
# 3. Hand-derived checks from the module shapes (no published exact count was found for these layouts)


def test_falcon_7b_layout_hand_derived():
    # tiiuae/falcon-7b config.json: old decoder architecture, multi-query (one KV head), parallel attention
    # with a single LayerNorm, no biases, MLP 4 * hidden, tied lm_head. Module shapes from modeling_falcon.py.
    cfg = dict(model_type="falcon", vocab_size=65024, hidden_size=4544, num_hidden_layers=32,
               num_attention_heads=71, multi_query=True, parallel_attn=True, bias=False,
               new_decoder_architecture=False, alibi=False)
    spec = ModelSpec.from_hf_config(cfg)
    h, head_dim, layers = 4544, 64, 32
    query_key_value = h * (h + 2 * head_dim)  # 71 query heads + one shared key and value head
    dense = h * h
    mlp = h * 4 * h + 4 * h * h
    input_layernorm = 2 * h
    per_layer = query_key_value + dense + mlp + input_layernorm
    expected = 65024 * h + layers * per_layer + 2 * h  # word_embeddings, layers, ln_f
    assert spec.num_kv_heads == 1 and spec.head_dim == head_dim and spec.norms_per_layer == 1
    assert spec.num_params() == expected == 6_921_720_704
    assert spec.kv_cache_bytes_per_token(2) == 2 * layers * 1 * head_dim * 2


def test_falcon_new_decoder_architecture_hand_derived():
    # Falcon-40B style: grouped KV heads in a fused qkv, two LayerNorms (ln_attn, ln_mlp), with bias on.
    cfg = dict(model_type="falcon", vocab_size=100, hidden_size=64, num_hidden_layers=2, num_attention_heads=8,
               num_kv_heads=2, new_decoder_architecture=True, parallel_attn=True, bias=True, ffn_hidden_size=96)
    spec = ModelSpec.from_hf_config(cfg)
    h, d = 64, 8
    qkv_out = (8 + 2 * 2) * d
    per_layer = (h * qkv_out + qkv_out) + (h * h + h) + (h * 96 + 96) + (96 * h + h) + 2 * (2 * h)
    assert spec.num_params() == 100 * h + 2 * per_layer + 2 * h


def test_falcon_multi_head_without_multi_query():
    cfg = dict(model_type="falcon", vocab_size=100, hidden_size=64, num_hidden_layers=1, num_attention_heads=8,
               multi_query=False, parallel_attn=False)
    spec = ModelSpec.from_hf_config(cfg)
    assert spec.num_kv_heads == 8 and spec.norms_per_layer == 2
    per_layer = 64 * 3 * 64 + 64 * 64 + 2 * 64 * 256 + 2 * (2 * 64)
    assert spec.num_params() == 100 * 64 + per_layer + 2 * 64


def test_deepseek_v2_with_q_lora_hand_derived():
    # DeepSeek-V2 (full) style attention: q goes through a low-rank bottleneck with its own RMSNorm.
    cfg = dict(model_type="deepseek_v2", vocab_size=50, hidden_size=32, intermediate_size=48,
               moe_intermediate_size=8, num_hidden_layers=3, num_attention_heads=4, q_lora_rank=16,
               kv_lora_rank=12, qk_nope_head_dim=6, qk_rope_head_dim=2, v_head_dim=5, n_routed_experts=4,
               n_shared_experts=2, num_experts_per_tok=2, first_k_dense_replace=1)
    spec = ModelSpec.from_hf_config(cfg)
    h, heads = 32, 4
    attention = (h * 16 + 16 * heads * (6 + 2)  # q_a_proj, q_b_proj
                 + h * (12 + 2) + 12 * heads * (6 + 5)  # kv_a_proj_with_mqa, kv_b_proj
                 + heads * 5 * h)  # o_proj
    norms_per_layer = 2 * h + 16 + 12  # input/post-attention norms, q_a_layernorm, kv_a_layernorm
    dense_mlp = 3 * h * 48
    moe = 4 * 3 * h * 8 + 4 * h + 3 * h * (8 * 2)  # experts, router, shared experts
    expected = 2 * 50 * h + 3 * attention + 3 * norms_per_layer + h + dense_mlp + 2 * moe
    assert spec.moe_layers == (1, 2)
    assert spec.num_params() == expected
    assert spec.num_active_params() == expected - 2 * (4 - 2) * 3 * h * 8


def test_qwen3_moe_dense_layer_selection():
    base = dict(model_type="qwen3_moe", vocab_size=10, hidden_size=16, intermediate_size=24,
                moe_intermediate_size=4, num_hidden_layers=6, num_attention_heads=2, num_key_value_heads=1,
                head_dim=8, num_experts=4, num_experts_per_tok=1)
    assert ModelSpec.from_hf_config(base).moe_layers == (0, 1, 2, 3, 4, 5)
    assert ModelSpec.from_hf_config(dict(base, decoder_sparse_step=2)).moe_layers == (1, 3, 5)
    assert ModelSpec.from_hf_config(dict(base, mlp_only_layers=[0, 5])).moe_layers == (1, 2, 3, 4)


def test_gpt2_n_inner_and_positions():
    cfg = dict(model_type="gpt2", vocab_size=10, n_embd=8, n_layer=1, n_head=2, n_positions=5, n_inner=12)
    spec = ModelSpec.from_hf_config(cfg)
    per_layer = (8 * 24 + 24) + (8 * 8 + 8) + (8 * 12 + 12) + (12 * 8 + 8) + 2 * (2 * 8)
    assert spec.param_counts()["embedding"] == 10 * 8 + 5 * 8
    assert spec.num_params() == 10 * 8 + 5 * 8 + per_layer + 2 * 8


# ---------------------------------------------------------------------------------------------------------
# 4. Defaults taken from the transformers config classes


def test_defaults_follow_transformers():
    llama = ModelSpec.from_hf_config(dict(model_type="llama", vocab_size=10, hidden_size=64, intermediate_size=96,
                                          num_hidden_layers=1, num_attention_heads=4))
    assert llama.num_kv_heads == 4 and llama.head_dim == 16 and not llama.tie_embeddings
    # Qwen3Config: head_dim=128 whatever hidden / heads is, num_key_value_heads=32.
    qwen3 = ModelSpec.from_hf_config(dict(model_type="qwen3", vocab_size=10, hidden_size=64, intermediate_size=96,
                                          num_hidden_layers=1, num_attention_heads=32))
    assert qwen3.head_dim == 128 and qwen3.num_kv_heads == 32
    with pytest.raises(ValueError, match=r"num_key_value_heads \(32\) must divide num_attention_heads \(4\)"):
        ModelSpec.from_hf_config(dict(model_type="qwen3", vocab_size=10, hidden_size=64, intermediate_size=96,
                                      num_hidden_layers=1, num_attention_heads=4))
    gemma2 = ModelSpec.from_hf_config(GEMMA2_9B)
    assert gemma2.tie_embeddings and gemma2.norms_per_layer == 4
    assert gemma2.sliding_window == 4096 and gemma2.sliding_window_layers == tuple(range(0, 42, 2))
    mixtral_like = ModelSpec.from_hf_config(dict(model_type="mixtral", vocab_size=10, hidden_size=64,
                                                 intermediate_size=96, num_hidden_layers=2, num_attention_heads=8))
    assert (mixtral_like.num_experts, mixtral_like.experts_per_token, mixtral_like.num_kv_heads) == (8, 2, 8)
    bloom = ModelSpec.from_hf_config(BLOOM_560M)
    assert bloom.tie_embeddings and bloom.embedding_norm and bloom.intermediate_size == 4 * 1024


def test_sliding_window_info():
    by_name = {e["name"]: e for e in REFERENCE_MODELS}
    mistral = ModelSpec.from_hf_config(by_name["Mistral-7B-v0.1"]["config"])
    assert mistral.sliding_window == 4096 and mistral.sliding_window_layers == tuple(range(32))
    qwen = ModelSpec.from_hf_config(by_name["Qwen2.5-7B"]["config"])  # use_sliding_window false
    assert qwen.sliding_window is None and qwen.sliding_window_layers == ()
    explicit = ModelSpec.from_hf_config(dict(GEMMA2_2B, num_hidden_layers=2, layer_types=["full_attention",
                                                                                          "sliding_attention"]))
    assert explicit.sliding_window_layers == (1,)


# ---------------------------------------------------------------------------------------------------------
# 5. Inputs: dict, config.json path, model folder


def test_from_hf_config_accepts_dict_file_and_folder(tmp_path):
    config = dict(QWEN3_0_6B, _name_or_path="Qwen/Qwen3-0.6B")
    (tmp_path / "config.json").write_text(json.dumps(config))
    from_dict = ModelSpec.from_hf_config(config)
    from_file = ModelSpec.from_hf_config(tmp_path / "config.json")
    from_folder = ModelSpec.from_hf_config(str(tmp_path))
    assert from_dict.num_params() == from_file.num_params() == from_folder.num_params() == 596_049_920
    assert from_dict.name == "Qwen/Qwen3-0.6B" and from_dict.source == "dict"
    assert from_file.source == from_folder.source == str(tmp_path / "config.json")
    assert ModelSpec.from_hf_config(config, name="mine").name == "mine"


def test_spec_is_frozen_and_hashable():
    spec = ModelSpec.from_hf_config(QWEN3_0_6B)
    with pytest.raises(FrozenInstanceError):
        spec.hidden_size = 1
    assert hash(spec) == hash(ModelSpec.from_hf_config(QWEN3_0_6B))
    assert isinstance(spec.moe_layers, tuple) and isinstance(spec.sliding_window_layers, tuple)


# ---------------------------------------------------------------------------------------------------------
# 6. Errors a student can read


def test_unsupported_model_type_lists_supported():
    with pytest.raises(ValueError, match="unsupported model_type 'mamba'") as err:
        ModelSpec.from_hf_config({"model_type": "mamba", "hidden_size": 8})
    # A short message (issue 12: under 300 characters) that names a few types and where to see them all.
    assert len(str(err.value)) < 300 and "llmmem.SUPPORTED_MODEL_TYPES" in str(err.value)
    for model_type in SUPPORTED_MODEL_TYPES[:8]:
        assert model_type in str(err.value)
    for model_type in ("gemma3", "llama4", "gpt_oss", "qwen2_moe", "mistral3", "phi"):  # issue 13's list
        assert model_type in SUPPORTED_MODEL_TYPES


def test_unsupported_wrapper_names_the_text_config_route():
    cfg = {"model_type": "some_vlm", "text_config": {"model_type": "llama"}, "vision_config": {}}
    with pytest.raises(ValueError, match="text_config.*'llama'"):
        ModelSpec.from_hf_config(cfg)


def test_missing_model_type():
    with pytest.raises(ValueError, match="model_type"):
        ModelSpec.from_hf_config({"hidden_size": 8})


@pytest.mark.parametrize(
    "change, key",
    [
        ({"hidden_size": None}, "hidden_size"),
        ({"hidden_size": 0}, "hidden_size"),
        ({"num_hidden_layers": -2}, "num_hidden_layers"),
        ({"vocab_size": 3.5}, "vocab_size"),
        ({"num_attention_heads": True}, "num_attention_heads"),
        ({"head_dim": 0}, "head_dim"),
        ({"tie_word_embeddings": "yes"}, "tie_word_embeddings"),
        ({"num_key_value_heads": 5}, "num_key_value_heads"),
        ({"num_attention_heads": 7, "num_key_value_heads": 7}, "divisible by num_attention_heads"),
    ],
)
def test_malformed_config_names_the_key(change, key):
    config = dict(model_type="llama", vocab_size=100, hidden_size=64, intermediate_size=96,
                  num_hidden_layers=2, num_attention_heads=8, num_key_value_heads=8)
    config.update(change)
    with pytest.raises(ValueError, match=key):
        ModelSpec.from_hf_config(config)


def test_missing_required_key_is_named():
    with pytest.raises(ValueError, match="missing required key 'intermediate_size'"):
        ModelSpec.from_hf_config(dict(model_type="llama", vocab_size=10, hidden_size=8, num_hidden_layers=1,
                                      num_attention_heads=2))
    with pytest.raises(ValueError, match="'n_embd'.*'hidden_size'"):
        ModelSpec.from_hf_config(dict(model_type="gpt2", vocab_size=10, n_layer=1, n_head=2))


def test_moe_errors():
    with pytest.raises(ValueError, match="num_experts_per_tok"):  # DeepseekV2Config default is None
        ModelSpec.from_hf_config(dict(model_type="deepseek_v2", vocab_size=10, hidden_size=32, intermediate_size=8,
                                      num_hidden_layers=2, num_attention_heads=4))
    with pytest.raises(ValueError, match="cannot exceed"):
        ModelSpec.from_hf_config(dict(model_type="mixtral", vocab_size=10, hidden_size=32, intermediate_size=8,
                                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
                                      num_local_experts=2, num_experts_per_tok=3))


def test_bad_paths(tmp_path):
    with pytest.raises(FileNotFoundError):
        ModelSpec.from_hf_config(tmp_path / "nope.json")
    with pytest.raises(FileNotFoundError):
        ModelSpec.from_hf_config(tmp_path)  # a folder without config.json
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        ModelSpec.from_hf_config(tmp_path)
    with pytest.raises(ValueError, match="cfg must be"):
        ModelSpec.from_hf_config(42)


# ---------------------------------------------------------------------------------------------------------
# 7. KV cache per token


def test_kv_cache_llama_3_1_70b():
    cfg = dict(model_type="llama", vocab_size=128256, hidden_size=8192, intermediate_size=28672,
               num_hidden_layers=80, num_attention_heads=64, num_key_value_heads=8)
    spec = ModelSpec.from_hf_config(cfg)
    assert spec.kv_cache_bytes_per_token() == 327_680  # 2 (K and V) * 80 * 8 * 128 * 2 bytes
    assert spec.kv_cache_bytes_per_token(bytes_per_elem=1) == 163_840
    with pytest.raises(ValueError, match="bytes_per_elem"):
        spec.kv_cache_bytes_per_token(0)


def test_kv_cache_mla_caches_one_latent():
    spec = ModelSpec.from_hf_config(DEEPSEEK_V3)
    assert spec.uses_mla
    assert spec.kv_cache_bytes_per_token(2) == (512 + 64) * 61 * 2  # 70,272 bytes, no factor 2 for K and V


# ---------------------------------------------------------------------------------------------------------
# 8. The module stays light: standard library only


def test_model_module_imports_only_the_standard_library():
    source = Path(__file__).resolve().parents[1] / "llmmem" / "model.py"
    tree = ast.parse(source.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)
