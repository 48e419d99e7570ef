"""Published training runs (notebooks/data/training_runs.json) against `llmmem.training_peak`."""

import json
import math
import statistics
from pathlib import Path

import pytest

import llmmem
from llmmem.peak import compare_runs, estimate_run

RUNS = json.loads((Path(__file__).parent.parent / "notebooks" / "data" / "training_runs.json").read_text())["runs"]


def test_the_data_file_holds_at_least_20_runs_with_sources_and_statistics():
    assert len(RUNS) >= 20
    assert len({r["id"] for r in RUNS}) == len(RUNS)
    for run in RUNS:
        source = run["source"]
        assert source["repo"].count("/") == 1 and len(source["commit"]) == 40 and source["path"], run["id"]
        assert run["reported"]["unit"] in ("GB", "GiB") and run["reported"]["value"] > 0, run["id"]
        assert run["reported"]["metric"] in llmmem.peak.METRICS, run["id"]
        assert isinstance(run["inferred"], list), run["id"]
        assert run["modelled"] or run["not_modelled_because"], run["id"]


@pytest.mark.parametrize("run", RUNS, ids=[r["id"] for r in RUNS])
def test_every_run_has_an_estimate_at_a_named_phase(run):
    peak = estimate_run(run)
    assert peak.phase in ("forward", "backward", "optimizer step")
    assert peak.bytes == peak.breakdown.total > 0
    assert peak.bytes == max(int(b.total) for b in peak.phases.values()) or run["reported"]["metric"] != "allocated"


def test_fully_known_runs_median_error_within_10_percent():
    rows = [r for r in compare_runs(RUNS) if r["fully_known"]]
    assert len(rows) >= 8
    errors = sorted(abs(r["ratio"] - 1) for r in rows)
    assert statistics.median(errors) <= 0.10, errors
    # the worst (LitGPT's NF4 runs, 15 % low) is explained in notebook 06's closing note
    assert max(errors) < 0.20, errors


def test_upper_bound_runs_are_not_underestimated():
    for row in compare_runs(RUNS):
        if row["upper_bound"]:
            assert row["ratio"] >= 1, row


def test_compile_is_declared_not_modelled_and_lowers_the_measured_peak():
    packed = next(r for r in RUNS if r["id"] == "torchtune-3b-packed")
    compiled = next(r for r in RUNS if r["id"] == "torchtune-3b-compile")
    assert not compiled["modelled"] and compiled["settings"]["compile"]
    assert compiled["reported"]["value"] < packed["reported"]["value"]
    assert estimate_run(compiled).bytes == estimate_run(packed).bytes  # the eager estimate ignores compile


SPEC = llmmem.ModelSpec.from_catalog("llama-3.2-3b")


def test_foreach_adamw_holds_one_state_copy_fused_none_forloop_one_tensor():
    kw = dict(batch=1, seq_len=128, recompute="full")
    foreach = llmmem.training_peak(SPEC, optimizer_impl="foreach", **kw).phases["optimizer step"]
    fused = llmmem.training_peak(SPEC, optimizer_impl="fused", **kw).phases["optimizer step"]
    loop = llmmem.training_peak(SPEC, optimizer_impl="forloop", **kw).phases["optimizer step"]
    matrices = sum(r * c * n for _, r, c, n in SPEC.weight_matrices())
    assert foreach["step_temporaries"] == 2 * matrices  # bf16 states: one 2-byte copy of every matrix
    assert fused["step_temporaries"] == 0
    assert loop["step_temporaries"] == 2 * 128256 * 3072  # the embedding, the largest tensor
    assert llmmem.training_peak(SPEC, optimizer_impl="foreach", **kw).phase == "optimizer step"


def test_optimizer_in_backward_removes_the_step_and_the_full_gradients():
    kw = dict(batch=1, seq_len=128, recompute="full", optimizer_impl="fused")
    plain = llmmem.training_peak(SPEC, **kw)
    fused_bwd = llmmem.training_peak(SPEC, optimizer_in_backward=True, **kw)
    assert "optimizer step" not in fused_bwd.phases and fused_bwd.bytes < plain.bytes
    assert plain.bytes - fused_bwd.bytes <= 2 * SPEC.num_params()  # at most the gradients it no longer holds


