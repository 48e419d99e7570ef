"""Interview drills: seeded questions with worked solutions, each answer computed by llmmem.

`generate(seed)` returns a :class:`Drill`; the same seed gives the same question and answer on any machine
(``random.Random(seed)`` picks the model, precision, GPU and context). Each drill climbs a ladder of
follow-ups, as an interviewer does: start with the weights, add the KV cache (grouped-query attention),
add a long context, then training. Every number in a question's answer and solution comes from a call
into llmmem; this module only picks inputs and words.

Kinds (what `kinds()` lists and `generate(kind=...)` takes): serving, gpus, kv_cache, training, lora (when
`llmmem.finetune` is there: trainable parameters, then follow-ups "lora_memory" and "qlora"), zero (when
`llmmem.parallel` is there), erratum (what is wrong with a source article's answer); and speed (tokens/s from
bandwidth, the ridge batch, the int4 speed-up; by name only, listed by `all_kinds()`). A drill's `kind` is the
kind that generated it; its follow-ups carry their own kinds. `why_drill(seed)` gives a conceptual "why"
question with a model answer (`WHY_QUESTIONS`).
"""

from __future__ import annotations

import html
import importlib.util
import math
import random
import re
from dataclasses import dataclass, field, replace

from .estimate import serving_breakdown, serving_memory
from .gpus import get_gpu, gpus_needed_explained
from .inference import inference_memory, kv_cache_bytes, kv_cache_bytes_per_token
from .model import ModelSpec
from .names import display_name, plain_note
from .training import training_memory, training_memory_seed
from .units import GB, GiB, MiB, format_bytes, format_count, parse_count
from .validation import quote

# Dense models with standard attention and no sliding window, so "KV per token x tokens" is the whole story.
KV_MODELS = ("llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "llama-3.2-3b", "qwen2.5-7b", "qwen2.5-72b",
             "qwen3-8b", "llama-2-13b")
# Models the LoRA/training drills use: Llama-family layers, which the activation accounting covers.
TRAIN_MODELS = ("llama-3.2-1b", "llama-3.2-3b", "llama-3.1-8b", "qwen2.5-7b", "llama-2-7b")
SIZES = ("7B", "8B", "13B", "34B", "70B", "180B", "405B")
SERVE_GPUS = ("A100-40GB", "A100-80GB", "H100-80GB", "H200", "L40S", "MI300X")
CONTEXTS = (4096, 8192, 32768, 131072)  # 4k, 8k, 32k, 128k tokens (k = 1024, as model cards mean it)

BYTES_TOLERANCE = 0.05  # an interview answer within 5 % is right: nobody is asked for the third digit
COUNT_TOLERANCE = 0.02
SMALL_BYTES = 10**7  # below this a bytes answer is shown, and read, in bytes rather than GB

_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": GB, "tb": 10**12,
          "kib": 2**10, "mib": MiB, "gib": GiB, "tib": 2**40}
_VALUE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def _has(module: str, name: str) -> bool:
    try:
        found = importlib.util.find_spec(f"llmmem.{module}") is not None
    except ImportError:  # pragma: no cover
        return False
    return found and hasattr(importlib.import_module(f"llmmem.{module}"), name)


