
import pytest
import sympy as sp

from llmmem import ModelSpec, reference, symbolic
from llmmem.symbolic import P
from llmmem.training import (
    activation_bytes,
    korthikanti_activation_bytes,
    logits_bytes,
    optimizer_state_bytes,
    training_memory,
    training_memory_seed,
    training_timeline,
)

MODELS = {m["name"]: m for m in reference.models()}
MEASURED = {m["id"]: m for m in reference.measurements()}
LLAMA_8B = ModelSpec.from_hf_config(MODELS["Llama-3.1-8B"]["config"])


# --- the seed, as written ---------------------------------------------------------------------------------

def test_seed_13b_fp32_adamw_is_364_gb_and_437_with_margin():
    b = training_memory_seed(13e9, bytes_per_param=4, optimizer="adamw")
    assert dict(b) == {"training_4x_inference": 208e9, "gradients": 52e9, "optimizer_states": 104e9}
    assert b.total == 364e9
    assert b.with_margin(0.2).total == 436.8e9
    assert round(b.with_margin(0.2).total / 1e9) == 437


def test_seed_7b_fp32_training_is_112_gb():
    assert training_memory_seed(7e9, bytes_per_param=4)["training_4x_inference"] == 112e9


def test_seed_symbolic_derivation_gives_the_same_numbers():
    total = symbolic.training_article_total()
    values = {P: 13 * 10**9, symbolic.b_param: 4, symbolic.k_states: 2}
    assert total.subs(values) == 364 * 10**9
    with_margin = symbolic.training_article_total(with_margin=True)
    assert with_margin.subs({**values, symbolic.m_margin: sp.Rational(1, 5)}) == sp.Rational(4368, 10) * 10**9
    steps = dict(symbolic.training_article_derivation())
    difference = steps["total, as the article adds it"].rhs - 7 * P * symbolic.b_param
    assert sp.simplify(difference).subs(symbolic.k_states, 2) == 0


