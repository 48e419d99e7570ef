"""llmmem's estimates against memory measured by PyTorch itself (llmmem.measure).

The live tests build small models with random weights on the CPU and need the `measure` extra (torch,
transformers); without it they are skipped. The last tests read the committed measurements
(notebooks/data/measured.csv) and need neither.
"""

import csv
import itertools
from pathlib import Path

import pytest

from llmmem.inference import kv_cache_bytes
from llmmem.model import ModelSpec
from llmmem.training import activation_bytes, logits_bytes, optimizer_state_bytes, training_memory

DATA = Path(__file__).resolve().parents[1] / "notebooks" / "data" / "measured.csv"
TOLERANCE = 0.02  # the bar for activations; parameters, gradients, states and KV must be exact


@pytest.fixture(scope="module")
def measure():
    pytest.importorskip("torch", reason="the `measure` extra (torch) is not installed: pip install -e '.[measure]'")
    pytest.importorskip("transformers", reason="the `measure` extra (transformers) is not installed")
    from llmmem import measure
    return measure


_MODELS = {}


def _model(measure, name, dtype, attention):
    """One model per (config, dtype, attention), shared by the tests (building one takes ~0.1 s)."""
    key = (name, dtype, attention)
    if key not in _MODELS:
        config = measure.tiny_config(**measure.CONFIGS[name])
        _MODELS[key] = (measure.build_model(config, dtype, attention), ModelSpec.from_hf_config(config.to_dict()))
    return _MODELS[key]


BYTES = {"fp32": 4, "bf16": 2}


@pytest.mark.parametrize("name", ["llama-mha", "llama-gqa", "mistral-gqa", "qwen2-gqa"])
@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_model_states_are_exact(measure, name, dtype):
    model, spec = _model(measure, name, dtype, "sdpa")
    b = BYTES[dtype]
    assert measure.parameter_bytes(model) == spec.num_params() * b
    assert measure.gradient_bytes(model, batch=2, seq_len=16) == spec.num_params() * b
    # pure fp32 / bf16 training: torch keeps the moments in the parameters' dtype
    full = training_memory(spec, precision=dtype, optimizer="adamw", overhead_bytes=0)
    assert full["weights"] == full["gradients"] == measure.parameter_bytes(model)
    adam, adam_steps = measure.optimizer_state_bytes(model, "adamw")
    assert adam == full["optimizer_states"] == optimizer_state_bytes(spec, "adamw", b) == 2 * b * spec.num_params()
    # the scalar fp32 `step` counters, one per parameter tensor, are left out on both sides
    assert adam_steps == 4 * len(list(model.parameters()))
    sgd, sgd_steps = measure.optimizer_state_bytes(model, "sgd-momentum")
    assert sgd == optimizer_state_bytes(spec, "sgd-momentum", b) == b * spec.num_params() and sgd_steps == 0


@pytest.mark.parametrize("name, dtype, batch, seq_len", [
    ("llama-mha", "fp32", 1, 32), ("llama-gqa", "bf16", 2, 128), ("mistral-gqa", "fp32", 2, 32),
    ("qwen2-gqa", "bf16", 1, 128)])
def test_kv_cache_is_exact(measure, name, dtype, batch, seq_len):
    model, spec = _model(measure, name, dtype, "sdpa")
    measured = measure.kv_cache_bytes(model, batch, seq_len)
    assert measured == kv_cache_bytes(spec, seq_len, batch, fmt=dtype)
    assert measured == spec.kv_cache_bytes_per_token(BYTES[dtype]) * seq_len * batch


GRID = list(itertools.product(["llama-mha", "llama-gqa"], ["fp32", "bf16"], ["eager", "sdpa"], [False, True],
                              [1, 2], [32, 128]))


@pytest.mark.parametrize("name, dtype, attention, checkpointing, batch, seq_len", GRID)
def test_saved_activations_and_logits_within_2_percent(measure, name, dtype, attention, checkpointing, batch,
                                                       seq_len):
    model, spec = _model(measure, name, dtype, attention)
    saved = measure.saved_tensor_bytes(model, batch, seq_len, checkpointing)
    recompute = "full" if checkpointing else "none"
    estimate = activation_bytes(spec, batch, seq_len, dtype, recompute, attention)
    assert estimate == pytest.approx(saved["activations"], rel=TOLERANCE)
    assert logits_bytes(spec, batch, seq_len, dtype) == pytest.approx(saved["logits"], rel=TOLERANCE)