@dataclass(frozen=True, eq=False)
class Drill:
    """One question: `answer` in `unit` ("bytes", "GPUs" or "parameters"), accepted within `tolerance`
    (relative; 0 means exact), a worked `solution`, the `params` it was built from, and `follow_ups`."""

    kind: str
    question: str
    answer: int | float
    unit: str
    tolerance: float
    solution: str
    params: dict = field(default_factory=dict)
    follow_ups: tuple = ()

    def read(self, user_value) -> float:
        """A user's answer as a number in this drill's unit. For bytes a bare number means GB; "156.5 GiB",
        "168e9 B", "0.17 TB" are read in their unit. For parameters "40M" or "1.2e7"; for GPUs a whole number."""
        if self.unit == "parameters":
            return float(parse_count(user_value))
        if self.unit in PLAIN_UNITS:
            return _plain_number(user_value, self.unit)
        if isinstance(user_value, bool):
            raise ValueError(f"an answer is a number; got {quote(user_value)}")
        if isinstance(user_value, (int, float)):
            number, unit = float(user_value), ""
        else:
            text = str(user_value)[:201]
            match = _VALUE.match(text.replace(",", "").replace("_", "")) if len(text) <= 200 else None
            if not match:
                raise ValueError(f"cannot read {quote(user_value)} as an answer; write a number such as 168, '168 GB' "
                                 "or '156.5 GiB'")
            number, unit = float(match.group(1)), match.group(2).lower()
        if not math.isfinite(number) or number > 1e30:  # float('1e400') is inf: not an answer anyone means
            raise ValueError(f"an answer must be a finite number (at most 1e30); got {quote(user_value)}")
        if self.unit == "GPUs":
            if unit not in ("", "gpu", "gpus") or number != int(number):
                raise ValueError(f"the answer is a whole number of GPUs; got {quote(user_value)}")
            return number
        if unit and unit not in _UNITS:
            raise ValueError(f"unknown unit {quote(unit, 20)}; use B, MB, GB, TB, MiB, GiB or TiB")
        return number * _UNITS[unit or self.default_unit]

    @property
    def default_unit(self) -> str:
        """What a bare number means for a bytes answer: bytes for small answers (KV per token), else GB."""
        return "b" if self.answer < SMALL_BYTES else "gb"

    def check(self, user_value) -> tuple:
        """(ok, message): is the answer within tolerance of llmmem's, and by how much it is off if not."""
        try:
            value = self.read(user_value)
        except ValueError as err:
            return False, str(err)
        expected = self._show(self.answer)
        off = abs(value - self.answer) / self.answer if self.answer else abs(value)
        if off <= self.tolerance:
            return True, f"Correct: {expected}."
        hint = ""
        if self.unit == "bytes" and abs(value * GiB / GB - self.answer) <= self.tolerance * self.answer:
            hint = " You gave the number of GiB as GB: write 'GiB' after it."
        tol = f"within {self.tolerance:.0%}" if self.tolerance else "exactly"
        return False, (f"Not quite: you said {self._show(value)}, the answer is {expected} "
                       f"({off:.0%} off; accepted {tol}).{hint}")

    def _show(self, value) -> str:
        if self.unit == "bytes":
            return f"{value:,.0f} bytes ({value / MiB:.3f} MiB)" if value < SMALL_BYTES else format_bytes(value)
        if self.unit == "parameters":
            return f"{value:,.0f} parameters ({format_count(int(value))})"
        if self.unit in PLAIN_UNITS:
            return PLAIN_UNITS[self.unit].format(value)
        return f"{value:g} GPU{'s' if value != 1 else ''}"

    def text(self, answers: bool = False) -> str:
        """The question and its follow-ups as plain text, with answers and solutions when asked."""
        lines = []
        for i, drill in enumerate((self, *self.follow_ups)):
            label = "Q" if i == 0 else f"Follow-up {i}"
            lines.append(f"{label}: {drill.question}")
            if answers:
                lines.append(f"  Answer: {drill._show(drill.answer)}")
                lines += [f"  {line}" for line in drill.solution.splitlines()]
        return "\n".join(lines)


# ---------------------------------------------------------------------- helpers for worked solutions


def _sum_line(b) -> str:
    """'weights 141.1 GB + KV cache 42.9 GB + ... = 185.2 GB (172.5 GiB)': a Breakdown added up, in plain words."""
    parts = " + ".join(f"{display_name(name)} {value / GB:,.1f} GB" for name, value in b.items())
    return f"{parts} = {format_bytes(b.total)}"


def _tokens(n: int) -> str:
    return f"{n // 1024}k ({n:,} tokens)" if n % 1024 == 0 else f"{n:,} tokens"


# Answers that are plain numbers (speed drills), and how each is shown.
PLAIN_UNITS = {"tokens/s": "{:,.1f} tokens/s", "sequences": "batch {:,.0f}", "x": "{:.2f}x"}
SPEED_TOLERANCE = 0.10  # a roofline answer within 10 %: the embedding, the KV read and attention FLOPs move it a little


def _plain_number(user_value, unit: str) -> float:
    """'151', '151.3 tokens/s', '3.2x', 'batch 157' -> the number."""
    if isinstance(user_value, bool):
        raise ValueError(f"an answer is a number; got {user_value!r}")
    if isinstance(user_value, (int, float)):
        return float(user_value)
    text = str(user_value).lower().replace(",", "").replace("_", "")
    for word in ("tokens/s", "tok/s", "tokens", "sequences", "batch", "x", "times"):
        text = text.replace(word, " ")
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"cannot read {user_value!r} as an answer in {unit}; write a number such as 151") from None


# ---------------------------------------------------------------------- one function per kind


def serving_drill(size="70B", bits=16, gpu="A100-80GB") -> Drill:
    b = serving_breakdown(size, bits=bits)
    return Drill(
        "serving",
        f"How much GPU memory does it take to serve a {size} model with {bits}-bit weights, by the rule "
        f"of thumb (weights plus 20 % overhead)?",
        b.total, "bytes", BYTES_TOLERANCE,
        f"{b.notes[0]} ({b.total / GiB:,.1f} GiB).\nShortcut: 0.15 x billions of parameters x bits GB.",
        {"size": size, "bits": bits},
        (gpus_drill(size, bits, gpu),),
    )


