"""`ModelSpec.weight_matrices()` must describe the same parameters that `num_params()` counts."""


import pytest

from llmmem import ModelSpec, reference

MODELS = reference.models()


@pytest.mark.parametrize("entry", MODELS, ids=[m["name"] for m in MODELS])
def test_matrices_plus_vectors_are_all_the_parameters(entry):
    spec = ModelSpec.from_hf_config(entry["config"])
    in_matrices = sum(rows * cols * n for _, rows, cols, n in spec.weight_matrices())
    vectors = spec.num_params() - in_matrices
    counts = spec.param_counts()
    # What is not a matrix is a norm or a bias: never negative, never more than the norms plus biases allow.
    assert counts["norms"] <= vectors < 0.01 * spec.num_params()
    if not (spec.qkv_bias or spec.o_bias or spec.mlp_bias):
        assert vectors == counts["norms"]


def test_llama_matrices_by_name():
    entry = next(m for m in MODELS if m["name"] == "Llama-3.1-8B")
    mats = {name: (r, c, n) for name, r, c, n in ModelSpec.from_hf_config(entry["config"]).weight_matrices()}
    assert mats["k_proj"] == (8 * 128, 4096, 32) and mats["gate_proj"] == (14336, 4096, 32)
    assert mats["lm_head"] == (128256, 4096, 1)
