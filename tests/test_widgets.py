import html

import ipywidgets as W
import pytest

from llmmem import get_gpu, gpus_needed, serving_memory
from llmmem.names import COMPONENT_NAMES, display_name, plain_note
from llmmem.widgets import ServingCalculator


def test_default_answer_is_the_seed_example():
    calc = ServingCalculator()
    assert calc.summary() == "168.0 GB (156.5 GiB) → 2 × A100-80GB"
    assert "168.0 GB" in calc.result.value and "2 × A100-80GB" in calc.result.value
    assert "70,000,000,000 × 16 / 8 × 1.2" in calc.result.value


def test_changing_inputs_recomputes_with_llmmem():
    calc = ServingCalculator()
    calc.size.value = "405B"
    calc.bits.value = 8
    calc.gpu.value = "H100-80GB"
    expected = serving_memory(405e9, bits=8)
    assert calc.breakdown.total == expected
    assert calc.n_gpus == gpus_needed(expected, gpu="H100-80GB")
    assert f"{calc.n_gpus} × H100-80GB" in calc.summary()


@pytest.mark.parametrize("bad, fragment", [("", "Model size: empty"), ("seventy B", "cannot use 'seventy B'"),
                                          ("-7B", "cannot use '-7B'"), ("0", "cannot use '0'"),
                                          ("2e15", "a parameter count from 1 to 10^15")])
def test_bad_size_shows_a_red_message_and_recovers(bad, fragment):
    calc = ServingCalculator()
    calc.size.value = bad
    assert "#B00020" in calc.result.value and html.escape(fragment) in calc.result.value
    assert "enter a parameter count from 1 to 10^15" in calc.result.value  # the field's accepted range
    assert calc.summary().startswith("error:")
    calc.size.value = "8B"  # the calculator keeps working
    assert calc.summary() == "19.2 GB (17.9 GiB) → 1 × A100-80GB"


def test_every_gpu_in_the_dropdown_is_in_the_catalog():
    calc = ServingCalculator()
    for name in calc.gpu.options:
        calc.gpu.value = name
        assert calc.n_gpus == gpus_needed(calc.breakdown.total, gpu=get_gpu(name))


# --------------------------------------------------------------------------- every calculator

import json  # noqa: E402
from datetime import datetime, timezone  # noqa: E402

from llmmem import (  # noqa: E402
    ModelSpec,
    format_bytes,
    inference_memory,
    lora_memory,
    max_context,
    qlora_memory,
    reference,
    serving_breakdown,
    sharded_training_memory,
    training_memory,
    weight_bytes,
)
from llmmem.widgets import (  # noqa: E402
    BY_SIZE,
    CALCULATORS,
    UPLOADED,
    FinetuneCalculator,
    InferenceCalculator,
    ManyGPUCalculator,
    TrainingCalculator,
)


def _upload(calc, content: bytes, name="config.json"):
    """What ipywidgets 8's FileUpload puts in `.value` when a file is chosen in the browser."""
    calc.upload.value = ({"name": name, "type": "application/json", "size": len(content),
                          "content": memoryview(content),
                          "last_modified": datetime(2024, 1, 1, tzinfo=timezone.utc)},)


def test_serving_with_a_catalog_model_and_a_weight_format():
    calc = ServingCalculator()
    calc.model.value = "llama-3.1-70b"
    spec = ModelSpec.from_catalog("llama-3.1-70b")
    assert calc.breakdown.total == serving_breakdown(spec.num_params(), bits=16).total
    assert calc.size.disabled  # the size field does not apply to a catalog model
    calc.fmt.value = "q4_k_m"
    assert calc.bits.disabled
    assert calc.breakdown["weights"] == weight_bytes(spec, "q4_k_m")
    assert calc.breakdown.total == pytest.approx(weight_bytes(spec, "q4_k_m") * 1.2)
    assert calc.summary() == f"{format_bytes(calc.breakdown.total)} → 1 × A100-80GB"
    assert "q4_k_m at 4.8" in calc.result.value  # the arithmetic, with the numbers plugged in
    calc.model.value = BY_SIZE  # q4_k_m mixes block types: it needs the architecture, and says so
    assert "mixes block types" in calc.result.value and "#B00020" in calc.result.value
    assert "ModelSpec" not in calc.result.value and "pick a model" in calc.result.value  # plain words, no API
    calc.fmt.value = "q4_0"
    assert calc.breakdown["weights"] == weight_bytes("70B", "q4_0")