def gpus_drill(size="70B", bits=16, gpu="A100-80GB") -> Drill:
    need = serving_memory(size, bits=bits)
    count, arithmetic = gpus_needed_explained(need, gpu=gpu)
    card = get_gpu(gpu)
    return Drill(
        "gpus",
        f"How many {card.name} GPUs hold a {size} model at {bits} bits (weights + 20 %), if the memory "
        f"splits evenly across them?",
        count, "GPUs", 0.0,
        f"Memory {format_bytes(need)}; one {card}.\n{arithmetic}.",
        {"size": size, "bits": bits, "gpu": card.name},
    )


def kv_per_token_drill(model="llama-3.1-70b", fmt="bf16") -> Drill:
    spec = ModelSpec.from_catalog(model)
    per_token = kv_cache_bytes_per_token(spec, fmt=fmt)
    return Drill(
        "kv_per_token",
        f"{model} has {spec.num_layers} layers, {spec.num_heads} query heads but {spec.num_kv_heads} KV heads "
        f"(grouped-query attention), head_dim {spec.head_dim}. How many bytes of {fmt} KV cache per token "
        "(answer in bytes)?",
        per_token, "bytes", BYTES_TOLERANCE,
        f"KV per token = 2 (K and V) x layers x kv_heads x head_dim x bytes = 2 x {spec.num_layers} x "
        f"{spec.num_kv_heads} x {spec.head_dim} x bytes = {per_token:,} bytes ({per_token / MiB:.3f} MiB).",
        {"model": model, "fmt": fmt},
    )


def kv_cache_drill(model="llama-3.1-70b", seq_len=131072, batch=1, fmt="bf16") -> Drill:
    spec = ModelSpec.from_catalog(model)
    per_token = kv_cache_bytes_per_token(spec, fmt=fmt)
    kv = kv_cache_bytes(spec, seq_len=seq_len, batch=batch, fmt=fmt)
    mha = replace(spec, num_kv_heads=spec.num_heads)
    kv_mha = kv_cache_bytes(mha, seq_len=seq_len, batch=batch, fmt=fmt)
    fp8 = kv_cache_bytes(spec, seq_len=seq_len, batch=batch, fmt="fp8")
    return Drill(
        "kv_cache",
        f"How big is the {fmt} KV cache of {model} for {batch} sequence{'s' if batch > 1 else ''} of "
        f"{_tokens(seq_len)}?",
        kv, "bytes", BYTES_TOLERANCE,
        f"KV = batch x tokens x KV per token = {batch} x {seq_len:,} x {per_token:,} bytes = {format_bytes(kv)}.",
        {"model": model, "seq_len": seq_len, "batch": batch, "fmt": fmt},
        (
            Drill("kv_cache_mha",
                  f"Same question if {model} used full multi-head attention ({spec.num_heads} KV heads, not "
                  f"{spec.num_kv_heads}).", kv_mha, "bytes", BYTES_TOLERANCE,
                  f"{spec.num_heads // spec.num_kv_heads} times more KV heads: {format_bytes(kv_mha)} instead of "
                  f"{format_bytes(kv)}. That is what grouped-query attention saves.",
                  {"model": model, "seq_len": seq_len, "batch": batch, "fmt": fmt, "num_kv_heads": spec.num_heads}),
            Drill("kv_cache", "And with an fp8 KV cache (vLLM --kv-cache-dtype fp8)?", fp8, "bytes",
                  BYTES_TOLERANCE, f"One byte per element instead of two: {format_bytes(fp8)}.",
                  {"model": model, "seq_len": seq_len, "batch": batch, "fmt": "fp8"}),
        ),
    )


def inference_drill(model="llama-3.1-70b", seq_len=131072, batch=1, weights="bf16", kv="bf16") -> Drill:
    spec = ModelSpec.from_catalog(model)
    b = inference_memory(spec, weights=weights, kv_cache=kv, batch=batch, seq_len=seq_len)
    return Drill(
        "inference",
        f"All together: memory to serve {model} ({weights} weights, {kv} KV cache) for {batch} x "
        f"{_tokens(seq_len)}?",
        b.total, "bytes", BYTES_TOLERANCE, _sum_line(b) + "\n" + "\n".join(map(plain_note, b.notes)),
        {"model": model, "seq_len": seq_len, "batch": batch, "weights": weights, "kv_cache": kv},
    )


