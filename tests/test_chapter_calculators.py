"""The chapter calculators: 02's parameter counts by part and 04's weight formats side by side.

Each expected number comes from llmmem's own library calls on a spec built independently of the widget (a
config dict read by ModelSpec.from_hf_config, or the catalog), or from the published counts in the catalog.
"""

import html
import json
from datetime import datetime, timezone

import pytest

from llmmem import ModelSpec, get_gpu, inference_memory, reference, weight_bytes
from llmmem.architecture_widget import ArchitectureCalculator
from llmmem.compare import compare_quantized_formats, quantization_options
from llmmem.inference import serving_gpus
from llmmem.quantization_widget import QuantizationCalculator
from llmmem.resize import resized_layers
from llmmem.widgets import UPLOADED


def _upload(calc, content: bytes, name="config.json"):
    calc.upload.value = ({"name": name, "type": "application/json", "size": len(content),
                          "content": memoryview(content),
                          "last_modified": datetime(2024, 1, 1, tzinfo=timezone.utc)},)


# --------------------------------------------------------------------------- 02: architecture


def test_the_default_is_llama_3_1_8b_by_part():
    calc = ArchitectureCalculator()
    spec = ModelSpec.from_catalog("llama-3.1-8b")
    assert calc.counts == spec.param_counts() and calc.total == 8_030_261_248  # its safetensors index
    assert calc.summary() == "llama-3.1-8b: 8,030,261,248 parameters (8.03B)"
    assert calc.sizes["hidden_size"].value == "4096" and calc.sizes["num_kv_heads"].value == "8"
    assert "llmmem-parameter-bar" in calc.result.value and f"{spec.param_counts()['mlp']:,}" in calc.result.value


def test_editing_a_size_recounts_the_edited_config():
    calc = ArchitectureCalculator()
    calc.sizes["num_kv_heads"].value = "32"  # multi-head attention instead of GQA
    cfg = dict(reference.model("meta-llama/Llama-3.1-8B")["config"], num_key_value_heads=32)
    expected = ModelSpec.from_hf_config(cfg)
    assert calc.counts == expected.param_counts() and calc.total == expected.num_params()
    assert "(edited)" in calc.summary()
    calc.tied.value = True
    assert calc.counts["lm_head"] == 0 and calc.total == expected.num_params() - expected.param_counts()["lm_head"]


def test_a_moe_model_shows_total_and_active():
    calc = ArchitectureCalculator(model="mixtral-8x7b")
    spec = ModelSpec.from_catalog("mixtral-8x7b")
    assert calc.total == spec.num_params() and calc.active == spec.num_active_params()
    assert f"{spec.num_active_params():,}" in calc.summary() and "active per token" in calc.summary()
    calc.sizes["experts_per_token"].value = "8"  # every expert for every token: all active
    assert calc.active == calc.total
    calc.sizes["num_experts"].value = "0"  # dense: one MLP of intermediate_size per layer, as Mistral 7B's
    mistral = ModelSpec.from_hf_config(dict(reference.model("mistralai/Mixtral-8x7B-v0.1")["config"],
                                            model_type="mistral"))
    assert not calc.spec.is_moe and calc.total == mistral.num_params() == calc.active


def test_switching_models_refills_the_boxes():
    calc = ArchitectureCalculator()
    calc.sizes["hidden_size"].value = "2048"
    calc.model.value = "llama-3.1-70b"
    assert calc.sizes["hidden_size"].value == "8192"
    assert calc.total == ModelSpec.from_catalog("llama-3.1-70b").num_params()


@pytest.mark.parametrize("field, bad, fragment", [("num_kv_heads", "5", "KV heads (5) must divide Heads (32)"),
                                                  ("num_layers", "-3", "Layers: cannot use"),
                                                  ("hidden_size", "lots", "Hidden size: cannot use"),
                                                  ("num_layers", "20000", "Layers: 20,000 is too large")])