def test_the_erratum_four_times_inference_already_holds_grads_and_adam():
    # 4 x (4P) = weights + gradients + two fp32 moments: the seed then adds gradients and moments again.
    assert sp.simplify(symbolic.adam_states_fp32() - 4 * (4 * P)) == 0
    standard = training_memory(13e9, precision="fp32", optimizer="adamw", overhead_bytes=0)
    assert standard.total == 4 * 52e9 == 208e9  # the seed's "M_train" alone
    assert training_memory_seed(13e9).total == pytest.approx(1.75 * standard.total)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"params": 13e9, "optimizer": "adagrad"}, "adamw"),
    ({"params": 13e9, "bytes_per_param": 3}, "bytes_per_param"),
    ({"params": -13e9}, "positive"),
])
def test_seed_bad_input(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        training_memory_seed(**kwargs)


# --- the standard accounting -------------------------------------------------------------------------------

def test_zero_paper_16_bytes_per_parameter_gpt2_1_5b_is_24_gb():
    zero = MEASURED["zero-16psi"]["values"]
    b = training_memory(1.5e9, precision="mixed-fp16", optimizer="adam", overhead_bytes=0)
    assert b.total / 1.5e9 == zero["bytes_per_param"] == 16
    assert b.total / 1e9 == zero["gpt2_1.5B_model_states_GB"]
    assert b["weights"] / 1e9 == zero["gpt2_1.5B_fp16_params_GB"]
    assert sp.simplify(symbolic.mixed_precision_adam_bytes() - 16 * P) == 0


def test_zero_paper_7_5b_model_states_are_120_gb():
    b = training_memory(7.5e9, precision="mixed-bf16", optimizer="adamw", overhead_bytes=0)
    assert b.total == MEASURED["zero-figure1-7.5B"]["values"]["baseline_GB"] * 1e9


def test_deepspeed_style_fp32_gradients_make_18_bytes():
    b = training_memory(1e9, precision="mixed-bf16", fp32_grad_accumulation=True, overhead_bytes=0)
    assert b.total == 18e9


@pytest.mark.parametrize("precision, optimizer, per_param", [
    ("fp32", "adamw", 16), ("fp32", "sgd", 8), ("fp32", "sgd-momentum", 12), ("fp32", "lion", 12),
    ("bf16", "adamw", 8), ("mixed-bf16", "sgd-momentum", 12), ("mixed-bf16", "paged-adamw", 16),
])
def test_bytes_per_parameter_table(precision, optimizer, per_param):
    assert training_memory(1e9, precision=precision, optimizer=optimizer, overhead_bytes=0).total == per_param * 1e9


def test_adafactor_state_is_factored_from_the_shapes():
    state = optimizer_state_bytes(LLAMA_8B, "adafactor", 4)
    expected = 4 * sum((r + c) * n for _, r, c, n in LLAMA_8B.weight_matrices())
    vectors = LLAMA_8B.num_params() - sum(r * c * n for _, r, c, n in LLAMA_8B.weight_matrices())
    assert state == expected + 4 * vectors
    assert state < 0.001 * 8 * LLAMA_8B.num_params()  # tiny next to Adam's two moments
    with pytest.raises(ValueError, match="ModelSpec"):
        optimizer_state_bytes(8e9, "adafactor")


def test_8bit_adam_is_about_2_bytes_per_parameter():
    state = optimizer_state_bytes(LLAMA_8B, "adamw-8bit")
    assert 2 * LLAMA_8B.num_params() < state < 2.01 * LLAMA_8B.num_params()


def test_activations_korthikanti_reference_value():
    # 34 sbh + 5 a s^2 b per layer: Llama-3.1-8B shapes, s = 4096, b = 1 -> 3.031 GiB per layer (reference check)
    per_layer = korthikanti_activation_bytes(LLAMA_8B, 1, 4096) / LLAMA_8B.num_layers
    check = MEASURED["korthikanti-activation-formulas"]["check"]
    assert per_layer / 2**30 == pytest.approx(check["example_llama31_8b_s4096_b1_per_layer_GiB"], abs=5e-4)
    assert korthikanti_activation_bytes(LLAMA_8B, 1, 4096, recompute="full") == 32 * 2 * 4096 * 4096


def test_activations_grow_with_batch_and_sequence_and_recompute_saves():
    kinds = {r: activation_bytes(LLAMA_8B, 1, 2048, recompute=r, attention="eager")
             for r in ("none", "selective", "full")}
    assert kinds["full"] < kinds["selective"] < kinds["none"]
    # everything scales with the batch except rotary cos/sin, [1, s, head_dim] each, shared by the batch
    rotary = 2 * 2 * 128 * 2048
    assert activation_bytes(LLAMA_8B, 2, 2048) - rotary == 2 * (activation_bytes(LLAMA_8B, 1, 2048) - rotary)
    eager = {s: activation_bytes(LLAMA_8B, 1, s, attention="eager") for s in (2048, 4096)}
    sdpa = {s: activation_bytes(LLAMA_8B, 1, s, attention="sdpa") for s in (2048, 4096)}
    assert eager[4096] > 2 * eager[2048]
    assert sdpa[4096] == 2 * sdpa[2048]


def test_training_memory_with_a_spec_has_every_component():
    b = training_memory(LLAMA_8B, batch=1, seq_len=4096)
    assert list(b) == ["weights", "master_weights", "gradients", "optimizer_states", "activations", "logits",
                       "overhead"]
    assert b["weights"] == 2 * LLAMA_8B.num_params()
    # LM head input (bf16 h) + fp32 log-softmax + int64 labels per token; the padded label and total_weight once
    assert b["logits"] == logits_bytes(LLAMA_8B, 1, 4096) == 4096 * (2 * 4096 + 4 * 128256 + 8) + 8 + 4
    assert all(isinstance(v, int) for v in b.values())


def test_timeline_peak_is_the_start_of_backward_only_with_fused_adamw():
    """torch.optim's default foreach AdamW holds one extra parameter-sized copy during the step (torch.optim
    docs); for Llama 3.1 8B at 4,096 tokens that moves the peak from the start of backward to the step."""
    def peak(impl):
        phases = training_timeline(LLAMA_8B, batch=1, seq_len=4096, optimizer_impl=impl)
        return max(phases, key=lambda k: phases[k].total), phases

    where, phases = peak("fused")
    assert where == "start of backward"
    assert "gradients" in phases["optimizer step"] and "activations" not in phases["optimizer step"]
    where, phases = peak("foreach")
    assert where == "optimizer step"
    matrices = sum(r * c * n for _, r, c, n in LLAMA_8B.weight_matrices())
    assert phases["optimizer step"]["step_temporaries"] == 4 * matrices  # fp32 master weights' size
    where, phases = peak("forloop")
    assert where == "start of backward" and phases["optimizer step"]["step_temporaries"] == 4 * 128256 * 4096


@pytest.mark.parametrize("kwargs, fragment", [
    ({"optimizer": "adagrad"}, "unknown optimizer"),
    ({"precision": "fp8"}, "unknown precision"),
    ({"batch": -1}, "batch"),
    ({"batch": 0}, "batch"),
    ({"seq_len": 0}, "seq_len"),
    ({"recompute": "some"}, "unknown recompute"),
    ({"attention": "flash3"}, "unknown attention"),
    ({"overhead_bytes": -1}, "overhead_bytes"),
])
def test_training_bad_input(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        training_memory(LLAMA_8B, **kwargs)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_margin_outside_0_1_is_refused(bad):
    with pytest.raises(ValueError, match="margin"):
        training_memory_seed(13e9).with_margin(bad)


def test_architectures_without_exact_accounting_fall_back_to_korthikanti_and_say_so():
    falcon = ModelSpec.from_catalog("falcon-40b")
    mixtral = ModelSpec.from_catalog("mixtral-8x7b")
    for spec in (falcon, mixtral):
        b = training_memory(spec, batch=1, seq_len=2048)
        assert b["activations"] == korthikanti_activation_bytes(spec, 1, 2048)
        assert any("Korthikanti" in note and spec.model_type in note for note in b.notes)
    with pytest.raises(ValueError, match="Llama-family"):
        activation_bytes(falcon, 1, 2048)
    assert "exact against PyTorch" in " ".join(training_memory(LLAMA_8B).notes)
