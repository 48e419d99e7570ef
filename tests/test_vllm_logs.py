"""Replay real vLLM start-up logs (llmmem/data/reference/measurements.json, ids "vllm-...") against llmmem.

For every run whose model is one we have the real config of, check:
* weights: weight_bytes(spec, fmt) / tp (rank 0's pipeline stage when pp > 1) within 0.1 GiB of vLLM's
  "weights memory" (per rank);
* KV tokens: kv_cache_tokens(logged "Available KV cache memory") within 1 % of "GPU KV cache size";
* concurrency: max_concurrency(tokens, max_model_len) equals the logged "Maximum concurrency" (2 decimals);
* budget: total x gpu_memory_utilization - (weights + activations + non-torch) = the logged KV GiB;
* activations: the estimate prefill_activation_bytes within 5 % of "torch peak memory increase", dense and
  MoE alike since the fused-MoE workspace is modelled (an estimate: the tolerance is part of what is being
  taught; tests/test_vllm_activations.py has the per-stage and CUDA-graph checks).
Run ``pytest tests/test_vllm_logs.py -s`` to print the table of predicted vs logged numbers.
"""


import pytest

from llmmem import reference
from llmmem.formats import weight_bytes
from llmmem.inference import (
    VLLM_MAX_NUM_BATCHED_TOKENS,
    VLLM_MAX_NUM_SEQS,
    kv_cache_tokens,
    max_concurrency,
    pipeline_stage_weight_bytes,
    prefill_activation_bytes,
    vllm_available_kv_bytes,
    vllm_pipeline_kv_tokens,
)
from llmmem.model import ModelSpec
from llmmem.units import GiB

_LLAMA_8B = {
    # meta-llama/Llama-3.1-8B config.json (Meta-Llama-3-8B and the -Instruct models have the same shapes)
    "model_type": "llama", "vocab_size": 128256, "hidden_size": 4096, "intermediate_size": 14336,
    "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "tie_word_embeddings": False,
}
CONFIGS = {
    "llama-3.1-8b": _LLAMA_8B,
    # meta-llama/Llama-3.1-70B (Llama-3.3-70B-Instruct has the same shapes)
    "llama-3.1-70b": dict(_LLAMA_8B, hidden_size=8192, intermediate_size=28672, num_hidden_layers=80,
                          num_attention_heads=64),
    # Qwen/Qwen2.5-7B(-Instruct) config.json
    "qwen2.5-7b": {
        "model_type": "qwen2", "vocab_size": 152064, "hidden_size": 3584, "intermediate_size": 18944,
        "num_hidden_layers": 28, "num_attention_heads": 28, "num_key_value_heads": 4, "tie_word_embeddings": False,
    },
    # Qwen/Qwen2.5-72B-Instruct config.json
    "qwen2.5-72b": {
        "model_type": "qwen2", "vocab_size": 152064, "hidden_size": 8192, "intermediate_size": 29568,
        "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8, "tie_word_embeddings": False,
    },
    # Qwen/Qwen3-8B config.json (same shapes as Qwen3-8B-Base, e.g. Chen-Oliver/qwen3-8b-base config.json)
    "qwen3-8b": {
        "model_type": "qwen3", "vocab_size": 151936, "hidden_size": 4096, "intermediate_size": 12288,
        "num_hidden_layers": 36, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
        "tie_word_embeddings": False,
    },
    # mistralai/Mixtral-8x7B(-Instruct)-v0.1 config.json
    "mixtral-8x7b": {
        "model_type": "mixtral", "vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 14336,
        "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "num_local_experts": 8,
        "num_experts_per_tok": 2, "sliding_window": None, "tie_word_embeddings": False,
    },
}

