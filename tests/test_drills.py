"""Drills: reproducible for a seed, every answer equal to llmmem's own computation, check() honest."""

from dataclasses import replace

import pytest

from llmmem import drills
from llmmem.estimate import serving_memory
from llmmem.gpus import gpus_needed
from llmmem.inference import inference_memory, kv_cache_bytes, kv_cache_bytes_per_token
from llmmem.model import ModelSpec
from llmmem.training import training_memory

SEEDS = range(40)


def _all(drill):
    yield drill
    for follow in drill.follow_ups:
        yield from _all(follow)


def _recompute(d):
    """llmmem's answer for a drill, from the drill's parameters alone."""
    p = d.params
    spec = ModelSpec.from_catalog(p["model"]) if "model" in p else None
    if d.kind == "serving" or (d.kind == "erratum" and "bits" in p):
        return serving_memory(p["size"], bits=p["bits"])
    if d.kind == "gpus":
        return gpus_needed(serving_memory(p["size"], bits=p["bits"]), gpu=p["gpu"])
    if d.kind == "kv_per_token":
        return kv_cache_bytes_per_token(spec, fmt=p["fmt"])
    if d.kind in ("kv_cache", "kv_cache_mha"):
        if "num_kv_heads" in p:
            spec = replace(spec, num_kv_heads=p["num_kv_heads"])
        return kv_cache_bytes(spec, seq_len=p["seq_len"], batch=p["batch"], fmt=p["fmt"])
    if d.kind == "inference":
        return inference_memory(spec, weights=p["weights"], kv_cache=p["kv_cache"], batch=p["batch"],
                                seq_len=p["seq_len"]).total
    if d.kind == "training":
        return training_memory(spec.num_params(), overhead_bytes=0).total
    if d.kind == "training_full":
        return training_memory(spec, batch=p["batch"], seq_len=p["seq_len"], recompute=p["recompute"]).total
    if d.kind == "erratum":
        b = training_memory(p["size"], precision=p["precision"], optimizer="adamw", overhead_bytes=0)
        return b[p["component"]] if "component" in p else b.total
    if d.kind == "lora":
        from llmmem.finetune import lora_trainable_params
        return lora_trainable_params(spec, p["rank"], p["targets"])
    if d.kind == "lora_memory":
        from llmmem.finetune import lora_memory
        return lora_memory(spec, rank=p["rank"], targets=p["targets"], batch=p["batch"], seq_len=p["seq_len"]).total
    if d.kind == "qlora":
        from llmmem.finetune import qlora_memory
        return qlora_memory(spec, batch=p["batch"], seq_len=p["seq_len"]).total
    if d.kind == "zero":
        from llmmem.parallel import zero_model_states_per_gpu
        return zero_model_states_per_gpu(p["size"], p["n_gpus"], p["stage"]).total
    if d.kind in ("speed", "speed_ridge", "speed_int4"):
        from llmmem.speed import decode_throughput, ridge_batch
        base = decode_throughput(spec, p["gpu"], weights=p["weights"], efficiency=1.0).tokens_per_s_per_seq
        if d.kind == "speed":
            return base
        if d.kind == "speed_ridge":
            return ridge_batch(spec, p["gpu"], p["weights"])
        return decode_throughput(spec, p["gpu"], weights="int4", efficiency=1.0).tokens_per_s_per_seq / base
    raise AssertionError(f"no recomputation for kind {d.kind}")


def test_same_seed_same_drill_and_different_seeds_differ():
    first = [drills.generate(s).text(answers=True) for s in SEEDS]
    again = [drills.generate(s).text(answers=True) for s in SEEDS]
    assert first == again
    assert len(set(first)) > len(first) // 2  # different seeds give different questions
    assert drills.generate(1, "kv_cache").question != drills.generate(2, "kv_cache").question


def test_every_kind_appears_and_every_answer_is_llmmems():
    seen = set()
    for seed in SEEDS:
        for kind in (None, *drills.all_kinds()):
            for d in _all(drills.generate(seed, kind)):
                seen.add(d.kind)
                assert d.answer == _recompute(d), (seed, kind, d.question)
                assert d.answer > 0 and d.solution and d.question
    assert {"serving", "gpus", "kv_per_token", "kv_cache", "kv_cache_mha", "inference", "training",
            "training_full", "erratum"} <= seen


def test_the_serving_ladder_climbs_from_weights_to_training():
    d = drills.generate(5, "serving")
    assert [f.kind for f in d.follow_ups] == ["gpus", "kv_per_token", "kv_cache", "inference", "training"]


def test_the_four_errata_of_the_source_articles():
    answers = {w: drills.erratum_drill(w) for w in drills.ERRATA}
    assert len(answers) == 4
    assert answers["magic-formula"].answer == 168e9
    assert "21 GB" in answers["magic-formula"].solution  # the printed formula, evaluated by sympy
    assert answers["serving-fp8"].answer == 84e9
    training = answers["serving-training"]
    assert training.answer == 208e9 and "364.0 GB" in training.solution and "436.8 GB" in training.solution
    # The fourth: "gradients equal to P" is a unit slip. 13B fp32 gradients are 52 GB, not 13 (or 26 in bf16).
    gradients = answers["serving-gradients"]
    assert gradients.answer == 52e9 and "13.0 GB" in gradients.solution and "26.0 GB" in gradients.solution
    assert gradients.check("52 GB")[0] and not gradients.check("13 GB")[0]
    # The questions name the articles by their titles, never by the repository's seed numbers.
    for d in answers.values():
        assert "seed" not in d.question.lower()
        assert "Calculating GPU memory for serving LLMs" in d.question or "Magic Formula" in d.question
    # The old names still work.
    assert drills.erratum_drill("seed-002").answer == answers["magic-formula"].answer
    with pytest.raises(ValueError, match="erratum must be one of"):
        drills.erratum_drill("seed-999")