def test_inference_calculator_matches_llmmem():
    calc = InferenceCalculator()
    calc.model.value, calc.weights.value, calc.kv_cache.value = "llama-3.1-70b", "fp8", "fp8"
    calc.seq_len.value, calc.batch.value, calc.tp.value, calc.gpu.value = "32K", "4", 4, "H100-80GB"
    spec = ModelSpec.from_catalog("llama-3.1-70b")
    options = dict(weights="fp8", kv_cache="fp8", tp=4)
    # "32K" = 32 x 1024 tokens, as model cards mean context
    expected = inference_memory(spec, batch=4, seq_len=32_768, **options)
    assert calc.breakdown == expected and calc.error is None
    assert calc.summary().startswith(f"{format_bytes(expected.total)} per GPU (TP=4): fits in 90% of one H100-80GB")
    longest = max_context(spec, "H100-80GB", batch=4, **options)
    assert f"{longest:,} tokens" in calc.result.value
    assert all(html.escape(plain_note(note)) in calc.result.value for note in expected.notes)


def test_inference_badge_and_compare_table_use_one_rule_vllms_90_percent():
    """Memory that fits the whole card but not vLLM's 90 % of it: red badge, and the table agrees (2 GPUs)."""
    spec = ModelSpec.from_catalog("llama-3.1-8b")
    card = get_gpu("H100-80GB")
    longest = max_context(spec, card, gpu_memory_utilization=1.0, cap_at_model_limit=False)  # the whole card
    total = inference_memory(spec, seq_len=longest).total
    assert 0.9 * card.memory_bytes < total <= card.memory_bytes  # between the two rules
    calc = InferenceCalculator(seq_len=longest)
    assert calc.breakdown.total == total
    assert not calc.fits and "does not fit in 90% of one H100-80GB" in calc.summary()
    assert "usable each" in calc.result.value
    table = calc.result.value.split('class="llmmem-compare"')[1]
    bf16 = table.split("<code>bf16</code>")[1].split("</tr>")[0]
    assert "1 × H100-80GB" not in bf16  # the table does not put it on one card either


def test_inference_says_when_nothing_fits():
    calc = InferenceCalculator(model="llama-3.1-405b", gpu="L4")
    assert "does not fit" in calc.summary() and "no context fits" in calc.result.value


def test_training_calculator_matches_llmmem():
    calc = TrainingCalculator()
    calc.model.value, calc.precision.value, calc.optimizer.value = "llama-3.1-8b", "bf16", "adamw-8bit"
    calc.recompute.value, calc.batch.value, calc.seq_len.value = "full", "2", "8192"
    expected = training_memory(ModelSpec.from_catalog("llama-3.1-8b"), precision="bf16", optimizer="adamw-8bit",
                               batch=2, seq_len=8192, recompute="full")
    assert calc.breakdown == expected
    assert calc.summary().startswith(format_bytes(expected.total))


def test_finetune_calculator_lora_and_qlora():
    calc = FinetuneCalculator()
    spec = ModelSpec.from_catalog("llama-3.1-8b")
    calc.rank.value, calc.targets.value = "64", "all-linear"
    assert calc.breakdown == lora_memory(spec, rank=64, targets="all-linear", seq_len=2048, recompute="full")
    calc.method.value = "QLoRA"
    expected = qlora_memory(spec, rank=64, targets="all-linear", seq_len=2048, recompute="full")
    assert calc.breakdown == expected and "with QLoRA" in calc.summary()
    assert "167,772,160 trainable parameters" in calc.result.value