def test_paged_states_are_outside_the_allocator_but_inside_nvidia_smi():
    kw = dict(batch=1, seq_len=256, optimizer="paged-adamw-8bit")
    allocated = llmmem.training_peak(SPEC, **kw)
    smi = llmmem.training_peak(SPEC, metric="nvidia-smi", **kw)
    assert "optimizer_states" not in allocated.breakdown
    assert smi.breakdown["paged_optimizer_states"] == llmmem.training.optimizer_state_bytes(SPEC, "paged-adamw-8bit")
    assert smi.breakdown["cuda_context"] == 1343 * 2**20
    assert smi.bytes > allocated.bytes


def test_chunked_loss_lowers_the_loss_peak_by_the_unchunked_gradients():
    kw = dict(batch=2, seq_len=4096, framework="torchtune")
    plain, chunked = llmmem.training_peak(SPEC, **kw), llmmem.training_peak(SPEC, chunked_loss=True, **kw)
    tokens = 2 * 4096
    assert plain.phases["backward"]["loss_transient"] == 2 * 4 * SPEC.vocab_size * tokens
    assert chunked.phases["backward"]["loss_transient"] == 2 * 4 * SPEC.vocab_size * tokens // 8
    assert chunked.bytes < plain.bytes


def test_fsdp_shards_the_states_and_adds_two_gathered_layers():
    one = llmmem.training_peak(SPEC, batch=1, seq_len=512, optimizer_impl="fused")
    eight = llmmem.training_peak(SPEC, batch=1, seq_len=512, optimizer_impl="fused", n_gpus=8, strategy="fsdp")
    step = eight.phases["optimizer step"]
    assert step["weights"] == math.ceil(2 * SPEC.num_params() / 8)
    assert step["gathered_unit"] == 2 * 2 * 128256 * 3072  # the embedding is the largest unit here
    assert eight.bytes < one.bytes


def test_bad_input_is_a_clear_value_error():
    with pytest.raises(ValueError, match="method"):
        llmmem.training_peak(SPEC, method="dora")
    with pytest.raises(ValueError, match="strategy"):
        llmmem.training_peak(SPEC, n_gpus=2)
    with pytest.raises(ValueError, match="lora_dropout"):
        llmmem.training_peak(SPEC, method="lora", lora_dropout=1.5)
    with pytest.raises(ValueError, match="metric"):
        llmmem.training_peak(SPEC, metric="smi")


def test_reserved_rounds_each_large_tensor_up_to_2_mib_and_nvidia_smi_adds_the_context():
    from llmmem.allocator import cuda_segment_bytes

    assert cuda_segment_bytes(1) == 512 and cuda_segment_bytes(513) == 1024
    assert cuda_segment_bytes(10 * 2**20 + 1) == 12 * 2**20  # above 10 MiB: whole 2 MiB segments
    kw = dict(batch=1, seq_len=256)
    allocated = llmmem.training_peak(SPEC, **kw)
    reserved = llmmem.training_peak(SPEC, metric="reserved", **kw)
    smi = llmmem.training_peak(SPEC, metric="nvidia-smi", **kw)
    assert reserved.bytes - allocated.bytes == reserved.breakdown["allocator_rounding"] > 0
    assert smi.bytes - reserved.bytes == llmmem.peak.CUDA_CONTEXT_NVML_BYTES
    assert reserved.phase == allocated.phase


def test_activation_offload_keeps_one_layer_on_the_gpu():
    kw = dict(batch=2, seq_len=4096, recompute="full", framework="torchtune", chunked_loss=True)
    on, off = llmmem.training_peak(SPEC, **kw), llmmem.training_peak(SPEC, activation_offload=True, **kw)
    layer_input = 2 * 3072 * 2 * 4096  # bf16 hidden states of 2 x 4096 tokens, saved per layer by checkpointing
    assert on.phases["forward"]["activations"] - off.phases["forward"]["activations"] == 27 * layer_input