def test_one_layer_saves_what_the_docstring_says(measure):
    """Storage by storage for bf16 sdpa with GQA: the terms of `activation_bytes` (it is exact here)."""
    model, spec = _model(measure, "llama-gqa", "bf16", "sdpa")
    b, s, h, f = 2, 32, spec.hidden_size, spec.intermediate_size
    q, k, heads = spec.num_heads * spec.head_dim, spec.num_kv_heads * spec.head_dim, spec.num_heads
    saved = measure.saved_tensor_bytes(model, b, s, record=True)
    sizes = sorted(n for phase, _, _, n in saved["tensors"] if phase == "activations")
    per_layer = ([b * s * 4 * h, b * s * 4, b * s * 2 * h, b * s * 2 * h] * 2  # two norms + the Linear after each
                 + [b * s * 2 * q, b * s * 2 * k, b * s * 2 * k, b * s * 2 * q, b * s * 4 * heads]  # q k v out lse
                 + [b * s * 2 * f] * 4)  # silu in, silu out, up, product
    expected = (per_layer * spec.num_layers + [b * s * 8]  # token ids
                + [2 * s * spec.head_dim] * 2  # cos, sin: [1, s, head_dim], shared by batch and layers
                + [b * s * 4 * h, b * s * 4, b * s * 2 * h])  # final norm
    assert sizes == sorted(expected)
    assert sum(expected) == activation_bytes(spec, b, s, "bf16", "none", "sdpa") == saved["activations"]
    assert saved["logits"] == logits_bytes(spec, b, s, "bf16")


def test_checkpointing_keeps_the_layer_inputs_only(measure):
    model, spec = _model(measure, "llama-mha", "bf16", "eager")
    saved = measure.saved_tensor_bytes(model, 2, 64, checkpointing=True, record=True)
    layer_inputs = [t for t in saved["tensors"]
                    if t[0] == "activations" and t[1] == (2, 64, spec.hidden_size) and t[2] == "bfloat16"]
    assert len(layer_inputs) == spec.num_layers + 1  # one per layer, plus the final norm's normalized tensor
    assert saved["activations"] == activation_bytes(spec, 2, 64, "bf16", "full", "eager")


# --------------------------------------------------------------------------- the committed measurements


def _rows():
    if not DATA.exists():
        pytest.skip("no measured data yet: run `make measure`")
    with DATA.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_committed_measurements_match_llmmem():
    """Every row of the committed CSV (any device) against today's llmmem: exact states, activations within 2 %."""
    rows = _rows()
    assert len(rows) >= 100
    for r in rows:
        config = {"model_type": r["config"].split("-")[0], "vocab_size": int(r["vocab_size"]),
                  "hidden_size": int(r["hidden_size"]), "num_hidden_layers": int(r["num_layers"]),
                  "num_attention_heads": int(r["num_heads"]), "num_key_value_heads": int(r["num_kv_heads"]),
                  "intermediate_size": int(r["intermediate_size"]),
                  "tie_word_embeddings": r["tie_embeddings"] == "True"}
        spec = ModelSpec.from_hf_config(config)
        b, s, dtype = int(r["batch"]), int(r["seq_len"]), r["dtype"]
        assert int(r["params"]) == spec.num_params()
        assert int(r["parameter_bytes"]) == int(r["gradient_bytes"]) == BYTES[dtype] * spec.num_params()
        assert int(r["adamw_state_bytes"]) == optimizer_state_bytes(spec, "adamw", BYTES[dtype])
        assert int(r["kv_cache_bytes"]) == kv_cache_bytes(spec, s, b, fmt=dtype)
        recompute = "full" if r["checkpointing"] == "1" else "none"
        estimate = activation_bytes(spec, b, s, dtype, recompute, r["attention"])
        assert estimate == pytest.approx(int(r["activations_bytes"]), rel=TOLERANCE), r
        assert logits_bytes(spec, b, s, dtype) == pytest.approx(int(r["logits_bytes"]), rel=TOLERANCE), r


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_symbolic_per_layer_terms_agree_with_activation_bytes(attention):
    from dataclasses import replace

    from llmmem import symbolic as S
    spec = ModelSpec.from_catalog("llama-3.1-8b")
    b, s = 2, 1024
    one_layer = (activation_bytes(spec, b, s, "bf16", "none", attention)
                 - activation_bytes(replace(spec, num_layers=spec.num_layers - 1), b, s, "bf16", "none", attention))
    values = {S.ACT_h: spec.hidden_size, S.ACT_f: spec.intermediate_size, S.ACT_H: spec.num_heads,
              S.ACT_Hkv: spec.num_kv_heads, S.ACT_d: spec.head_dim, S.ACT_s: s, S.ACT_a: 2}
    assert one_layer == b * s * sum(S.saved_activations_per_layer_token(attention).values()).subs(values)
