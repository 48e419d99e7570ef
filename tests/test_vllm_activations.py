"""Activation peaks, pipeline stages and the CUDA-graph pool against the vLLM 0.19 start-up logs.

The runs are the llm-d-planner vLLM v0.19.0 H100 sweep in llmmem/data/reference/measurements.json (rank 0 of
each run), read with the catalog configs of tests/test_vllm_runs.py; only the last pipeline rank's peak is
quoted from the same logs (LAST_RANK_PEAK_GIB). Checks:

* activation peak (``torch peak memory increase``): :func:`prefill_activation_bytes` within 5 % for every
  pp=1 run, dense and MoE (it was 15-17 % low on Mixtral and Kimi-VL before the fused-MoE workspace);
* pipeline stages: :func:`pipeline_stage_activation_bytes` per rank, and the non-torch memory of a PP rank;
* CUDA-graph pool (``CUDA graph pool memory: X GiB (actual)``): the constants of
  :func:`vllm_cuda_graph_pool_bytes` are refitted here on the calibration half of the logs (models in even
  positions of the sorted model names) and checked on the other half; its source-given terms (graph counts,
  FlashAttention's split-KV accumulator) against the logs' own "Estimated ... first-capture" lines.

``pytest tests/test_vllm_activations.py -s`` prints the tables.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from test_vllm_runs import READ, _setup, _values

from llmmem.inference import (
    CUDA_GRAPH_POOL_BASE_BYTES,
    CUDA_GRAPH_POOL_BYTES_PER_LAYER_GRAPH,
    CUDA_GRAPH_POOL_MOE_BYTES_PER_LAYER_GRAPH,
    CUDA_GRAPH_POOL_SHARED_EXPERT_BYTES_PER_LAYER_GRAPH,
    NON_TORCH_BYTES_PP,
    NON_TORCH_BYTES_TP,
    SAMPLER_FP32_BYTES_PER_LOGIT,
    _cuda_graph_pool_terms,
    _forward_bytes_per_token,
    inference_memory,
    pipeline_stage_activation_bytes,
    prefill_activation_bytes,
    vllm_cuda_graph_pool_bytes,
)
from llmmem.model import ModelSpec
from llmmem.units import GiB

V019 = [r for r in READ if r["id"].startswith("vllm-0.19")]
PP1 = [r for r in V019 if r["setting"].get("pp", 1) == 1]

# The last pipeline rank's own peak (it also samples): measurements.json holds rank 0's figures, so the last
# rank's "torch peak memory increase" is quoted from the same logs (llm-d-incubation/llm-d-planner @
# d3121e059da88662db39a926a3ead964be97359b, accuracy/results/v0.19.0/logs/<run>.log, the Worker_PP<last> line).
LAST_RANK_PEAK_GIB = {
    "vllm-0.19.0-h100-meta-llama-llama-3-1-8b---h100-80gb--tp1pp2dp1--8192": 2.01,  # Worker_PP1
    "vllm-0.19.0-h100-meta-llama-llama-3-1-8b---h100-80gb--tp1pp4dp1--8192": 2.01,  # Worker_PP3
}

# The estimate before the fused-MoE workspace was modelled (forward: (4 + k) x hidden + 3 x (k x expert
# width + shared) / tp per token; no workspace), kept only to print the before/after table.


def _old_estimate(spec, tp, act_bytes):
    h, tokens, seqs = spec.hidden_size, 8192, 1024
    per_token = 4 * h + 3 * spec.intermediate_size // tp
    if spec.is_moe:
        k = spec.experts_per_token
        moe = (4 + k) * h + 3 * (k * spec.moe_intermediate_size + spec.shared_experts_intermediate_size) // tp
        per_token = moe if len(spec.moe_layers) == spec.num_layers else max(per_token, moe)
    return max(tokens * per_token * act_bytes, seqs * spec.vocab_size * (act_bytes + 13) + tokens * h * act_bytes)


def _act_bytes(fmt):
    return 4 if fmt == "fp32" else 2


# Misses of the new runs (strict xfail: the day they pass, the marker must go).
KNOWN_ACTIVATION_GAPS = {
    "vllm-0.19.0-h100-w8a8-mistral-small-24b--h100-80gb--tp1pp1dp1--8192":
        "2.06 vs 2.18 GiB (-5.4 %; -10.4 % before the int8 copy of the MLP's activated product, 32 KiB per "
        "token): the profile run keeps the 2 dummy images' encoder outputs (2 x 3025 x 5120 bf16, 0.058 GiB; "
        "v1/worker/gpu_model_runner.py profile_run's encoder_cache) through the forward and the sampler, not "
        "modelled (with them -2.7 %); the rest is the dense forward's ~2 % under-count (CodeLlama, Granite)",
}


def _act_case(run):
    reason = KNOWN_ACTIVATION_GAPS.get(run["id"])
    return pytest.param(run, id=run["id"], marks=pytest.mark.xfail(reason=reason, strict=True) if reason else ())


@pytest.mark.parametrize("run", [_act_case(r) for r in PP1])
def test_activation_peak_within_5_percent(run):
    spec, fmt, _, tp, _ = _setup(run)
    predicted = prefill_activation_bytes(spec, tp=tp, act_bytes=_act_bytes(fmt), weights=fmt) / GiB
    logged = _values(run)["activation_peak_GiB"]
    print(f"\n{run['id']}: {predicted:.2f} vs {logged} GiB ({predicted / logged - 1:+.1%})")
    assert predicted == pytest.approx(logged, rel=0.05)


def test_moe_workspace_follows_the_fused_moe_shapes():
    # Mixtral at TP=2: N = 2 x 14336 / 2 = 14336, K = 4096, top_k = 2. workspace13 = M x 2 x max(7168, 4096),
    # workspace2 = M x 2 x max(14336, 4096), M = 8192 tokens, bf16; it adds to the sampler's peak.
    spec = ModelSpec.from_catalog("mixtral-8x7b")
    workspace = 8192 * 2 * (7168 + 14336) * 2
    sampler = 1024 * spec.vocab_size * (2 + 13) + 8192 * spec.hidden_size * 2
    assert prefill_activation_bytes(spec, tp=2) == workspace + sampler
    # Past VLLM_FUSED_MOE_CHUNK_SIZE (16384 tokens) the workspace stops growing; the forward's four
    # hidden-size tensors per token (no shared expert in Mixtral) still do.
    big, bigger = (prefill_activation_bytes(spec, tokens=n, seqs=1, tp=2) for n in (16384, 32768))
    assert bigger - big == 16384 * 4 * 4096 * 2
    # A dense model has no workspace: its peak is the larger of forward and sampler, as before.
    dense = ModelSpec.from_catalog("codellama-7b")
    assert prefill_activation_bytes(dense) == max(8192 * (4 * 4096 + 3 * 11008) * 2,
                                                  1024 * 32016 * 15 + 8192 * 4096 * 2)


# gpt-oss-20b at TP 1: the run failed after profiling, so it is not in measurements.json; its profile line
# (llm-d-planner @ d3121e05, accuracy/results/v0.19.0/logs/openai-gpt-oss-20b--h100-80gb--tp1pp1dp1--8192.FAILED.log,
# "torch peak memory increase: 2.87GiB") is a held-out check of the MXFP4 rule: the same peak as TP 2, as a
# sampler-set peak must be.
GPT_OSS_TP1_PEAK_GIB = 2.87


def test_gpt_oss_mxfp4_experts_keep_no_workspace():
    spec = ModelSpec.from_catalog("gpt-oss-20b")
    sampler = 1024 * spec.vocab_size * (2 + SAMPLER_FP32_BYTES_PER_LOGIT) + 8192 * spec.hidden_size * 2
    # TRITON Mxfp4 backend, TP 2: the MoE layer holds (M x 4, 1472) after the fused SwiGLU and (M x 4, 2880)
    # unreduced rows, beside four hidden-size tensors: far below the sampler, and freed before it runs.
    moe_layer = 8192 * (4 * 2880 + 4 * (1472 + 2880)) * 2
    assert moe_layer < sampler
    for tp, logged in ((2, 2.87), (1, GPT_OSS_TP1_PEAK_GIB)):
        predicted = prefill_activation_bytes(spec, tp=tp)
        assert predicted == sampler
        assert predicted / GiB == pytest.approx(logged, rel=0.05)
    # Served as bf16 experts (vLLM's fused_moe), the workspace is kept and adds to the sampler again.
    assert prefill_activation_bytes(spec, tp=2, weights="bf16") > sampler


def test_w8a8_int8_copy_of_the_activated_product():
    (run,) = [r for r in PP1 if r["id"] == "vllm-0.19.0-h100-w8a8-mistral-small-24b--h100-80gb--tp1pp1dp1--8192"]
    spec, fmt, _, tp, _ = _setup(run)
    h, f = spec.hidden_size, spec.intermediate_size
    # gate_up (2f bf16) + silu(gate) * up (f bf16) + its int8 copy (f bytes) + an fp32 scale, beside 4 hidden
    assert prefill_activation_bytes(spec, tp=1) == 8192 * ((4 * h + 3 * f) * 2 + f + 4)
    # served in bf16, or with int8 weights but 16-bit inputs (no input_activations), the dense rule: the sampler
    sampler = 1024 * spec.vocab_size * (2 + SAMPLER_FP32_BYTES_PER_LOGIT) + 8192 * h * 2
    assert 8192 * (4 * h + 3 * f) * 2 < sampler
    assert prefill_activation_bytes(spec, tp=1, weights="bf16") == sampler
    q = spec.quantization
    del q["config_groups"]["group_0"]["input_activations"]
    weights_only = replace(spec, quantization_config=json.dumps(q, sort_keys=True))
    assert prefill_activation_bytes(weights_only, tp=1) == sampler


PP_RUNS = [r for r in V019 if r["setting"].get("pp", 1) > 1]


def test_pipeline_formula_on_llama_pp2():
    """PP=2 Llama-3.1-8B: rank 0 runs the forward only, the last rank also samples."""
    run = next(r for r in PP_RUNS if r["setting"]["pp"] == 2)
    spec, fmt, _, tp, pp = _setup(run)
    first, last = pipeline_stage_activation_bytes(spec, pp, tp=tp)
    h, width, tokens = spec.hidden_size, spec.intermediate_size, 8192
    forward = tokens * (4 * h + 3 * width) * 2
    handed_on = 2 * tokens * h * 2
    assert first == forward + handed_on
    assert last == prefill_activation_bytes(spec) + handed_on
    # The per-GPU breakdown takes the largest stage: with 1024 requests sampled, the last.
    b = inference_memory(spec, weights="bf16", batch=1024, seq_len=8, pp=2)
    assert b["activations"] == last and b["overhead"] == NON_TORCH_BYTES_PP


@pytest.mark.parametrize("run", PP_RUNS, ids=lambda r: r["id"])
def test_pipeline_ranks_hold_their_own_peaks(run):
    """Rank 0 (forward + hand-on) and the last rank (forward + receive buffer + sampler) within 7 %."""
    assert len(PP_RUNS) >= 2
    spec, fmt, _, tp, pp = _setup(run)
    stages = pipeline_stage_activation_bytes(spec, pp, tp=tp, act_bytes=_act_bytes(fmt))
    logged, logged_last = _values(run)["activation_peak_GiB"], LAST_RANK_PEAK_GIB[run["id"]]
    before = prefill_activation_bytes(spec) / GiB  # the whole model's peak, sampler included, on every rank
    print(f"\nPP={pp} rank 0: {stages[0] / GiB:.2f} vs {logged} GiB ({stages[0] / GiB / logged - 1:+.1%}; "
          f"before {before / logged - 1:+.1%}); last rank {stages[-1] / GiB:.2f} vs {logged_last} GiB")
    assert stages[0] / GiB == pytest.approx(logged, rel=0.07)
    assert stages[-1] / GiB == pytest.approx(logged_last, rel=0.07)


def test_pipeline_rank_non_torch_memory():
    run = next(r for r in V019 if r["setting"].get("pp", 1) == 2)
    logged = _values(run)["non_torch_GiB"]
    predicted = inference_memory(_setup(run)[0], weights="bf16", pp=2)["overhead"] / GiB
    print(f"\nPP=2 rank 0 non-torch: {predicted:.2f} vs {logged} GiB (before: 0.25, {0.25 / logged - 1:+.0%})")
    assert predicted == pytest.approx(logged, abs=0.01)


# ---------------------------------------------------------------------------------------------------------
# CUDA-graph pool: calibrate on half the models, check on the other half.

GRAPH_RUNS = [r for r in V019 if "cuda_graph_pool_GiB_actual" in _values(r)]
_NAMES = sorted({r["setting"]["model"] for r in GRAPH_RUNS})
CALIBRATION = [r for r in GRAPH_RUNS if _NAMES.index(r["setting"]["model"]) % 2 == 0]
HELD_OUT = [r for r in GRAPH_RUNS if _NAMES.index(r["setting"]["model"]) % 2 == 1]


# The logs' own decomposition (vLLM's profiler, "Estimated <MODE> CUDA graph memory: <first> MiB first-capture +
# (<n>-1) x ..."; same logs as measurements.json, the Worker_TP0 / EngineCore line): graphs captured per mode, and
# the FULL first capture, which the FlashAttention split-KV accumulator dominates.
LOGGED_GRAPHS = {  # run -> (PIECEWISE graphs, FULL graphs, FULL first-capture MiB)
    "vllm-0.19.0-h100-meta-llama-llama-3-1-8b---h100-80gb--tp1pp1dp1--8192": (51, 51, 260),
    "vllm-0.19.0-h100-meta-llama-llama-3-1-8b---h100-80gb--tp2pp1dp1--8192": (51, 51, 132),
    "vllm-0.19.0-h100-meta-llama-llama-3-1-8b---h100-80gb--tp1pp4dp1--8192": (51, 51, 256),
    "vllm-0.19.0-h100-qwen-qwen2-5-7b-instruct--h100-80gb--tp1pp1dp1--8192": (51, 51, 228),
    "vllm-0.19.0-h100-google-gemma-2-2b-it--h100-80gb--tp1pp1dp1--8192": (51, 51, 134),
    "vllm-0.19.0-h100-microsoft-phi-4--h100-80gb--tp1pp1dp1--8192": (51, 51, 328),
    "vllm-0.19.0-h100-moonshotai-kimi-vl-a3b-i--h100-80gb--tp1pp1dp1--8192": (51, 51, 522),  # MLA: kv_lora_rank
    "vllm-0.19.0-h100-moonshotai-kimi-vl-a3b-i--h100-80gb--tp2pp1dp1--8192": (51, 51, 264),
    "vllm-0.19.0-h100-google-gemma-3-4b-it--h100-80gb--tp1pp1dp1--8192": (51, 51, 4),  # TRITON_ATTN
    "vllm-0.19.0-h100-openai-gpt-oss-20b--h100-80gb--tp2pp1dp1--8192": (83, 83, 8),  # sinks; 1024 largest
    "vllm-0.19.0-h100-meta-llama-llama-4-scout--h100-80gb--tp4pp1dp1--8192": (51, 0, 0),  # PIECEWISE only
}


def _terms(run):
    spec, fmt, _, tp, pp = _setup(run)
    return max(_cuda_graph_pool_terms(spec, tp, pp, _act_bytes(fmt)), key=lambda t: t["layers"])


@pytest.mark.parametrize("run_id", LOGGED_GRAPHS)
def test_cuda_graph_terms_follow_the_logged_captures(run_id):
    """Graph counts exact; the split-KV accumulator within 4 % (+ 8 MiB) of the logged FULL first capture,
    which also holds that graph's own activations."""
    (run,) = [r for r in GRAPH_RUNS if r["id"] == run_id]
    pw, full, first_mib = LOGGED_GRAPHS[run_id]
    t = _terms(run)
    assert t["graphs"] == pw + full
    assert t["split_kv_bytes"] / 2**20 == pytest.approx(first_mib, rel=0.04, abs=8)