def training_drill(model="llama-3.1-8b", batch=1, seq_len=4096) -> Drill:
    spec = ModelSpec.from_catalog(model)
    states = training_memory(spec.num_params(), precision="mixed-bf16", optimizer="adamw", overhead_bytes=0)
    full = training_memory(spec, precision="mixed-bf16", optimizer="adamw", batch=batch, seq_len=seq_len)
    ckpt = training_memory(spec, precision="mixed-bf16", optimizer="adamw", batch=batch, seq_len=seq_len,
                           recompute="full")
    count = spec.num_params()
    ladder = [
        Drill("training_full", f"Add the activations for batch {batch} x {_tokens(seq_len)} (sdpa attention, "
              "no recomputation) and the CUDA context.", full.total, "bytes", BYTES_TOLERANCE, _sum_line(full),
              {"model": model, "batch": batch, "seq_len": seq_len, "recompute": "none"}),
        Drill("training_full", "And with full activation checkpointing (recompute='full')?", ckpt.total, "bytes",
              BYTES_TOLERANCE, _sum_line(ckpt),
              {"model": model, "batch": batch, "seq_len": seq_len, "recompute": "full"}),
    ]
    if _has("finetune", "lora_memory"):
        ladder.append(lora_drill(model, batch=batch, seq_len=seq_len))
    return Drill(
        "training",
        f"{model} has {count:,} parameters. How much memory do the weights, gradients and AdamW states take "
        f"in mixed-precision (bf16) training?",
        states.total, "bytes", BYTES_TOLERANCE,
        f"16 bytes per parameter: {states.notes[0]}; {states.notes[1]}.\n"
        f"{_sum_line(states)}.",
        {"model": model},
        tuple(ladder),
    )


def lora_drill(model="llama-3.1-8b", rank=16, targets="attention", batch=1, seq_len=2048) -> Drill:
    from .finetune import lora_memory, lora_trainable_params, qlora_memory

    spec = ModelSpec.from_catalog(model)
    trainable = lora_trainable_params(spec, rank, targets)
    b = lora_memory(spec, rank=rank, targets=targets, batch=batch, seq_len=seq_len)
    q = qlora_memory(spec, batch=batch, seq_len=seq_len)
    return Drill(
        "lora",
        f"LoRA rank {rank} on the {targets} projections of {model}: how many trainable parameters?",
        trainable, "parameters", COUNT_TOLERANCE,
        f"rank x (rows + cols) for each targeted matrix = {trainable:,} "
        f"({100 * trainable / spec.num_params():.2f} % of the model).",
        {"model": model, "rank": rank, "targets": targets},
        (
            Drill("lora_memory", "Memory to fine-tune it that way (bf16 frozen base, fp32 adapters, AdamW, "
                  f"batch {batch} x {_tokens(seq_len)})?", b.total, "bytes", BYTES_TOLERANCE, _sum_line(b),
                  {"model": model, "rank": rank, "targets": targets, "batch": batch, "seq_len": seq_len}),
            Drill("qlora", "And with QLoRA (NF4 base with double quantization, rank 64 on all linear layers, "
                  "paged 32-bit AdamW, checkpointing)?", q.total, "bytes", BYTES_TOLERANCE, _sum_line(q),
                  {"model": model, "batch": batch, "seq_len": seq_len}),
        ),
    )


def zero_drill(size="70B", n_gpus=8, stage=3) -> Drill:
    from .parallel import zero_model_states_per_gpu

    result = zero_model_states_per_gpu(parse_count(size), n_gpus, stage)
    per_gpu, solution = result.total, _sum_line(result)
    return Drill(
        "zero",
        f"Mixed-precision AdamW training of a {size} model with ZeRO stage {stage} on {n_gpus} GPUs: model states "
        "(weights, gradients, optimizer) per GPU?",
        per_gpu, "bytes", BYTES_TOLERANCE, solution, {"size": size, "n_gpus": n_gpus, "stage": stage},
    )


# The two source articles, named by their titles in every question (the repository keeps them as seeds/000, /002).
SERVING_ARTICLE = '"Calculating GPU memory for serving LLMs"'
MAGIC_ARTICLE = 'the "Magic Formula" article'
# Old erratum names, still accepted: `erratum_drill("seed-002")` is `erratum_drill("magic-formula")`.
_ERRATUM_ALIASES = {"seed-002": "magic-formula", "seed-000-fp8": "serving-fp8", "seed-000-training": "serving-training"}