def test_bad_sizes_show_a_red_message_and_recover(field, bad, fragment):
    calc = ArchitectureCalculator()
    before = calc.summary()
    calc.sizes[field].value = bad
    assert calc.error is not None and html.escape(fragment) in calc.result.value and "#B00020" in calc.result.value
    assert "ModelSpec" not in calc.error
    calc.sizes[field].value = {"num_kv_heads": "8", "num_layers": "32", "hidden_size": "4096"}[field]
    assert calc.summary() == before


def test_experts_on_a_dense_model_ask_for_top_k_and_width():
    calc = ArchitectureCalculator()
    calc.sizes["num_experts"].value = "8"
    assert "Top-k" in calc.error
    calc.sizes["experts_per_token"].value = "2"
    assert "Expert FFN" in calc.error
    calc.sizes["moe_intermediate_size"].value = "14336"
    assert calc.error is None and calc.spec.is_moe and len(calc.spec.moe_layers) == 32
    assert calc.total == calc.spec.num_params() > 40e9  # 8 experts of Llama 3.1 8B's MLP: about 47B


def test_an_uploaded_config_is_counted_like_the_catalog():
    calc = ArchitectureCalculator(model="llama-3.2-1b")
    _upload(calc, json.dumps(reference.model("meta-llama/Llama-3.1-8B")["config"]).encode())
    assert calc.model.value == UPLOADED and calc.total == 8_030_261_248
    _upload(calc, b"{not json", name="bad.json")
    assert calc.summary().startswith("error: bad.json could not be used")


def test_the_page_has_one_box_per_size_resize_can_change():
    from llmmem.architecture_widget import SIZE_FIELDS
    from llmmem.resize import RESIZABLE

    assert tuple(SIZE_FIELDS) == RESIZABLE


@pytest.mark.parametrize("indices, old, new, expected", [
    ((3, 4, 5), 6, 8, (3, 4, 5, 6, 7)),  # DeepSeek-style: dense first, then MoE: new layers MoE
    ((0, 2, 4), 6, 10, (0, 2, 4, 6, 8)),  # alternating (Gemma 2's sliding layers): keeps alternating
    ((0, 2, 4), 6, 3, (0, 2)),  # fewer layers keep the first
    ((), 6, 9, ()),
])
def test_per_layer_patterns_follow_a_new_layer_count(indices, old, new, expected):
    assert resized_layers(indices, old, new) == expected


# --------------------------------------------------------------------------- 04: quantization


def test_awq_group_128_is_the_int4_format():
    """Two independent paths in llmmem: the checkpoint's quantization_config rules and the int4 format table."""
    spec = ModelSpec.from_catalog("llama-3.1-8b")
    rows = {r.fmt: r for r in compare_quantized_formats(spec, "H100-80GB")}
    assert rows["AWQ int4, group 128"].weight_bytes == weight_bytes(spec, "int4")
    assert rows["nf4 + double quant"].weight_bytes == weight_bytes(spec, "nf4_dq")
    assert rows["q4_k_m"].weight_bytes == weight_bytes(spec, "q4_k_m")
    # GPTQ symmetric drops the 4-bit zero point: 4 bits x (groups) less than AWQ, exactly, per quantized matrix
    assert rows["GPTQ int4, group 128"].weight_bytes < rows["AWQ int4, group 128"].weight_bytes
    for r in rows.values():
        assert r.bits_per_param == pytest.approx(8 * r.weight_bytes / spec.num_params())


def test_smaller_groups_cost_more_bits():
    spec = ModelSpec.from_catalog("llama-3.1-8b")
    bits = [next(r for r in compare_quantized_formats(spec, "L4", quantization_options(g)) if r.fmt.startswith("AWQ"))
            .bits_per_param for g in (32, 64, 128)]
    assert bits[0] > bits[1] > bits[2]