def _features(run):
    t = _terms(run)
    g = t["graphs"]
    return [1.0, float(g * t["layers"]), float(g * t["moe_layers"]), float(g * t["shared_expert_layers"])]


def _least_squares(rows, ys):
    """Solve the n x n normal equations (Gaussian elimination): the coefficients minimizing squared error."""
    n = len(rows[0])
    a = [[sum(r[i] * r[j] for r in rows) for j in range(n)] + [sum(r[i] * y for r, y in zip(rows, ys, strict=True))]
         for i in range(n)]
    for c in range(n):
        p = max(range(c, n), key=lambda i: abs(a[i][c]))
        a[c], a[p] = a[p], a[c]
        for i in range(n):
            if i != c:
                f = a[i][c] / a[c][c]
                a[i] = [x - f * y for x, y in zip(a[i], a[c], strict=True)]
    return [a[i][n] / a[i][i] for i in range(n)]


def test_cuda_graph_constants_are_the_calibration_fit():
    """The split-KV accumulator is taken as the source gives it; the other four terms are the least-squares fit."""
    assert len(CALIBRATION) >= 10 and len(HELD_OUT) >= 10
    assert not {r["setting"]["model"] for r in CALIBRATION} & {r["setting"]["model"] for r in HELD_OUT}
    coef = _least_squares([_features(r) for r in CALIBRATION],
                          [_values(r)["cuda_graph_pool_GiB_actual"] * GiB - _terms(r)["split_kv_bytes"]
                           for r in CALIBRATION])
    print(f"\nfit on {len(CALIBRATION)} runs: base {coef[0] / 2**20:.1f} MiB; per layer per graph {coef[1] / 1024:.1f} "
          f"KiB, + {coef[2] / 1024:.1f} KiB per MoE layer, + {coef[3] / 1024:.1f} KiB with a shared expert")
    assert coef[0] == pytest.approx(CUDA_GRAPH_POOL_BASE_BYTES, rel=0.01)
    assert coef[1] == pytest.approx(CUDA_GRAPH_POOL_BYTES_PER_LAYER_GRAPH, rel=0.01)
    assert coef[2] == pytest.approx(CUDA_GRAPH_POOL_MOE_BYTES_PER_LAYER_GRAPH, rel=0.02)
    assert coef[3] == pytest.approx(CUDA_GRAPH_POOL_SHARED_EXPERT_BYTES_PER_LAYER_GRAPH, rel=0.01)