def test_many_gpu_calculator_matches_llmmem():
    calc = ManyGPUCalculator()
    calc.strategy.value, calc.tp.value, calc.pp.value, calc.gpus.value = "fsdp-hybrid-shard", 8, 2, "128"
    expected = sharded_training_memory(ModelSpec.from_catalog("llama-3.1-70b"), 128, strategy="fsdp-hybrid-shard",
                                       tp=8, pp=2, recompute="full")
    assert calc.breakdown == expected and calc.n_gpus == 1
    assert "per GPU on 128 GPUs" in calc.summary()
    calc.gpus.value = "100"  # not a multiple of tp x pp = 16: red, then recovers
    assert "multiple of tp × pp" in calc.result.value and calc.breakdown is None
    assert calc.error.startswith("GPU count: ")  # the library's keyword, led by the field's label
    calc.gpus.value = "64"
    assert calc.error is None and "on 64 GPUs" in calc.summary()


NUMBER_FIELDS = [("serving", "size"), ("inference", "seq_len"), ("inference", "batch"), ("training", "seq_len"),
                 ("training", "batch"), ("finetune", "rank"), ("finetune", "seq_len"), ("finetune", "batch"),
                 ("many_gpus", "gpus"), ("many_gpus", "seq_len"), ("many_gpus", "batch")]


@pytest.mark.parametrize("name, field", NUMBER_FIELDS)
@pytest.mark.parametrize("bad", ["", "-8", "lots", "0"])
def test_bad_numbers_in_any_field_show_red_and_recover(name, field, bad):
    calc = CALCULATORS[name]()
    control = getattr(calc, field)
    good, before = control.value, calc.summary()
    control.value = bad
    assert "#B00020" in calc.result.value and calc.summary().startswith("error:")
    assert calc.breakdown is None
    control.value = good
    assert calc.error is None and calc.summary() == before


@pytest.mark.parametrize("name", list(CALCULATORS))
def test_an_uploaded_config_gives_the_same_breakdown_as_the_catalog(name):
    cfg = reference.model("meta-llama/Llama-3.1-8B")["config"]
    calc = CALCULATORS[name](model="llama-3.1-8b")
    catalog = calc.breakdown
    _upload(calc, json.dumps(cfg).encode())
    assert calc.model.value == UPLOADED and calc.error is None
    assert dict(calc.breakdown) == dict(catalog)


@pytest.mark.parametrize("content, fragment", [
    (b"{not json", "could not be used"),
    (b"\xff\xfe", "could not be used"),
    (b"[1, 2]", "must be a dict"),
    (json.dumps({"model_type": "bert", "hidden_size": 768}).encode(), "unsupported model_type 'bert'"),
    (json.dumps({"model_type": "llama", "hidden_size": 4096}).encode(), "missing required key"),
])
@pytest.mark.parametrize("name", ["serving", "training"])
def test_a_bad_config_upload_shows_red_and_recovers(name, content, fragment):
    calc = CALCULATORS[name](model="llama-3.1-8b")
    _upload(calc, content, name="my_config.json")
    assert "#B00020" in calc.result.value and html.escape(fragment) in calc.result.value
    assert calc.summary().startswith("error: my_config.json could not be used")
    calc.model.value = "llama-3.2-1b"
    assert calc.error is None and calc.breakdown is not None


def test_choosing_upload_before_uploading_asks_for_a_file():
    calc = TrainingCalculator()
    calc.model.value = UPLOADED
    assert "upload a Hugging Face config.json" in calc.result.value


def test_every_calculator_has_the_same_surface_and_a_short_repr():
    for cls in CALCULATORS.values():
        calc = cls()
        assert calc.error is None and calc.breakdown.total > 0 and calc.summary() in calc.result.value
        assert repr(calc) == f"{cls.__name__}: {calc.summary()}"
        assert "llmmem-calculator" in calc.widget._dom_classes


# --------------------------------------------------------------------------- hostile input (issue 12)

HOSTILE_TEXT = ["1e999", "1e999999", "7\u212a", "1" * 400, "1e-999", "nan", "inf", "1,5B", "\x00", "9" * 5000]


