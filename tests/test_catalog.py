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
