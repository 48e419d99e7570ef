"""Speed from memory: the decode roofline, prefill, MoE, TP, speculative decoding, and published measurements."""

import json
import math
import statistics
from pathlib import Path

import pytest
import sympy as sp

import llmmem
from llmmem import ModelSpec, decode_throughput, get_gpu, kv_cache_bytes, prefill_time, speed, weight_bytes
from llmmem import symbolic as S

DATA = Path(__file__).parent.parent / "notebooks" / "data" / "decode_measurements.json"
ROWS = json.loads(DATA.read_text())["rows"]
DECODE = [r for r in ROWS if r["kind"] == "decode"]
PREFILL = [r for r in ROWS if r["kind"] == "prefill"]


@pytest.fixture(scope="module")
def llama7b():
    return ModelSpec.from_catalog("llama-2-7b")


def test_llama2_7b_fp16_on_a100_is_151_tokens_per_s(llama7b):
    assert llama7b.num_params() == 6_738_415_616
    r = decode_throughput(llama7b, gpu="A100-80GB", weights="fp16", kv_cache="fp16", batch=1, context=1, tp=1,
                          efficiency=1.0)
    kv_one_token = 2 * llama7b.num_layers * llama7b.num_kv_heads * llama7b.head_dim * 2  # K and V, fp16
    assert kv_cache_bytes(llama7b, seq_len=1, fmt="fp16") == kv_one_token
    assert r.tokens_per_s_per_seq == pytest.approx(2.039e12 / (6_738_415_616 * 2 + kv_one_token), rel=1e-12)
    assert round(r.tokens_per_s_per_seq, 1) == 151.3
    assert r.bound == "memory" and r.bytes_per_step == 6_738_415_616 * 2 + kv_one_token
    assert r.tokens_per_s_total == r.tokens_per_s_per_seq and r.notes


@pytest.mark.parametrize("model, gpu, weights, batch, context, tp", [
    ("llama-2-7b", "A100-80GB", "fp16", 1, 1, 1),
    ("llama-3.1-8b", "H100-80GB", "bf16", 256, 1, 1),  # compute-bound side
    ("llama-3.1-70b", "H100-80GB", "fp8", 32, 8192, 4),
    ("mixtral-8x7b", "MI300X", "bf16", 16, 2048, 2),
    ("qwen3-30b-a3b", "L40S", "int4", 4, 1024, 1),
])
def test_numeric_step_time_equals_the_sympy_roofline(model, gpu, weights, batch, context, tp):
    spec = ModelSpec.from_catalog(model)
    r = decode_throughput(spec, gpu, weights=weights, batch=batch, context=context, tp=tp, efficiency=0.8)
    values = S.decode_values(spec, gpu, weights, "bf16", batch, context, tp, efficiency=0.8)
    assert r.step_time_s == pytest.approx(float(S.decode_step_time().subs(values)), rel=1e-12)
    side = S.decode_tokens_per_s(r.bound).subs(values)
    assert r.tokens_per_s_per_seq == pytest.approx(float(side), rel=1e-12)


@pytest.mark.parametrize("model, gpu, weights, context", [
    ("llama-2-7b", "A100-80GB", "fp16", 1), ("llama-3.1-8b", "H100-80GB", "bf16", 512),
    ("llama-3.1-70b", "H100-80GB", "fp8", 128), ("qwen2.5-7b", "L4", "bf16", 64),
    ("llama-3.1-8b", "RTX-4090", "q4_0", 1),
])
def test_ridge_batch_is_the_sympy_root_rounded_up(model, gpu, weights, context):
    spec = ModelSpec.from_catalog(model)
    values = S.decode_values(spec, gpu, weights, "bf16", 1, context)
    root = S.decode_ridge_batch().subs(values)
    if root <= 0:  # BW f <= F KV_seq: every sequence adds more memory time than compute time
        assert speed.ridge_batch(spec, gpu, weights, "bf16", context) is None
        return
    assert speed.ridge_batch(spec, gpu, weights, "bf16", context) == int(sp.ceiling(root))
    ridge = int(sp.ceiling(root))
    if ridge > 1:
        assert decode_throughput(spec, gpu, weights, batch=ridge - 1, context=context).bound == "memory"
    assert decode_throughput(spec, gpu, weights, batch=ridge, context=context).bound == "compute"