@pytest.mark.parametrize("name, field", NUMBER_FIELDS)
@pytest.mark.parametrize("bad", HOSTILE_TEXT, ids=lambda b: repr(b)[:12])
def test_hostile_text_in_any_field_replaces_the_answer_then_recovers(name, field, bad):
    calc = CALCULATORS[name]()
    control = getattr(calc, field)
    good, before = control.value, calc.summary()
    control.value = bad  # must not raise, stall, or leave the old answer beside the new input
    assert calc.error is not None and calc.breakdown is None
    assert calc.result.value.count("llmmem-error") == 1 and "llmmem-headline" not in calc.result.value
    assert control.description in calc.error and len(calc.error) < 300  # names the field; a short message
    control.value = good
    assert calc.error is None and calc.summary() == before


def _cfg(**changes):
    return dict(reference.model("meta-llama/Llama-3.1-8B")["config"], **changes)


HOSTILE_UPLOADS = {
    "nested 100k deep": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    "model_type a list": (json.dumps(_cfg(model_type=["llama"])).encode(), "could not be used"),
    "400-digit vocab_size": (json.dumps(_cfg(vocab_size=int("9" * 400))).encode(), "could not be used"),
    "vocab_size a string": (json.dumps(_cfg(vocab_size="lots")).encode(), "could not be used"),
    "null": (b"null", "could not be used"),
}


@pytest.mark.parametrize("name", list(CALCULATORS))
@pytest.mark.parametrize("case", list(HOSTILE_UPLOADS))
def test_a_hostile_config_upload_replaces_the_answer_then_recovers(name, case):
    content, fragment = HOSTILE_UPLOADS[case]
    calc = CALCULATORS[name](model="llama-3.1-8b")
    _upload(calc, content, name="evil.json")
    assert calc.breakdown is None and "llmmem-headline" not in calc.result.value
    assert calc.summary().startswith("error: evil.json could not be used") and fragment in calc.error
    assert len(calc.error) < 300
    calc.model.value = "llama-3.2-1b"
    assert calc.error is None and calc.breakdown is not None


def test_an_unexpected_exception_is_shown_and_logged_never_a_stale_answer(monkeypatch, caplog):
    import llmmem.widgets as widgets

    class Surprise(Exception):
        pass

    def boom(*args, **kwargs):
        raise Surprise("something new")

    calc = ServingCalculator()
    monkeypatch.setattr(widgets, "serving_breakdown", boom)
    with caplog.at_level("ERROR", logger="llmmem.widgets"):
        calc.size.value = "13B"
    assert calc.breakdown is None and "llmmem-headline" not in calc.result.value
    assert "unexpected error" in calc.error and "Surprise: something new" in calc.error
    assert any(r.exc_info and r.exc_info[0] is Surprise for r in caplog.records)  # logged with its traceback
    monkeypatch.undo()
    calc.size.value = "8B"
    assert calc.summary() == "19.2 GB (17.9 GiB) → 1 × A100-80GB"


@pytest.mark.parametrize("error, words", [(OverflowError("int too large"), "too large"),
                                          (RecursionError("depth"), "nested too deeply"),
                                          (KeyError("K"), "not one of those accepted"),
                                          (TypeError("'<' not supported"), "wrong type")])
def test_expected_error_types_are_told_in_plain_words_not_logged(monkeypatch, caplog, error, words):
    import llmmem.widgets as widgets

    def fail(*args, **kwargs):
        raise error

    calc = ServingCalculator()
    monkeypatch.setattr(widgets, "serving_breakdown", fail)
    with caplog.at_level("ERROR", logger="llmmem.widgets"):
        calc.size.value = "13B"
    assert words in calc.error and calc.breakdown is None and not caplog.records


# --------------------------------------------------------------------------- issue 17: live, clear, plain words




@pytest.mark.parametrize("name", list(CALCULATORS))
def test_every_text_field_updates_while_typing(name):
    calc = CALCULATORS[name]()
    texts = [w for w in vars(calc).values() if isinstance(w, W.Text) and w is not calc.hub]
    assert texts and all(t.continuous_update for t in texts)  # every number field
    assert not calc.hub.continuous_update  # the Hugging Face id is looked up on Enter, not per keystroke