def erratum_drill(which="magic-formula") -> Drill:
    """What is wrong with a source article's answer: one of `ERRATA` (the old "seed-..." names still work)."""
    from . import symbolic  # sympy, only for this kind: the articles' formulas as written live there

    which = _ERRATUM_ALIASES.get(which, which) if isinstance(which, str) else which
    if which == "magic-formula":
        right = serving_breakdown("70B", bits=16)
        printed = float(symbolic.magic_formula_as_printed().subs(symbolic.Q, 16).subs(symbolic.P, 70 * 10**9))
        return Drill(
            "erratum",
            f"{MAGIC_ARTICLE[0].upper()}{MAGIC_ARTICLE[1:]} writes M = (P x 4B / Q) x 1.2 and gets 210 GB to serve "
            "a 70B model at 16 bits. What is wrong, and what is the right number?",
            right.total, "bytes", BYTES_TOLERANCE,
            f"The printed formula drops the 32: it gives {printed / GB:,.0f} GB, not 210 (a second slip). The "
            f"formula it describes is M = (P x 4 bytes) / (32 / Q) x 1.2: {right.notes[0]}.",
            {"which": which, "size": "70B", "bits": 16},
        )
    if which == "serving-fp8":
        right = serving_breakdown("70B", bits=8)
        printed = float(symbolic.serving_article_fp8_as_written().subs(symbolic.Q, 8).subs(symbolic.P, 70 * 10**9))
        return Drill(
            "erratum",
            f"{SERVING_ARTICLE} says a 70B model needs 21 GB at FP8. What is wrong, and what is the right number?",
            right.total, "bytes", BYTES_TOLERANCE,
            f"It applies the precision twice: 1 byte per parameter AND Q = 8 bits gives {printed / GB:,.0f} GB. "
            f"With 4 bytes per 32-bit parameter: {right.notes[0]}.",
            {"which": which, "size": "70B", "bits": 8},
        )
    if which == "serving-training":
        as_written = training_memory_seed("13B", bytes_per_param=4, optimizer="adamw")
        right = training_memory("13B", precision="fp32", optimizer="adamw", overhead_bytes=0)
        return Drill(
            "erratum",
            f"{SERVING_ARTICLE} estimates training a 13B model in fp32 with AdamW at 364 GB (437 GB with a 20 % "
            "margin). What is wrong, and what do weights, gradients and AdamW states really take?",
            right.total, "bytes", BYTES_TOLERANCE,
            f"The article adds gradients and AdamW states on top of '4 x inference', which already stands for them: "
            f"{_sum_line(as_written)}; with the margin {format_bytes(as_written.with_margin(0.2).total)}.\n"
            f"Counted once: {right.notes[0]}; {right.notes[1]}: {_sum_line(right)}.",
            {"which": which, "size": "13B", "precision": "fp32"},
        )
    if which == "serving-gradients":
        fp32 = training_memory("13B", precision="fp32", optimizer="adamw", overhead_bytes=0)
        mixed = training_memory("13B", optimizer="adamw", overhead_bytes=0)
        literal = parse_count("13B")  # "equal to the number of parameters (P)", read as bytes
        return Drill(
            "erratum",
            f"{SERVING_ARTICLE} says the memory for gradients \"is equal to the number of parameters (P)\". "
            "How much memory do the gradients of a 13B model trained in fp32 take?",
            fp32["gradients"], "bytes", BYTES_TOLERANCE,
            f"A unit slip: P counts parameters, memory counts bytes. Read literally, 13B parameters would be "
            f"{format_bytes(literal)}; each gradient has the parameter's dtype, so it is P x b = 13B x 4 bytes = "
            f"{format_bytes(fp32['gradients'])} (what the article's own worked example adds). In mixed precision "
            f"the gradients are 16-bit: {format_bytes(mixed['gradients'])}.",
            {"which": which, "size": "13B", "precision": "fp32", "component": "gradients"},
        )
    raise ValueError(f"erratum must be one of {', '.join(ERRATA)}; got {quote(which)}")


# Dense models and cards for the speed drills (every one has bandwidth and FLOP/s in the GPU catalog).
SPEED_MODELS = ("llama-2-7b", "llama-3.1-8b", "qwen2.5-7b", "qwen3-8b", "llama-3.2-3b", "llama-2-13b")
SPEED_GPUS = ("A100-80GB", "H100-80GB", "H200", "L40S", "RTX-4090", "MI300X")