def test_long_context_never_turns_compute_bound(llama7b):
    # Llama-2-7B is multi-head: attention does ~1 FLOP per KV byte, far below the A100's ~153 FLOPs/byte.
    values = S.decode_values(llama7b, "A100-80GB", "bf16", "bf16", 1, 4096)
    assert values[S.SPD_BW] * values[S.SPD_f] <= values[S.SPD_F] * values[S.SPD_KV]
    assert speed.ridge_batch(llama7b, "A100-80GB", context=4096) is None
    assert decode_throughput(llama7b, "A100-80GB", batch=64, context=4096).bound == "memory"


def test_batching_amortises_the_weights_until_kv_dominates(llama7b):
    rs = [decode_throughput(llama7b, "H100-80GB", batch=b, context=2048) for b in (1, 8, 64)]
    totals = [r.tokens_per_s_total for r in rs]
    assert totals == sorted(totals) and rs[0].tokens_per_s_per_seq > rs[-1].tokens_per_s_per_seq
    assert rs[0].weight_bytes_per_step > rs[0].kv_bytes_per_step
    assert rs[-1].kv_bytes_per_step > rs[-1].weight_bytes_per_step  # 64 x 2048 tokens x 0.5 MiB > 13.5 GB


def test_quantisation_speeds_decode_in_proportion_to_bytes():
    spec = ModelSpec.from_catalog("llama-3.1-8b")
    bf16 = decode_throughput(spec, "RTX-4090", weights="bf16", efficiency=1.0)
    int4 = decode_throughput(spec, "RTX-4090", weights="int4", efficiency=1.0)
    assert int4.tokens_per_s_per_seq / bf16.tokens_per_s_per_seq == pytest.approx(
        bf16.bytes_per_step / int4.bytes_per_step, rel=1e-12)
    assert 2.5 < int4.tokens_per_s_per_seq / bf16.tokens_per_s_per_seq < 4  # embedding/LM head stay 16-bit


def test_moe_reads_few_experts_at_batch_1_and_nearly_all_at_large_batch():
    spec = ModelSpec.from_catalog("mixtral-8x7b")
    e, k = spec.num_experts, spec.experts_per_token
    for b in (1, 2, 5, 40):
        expr = S.moe_expected_experts().subs({S.SPD_E: e, S.SPD_k: k, S.SPD_b: b})
        assert speed.expected_distinct_experts(e, k, b) == pytest.approx(float(expr), rel=1e-12)
    total = weight_bytes(spec, "bf16")
    read = [speed.weight_bytes_read(spec, "bf16", b) for b in (1, 4, 16, 64)]
    assert read == sorted(read) and read[-1] < total and read[-1] > 0.999 * total
    assert read[0] < 0.35 * total  # 2 of 8 experts + attention
    assert speed.weight_bytes_read(ModelSpec.from_catalog("llama-2-7b"), "bf16", 64) == 2 * 6_738_415_616


def test_tensor_parallelism_splits_the_bytes():
    spec = ModelSpec.from_catalog("llama-3.1-70b")
    one = decode_throughput(spec, "H100-80GB", batch=8, context=4096)
    four = decode_throughput(spec, "H100-80GB", batch=8, context=4096, tp=4)
    assert four.bytes_per_step == pytest.approx(one.bytes_per_step / 4, rel=1e-12)
    assert any("all-reduce" in n for n in four.notes)


