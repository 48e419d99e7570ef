"""The course's corrected claims, each on its number (issue: "Teach it right"). Every figure a notebook states in
prose is recomputed here from llmmem, so a change in the library that breaks a sentence fails a test."""

import llmmem
from llmmem.formats import weight_bytes


def test_falcon_180b_gptq_row_is_eight_40gb_cards():
    """08: the Falcon 180B blog's GPTQ/int4 row is 320 GB on 8 × A100 40GB (40 GB a card fits a 40 GiB card);
    llmmem's int4 weights alone need 3 of them."""
    falcon = llmmem.ModelSpec.from_catalog("falcon-180b")
    card = llmmem.get_gpu("A100-40GB")
    assert 320e9 / 8 <= card.memory_bytes
    assert llmmem.gpus_needed(weight_bytes(falcon, "int4"), gpu=card) == 3


def test_kv_heads_are_replicated_past_tp_8_for_llama_70b():
    """08 ex. 3: with 8 KV heads, vLLM replicates them past TP = 8, so the KV cache per GPU stops shrinking."""
    spec = llmmem.ModelSpec.from_catalog("llama-3.1-70b")
    per_token = {tp: llmmem.kv_cache_bytes(spec, seq_len=1, tp=tp) for tp in (1, 8, 16)}
    assert per_token[1] == 327_680 and per_token[8] == per_token[16] == 40_960