# vLLM's model name -> (our config, weight format as llmmem.formats names it). Quantized checkpoints:
# RedHatAI "fp8-dynamic" (compressed-tensors, FP8 weights, per-channel scales), "quantized.w8a8" (int8 weights,
# per-channel scales), "quantized.w4a16" (GPTQ 4-bit, group 128, served by gptq_marlin); quantization="fp8"
# is vLLM's online FP8 of a bf16 checkpoint. All keep embedding and lm_head in 16 bits.
MODELS = {
    "meta-llama/Meta-Llama-3-8B": ("llama-3.1-8b", None),
    "meta-llama/Llama-3.1-8B-Instruct": ("llama-3.1-8b", None),
    "RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w4a16": ("llama-3.1-8b", "int4"),
    "RedHatAI/Llama-3.3-70B-Instruct-fp8-dynamic": ("llama-3.1-70b", "fp8"),
    "Qwen/Qwen2.5-7B-Instruct": ("qwen2.5-7b", None),
    "RedHatAI/Qwen2.5-7B-Instruct-fp8-dynamic": ("qwen2.5-7b", "fp8"),
    "RedHatAI/Qwen2.5-7B-Instruct-quantized.w8a8": ("qwen2.5-7b", "int8"),
    "Qwen/Qwen2.5-72B-Instruct": ("qwen2.5-72b", None),
    "Qwen/Qwen3-8B": ("qwen3-8b", None),
    "mistralai/Mixtral-8x7B-Instruct-v0.1": ("mixtral-8x7b", None),
}
DTYPES = {"torch.bfloat16": "bf16", "torch.float16": "fp16", "torch.float32": "fp32", "bf16 (default)": "bf16",
          "auto (bf16)": "bf16"}


RUNS = [m for m in reference.measurements() if m["id"].startswith("vllm-") and m["setting"]["model"] in MODELS]


def _setup(run):
    """(spec, weight format, KV format, tp, pp) of one run."""
    s = run["setting"]
    key, quant = MODELS[s["model"]]
    dtype = DTYPES[s.get("dtype", "bf16 (default)")]
    if s.get("quantization") == "fp8":  # vLLM's online FP8 (--quantization fp8) of a bf16 checkpoint
        quant = "fp8"
    kv = s.get("kv_cache_dtype", "auto")
    kv_fmt = dtype if kv == "auto" else kv  # vLLM's "auto": the model dtype
    tp = s["tp"][0] if isinstance(s["tp"], list) else s["tp"]
    return ModelSpec.from_hf_config(CONFIGS[key], name=key), quant or dtype, kv_fmt, tp, s.get("pp", 1)


def _values(run):
    """The logged values; the PR #10511 entry has a TP=1 and a TP=2 record, use TP=1's."""
    v = run["values"]
    return v["tp1"] if "tp1" in v else v


def test_every_reference_model_run_is_covered():
    # 1 PR log + 31 runs of the llm-d-planner vLLM 0.19 sweep on the reference models (and the two 70B-class
    # models with the same shapes as Llama-3.1-70B / known Qwen2.5-72B config).
    assert len(RUNS) >= 32


@pytest.mark.parametrize("run", RUNS, ids=lambda r: r["id"])
def test_weights_per_rank_within_0_1_gib(run):
    spec, wfmt, _, tp, pp = _setup(run)
    # The log is rank 0's: with pp > 1 its stage (embedding + its layers), not a pp-th of the model -- at
    # PP = 4 rank 0 holds 4.26 GiB, 0.52 GiB more than 1/4 (the 0.5 GiB embedding it alone holds).
    stage = pipeline_stage_weight_bytes(spec, wfmt, pp)[0] if pp > 1 else weight_bytes(spec, wfmt)
    predicted = stage / tp / GiB
    print(f"\n{run['id']}: weights predicted {predicted:.3f} GiB, logged {_values(run)['weights_GiB']} GiB")
    assert predicted == pytest.approx(_values(run)["weights_GiB"], abs=0.1)
    if "tp2" in run["values"]:  # PR #10511 also logged TP=2
        assert weight_bytes(spec, wfmt) / 2 / GiB == pytest.approx(run["values"]["tp2"]["weights_GiB"], abs=0.1)