def test_prefill_is_compute_bound_and_grows_with_the_prompt(llama7b):
    short, long = prefill_time(llama7b, "H100-80GB", 512), prefill_time(llama7b, "H100-80GB", 8192)
    assert long > 16 * short  # more than linear: causal attention grows with n^2
    flops = 2048 * 2 * (llama7b.num_params() - llama7b.param_counts()["embedding"])
    assert prefill_time(llama7b, "H100-80GB", 2048, efficiency=1.0) > flops / get_gpu("H100-80GB").peak_flops("bf16")
    # one decode token vs one prefill token: decode is far slower per token
    assert decode_throughput(llama7b, "H100-80GB").step_time_s > 50 * short / 512


@pytest.mark.parametrize("alpha, gamma", [(0.6, 3), (0.8, 4), (0.9, 7), (0.0, 2)])
def test_speculative_expected_tokens_is_the_geometric_sum(alpha, gamma):
    lhs = S.speculative_expected_tokens_formula().lhs.subs({S.SPD_alpha: sp.nsimplify(alpha), S.SPD_gamma: gamma})
    assert speed.speculative_expected_tokens(alpha, gamma) == pytest.approx(float(lhs.doit()), rel=1e-12)


def test_speculative_decoding_costs_the_draft_memory_and_speeds_up():
    target, draft = ModelSpec.from_catalog("llama-3.1-8b"), ModelSpec.from_catalog("llama-3.2-1b")
    r = speed.speculative_decoding(target, draft, "H100-80GB", alpha=0.8, gamma=4, context=1024)
    assert speed.speculative_expected_tokens(1, 4) == 5
    assert r.draft_memory.total == weight_bytes(draft, "bf16") + kv_cache_bytes(draft, seq_len=1024)
    assert 0 < r.cost_ratio < 0.3 and r.speedup == pytest.approx(r.expected_tokens_per_step / (4 * r.cost_ratio + 1))
    assert r.speedup > 1.5


# ---------------------------------------------------------------- published measurements


def _bound(r):
    spec = ModelSpec.from_catalog(r["model"])
    return decode_throughput(spec, r["gpu"], weights=r["weights"], kv_cache=r["kv_cache"], batch=r["batch"],
                             context=r["context"], efficiency=1.0).tokens_per_s_per_seq


def test_at_least_20_published_batch1_rows_over_several_gpus_and_formats():
    assert len(DECODE) >= 20 and all(r["batch"] == 1 for r in DECODE)
    assert len({r["gpu"] for r in DECODE}) >= 5 and len({r["weights"] for r in DECODE}) >= 5
    for r in ROWS:
        assert r["source"].strip() and r["source_detail"].strip() and r["measured_tokens_per_s"] > 0
        get_gpu(r["gpu"])


@pytest.mark.parametrize("row", DECODE, ids=[r["id"] for r in DECODE])
def test_measured_decode_is_at_or_below_the_roofline(row):
    assert row["measured_tokens_per_s"] <= _bound(row)


@pytest.mark.parametrize("row", PREFILL, ids=[r["id"] for r in PREFILL])
def test_measured_prefill_is_at_or_below_the_roofline(row):
    spec = ModelSpec.from_catalog(row["model"])
    fastest = prefill_time(spec, row["gpu"], row["prompt_tokens"], weights=row["weights"], efficiency=1.0)
    assert row["prompt_tokens"] / row["measured_tokens_per_s"] >= fastest


def test_default_efficiencies_are_the_medians_of_the_measurements():
    by_family: dict = {"float": [], "quantized": []}
    for r in DECODE:
        by_family[speed.weight_family(r["weights"])].append(r["measured_tokens_per_s"] / _bound(r))
    for family, ratios in by_family.items():
        assert round(statistics.median(ratios), 2) == speed.DEFAULT_DECODE_EFFICIENCY[family]
    shares = []
    for r in PREFILL:
        spec = ModelSpec.from_catalog(r["model"])
        fastest = prefill_time(spec, r["gpu"], r["prompt_tokens"], weights=r["weights"], efficiency=1.0)
        shares.append(fastest / (r["prompt_tokens"] / r["measured_tokens_per_s"]))
    assert round(statistics.median(shares), 2) == speed.DEFAULT_PREFILL_EFFICIENCY