def test_twelve_h_squared_needs_an_8h_over_3_mlp_and_llama_3_is_13_h_squared():
    """02, claim 1: about 12h² per layer holds for full MHA and a SwiGLU MLP (2/3)·4h = 8h/3 wide (32h/3 would
    give 36h²); Llama 3 uses i = 3.5h with GQA: 13h² for the 8B, 12.75h² for the 70B."""
    import sympy as sp

    from llmmem import symbolic

    h = symbolic.DD_h
    per_layer = sp.expand(symbolic.dense_decoder_params()).coeff(symbolic.DD_L)
    mha = per_layer.subs(symbolic.DD_nkv, symbolic.DD_nh).subs(symbolic.DD_d, h / symbolic.DD_nh)
    assert sp.expand(mha.subs(symbolic.DD_i, sp.Rational(8, 3) * h)) == 12 * h**2 + 2 * h
    assert sp.expand(mha.subs(symbolic.DD_i, sp.Rational(32, 3) * h)) == 36 * h**2 + 2 * h
    for name, ratio in (("llama-3.1-8b", sp.Rational(13)), ("llama-3.1-70b", sp.Rational(51, 4))):
        spec = llmmem.ModelSpec.from_catalog(name)
        c = spec.param_counts()
        assert sp.Rational(spec.intermediate_size, spec.hidden_size) == sp.Rational(7, 2)
        assert sp.Rational(c["attention"] + c["mlp"], spec.num_layers * spec.hidden_size**2) == ratio
    llama2 = llmmem.ModelSpec.from_catalog("llama-2-7b")  # the rule's model: MHA, 8h/3 rounded up to 256
    assert llama2.num_kv_heads == llama2.num_heads and llama2.intermediate_size == 256 * -(-8 * 4096 // 3 // 256)
    c2 = llama2.param_counts()
    assert abs((c2["attention"] + c2["mlp"]) / llama2.num_layers / 4096**2 - 12) < 0.1


def test_octocoder_kv_cache_as_transformers_docs_compute_it():
    """03, claim 10: the guide computes octocoder multi-head (7,864,320,000 values, ~15 GB in fp16), then MQA cuts
    it to < 400 MB."""
    octo = dict(model_type="gpt_bigcode", vocab_size=49152, hidden_size=6144, num_layers=40, num_heads=48,
                head_dim=128, intermediate_size=24576, mlp_kind="plain", norm_kind="layernorm")
    mha = llmmem.kv_cache_bytes(llmmem.ModelSpec(name="octocoder", num_kv_heads=48, **octo), seq_len=16_000)
    mqa = llmmem.kv_cache_bytes(llmmem.ModelSpec(name="octocoder", num_kv_heads=1, **octo), seq_len=16_000)
    assert mha == 2 * 7_864_320_000 and round(mha / 1e9, 1) == 15.7 and round(mha / llmmem.GiB, 1) == 14.6
    assert mqa * 48 == mha and mqa < 400e6 and round(mqa / 1e6) == 328


def test_exercise_solutions_in_02_08_09():
    """The numbers typed in the folded solutions of 02 ex. 4, 08 ex. 2 and 09 ex. 1-2."""
    from llmmem import drills
    from llmmem.inference import inference_memory
    from llmmem.parallel import zero_model_states_per_gpu

    gemma = llmmem.ModelSpec.from_catalog("gemma-2-9b")
    assert gemma.num_params() == 9_241_705_984
    assert gemma.num_params() + gemma.vocab_size * gemma.hidden_size == 10_159_209_984
    one = zero_model_states_per_gpu(8.03e9, 1, 0).total
    assert zero_model_states_per_gpu(8.03e9, 64, 0).total == one and round(one / 1e9, 1) == 128.5
    d = drills.generate(5, kind="serving")
    assert "qwen2.5-7b" in d.question and round(d.answer / 1e9, 2) == 4.57 and d.follow_ups[0].answer == 1
    spec = llmmem.ModelSpec.from_catalog("llama-3.1-70b")
    b = inference_memory(spec, seq_len=131072, batch=4, kv_cache="fp8")
    h100 = llmmem.get_gpu("H100-80GB")
    assert round(b.total / 1e9, 1) == 229.3 and round(b["kv_cache"] / 1e9, 1) == 85.9
    assert b["kv_cache"] == 80 * llmmem.GiB and round(100 * b["kv_cache"] / b.total, 1) == 37.5
    assert llmmem.gpus_needed(b.total, gpu=h100) == 3 and 64 % 3 and 8 % 3 and not 64 % 4
    assert round(4 * 0.9 * h100.memory_bytes / 1e9, 1) == 307.9 and b.total < 4 * 0.9 * h100.memory_bytes
    bf16 = inference_memory(spec, seq_len=131072, batch=4, kv_cache="bf16")
    assert round(bf16["kv_cache"] / 1e9, 1) == 171.8


def test_fp8_70b_beside_one_8k_sequence_fits_the_full_card_not_vllms_share():
    """03, claim 7: 72.7 GB of fp8 weights + one 8k sequence = 77.6 GB: under an H100's 85.5 GB, over the 77.0 GB
    that vLLM's default gpu_memory_utilization = 0.9 leaves; the 8B's context is 455k tokens at 0.9, 520k at 1."""
    from llmmem.inference import cheapest_weight_format, inference_memory, max_context

    spec = llmmem.ModelSpec.from_catalog("llama-3.1-70b")
    h100 = llmmem.get_gpu("H100-80GB")
    one = inference_memory(spec, weights="fp8", seq_len=8192)
    assert round(one["weights"] / 1e9, 1) == 72.7 and round(one.total / 1e9, 1) == 77.6
    assert 0.9 * h100.memory_bytes < one.total < h100.memory_bytes and round(0.9 * h100.memory_bytes / 1e9, 1) == 77.0
    full = cheapest_weight_format(spec, h100, seq_len=8192, gpu_memory_utilization=1.0)
    vllm = cheapest_weight_format(spec, h100, seq_len=8192, gpu_memory_utilization=0.9)
    assert full.best == "fp8" and vllm.best == "int4"
    four = inference_memory(spec, weights="fp8", seq_len=8192, batch=4)
    assert round(four["kv_cache"] / 1e9, 1) == 10.7
    l8 = llmmem.ModelSpec.from_catalog("llama-3.1-8b")
    memory_only = {"cap_at_model_limit": False}  # what memory allows; the model itself stops at 131,072
    assert round(max_context(l8, h100, gpu_memory_utilization=0.9, **memory_only), -3) == 455_000
    assert round(max_context(l8, h100, gpu_memory_utilization=1.0, **memory_only), -3) == 520_000
    assert max_context(l8, h100) == 131_072


def test_llama_31_blog_full_fine_tuning_is_about_7_bytes_per_parameter_throughout():
    """07, claim 3: the live Llama 3.1 blog gives 500 GB for 70B full fine-tuning (an old copy said 300 GB):
    7.1 bytes per parameter, in line with 8B (60 GB) and 405B (3,250 GB), about half of mixed AdamW's 16."""
    per_param = {name: gb * 1e9 / llmmem.ModelSpec.from_catalog(name).num_params()
                 for name, gb in (("llama-3.1-8b", 60), ("llama-3.1-70b", 500), ("llama-3.1-405b", 3250))}
    assert [round(v, 1) for v in per_param.values()] == [7.5, 7.1, 8.0]
    assert round(300e9 / llmmem.ModelSpec.from_catalog("llama-3.1-70b").num_params(), 1) == 4.3  # the stale copy


def test_start_here_exercise_solutions():
    """00's exercises: the numbers their folded solutions state."""
    memory_8b = llmmem.serving_memory(8_030_261_248, bits=16)
    assert round(memory_8b / 1e9, 1) == 19.3 and memory_8b <= llmmem.get_gpu("L4").memory_bytes
    assert round(llmmem.get_gpu("L4").memory_bytes / 1e9, 1) == 24.2
    memory_70b_8 = llmmem.serving_memory("70B", bits=8)
    assert memory_70b_8 == 84e9 and llmmem.gpus_needed(memory_70b_8, gpu="A100-80GB") == 1
    assert round((llmmem.get_gpu("A100-80GB").memory_bytes - memory_70b_8) / 1e9, 1) == 1.9
    n, text = llmmem.gpus_needed_explained(llmmem.serving_memory("70B", bits=16), gpu="H100-80GB", usable_fraction=0.9)
    assert n == 3 and "2.18" in text


def test_korthikanti_derived_term_by_term_is_the_papers_formula_and_the_librarys():
    """05, Activations: the twelve tensors of Sec. 4.1 add up to s*b*h*(34 + 5as/h), and with Llama 3.1 8B's shapes
    to what `korthikanti_activation_bytes` computes in plain integers."""
    import sympy as sp

    from llmmem import symbolic as S
    from llmmem.training import korthikanti_activation_bytes

    s, b, h, heads = S.ACT_s, S.KOR_b, S.ACT_h, S.ACT_H
    assert sp.expand(sum(S.korthikanti_per_layer_terms().values()) - s * b * h * (34 + 5 * heads * s / h)) == 0
    spec = llmmem.ModelSpec.from_catalog("llama-3.1-8b")
    for seq_len, batch in ((4096, 1), (1000, 3)):
        one = S.korthikanti_per_layer().subs({s: seq_len, b: batch, h: spec.hidden_size, heads: spec.num_heads})
        assert one * spec.num_layers == korthikanti_activation_bytes(spec, batch, seq_len)


def test_what_sdpa_changes_for_llama_8b_as_05_states():
    """05: Llama 3.1 8B saves about 49 bytes per hidden unit per token and layer with SDPA (no score term), eager keeps
    6 bytes per score where Korthikanti counts 5; the formula is ~4x high with SDPA at 4,096 tokens, ~20 % low with
    eager, and ~9 % low with full recompute."""
    from llmmem.training import activation_bytes, korthikanti_activation_bytes

    spec = llmmem.ModelSpec.from_catalog("llama-3.1-8b")
    h, f, heads, kv, d = spec.hidden_size, spec.intermediate_size, spec.num_heads, spec.num_kv_heads, spec.head_dim
    sdpa_per_token = 2 * (4 * h + 4 + 2 * 2 * h) + 2 * (2 * heads * d + 2 * kv * d) + 4 * heads + 4 * 2 * f
    assert round(sdpa_per_token / h) == 49
    one_token = activation_bytes(spec, 1, 1) - activation_bytes(spec, 1, 1, recompute="full")
    # none minus full at one token: the layers' terms, less the layer inputs full keeps, plus rotary cos/sin
    assert one_token == spec.num_layers * (sdpa_per_token - 2 * h) + 2 * 2 * d
    ratio = {a: korthikanti_activation_bytes(spec, 1, 4096) / activation_bytes(spec, 1, 4096, "bf16", "none", a)
             for a in ("sdpa", "eager")}
    assert round(ratio["sdpa"]) == 4 and round(1 - ratio["eager"], 1) == 0.2
    full = korthikanti_activation_bytes(spec, 1, 4096, "full") / activation_bytes(spec, 1, 4096, "bf16", "full")
    assert round(1 - full, 2) == 0.09


def test_the_sum_of_a_training_step_is_not_its_peak():
    """05, "Why the sum is not the peak": Llama 3.1 8B, mixed-bf16 AdamW, 1 x 4,096 tokens. The components add up to
    157.3 GB; the start of backward (fused AdamW's peak) is that sum without the gradients and with the logits'
    gradient, 143.4 GB; foreach AdamW's step is 160.9 GB, above the sum; each layer frees more than it allocates."""
    from llmmem.training import activation_terms, training_memory, training_timeline

    spec = llmmem.ModelSpec.from_catalog("llama-3.1-8b")
    settings = dict(precision="mixed-bf16", optimizer="adamw", batch=1, seq_len=4096)
    full = training_memory(spec, **settings)
    fused = training_timeline(spec, optimizer_impl="fused", **settings)
    foreach = training_timeline(spec, optimizer_impl="foreach", **settings)
    start = fused["start of backward"]
    assert round(full.total / 1e9, 1) == 157.3 and round(start.total / 1e9, 1) == 143.4
    assert start.total == full.total - full["gradients"] + full["logits"]
    assert max(fused.values(), key=lambda b: b.total) is start
    assert round(foreach["optimizer step"].total / 1e9, 1) == 160.9 > round(full.total / 1e9, 1)
    counts = spec.param_counts()
    layer_grads = 2 * (counts["attention"] + counts["mlp"]) // spec.num_layers
    assert activation_terms(spec, 1, 4096, "bf16")[0] > layer_grads


def test_eager_scores_at_4k_tokens_and_where_activations_cross_the_model_states():
    """05, exercise 2: Llama 3.1 8B, batch 1, bf16, eager attention. The scores cost 6 bytes each (fp32 softmax and
    its bf16 copy), H x s^2 per layer: 103 GB of the 131 GB of activations at 4,096 tokens; the activations pass the
    16 bytes/parameter of model states near 4,050 tokens (so, of 2,048 / 3,072 / 4,096, only 4,096)."""
    from llmmem.training import activation_bytes

    spec = llmmem.ModelSpec.from_catalog("llama-3.1-8b")
    scores = (4 + 2) * spec.num_heads * 4096**2 * spec.num_layers
    eager = activation_bytes(spec, 1, 4096, "bf16", "none", "eager")
    assert round(scores / 1e9) == 103 and round(eager / 1e9) == 131
    states = 16 * spec.num_params()
    assert activation_bytes(spec, 1, 4000, "bf16", "none", "eager") < states
    assert activation_bytes(spec, 1, 4100, "bf16", "none", "eager") > states
    assert [s for s in (2048, 3072, 4096) if activation_bytes(spec, 1, s, "bf16", "none", "eager") > 128e9] == [4096]



def test_korthikanti_against_the_measured_grid_is_low_at_32_tokens_and_high_with_sdpa_at_128():
    """06, "Korthikanti's formula against the measurement": over the measured bf16 rows without checkpointing, the
    formula is below PyTorch's count everywhere except SDPA at 128 tokens, where its 5Hs/h = 20 bytes of scores per
    hidden unit (H = h/32 in every config) are memory SDPA never holds."""
    import csv
    from pathlib import Path

    from llmmem.training import korthikanti_activation_bytes

    path = Path(__file__).resolve().parents[1] / "notebooks" / "data" / "measured.csv"
    rows = [r for r in csv.DictReader(path.open(newline="")) if r["dtype"] == "bf16" and r["checkpointing"] == "0"]
    assert rows
    for r in rows:
        h, heads, s = int(r["hidden_size"]), int(r["num_heads"]), int(r["seq_len"])
        assert 5 * heads * s / h == {32: 5, 128: 20}[s]
        spec = llmmem.ModelSpec.from_hf_config({
            "model_type": r["model_type"], "vocab_size": int(r["vocab_size"]), "hidden_size": h,
            "num_hidden_layers": int(r["num_layers"]), "num_attention_heads": heads,
            "num_key_value_heads": int(r["num_kv_heads"]), "intermediate_size": int(r["intermediate_size"]),
            "tie_word_embeddings": r["tie_embeddings"] == "True"})
        ratio = korthikanti_activation_bytes(spec, int(r["batch"]), s) / int(r["activations_bytes"])
        assert (ratio > 1) == (r["attention"] == "sdpa" and s == 128), (r["config"], r["attention"], s, ratio)