# Held-out runs the model is known to miss (strict xfail: the day they pass, the marker must go).
KNOWN_GRAPH_GAPS = {
    "vllm-0.19.0-h100-openai-gpt-oss-20b--h100-80gb--tp2pp1dp1--8192":
        "0.95 vs 1.55 GiB (-38 %): gpt-oss's MXFP4 experts run the 'TRITON' Mxfp4 backend (triton_kernels "
        "matmul_ogs with its own routing kernels), whose graphs take about 375 KiB per layer per graph "
        "against 218 KiB for a bf16 fused-MoE layer; no other run uses that backend to calibrate it",
}


def _pool_error(run):
    spec, fmt, _, tp, pp = _setup(run)
    predicted = vllm_cuda_graph_pool_bytes(spec, tp, pp, act_bytes=_act_bytes(fmt)) / GiB
    logged = _values(run)["cuda_graph_pool_GiB_actual"]
    print(f"\n{run['id'][17:70]:53s} pool {predicted:.2f} vs {logged} GiB ({predicted / logged - 1:+.1%})")
    return predicted / logged - 1


def test_cuda_graph_pool_on_the_held_out_half():
    errors = [abs(_pool_error(r)) for r in HELD_OUT if r["id"] not in KNOWN_GRAPH_GAPS]
    calibration = [abs(_pool_error(r)) for r in CALIBRATION]
    print(f"\nCUDA-graph pool error: held-out max {max(errors):.1%}, mean {sum(errors) / len(errors):.1%} over "
          f"{len(errors)} runs (+ {len(KNOWN_GRAPH_GAPS)} known gap); calibration max {max(calibration):.1%}, mean "
          f"{sum(calibration) / len(calibration):.1%} over {len(calibration)} runs")
    assert len(errors) >= 20
    assert max(errors) < 0.20 and sum(errors) / len(errors) < 0.08