def test_default_prediction_is_within_15_percent_at_the_median():
    errors = []
    for r in DECODE:
        spec = ModelSpec.from_catalog(r["model"])
        predicted = decode_throughput(spec, r["gpu"], weights=r["weights"], kv_cache=r["kv_cache"],
                                      context=r["context"], efficiency=None).tokens_per_s_per_seq
        errors.append(abs(predicted / r["measured_tokens_per_s"] - 1))
    assert statistics.median(errors) <= 0.15
    assert max(errors) < 1.0  # the worst (llama.cpp Q4_0 on A100/H100, Dec 2023) is over-predicted by ~80 %


# ---------------------------------------------------------------- input checks


@pytest.mark.parametrize("kwargs, fragment", [
    ({"efficiency": 0}, "efficiency"), ({"efficiency": 1.5}, "efficiency"), ({"efficiency": "high"}, "efficiency"),
    ({"batch": 0}, "batch"), ({"context": -1}, "context"), ({"gpu": "A100-90GB"}, "GPU"),
    ({"kv_cache": "q3"}, "KV-cache"), ({"weights": "int3"}, "format"), ({"tp": 3}, "tp"),
])
def test_bad_input_is_a_clear_error(llama7b, kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        decode_throughput(llama7b, **{"gpu": "A100-80GB", **kwargs})


def test_bad_speculative_and_prefill_input(llama7b):
    with pytest.raises(ValueError, match="alpha"):
        speed.speculative_expected_tokens(1.2, 4)
    with pytest.raises(ValueError, match="gamma"):
        speed.speculative_expected_tokens(0.5, 0)
    with pytest.raises(ValueError, match="prompt_tokens"):
        prefill_time(llama7b, "H100-80GB", 0)
    with pytest.raises(ValueError, match="top_k"):
        speed.expected_distinct_experts(8, 9, 1)


def test_public_api_names():
    for name in ("decode_throughput", "prefill_time", "speculative_decoding", "expected_distinct_experts"):
        assert name in llmmem.__all__ and callable(getattr(llmmem, name))
    assert math.isclose(llmmem.decode_throughput(ModelSpec.from_catalog("gpt2"), "T4").tokens_per_s_per_seq,
                        decode_throughput(ModelSpec.from_catalog("gpt2"), "T4").tokens_per_s_per_seq)


# ---------------------------------------------------------------- calculator


def test_speed_calculator_shows_memory_and_speed_from_llmmem():
    from llmmem.speed_widget import SpeedCalculator

    calc = SpeedCalculator()
    spec = ModelSpec.from_catalog("llama-3.1-8b")
    expected = decode_throughput(spec, "H100-80GB", context=4096, efficiency=None)
    assert calc.speed.tokens_per_s_per_seq == expected.tokens_per_s_per_seq
    assert f"{expected.tokens_per_s_per_seq:,.1f} tok/s per sequence" in calc.summary()
    assert calc.breakdown.total == llmmem.inference_memory(spec, seq_len=4096).total
    calc.batch.value = "512"
    calc.context.value = "1"
    assert "compute-bound" in calc.summary() and "time to first token" in calc.result.value


@pytest.mark.parametrize("field, bad, fragment", [("batch", "0", "Batch"), ("context", "lots", "Context")])
def test_speed_calculator_bad_input_is_red_and_recovers(field, bad, fragment):
    from llmmem.speed_widget import SpeedCalculator

    calc = SpeedCalculator()
    getattr(calc, field).value = bad
    assert calc.summary().startswith("error:") and fragment in calc.summary() and "#B00020" in calc.result.value
    getattr(calc, field).value = "8"
    assert "tok/s" in calc.summary()