KV_RUNS = [r for r in RUNS if "kv_cache_tokens" in _values(r)]


@pytest.mark.parametrize("run", KV_RUNS, ids=lambda r: r["id"])
def test_kv_tokens_from_logged_budget_within_1_percent(run):
    spec, _, kv_fmt, tp, pp = _setup(run)
    v = _values(run)
    if pp == 1:
        predicted = kv_cache_tokens(v["kv_cache_GiB"] * GiB, spec, kv_fmt, tp=tp, pp=pp)
    else:
        # vLLM gives every pipeline stage the block count of the tightest one; the log shows rank 0's budget,
        # and the last stage also runs the sampler (vllm_pipeline_kv_tokens). Rank 0's own budget alone
        # would be 1.4 % high here.
        predicted = vllm_pipeline_kv_tokens(v["kv_cache_GiB"] * GiB, v["activation_peak_GiB"] * GiB, spec, kv_fmt,
                                            tp=tp, pp=pp)
    logged = v["kv_cache_tokens"]
    print(f"\n{run['id']}: KV tokens predicted {predicted:,}, logged {logged:,} ({predicted / logged - 1:+.2%})")
    assert predicted == pytest.approx(logged, rel=0.01)


@pytest.mark.parametrize("run", KV_RUNS, ids=lambda r: r["id"])
def test_concurrency_matches_the_log(run):
    v = _values(run)
    if "max_concurrency" not in v:
        pytest.skip("no concurrency logged")
    assert round(max_concurrency(v["kv_cache_tokens"], run["setting"]["max_model_len"]), 2) == v["max_concurrency"]


@pytest.mark.parametrize("run", [r for r in RUNS if "gpu_total_GiB" in _values(r)], ids=lambda r: r["id"])
def test_vllm_budget_formula(run):
    v = _values(run)
    available = vllm_available_kv_bytes(v["gpu_total_GiB"] * GiB, v["weights_GiB"] * GiB,
                                        v["activation_peak_GiB"] * GiB, v["non_torch_GiB"] * GiB,
                                        gpu_memory_utilization=0.95)
    # Each logged figure is rounded to 0.01 GiB, so the sum may be off by a few hundredths.
    assert available / GiB == pytest.approx(v["kv_cache_GiB"], abs=0.04)


def test_vllm_budget_formula_pr10511():
    run = next(r for r in RUNS if r["id"] == "vllm-pr10511-llama3-8b-tp1-tp2")
    v = run["values"]["tp1"]
    available = vllm_available_kv_bytes(79.22 * GiB, v["weights_GiB"] * GiB, v["activation_peak_GiB"] * GiB,
                                        v["non_torch_GiB"] * GiB, gpu_memory_utilization=0.90)
    assert available / GiB == pytest.approx(v["kv_cache_GiB"], abs=0.02)


ACT_RUNS = [r for r in RUNS if r["id"].startswith("vllm-0.19") and r["setting"].get("pp", 1) == 1]


@pytest.mark.parametrize("run", ACT_RUNS, ids=lambda r: r["id"])
def test_activation_estimate(run):
    # Profiling run of vLLM 0.19 on H100 with `vllm serve` defaults: 8192 batched tokens, 1024 sequences.
    # (The PP=2 run is left out: its rank 0 has no sampler, and its logged peak is rank 0's.)
    spec, wfmt, _, tp, _ = _setup(run)
    act_bytes = 4 if wfmt == "fp32" else 2
    predicted = prefill_activation_bytes(spec, VLLM_MAX_NUM_BATCHED_TOKENS, VLLM_MAX_NUM_SEQS, tp=tp,
                                         act_bytes=act_bytes) / GiB
    logged = run["values"]["activation_peak_GiB"]
    print(f"\n{run['id']}: activations predicted {predicted:.2f} GiB, logged {logged} GiB "
          f"({predicted / logged - 1:+.1%})")
    assert predicted == pytest.approx(logged, rel=0.05)
