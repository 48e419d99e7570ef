
import pytest

from llmmem import ModelSpec, reference
from llmmem.parallel import (
    deepspeed_estimate,
    gpus_needed_for_training,
    sharded_training_memory,
    zero_model_states_per_gpu,
)
from llmmem.training import training_memory

FIGURE_1 = reference.measurement("zero-figure1-7.5B")
LLAMA_70B = ModelSpec.from_catalog("llama-3.1-70b")


def test_zero_figure_1_to_the_printed_precision():
    printed = FIGURE_1["values"]
    stages = [zero_model_states_per_gpu(7.5e9, 64, s).total / 1e9 for s in range(4)]
    assert [round(stages[0]), round(stages[1], 1), round(stages[2], 1), round(stages[3], 1)] == [
        printed["baseline_GB"], printed["P_os_GB"], printed["P_os+g_GB"], printed["P_os+g+p_GB"]]
    assert stages == [120.0, 31.40625, 16.640625, 1.875]


def test_stage_3_on_one_gpu_is_the_unsharded_total():
    assert zero_model_states_per_gpu(1e9, 1, 3).total == training_memory(1e9, overhead_bytes=0).total


def test_deepspeed_estimators_count_fp32_gradients():
    assert deepspeed_estimate(7.5e9, 64, 2) == 4 * 7.5e9 + 16 * 7.5e9 / 64
    assert deepspeed_estimate(7.5e9, 64, 3, largest_layer_params=0) == 18 * 7.5e9 / 64
    assert deepspeed_estimate(7.5e9, 64, 3, offload_optimizer=True, offload_params=True, largest_layer_params=10) == 40


def test_more_gpus_never_increase_per_gpu_memory_with_sharding():
    totals = [sharded_training_memory(LLAMA_70B, n, "zero3", recompute="full").total for n in (8, 16, 32, 64, 128)]
    assert totals == sorted(totals, reverse=True)
    ddp = {n: sharded_training_memory(LLAMA_70B, n, "ddp", recompute="full").total for n in (8, 64)}
    assert ddp[8] == ddp[64]  # plain data parallelism replicates everything


def test_tensor_and_pipeline_parallel_split_the_model():
    one = sharded_training_memory(LLAMA_70B, 8, "ddp", recompute="full")
    tp8 = sharded_training_memory(LLAMA_70B, 8, "ddp", tp=8, recompute="full")
    assert tp8["weights"] == pytest.approx(one["weights"] / 8, rel=1e-9)
    pp4 = sharded_training_memory(LLAMA_70B, 4, "ddp", pp=4, recompute="full")
    assert one["weights"] / 4 < pp4["weights"] < one["weights"] / 4 * 1.1  # 20 layers + the larger end


def test_offload_moves_states_off_the_gpu():
    b = sharded_training_memory(LLAMA_70B, 8, "zero3", offload_optimizer=True, offload_params=True, recompute="full")
    assert "optimizer_states" not in b and "master_weights" not in b and "weights" not in b
    assert any("offloaded to CPU" in n for n in b.notes)


def test_inverse_question_gives_the_fewest_gpus_that_fit():
    n = gpus_needed_for_training(LLAMA_70B, "H100-80GB", "zero3", seq_len=4096, recompute="full")
    assert sharded_training_memory(LLAMA_70B, n, "zero3", seq_len=4096, recompute="full").total <= 81559 * 2**20
    assert sharded_training_memory(LLAMA_70B, n - 1, "zero3", seq_len=4096, recompute="full").total > 81559 * 2**20
    with pytest.raises(ValueError, match="no number"):
        gpus_needed_for_training(LLAMA_70B, "T4", "ddp")


@pytest.mark.parametrize("kwargs, fragment", [
    ({"strategy": "zero4"}, "unknown strategy"),
    ({"tp": 128, "n_gpus": 128}, "must divide the 64 attention heads"),
    ({"tp": 3, "n_gpus": 3}, "must divide"),
    ({"pp": 3, "n_gpus": 4}, "multiple of tp x pp"),
    ({"pp": 81, "n_gpus": 81}, "more pipeline stages"),
    ({"n_gpus": 0}, "n_gpus"),
    ({"strategy": "zero2", "offload_params": True}, "offload_params"),
])
def test_bad_sharding_input(kwargs, fragment):
    options = {"n_gpus": 8, **kwargs}
    with pytest.raises(ValueError, match=fragment):
        sharded_training_memory(LLAMA_70B, **options)


def test_zero_stage_4_is_refused():
    with pytest.raises(ValueError, match="ZeRO stage must be 0, 1, 2 or 3; got 4"):
        zero_model_states_per_gpu(7.5e9, 64, 4)


@pytest.mark.parametrize("params", [1e9, 7.5e9, 70e9])
@pytest.mark.parametrize("n", [1, 8, 64, 1024])
def test_numeric_zero_equals_the_sympy_formula(params, n):
    import sympy as sp

    from llmmem import symbolic as s

    formulas = list(s.zero_stage_memory().values())
    for stage, formula in enumerate(formulas):
        exact = formula.subs({s.Z_psi: sp.Integer(int(params)), s.Z_K: 12, s.Z_N: n})
        # each rank's partition is rounded up to whole bytes: at most one byte per component over the formula
        assert 0 <= zero_model_states_per_gpu(params, n, stage).total - exact <= 4