@pytest.mark.parametrize("run_id", [pytest.param(k, marks=pytest.mark.xfail(reason=v, strict=True))
                                    for k, v in KNOWN_GRAPH_GAPS.items()])
def test_cuda_graph_pool_known_gaps(run_id):
    (run,) = [r for r in HELD_OUT if r["id"] == run_id]
    assert abs(_pool_error(run)) < 0.20


def test_before_after_table():
    """Prints the activation estimate before and after the MoE workspace and the pipeline stages (-s)."""
    print(f"\n{'run':55s} {'logged':>6s} {'before':>7s} {'after':>7s}")
    worst_after = 0.0
    for run in V019:
        spec, fmt, _, tp, pp = _setup(run)
        logged = _values(run)["activation_peak_GiB"]
        old = _old_estimate(spec, tp, _act_bytes(fmt)) / GiB
        new = pipeline_stage_activation_bytes(spec, pp, tp=tp, act_bytes=_act_bytes(fmt), weights=fmt)[0] / GiB
        if run["id"] not in KNOWN_ACTIVATION_GAPS:
            worst_after = max(worst_after, abs(new / logged - 1))
        print(f"{run['id'][17:72]:55s} {logged:6.2f} {old / logged - 1:+7.1%} {new / logged - 1:+7.1%}")
    assert worst_after < 0.07