def speed_drill(model="llama-2-7b", gpu="A100-80GB", weights="fp16") -> Drill:
    """Tokens/s from bandwidth (batch 1, context 1, peak), then the ridge batch, then the int4 speed-up."""
    from .speed import decode_throughput, ridge_batch

    spec, card = ModelSpec.from_catalog(model), get_gpu(gpu)
    r = decode_throughput(spec, card, weights=weights, kv_cache="bf16", batch=1, context=1, efficiency=1.0)
    params = {"model": model, "gpu": card.name, "weights": weights}
    ridge = ridge_batch(spec, card, weights, "bf16", 1)
    if ridge is None:  # pragma: no cover - every dense model turns compute-bound at context 1
        raise ValueError(f"{model} on {card.name} never turns compute-bound; pick another pair")
    peak = card.peak_flops("bf16")
    int4 = decode_throughput(spec, card, weights="int4", kv_cache="bf16", efficiency=1.0)
    ratio = int4.tokens_per_s_per_seq / r.tokens_per_s_per_seq
    follow_ups = (
        Drill("speed_ridge", f"Still {model} ({weights}) on the {card.name} at context 1: from what batch does a "
              "decode step turn compute-bound?", ridge, "sequences", SPEED_TOLERANCE,
              f"The card does {peak / card.bandwidth_bytes_per_s:,.0f} FLOPs per byte it reads ({peak / 1e12:,.1f} "
              f"TFLOP/s dense / {card.bandwidth_bytes_per_s / 1e9:,.0f} GB/s). A batch of b does 2b FLOPs per 2-byte "
              f"weight, so b* = F W / (BW f - F KV) = about {ridge:,} (2 FLOPs per active parameter per token plus "
              "attention; each sequence adds its KV bytes).", params),
        Drill("speed_int4", f"How many times faster can {model} decode on the {card.name} with int4 weights (GPTQ/AWQ, "
              "group 128) instead, at the roofline?", ratio, "x", 0.05,
              f"Bytes per step fall from {format_bytes(r.bytes_per_step)} to {format_bytes(int4.bytes_per_step)} "
              f"(scales and zero points included; embedding and LM head stay 16-bit): "
              f"{int4.tokens_per_s_per_seq:,.1f} / {r.tokens_per_s_per_seq:,.1f} = {ratio:.2f}x.", params),
    )
    return Drill(
        "speed",
        f"{model} in {weights} on one {card.name} ({card.bandwidth_bytes_per_s / 1e9:,.0f} GB/s), batch 1: how many "
        "tokens/s can one sequence get at most (peak bandwidth, one token of context)?",
        r.tokens_per_s_per_seq, "tokens/s", SPEED_TOLERANCE,
        f"Each token reads every weight once: {format_bytes(r.weight_bytes_per_step)} of weights + "
        f"{r.kv_bytes_per_step:,} bytes of KV cache. {card.bandwidth_bytes_per_s / 1e9:,.0f} GB/s / "
        f"{r.bytes_per_step / 1e9:,.2f} GB = {r.tokens_per_s_per_seq:,.1f} tokens/s (memory-bound: "
        f"{r.flops_per_step / 1e9:,.1f} GFLOPs take {r.compute_time_s * 1e3:.3f} ms, the bytes "
        f"{r.memory_time_s * 1e3:.2f} ms).",
        params, follow_ups,
    )


@dataclass(frozen=True)
class Why:
    """A conceptual "why" question with a model answer (no number to check)."""

    question: str
    answer: str

    def text(self, answers: bool = False) -> str:
        return f"Why: {self.question}" + (f"\n  Model answer: {self.answer}" if answers else "")