def test_the_calculator_shows_the_chosen_format_by_serve_rules():
    calc = QuantizationCalculator(model="llama-3.1-70b", fmt="q4_k_m", gpu="RTX-4090")
    spec, card = ModelSpec.from_catalog("llama-3.1-70b"), get_gpu("RTX-4090")
    tp, expected, _ = serving_gpus(spec, card, weights="q4_k_m", max_tp=16)
    assert calc.breakdown == expected and f"{tp} × RTX-4090 (TP={tp})" in calc.summary()
    assert calc.fits is (tp == 1) and tp > 1
    assert "4.820 bits per parameter" in calc.summary()  # 8 x weight_bytes / num_params, below
    assert f"{8 * weight_bytes(spec, 'q4_k_m') / spec.num_params():.3f}" == "4.820"
    table = calc.result.value.split('class="llmmem-compare"')[1]
    assert all(f"<code>{html.escape(o.label)}</code>" in table for o in quantization_options())
    calc.group.value = 32
    assert "GPTQ int4, group 32" in calc.result.value


def test_a_format_that_fits_nowhere_is_red_but_keeps_the_table():
    calc = QuantizationCalculator(model="llama-3.1-405b", fmt="bf16", gpu="L4")
    assert calc.error is None and not calc.fits and "does not fit on 16 GPUs" in calc.summary()
    assert calc.breakdown == inference_memory(ModelSpec.from_catalog("llama-3.1-405b"), "bf16")
    assert "llmmem-compare" in calc.result.value


def test_bad_context_and_unmodelled_mixtures_are_red_messages():
    calc = QuantizationCalculator()
    calc.seq_len.value = "lots"
    assert calc.summary().startswith("error: Context: cannot use")
    calc.seq_len.value = "8192"
    calc.model.value, calc.fmt.value = "deepseek-v3", "q4_k_m"
    assert "GGUF mixtures are modelled for dense llama-style models" in calc.error
    calc.fmt.value = "gptq"
    assert calc.error is None


def test_a_quantized_checkpoint_gets_its_own_row():
    cfg = dict(reference.model("meta-llama/Llama-3.1-8B")["config"],
               quantization_config={"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True})
    calc = QuantizationCalculator()
    _upload(calc, json.dumps(cfg).encode())
    assert calc.error is None and "this checkpoint (awq)" in calc.result.value
    assert calc.rows[0].weight_bytes == weight_bytes(ModelSpec.from_catalog("llama-3.1-8b"), "int4")
    calc.fmt.value = "checkpoint"  # the bar: the checkpoint as it is stored, its own AWQ at group 128
    assert calc.error is None and "AWQ 4-bit, group 128" in calc.breakdown.title
    awq_8b = weight_bytes(ModelSpec.from_catalog("llama-3.1-8b"), "int4")  # AWQ int4 at group 128, by the table
    assert calc.breakdown["weights"] == awq_8b / calc.rows[0].n_gpus
    assert calc.summary().startswith("this checkpoint (awq): ")


def test_as_stored_is_bf16_for_an_unquantized_checkpoint():
    calc = QuantizationCalculator(model="llama-3.1-8b", fmt="checkpoint", gpu="H100-80GB")
    assert calc.error is None and calc.breakdown == QuantizationCalculator(model="llama-3.1-8b", fmt="bf16",
                                                                           gpu="H100-80GB").breakdown


def test_a_format_chosen_for_a_bf16_model_is_not_called_its_checkpoint():
    """Storing Llama 3.1 8B (a bf16 checkpoint) as GPTQ: the bar names the scheme, not a checkpoint, and holds the
    bytes `inference_memory` gives the spec with GPTQ's quantization_config."""
    calc = QuantizationCalculator(model="llama-3.1-8b", fmt="gptq", gpu="H100-80GB")
    option = next(o for o in quantization_options() if o.key == "gptq")
    stored = ModelSpec.from_hf_config(dict(reference.model("meta-llama/Llama-3.1-8B")["config"],
                                      quantization_config=option.quantization), name="llama-3.1-8b")
    expected = inference_memory(stored, "auto", kv_cache="bf16", batch=1, seq_len=8192)
    assert "checkpoint" not in calc.breakdown.title and "GPTQ 4-bit, group 128 weights" in calc.breakdown.title
    assert not any("checkpoint" in n for n in calc.breakdown.notes)
    assert calc.breakdown == expected and calc.breakdown.title == expected.title