# ---------------------------------------------------------------------------------------------------------
# Constants calibrated on these logs, checked on a held-out half (same rule as the CUDA-graph pool: models in
# even positions of the sorted model names calibrate, odd ones check).

def _half(runs, parity):
    names = sorted({r["setting"]["model"] for r in runs})
    return [r for r in runs if names.index(r["setting"]["model"]) % 2 == parity]


def _sampler_parts(run):
    """(logged peak, the estimate without the fp32 temporaries, logits) of a run the sampler peaks."""
    spec, fmt, _, tp, _ = _setup(run)
    act, seqs = _act_bytes(fmt), 1024
    rest = prefill_activation_bytes(spec, tp=tp, act_bytes=act) - seqs * spec.vocab_size * SAMPLER_FP32_BYTES_PER_LOGIT
    return _values(run)["activation_peak_GiB"] * GiB, rest, seqs * spec.vocab_size


# The runs whose estimated peak the sampler sets (the sampler term beats the forward pass), known misses out.
SAMPLER_RUNS = [r for r in PP1 if r["id"] not in KNOWN_ACTIVATION_GAPS
                for spec, fmt, _, tp, _ in [_setup(r)]
                if 1024 * spec.vocab_size * (_act_bytes(fmt) + SAMPLER_FP32_BYTES_PER_LOGIT)
                > 8192 * _forward_bytes_per_token(spec, range(spec.num_layers), tp) * _act_bytes(fmt)]