def test_the_badge_is_green_when_it_fits_and_red_with_the_count_when_not():
    calc = ServingCalculator(size="8B", gpu="H100-80GB")
    assert calc.fits and "llmmem-fits" in calc.result.value and "fits on 1 × H100-80GB" in calc.result.value
    calc.size.value = "405B"
    n = gpus_needed(serving_memory(405e9, bits=16), gpu="H100-80GB")
    assert n > 1 and not calc.fits and "llmmem-does-not-fit" in calc.result.value
    assert f"needs {n} × H100-80GB" in calc.result.value
    assert "#B00020" in calc.result.value.split("llmmem-does-not-fit")[1][:100]  # the badge itself is red


def test_per_gpu_calculators_badge_red_when_over_the_card():
    calc = InferenceCalculator(model="llama-3.1-405b", gpu="L4")
    assert not calc.fits and "does not fit on 1 × L4" in calc.result.value
    calc.model.value = "llama-3.2-1b"
    assert calc.fits and "fits on 1 × L4" in calc.result.value


def test_the_capacity_line_stands_clear_of_the_bar_edge_and_is_labelled():
    import re

    calc = ServingCalculator(size="8B", gpu="H100-80GB")  # 19 GB on an 85 GB card: line far right of the bar
    marker = r'llmmem-capacity" style="position:absolute;left:([\d.]+)%'
    lefts = [float(x) for x in re.findall(marker, calc.result.value)]
    assert len(lefts) == 1 and lefts[0] < 95  # not on the bar's right edge
    assert "one H100-80GB: 85.5 GB" in calc.result.value


def test_legends_use_display_names_not_code_names():
    calc = ManyGPUCalculator()  # optimizer states, master weights, gathered weights...
    for component in calc.breakdown:
        assert html.escape(display_name(component)) in calc.result.value
    assert "_" not in "".join(COMPONENT_NAMES.values())
    legend = calc.result.value.split("llmmem-capacity")[-1]
    assert "optimizer_states" not in legend and "master_weights" not in legend
    assert "llmmem." not in calc.result.value and "seed formula" not in calc.result.value


@pytest.mark.parametrize("value", [5, 0.5, 3.01])
def test_overhead_out_of_range_is_refused_not_clamped(value):
    calc = ServingCalculator()
    calc.overhead.value = value
    assert calc.overhead.value == value  # kept as typed
    assert calc.breakdown is None and "Overhead ×" in calc.error and "from 1.0" in calc.error
    calc.overhead.value = 1.5
    assert calc.breakdown.total == serving_memory(70e9, bits=16, overhead=1.5)


@pytest.mark.parametrize("field, kind", [("batch", "whole number of sequences"), ("rank", "from 1 to 65,536")])
def test_count_fields_name_themselves_and_their_range(field, kind):
    calc = FinetuneCalculator()
    getattr(calc, field).value = "-5"
    assert calc.error.startswith(getattr(calc, field).description) and kind in calc.error
    assert "70B" not in calc.error  # a batch or a rank is not a parameter count


def test_qlora_defaults_to_gradient_checkpointing_as_the_paper_ran_it():
    calc = FinetuneCalculator(model="llama-3.1-70b", method="QLoRA", gpu="A100-80GB")
    assert calc.recompute.value == "full"
    spec = ModelSpec.from_catalog("llama-3.1-70b")
    assert calc.breakdown == qlora_memory(spec, rank=16, targets="attention", seq_len=2048, recompute="full")
    assert calc.fits


def test_the_kv_note_says_the_activations_are_one_prefill_chunk():
    calc = InferenceCalculator(seq_len="128K")
    assert "prefill chunk of 8,192 tokens" in calc.result.value
    assert "does not grow with the context" in calc.result.value