WHY_QUESTIONS = (
    Why("Why is generating tokens (decode) memory-bound on a GPU?",
        "Each new token multiplies its vector by every weight matrix: every weight is read from memory once per "
        "step and used for just 2 FLOPs (multiply, add) per sequence, about 1 FLOP per byte at bf16. An H100 can do "
        "about 300 FLOPs per byte it reads, so the tensor cores wait for memory: tokens/s <= bandwidth / bytes per "
        "step (weights + the KV cache). Batching reuses each weight read for b tokens, which is why it raises "
        "throughput."),
    Why("What does PagedAttention fix?",
        "KV-cache waste. Earlier servers reserved one contiguous slot of the maximum length per request; the vLLM "
        "paper (Kwon et al., SOSP 2023) measured that only 20-38 % of that memory held real tokens (reservation, "
        "internal and external fragmentation). PagedAttention stores the cache in fixed blocks (16 tokens) "
        "allocated on demand through a block table, like virtual memory: waste falls under 4 %, blocks can be "
        "shared (parallel sampling, prefixes), and the freed memory holds a larger batch, hence more throughput."),
    Why("Why does FlashAttention cut activation memory?",
        "Standard attention materialises the s x s score and softmax matrices per head (and keeps them for the "
        "backward pass): memory grows with the square of the sequence length. FlashAttention computes attention in "
        "tiles held in on-chip SRAM with an online softmax, never writes the s x s matrix to HBM, and in backward "
        "recomputes it from q, k, v and the saved softmax statistics (one logsumexp per row): activation memory "
        "becomes linear in s, and fewer HBM reads make it faster too."),
    Why("Why does mixed-precision training keep fp32 master weights?",
        "An update is learning rate x gradient, often below bf16's resolution next to the weight (bf16 has 8 bits "
        "of mantissa: near 1.0 its step is 2^-7), so adding it in 16 bits rounds it away and training stalls. The "
        "optimizer applies updates to an fp32 copy (4 bytes/param) and casts it to 16 bits for the forward and "
        "backward passes; with Adam's two fp32 moments that is 4 + 4 + 4 bytes of optimizer state, plus the 2+2 of "
        "16-bit weights and gradients: the 16 bytes per parameter."),
    Why("Why does batching raise total tokens/s but not the speed of one sequence?",
        "A step reads the weights once for the whole batch, so while it is memory-bound b sequences cost about "
        "what one does: total tokens/s grows about b-fold. Each sequence still gets one token per step, and each "
        "adds its own KV-cache read, so per-sequence speed falls slowly; past the ridge batch (or once the KV cache "
        "dominates) the step time grows with b and the gain stops."),
    Why("Why is time to first token governed by FLOP/s, and time per output token by bandwidth?",
        "Prefill pushes all n prompt tokens through each weight matrix at once: one weight read serves n tokens, "
        "so it is compute-bound (2 FLOPs per parameter per token, plus attention). Decode produces one token per "
        "sequence per step and must re-read all weights each time: memory-bound. A card with H100 bandwidth but "
        "a sixth of the FLOP/s (H20) decodes as fast and prefills about six times slower."),
    Why("Why does grouped-query attention (GQA) shrink the KV cache?",
        "The cache holds one key and one value vector per KV head, per layer, per token: 2 x L x n_kv x d x bytes. "
        "Multi-head attention has a KV head for every query head; GQA lets a group of query heads share one (Ainslie "
        "et al. 2023), so the cache shrinks by n_heads / n_kv. Llama 3.1 70B has 64 query heads and 8 KV heads: "
        "320 KiB per token in bf16 instead of 2.5 MiB, 8 times smaller, so 8 times more tokens fit. The weights "
        "shrink far less (only k and v projections get narrower), and quality stays close to MHA."),
    Why("Why does activation checkpointing trade compute for memory?",
        "Backward needs the forward's intermediate tensors. Checkpointing keeps only each layer's input (or every "
        "k-th layer's) and frees the rest; in backward it runs that layer's forward again to rebuild them. Memory for "
        "activations drops from all saved tensors of L layers to L layer inputs plus one layer's tensors at a time, "
        "and the price is one extra forward pass: about 33 % more FLOPs (a forward is a third of forward + backward). "
        "Selective recompute (Korthikanti et al. 2022) recomputes only the cheap, large attention tensors and costs "
        "a few percent."),
    Why("What does ZeRO-3 cost in communication?",
        "Plain data parallelism all-reduces the gradients: about 2 x the model's gradient bytes per GPU per step "
        "(a reduce-scatter plus an all-gather). ZeRO-1 and 2 cost the same. ZeRO-3 also shards the parameters, so "
        "each layer's weights are all-gathered before its forward and again before its backward, then gradients are "
        "reduce-scattered: 3 x instead of 2 x, 1.5 times the traffic (Rajbhandari et al. 2020, Sec. 7). The memory "
        "per GPU becomes model states / N; the price is bandwidth, which is why ZeRO-3 across slow inter-node links "
        "is often slow and why HSDP shards within a node only."),
    Why("What does an 8-bit optimizer keep, and what does it save?",
        "8-bit Adam (Dettmers et al. 2022, bitsandbytes) stores Adam's two moments as 8-bit codes with block-wise "
        "quantisation: 1 byte per value plus one fp32 scale per block of 2048 values, about 2 bytes per parameter "
        "instead of 8. The update is computed in 32 bits (dequantise the block, update, requantise). It does not "
        "touch the weights, the gradients or the fp32 master copy, and small tensors (norms, biases) keep 32-bit "
        "states. Mixed-precision AdamW goes from 16 to about 10 bytes per parameter, before activations."),
)


