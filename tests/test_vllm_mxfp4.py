"""gpt-oss's MXFP4 experts as vLLM v0.19.0's TRITON backend keeps them on an H100 (llmmem/vllm_mxfp4.py).

The padded shapes are worked out by hand here from gpt-oss-20b's config (32 experts, hidden 2880, expert
width 2880, 24 layers) and the padding rules the module cites; the logged numbers come from the v0.19.0
H100 sweep (llm-d-planner @ d3121e05, accuracy/results/v0.19.0/logs/openai-gpt-oss-20b--h100-80gb--*).
"""

from __future__ import annotations

import pytest

from llmmem.allocator import cuda_block_bytes
from llmmem.formats import weight_bytes
from llmmem.inference import vllm_model_loading_bytes, vllm_rope_table_bytes
from llmmem.model import ModelSpec
from llmmem.quantization import checkpoint_weight_bytes
from llmmem.units import GiB
from llmmem.vllm_mxfp4 import vllm_mxfp4_expert_bytes, vllm_mxfp4_expert_surplus_bytes, vllm_mxfp4_expert_tensors
from llmmem.vllm_ranks import vllm_rank_tensor_bytes, vllm_replicated_extra_bytes

GPT_OSS_20B = ModelSpec.from_catalog("gpt-oss-20b")


def test_tp2_shapes_by_hand():
    # Per rank 2880 / 2 = 1440 = 22.5 x 64 -> 23 x 64 = 1472; gate and up together 2944 = 46 x 64.
    # w13 values: (1440 bytes of hidden -> 1472) x 2944; w2 values: (1472 / 2 = 736 bytes -> 768) x 2880.
    # Scales: rows to multiples of 256 (2944 -> 3072, 2880 -> 3072); 2880 / 32 = 90 and 1472 / 32 = 46 blocks.
    assert [shape for _, shape, _ in vllm_mxfp4_expert_tensors(GPT_OSS_20B, tp=2)] == [
        (32, 1472, 2944), (32, 768, 2880), (32, 3072, 90), (32, 3072, 46),
        (32, 2944, 90), (32, 2880, 46), (32, 2944), (32, 2880)]
    per_layer = (32 * 1472 * 2944 + 32 * 768 * 2880 + 32 * 3072 * 90 + 32 * 3072 * 46
                 + 32 * 2944 * 90 + 32 * 2880 * 46 + 4 * 32 * 2944 + 4 * 32 * 2880)
    assert vllm_mxfp4_expert_bytes(GPT_OSS_20B, tp=2) == 24 * per_layer == 24 * 236_285_952


def test_tp1_shapes_by_hand():
    # 2880 = 45 x 64 needs no rounding; 1440 bytes -> 1472; 5760 rows of scales -> 5888 = 23 x 256.
    assert [shape for _, shape, _ in vllm_mxfp4_expert_tensors(GPT_OSS_20B, tp=1)] == [
        (32, 1472, 5760), (32, 1472, 2880), (32, 5888, 90), (32, 3072, 90),
        (32, 5760, 90), (32, 2880, 90), (32, 5760), (32, 2880)]


def test_what_vllm_holds_is_more_than_the_checkpoint_which_stays_as_stored():
    # The checkpoint count is the Hub index's total_size (tests/test_quantization.py); vLLM holds more.
    assert checkpoint_weight_bytes(GPT_OSS_20B) == weight_bytes(GPT_OSS_20B) == 13_761_264_768
    stored_half = (3 * 32 * (2880 * 2880 // 2 + 2880 * 2880 // 32) + 3 * 32 * 2880 * 2) // 2  # + bf16 biases
    assert vllm_mxfp4_expert_surplus_bytes(GPT_OSS_20B, "auto", tp=2) == 24 * (236_285_952 - stored_half)


@pytest.mark.parametrize("tp, logged_gib", [
    (2, 7.01),   # ...--tp2pp1dp1--8192.log: "Model loading took 7.01 GiB memory" (measurements.json)
    (1, 13.64),  # ...--tp1pp1dp1--8192.FAILED.log: the same line, logged before that run failed (held out)
])
def test_model_loading_matches_the_logs(tp, logged_gib):
    predicted = vllm_model_loading_bytes(GPT_OSS_20B, tp=tp) / GiB
    assert abs(predicted - logged_gib) <= max(0.1, 0.01 * logged_gib)
    as_stored = (checkpoint_weight_bytes(GPT_OSS_20B) / tp + vllm_rope_table_bytes(GPT_OSS_20B)) / GiB
    assert abs(as_stored - logged_gib) > 0.5  # the checkpoint's bytes alone miss by more than half a GiB


def test_pipeline_stages_split_the_experts_and_other_formats_are_untouched():
    stages = (range(0, 12), range(12, 24))
    assert sum(vllm_mxfp4_expert_bytes(GPT_OSS_20B, 1, s) for s in stages) == vllm_mxfp4_expert_bytes(GPT_OSS_20B)
    assert vllm_mxfp4_expert_surplus_bytes(GPT_OSS_20B, "bf16") == 0  # an explicit format is not the checkpoint
    assert vllm_mxfp4_expert_surplus_bytes(ModelSpec.from_catalog("qwen3-30b-a3b")) == 0
    assert vllm_model_loading_bytes(GPT_OSS_20B, "bf16", tp=2) == (weight_bytes(GPT_OSS_20B, "bf16") / 2
                                                                   + vllm_replicated_extra_bytes(GPT_OSS_20B, 2)
                                                                   + sum(cuda_block_bytes(b) - b for b in
                                                                         vllm_rank_tensor_bytes(GPT_OSS_20B, "bf16", 2))
                                                                   + vllm_rope_table_bytes(GPT_OSS_20B))


def test_bad_input():
    with pytest.raises(ValueError, match="divide"):
        vllm_mxfp4_expert_bytes(GPT_OSS_20B, tp=7)
    with pytest.raises(ValueError, match="MXFP4"):
        vllm_mxfp4_expert_bytes(ModelSpec.from_catalog("qwen3-30b-a3b"))
    with pytest.raises(ValueError, match="tp"):
        vllm_mxfp4_expert_bytes(GPT_OSS_20B, tp=0)


def test_gpt_oss_rope_table_is_fp32():
    # models/gpt_oss.py asks get_rope for dtype=torch.float32: yarn, 4096 x 32 rows of head_dim 64, 4 bytes each,
    # whatever the model dtype
    spec = ModelSpec.from_catalog("gpt-oss-20b")
    assert spec.rope_tables == ((4096 * 32, 64),)
    assert vllm_rope_table_bytes(spec) == vllm_rope_table_bytes(spec, act_bytes=4) == 4096 * 32 * 64 * 4