def test_compare_formats_table_under_serving_and_inference():
    from llmmem.compare import COMPARE_FORMATS, compare_serving_formats

    calc = ServingCalculator(model="llama-3.1-70b", gpu="H100-80GB")
    table = calc.result.value.split('class="llmmem-compare"')[1]
    assert all(f"<code>{f}</code>" in table for f in COMPARE_FORMATS)
    rows = compare_serving_formats(ModelSpec.from_catalog("llama-3.1-70b"), "H100-80GB")
    bf16 = next(r for r in rows if r.fmt == "bf16")
    assert bf16.total_bytes == serving_breakdown(ModelSpec.from_catalog("llama-3.1-70b"), fmt="bf16").total
    assert bf16.n_gpus == gpus_needed(bf16.total_bytes, gpu="H100-80GB")
    assert f"{bf16.n_gpus} × H100-80GB" in table
    calc = InferenceCalculator(model="llama-3.1-70b", gpu="H100-80GB")
    assert "llmmem-compare" in calc.result.value and "<code>q4_k_m</code>" in calc.result.value


def test_a_mixed_llama_cpp_format_by_size_says_what_to_do():
    calc = ServingCalculator(fmt="q4_k_m")
    assert "pick a model" in calc.error and "q4_k" in calc.error and "ModelSpec" not in calc.error
    calc.fmt.value = "q4_k"
    assert calc.breakdown["weights"] == weight_bytes("70B", "q4_k")


# --------------------------------------------------------------------------- the model box: a Hugging Face id

REVISION = "0123456789abcdef0123456789abcdef01234567"


def _hf_cache(root, repo_id, config):
    """huggingface_hub's cache layout: models--org--name/{refs/main, snapshots/<rev>/config.json}."""
    repo = root / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(REVISION)
    (repo / "snapshots" / REVISION).mkdir(parents=True)
    (repo / "snapshots" / REVISION / "config.json").write_text(json.dumps(config))


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to fetch from the Hub fails as it does offline, and is recorded."""
    huggingface_hub = pytest.importorskip("huggingface_hub")
    attempts = []

    def offline(*args, **kwargs):
        attempts.append(args)
        raise ConnectionError("no network in tests")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    return attempts


@pytest.mark.parametrize("name", list(CALCULATORS))
def test_a_hugging_face_id_from_the_local_cache_gives_the_catalog_answer(name, tmp_path, no_network):
    cfg = reference.model("meta-llama/Llama-3.1-8B")["config"]
    _hf_cache(tmp_path, "meta-llama/Llama-3.1-8B", cfg)
    calc = CALCULATORS[name](model="llama-3.1-8b")
    catalog = calc.breakdown
    calc.picker.hub_cache = tmp_path
    calc.hub.value = "meta-llama/Llama-3.1-8B"
    assert calc.model.value == "__hub__" and calc.error is None and not no_network  # read from the cache
    assert dict(calc.breakdown) == dict(catalog)


def test_a_hugging_face_id_not_cached_and_offline_says_so_then_recovers(tmp_path, no_network):
    calc = InferenceCalculator()
    calc.picker.hub_cache = tmp_path
    calc.hub.value = "some-org/not-cached"
    assert no_network  # it tried to fetch, and the failure became a message
    assert calc.breakdown is None and "not in the local Hugging Face cache" in calc.error
    assert "hf download some-org/not-cached config.json" in calc.error and "upload" in calc.error
    calc.model.value = "llama-3.2-1b"
    assert calc.error is None


def test_the_model_box_takes_a_catalog_name_and_refuses_nonsense(tmp_path, no_network):
    calc = TrainingCalculator()
    calc.hub.value = "llama-3.1-8b"
    assert calc.model.value == "llama-3.1-8b" and calc.error is None
    calc.hub.value = "not a model"
    assert "neither a catalog model nor a Hugging Face id" in calc.error and not no_network


def test_offline_without_download_does_not_try_the_network(tmp_path, no_network):
    calc = ServingCalculator()
    calc.picker.hub_cache, calc.picker.download = tmp_path, False
    calc.hub.value = "some-org/not-cached"
    assert not no_network and "hf download some-org/not-cached config.json" in calc.error
