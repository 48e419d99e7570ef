"""Tests for the model catalog (llmmem/data/models.json) and ModelSpec.from_catalog."""

import json
from importlib import resources

import pytest

from llmmem import reference
from llmmem.model import ModelSpec, catalog_names

CATALOG = json.loads(resources.files("llmmem").joinpath("data", "models.json").read_text(encoding="utf-8"))["models"]

REQUIRED = [
    "gpt2", "llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b",
    "llama-3.2-1b", "llama-3.2-3b", "mistral-7b-v0.1", "mixtral-8x7b", "mixtral-8x22b", "qwen2.5-7b",
    "qwen2.5-72b", "qwen3-8b", "qwen3-30b-a3b", "qwen3-235b-a22b", "gemma-2-9b", "gemma-2-27b", "phi-3-mini-4k",
    "falcon-40b", "falcon-180b", "bloom-176b", "deepseek-v2-lite", "deepseek-v3",
]
WITH_EXPECTED = [n for n, e in CATALOG.items() if "expected_params" in e]
WITH_PUBLISHED = [n for n, e in CATALOG.items() if "published" in e]


def test_catalog_names_cover_the_required_models():
    names = catalog_names()
    assert set(REQUIRED) <= set(names)
    assert names == list(CATALOG) and len(set(names)) == len(names)
    assert all(n == n.lower() for n in names)


@pytest.mark.parametrize("name", list(CATALOG))
def test_every_entry_is_documented_and_builds(name):
    entry = CATALOG[name]
    assert entry["hf_id"].count("/") == 1
    assert entry["source"] and entry["hf_id"] in entry["source"]
    assert ("expected_params" in entry) == ("expected_params_source" in entry)
    spec = ModelSpec.from_catalog(name)
    assert spec.name == name and spec.source == f"catalog:{name}"
    assert spec.model_type == entry["config"]["model_type"]
    assert spec.num_params() > 0 and spec.num_active_params() <= spec.num_params()


@pytest.mark.parametrize("name", WITH_EXPECTED)
def test_num_params_equals_the_published_exact_count(name):
    assert ModelSpec.from_catalog(name).num_params() == CATALOG[name]["expected_params"]


def test_most_entries_have_an_exact_count():
    assert len(WITH_EXPECTED) >= 17


@pytest.mark.parametrize("name", WITH_PUBLISHED)
def test_moe_totals_agree_with_the_vendors_rounded_figures(name):
    # Vendors round (46.7B, 3.3B, 671B): within 3 % is the most such a figure can confirm.
    published = CATALOG[name]["published"]
    spec = ModelSpec.from_catalog(name)
    active = spec.num_active_params(include_embedding=published["active_includes_embedding"])
    assert spec.num_params() / 1e9 == pytest.approx(published["total_billions"], rel=0.03)
    assert active / 1e9 == pytest.approx(published["active_billions"], rel=0.03)
    assert spec.is_moe


def test_llama_3_1_70b_kv_cache_per_token():
    # 2 (K and V) x 80 layers x 8 KV heads x 128 dims x 2 bytes
    assert ModelSpec.from_catalog("llama-3.1-70b").kv_cache_bytes_per_token(2) == 327_680


def test_deepseek_v3_counts_and_mla_cache():
    spec = ModelSpec.from_catalog("deepseek-v3")
    assert spec.uses_mla and len(spec.moe_layers) == 58
    assert spec.kv_cache_bytes_per_token(2) == (512 + 64) * 61 * 2


def test_names_are_case_insensitive():
    assert ModelSpec.from_catalog("Llama-3.1-70B") == ModelSpec.from_catalog(" llama-3.1-70b ")


def test_unknown_name_suggests_close_matches():
    with pytest.raises(ValueError, match=r"did you mean 'llama-3.1-70b'"):
        ModelSpec.from_catalog("llama3.1-70b")
    with pytest.raises(ValueError, match="known names: gpt2"):
        ModelSpec.from_catalog("zzzz")
    with pytest.raises(ValueError, match="must be a string"):
        ModelSpec.from_catalog(70)


def test_entries_copied_from_the_reference_are_faithful():
    ref = {m["hf_id"]: m for m in reference.models()}
    copied = [e for e in CATALOG.values() if e["hf_id"] in ref]
    assert len(copied) == len(ref)
    for entry in copied:
        assert entry["config"] == ref[entry["hf_id"]]["config"]
        assert entry["expected_params"] == ref[entry["hf_id"]]["total_params"]