def test_sampler_bytes_per_logit_on_the_held_out_half():
    cal, held = _half(SAMPLER_RUNS, 0), _half(SAMPLER_RUNS, 1)
    assert len(cal) >= 5 and len(held) >= 5
    # least squares on relative error: minimize sum(((rest + c * logits) / logged - 1)^2) over the calibration half
    parts = [_sampler_parts(r) for r in cal]
    fit = sum(n / y * (1 - a / y) for y, a, n in parts) / sum((n / y) ** 2 for y, a, n in parts)
    held_parts = [_sampler_parts(r) for r in held]
    errors = {c: [abs((a + c * n) / y - 1) for y, a, n in held_parts] for c in (fit, SAMPLER_FP32_BYTES_PER_LOGIT)}
    print(f"\nsampler: fit {fit:.2f} B/logit on {len(cal)} runs; held-out ({len(held)} runs) max error "
          f"{max(errors[fit]):.1%} with the fit, {max(errors[SAMPLER_FP32_BYTES_PER_LOGIT]):.1%} with "
          f"{SAMPLER_FP32_BYTES_PER_LOGIT}")
    assert max(errors[SAMPLER_FP32_BYTES_PER_LOGIT]) < 0.05


def test_tp_non_torch_memory_on_the_held_out_half():
    tp_runs = [r for r in V019 if _setup(r)[3] > 1 and r["setting"].get("pp", 1) == 1]
    cal, held = _half(tp_runs, 0), _half(tp_runs, 1)
    assert len(cal) >= 4 and len(held) >= 4
    fit = sum(_values(r)["non_torch_GiB"] for r in cal) / len(cal)
    const = NON_TORCH_BYTES_TP / GiB
    errors = {c: [abs(c / _values(r)["non_torch_GiB"] - 1) for r in held] for c in (fit, const)}
    print(f"\nTP non-torch: calibration mean {fit:.3f} GiB over {len(cal)} runs; held-out ({len(held)} runs) max "
          f"error {max(errors[fit]):.1%} with it, {max(errors[const]):.1%} with {const:.2f} GiB")
    assert max(errors[const]) < 0.05