def test_gqa_follow_up_is_larger_by_the_head_ratio():
    d = drills.kv_cache_drill("llama-3.1-70b", seq_len=131072, batch=1)
    assert d.answer == 131072 * 327680  # 2 x 80 layers x 8 KV heads x 128 x 2 bytes per token
    assert d.follow_ups[0].answer == 8 * d.answer  # 64 heads instead of 8


def test_check_accepts_within_tolerance_and_rejects_outside():
    d = drills.serving_drill("70B", 16)  # 168 GB = 156.46 GiB
    assert d.check(168)[0] and d.check("168 GB")[0] and d.check("156.5 GiB")[0] and d.check("168e9 B")[0]
    assert d.check(168 * 1.049)[0] and d.check(168 * 0.951)[0]
    ok, message = d.check(168 * 1.06)
    assert not ok and "168.0 GB" in message and "6% off" in message
    ok, message = d.check("156.5")  # GiB written as GB
    assert not ok and "GiB" in message
    assert d.check("lots") == (False, "cannot read 'lots' as an answer; "
                                      "write a number such as 168, '168 GB' or '156.5 GiB'")
    assert not d.check("168 parsecs")[0]


def test_gpu_answers_are_exact_and_small_byte_answers_read_in_bytes():
    g = drills.gpus_drill("70B", 16, "A100-80GB")
    assert g.answer == 2 and g.check(2)[0] and g.check("2")[0]
    assert not g.check(3)[0] and not g.check(1.5)[0]
    kv = drills.kv_per_token_drill("llama-3.1-8b")
    assert kv.answer == 131072  # 2 x 32 x 8 x 128 x 2
    assert kv.check("131072")[0] and kv.check("128 KiB")[0] and not kv.check("131 GB")[0]
    assert "131,072 bytes" in kv.check(1)[1]


def test_bad_kind_and_seed():
    with pytest.raises(ValueError, match="unknown drill kind"):
        drills.generate(0, "poetry")
    with pytest.raises(ValueError, match="seed must be a whole number"):
        drills.generate("x")


def test_answer_box_writes_the_verdict_into_html():
    box = drills.AnswerBox(drills.serving_drill("70B", 16))
    assert box.submit("168 GB").startswith("Correct")
    assert box.ok and "Correct" in box.result.value
    box.submit("100 GB")
    assert box.ok is False and "Not quite" in box.result.value
    box.answer.value = "156.5 GiB"  # typing into the box (observe) checks it too
    assert box.ok and "156.5 GiB" in box.result.value


def test_every_listed_kind_generates_a_drill_of_that_kind():
    """`kinds()` and the drills agree on names: asking for a kind gives a drill that reports that kind."""
    for kind in drills.kinds():
        assert drills.generate(3, kind=kind).kind == kind


def test_speed_drills_tokens_per_s_ridge_and_int4():
    d = drills.speed_drill("llama-2-7b", "A100-80GB", "fp16")
    assert round(d.answer, 1) == 151.3 and d.check("151 tokens/s")[0] and d.check(140)[0] and not d.check(120)[0]
    ridge, int4 = d.follow_ups
    assert ridge.kind == "speed_ridge" and 140 < ridge.answer < 170 and ridge.check(f"batch {ridge.answer}")[0]
    assert int4.kind == "speed_int4" and 3 < int4.answer < 4 and int4.check(f"{int4.answer:.2f}x")[0]
    assert "cannot read" in d.check("fast")[1]


def test_speed_kind_does_not_change_existing_seeds():
    assert all(drills.generate(s).kind != "speed" for s in range(40))
    assert drills.generate(3, "speed").kind == "speed"


def test_why_questions_have_model_answers():
    topics = " ".join(w.question for w in drills.WHY_QUESTIONS)
    for word in ("memory-bound", "PagedAttention", "FlashAttention", "fp32 master weights", "GQA",
                 "activation checkpointing", "ZeRO-3", "8-bit optimizer"):
        assert word in topics
    assert drills.why_drill(4) == drills.why_drill(4) and "Model answer" in drills.why_drill(4).text(answers=True)
    with pytest.raises(ValueError, match="seed"):
        drills.why_drill("x")


def test_conceptual_memory_questions_give_the_numbers_that_make_the_point():
    """The model answers' numbers are llmmem's: GQA's 8x on Llama 3.1 70B, ZeRO-3's 1.5x traffic, 8-bit Adam's bytes."""
    import llmmem
    from llmmem.training import training_memory

    answers = {w.question: w.answer for w in drills.WHY_QUESTIONS}
    gqa = next(a for q, a in answers.items() if "GQA" in q)
    spec = llmmem.ModelSpec.from_catalog("llama-3.1-70b")
    per_token = llmmem.kv_cache_bytes(spec, seq_len=1)
    assert per_token == 320 * 1024 and spec.num_heads // spec.num_kv_heads == 8
    assert "320 KiB" in gqa and "2.5 MiB" in gqa and per_token * 8 == 2.5 * 1024**2
    zero3 = next(a for q, a in answers.items() if "ZeRO-3" in q)
    assert "3 x instead of 2 x" in zero3 and "1.5 times" in zero3
    eight_bit = next(a for q, a in answers.items() if "8-bit" in q)
    spec8 = llmmem.ModelSpec.from_catalog("llama-3.1-8b")
    full = training_memory(spec8, optimizer="adamw", overhead_bytes=0)
    small = training_memory(spec8, optimizer="adamw-8bit", overhead_bytes=0)
    per_param = (full["optimizer_states"] - small["optimizer_states"]) / spec8.num_params()
    assert "16 to about 10 bytes" in eight_bit and abs(per_param - 6) < 0.05