# The sympy derivation of notebook 02 and the numeric count must agree on every plain Llama-style model.
DENSE_LLAMA_STYLE = [n for n, e in CATALOG.items() if e["config"]["model_type"] in ("llama", "mistral", "phi3")]


@pytest.mark.parametrize("name", DENSE_LLAMA_STYLE)
def test_num_params_equals_the_sympy_expression(name):
    symbolic = pytest.importorskip("llmmem.symbolic")
    spec = ModelSpec.from_catalog(name)
    assert not (spec.qkv_bias or spec.o_bias or spec.mlp_bias or spec.qk_norm or spec.is_moe)
    values = symbolic.dense_decoder_values(spec)
    assert symbolic.dense_decoder_params().subs(values) == spec.num_params()
    parts = {k: int(v.subs(values)) for k, v in symbolic.dense_decoder_components().items()}
    assert parts == spec.param_counts()


def test_sympy_expression_covers_enough_models():
    assert len(DENSE_LLAMA_STYLE) >= 9


# Issue 13: the models the issue names, by catalog name.
ISSUE_13 = [
    "llama-3.3-70b", "gemma-3-1b", "gemma-3-4b", "gemma-3-12b", "gemma-3-27b", "qwen3-0.6b", "qwen3-1.7b", "qwen3-4b",
    "qwen3-8b", "qwen3-14b", "qwen3-32b", "deepseek-r1-distill-llama-8b", "deepseek-r1-distill-llama-70b",
    "deepseek-r1-distill-qwen-7b", "gpt-oss-20b", "gpt-oss-120b", "llama-4-scout", "llama-4-maverick",
    "mistral-small-3.0-24b", "mistral-small-3.1-24b", "mistral-small-3.2-24b",
]


def test_catalog_has_the_models_issue_13_asks_for():
    assert set(ISSUE_13) <= set(catalog_names())


def test_llama_4_maverick_interleaves_moe_layers():
    # interleave_moe_layer_step 2: transformers' Llama4TextConfig puts experts on layers step-1, 2*step-1, ...
    spec = ModelSpec.from_catalog("llama-4-maverick")
    assert spec.num_layers == 48 and list(spec.moe_layers) == list(range(1, 48, 2))
    # Scout (step 1) has experts on every layer.
    assert len(ModelSpec.from_catalog("llama-4-scout").moe_layers) == 48


def test_mistral_small_3_2_text_half_is_mistral_small_3_0():
    # 3.1/3.2 add a Pixtral tower to 3.0's 24B text model (same shapes); 3.0's count comes from its safetensors index.
    text_only = ModelSpec.from_catalog("mistral-small-3.0-24b")
    vlm = ModelSpec.from_catalog("mistral-small-3.2-24b")
    assert vlm.num_language_params() == text_only.num_params()
    assert vlm.num_params() - text_only.num_params() == 403_305_472 + 35_652_608  # tower + projector


def test_gemma_3_1b_is_text_only_and_27b_carries_siglip():
    small, large = ModelSpec.from_catalog("gemma-3-1b"), ModelSpec.from_catalog("gemma-3-27b")
    assert "vision_tower" not in small.param_counts() and small.num_language_params() == small.num_params()
    # The 27B's SigLIP tower has the 4B/12B entries' shapes, so the same parameter count.
    assert large.param_counts()["vision_tower"] == ModelSpec.from_catalog("gemma-3-12b").param_counts()["vision_tower"]


def test_an_instruct_checkpoint_keeps_its_own_context_length():
    """Qwen2.5-7B-Instruct's config says 32,768 positions where the base model says 131,072, and Meta-Llama-3-8B
    8,192 where Llama 3.1 says 131,072: the same weights, a different longest context (and RoPE table)."""
    from llmmem import max_context

    for name, positions, tp in (("qwen2.5-7b-instruct", 32768, 1), ("qwen2.5-7b", 131072, 1), ("llama-3-8b", 8192, 1),
                                ("llama-3.1-8b", 131072, 1), ("qwen2.5-72b-instruct", 32768, 2)):
        assert max_context(ModelSpec.from_catalog(name), "H200-141GB", tp=tp) == positions, name
    assert ModelSpec.from_catalog("llama-3-8b").num_params() == ModelSpec.from_catalog("llama-3.1-8b").num_params()