def why_drill(seed: int = 0) -> Why:
    """A reproducible conceptual question: the same seed gives the same one."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be a whole number; got {seed!r}")
    return random.Random(seed).choice(WHY_QUESTIONS)


# The four errata of the source articles (09's cheat sheet lists them in one table).
ERRATA = ("magic-formula", "serving-fp8", "serving-training", "serving-gradients")


# ---------------------------------------------------------------------- the seeded generator


def kinds() -> tuple:
    """The drill kinds this installation can generate (lora/qlora and zero need their modules)."""
    out = ["serving", "gpus", "kv_cache", "training"]
    if _has("finetune", "lora_memory"):
        out += ["lora"]
    if _has("parallel", "zero_model_states_per_gpu"):
        out += ["zero"]
    return tuple(out + ["erratum"])


# Kinds asked for by name only (--kind speed), so that a seed's question stays the same as before they existed.
EXPLICIT_KINDS = ("speed",)


def all_kinds() -> tuple:
    """Every kind `generate(seed, kind)` accepts: the drawable `kinds()` and those asked for by name."""
    return (*kinds(), *EXPLICIT_KINDS)


def generate(seed: int = 0, kind: str | None = None) -> Drill:
    """A reproducible drill: the same seed (and kind) always gives the same question and answer.

    The serving ladder: weights -> GPUs -> KV per token (GQA) -> KV for a long context -> everything
    together -> training. Other kinds start further up the ladder.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be a whole number; got {quote(seed)}")
    rng = random.Random(seed)
    available = all_kinds()
    kind = rng.choice(kinds()) if kind is None else kind
    if kind not in available:
        raise ValueError(f"unknown drill kind {quote(kind, 40)}; this installation has: {', '.join(available)}")
    if kind == "serving":
        model = rng.choice(KV_MODELS)
        size = format_count(ModelSpec.from_catalog(model).num_params())
        bits, gpu = rng.choice((16, 8, 4)), rng.choice(SERVE_GPUS)
        seq_len, batch = rng.choice(CONTEXTS), rng.choice((1, 4, 16))
        top = serving_drill(size, bits, gpu)
        kv = kv_cache_drill(model, seq_len, batch)
        ladder = (*top.follow_ups, kv_per_token_drill(model), replace(kv, follow_ups=()),
                  inference_drill(model, seq_len, batch), replace(training_drill(model), follow_ups=()))
        return replace(top, question=f"{top.question} (It is {model}, about {size} parameters.)",
                       follow_ups=ladder)
    if kind == "gpus":
        return gpus_drill(rng.choice(SIZES), rng.choice((16, 8, 4)), rng.choice(SERVE_GPUS))
    if kind == "kv_cache":
        return kv_cache_drill(rng.choice(KV_MODELS), rng.choice(CONTEXTS), rng.choice((1, 2, 8, 32)))
    if kind == "training":
        return training_drill(rng.choice(TRAIN_MODELS), rng.choice((1, 2, 4)), rng.choice((2048, 4096, 8192)))
    if kind == "lora":
        return lora_drill(rng.choice(TRAIN_MODELS), rng.choice((8, 16, 64)), rng.choice(("attention", "all-linear")),
                          rng.choice((1, 4)), rng.choice((512, 2048)))
    if kind == "zero":
        return zero_drill(rng.choice(SIZES), rng.choice((8, 16, 64)), rng.choice((1, 2, 3)))
    if kind == "speed":
        return speed_drill(rng.choice(SPEED_MODELS), rng.choice(SPEED_GPUS), rng.choice(("bf16", "fp16")))
    return erratum_drill(rng.choice(ERRATA))


def drills(seed: int = 0, n: int = 5) -> list:
    """`n` drills from one seed (drill i uses seed * 1000 + i), for a worksheet."""
    return [generate(seed * 1000 + i) for i in range(n)]


# ---------------------------------------------------------------------- the answer box (ipywidgets)


class AnswerBox:
    """A text box and a Check button: the verdict is written into an HTML widget (observe-style, so
    notebooks pass nbval and tests can call `submit`). ipywidgets is imported here, not at import."""

    def __init__(self, drill: Drill):
        import ipywidgets as W

        self.drill = drill
        self.answer = W.Text(placeholder="e.g. 168 GB or 156.5 GiB", description="Answer",
                             continuous_update=False)
        self.button = W.Button(description="Check", button_style="primary")
        self.result = W.HTML(value="")
        self.ok, self.message = None, ""
        self.answer.observe(lambda change: self._check(), names="value")
        self.button.on_click(lambda _: self._check())
        question = W.HTML(value=f"<b>{html.escape(drill.question)}</b>")
        self.widget = W.VBox([question, W.HBox([self.answer, self.button]), self.result])

    def _check(self):
        if not self.answer.value.strip():
            self.ok, self.message, self.result.value = None, "", ""
            return
        self.ok, self.message = self.drill.check(self.answer.value)
        color = "#007A3D" if self.ok else "#B00020"
        self.result.value = f'<span style="color:{color};font-weight:bold">{html.escape(self.message)}</span>'

    def submit(self, value) -> str:
        """Type `value` into the box as a student would; returns the verdict."""
        self.answer.value = str(value)
        self._check()
        return self.message

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
