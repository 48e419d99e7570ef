"""What vLLM v0.19.0 keeps whole on every tensor-parallel rank (llmmem/vllm_ranks.py), by hand."""

from __future__ import annotations

import pytest

from llmmem.formats import weight_bytes_by_tensor
from llmmem.model import ModelSpec
from llmmem.vllm_ranks import vllm_rank_tensor_bytes, vllm_replicated_extra_bytes, vllm_replicated_params


def test_kimi_vl_vision_matches_the_tp2_logs_rank0_shapes():
    """llm-d-planner @ d3121e05, ...kimi-vl-a3b-i--h100-80gb--tp2pp1dp1--8192.log: rank 0 loads 241,905,848
    vision + projector parameters (its 'Loaded weight ... with shape' lines), 447,545,840 at TP 1."""
    spec = ModelSpec.from_catalog("kimi-vl-a3b")
    h, blocks = 1152, 27
    whole_vision = (h * 3 * 14 * 14 + h          # patch Conv2d + bias
                    + 64 * 64 * h                # position grid
                    + blocks * (4 * h + h + h)   # norm0/norm1 (weight + bias), wo.bias, fc1.bias
                    + 2 * h                      # final LayerNorm
                    + 2 * h + 4608 * 4608 + 4608 + 2048 * 4608 + 2048)  # projector
    split_vision = 447_545_840 - whole_vision
    assert whole_vision + split_vision // 2 == 241_905_848
    text_whole = (27 * 2048 * 576                # kv_a_proj_with_mqa (ReplicatedLinear)
                  + 26 * 64 * 2048               # routers (GateLinear)
                  + 27 * (2 * 2048 + 512) + 2048)  # RMSNorms: two per layer, kv_a_layernorm, the final one
    assert vllm_replicated_params(spec) == whole_vision + text_whole
    assert vllm_replicated_extra_bytes(spec, 2) == (whole_vision + text_whole) * 2 // 2
    assert vllm_replicated_extra_bytes(spec, 1) == 0


def test_a_dense_model_keeps_its_norms_whole_and_moe_its_routers_too():
    norms = 32 * 2 * 4096 + 4096  # Llama 3.1 8B and Mixtral: two RMSNorms per layer and the final one
    assert vllm_replicated_params(ModelSpec.from_catalog("llama-3.1-8b")) == norms
    mixtral = ModelSpec.from_catalog("mixtral-8x7b")  # 32 layers, 8 experts, hidden 4096
    assert vllm_replicated_params(mixtral) == 32 * 8 * 4096 + norms
    assert vllm_replicated_extra_bytes(mixtral, 4, dtype_bytes=4) == (32 * 8 * 4096 + norms) * 4 * 3 // 4


def test_bad_input_is_refused():
    spec = ModelSpec.from_catalog("llama-3.1-8b")
    with pytest.raises(ValueError, match="tp"):
        vllm_replicated_extra_bytes(spec, 0)
    with pytest.raises(ValueError, match="dtype_bytes"):
        vllm_replicated_extra_bytes(spec, 2, dtype_bytes=3)
    with pytest.raises(ValueError, match="ModelSpec"):
        vllm_replicated_params("llama-3.1-8b")


def test_more_gpus_than_kv_heads_replicate_k_and_v():
    # Llama 3.1 8B at TP 16: 8 KV heads, so each rank keeps one (QKVParallelLinear replicates them): its k and
    # v projections are 1024 x 4096 / 8 each, not / 16 -- 32 layers x 2 x 8 MiB x (1/8 - 1/16) = 32 MiB more.
    spec = ModelSpec.from_catalog("llama-3.1-8b")
    norms = 32 * 2 * 4096 + 4096
    assert vllm_replicated_extra_bytes(spec, 16) == norms * 2 * 15 // 16 + 32 * 2**20
    assert vllm_replicated_extra_bytes(spec, 8) == norms * 2 * 7 // 8  # one head each: nothing replicated


def test_vocab_rows_are_padded_to_64_and_bad_tp_is_refused():
    granite = ModelSpec.from_catalog("granite-3.1-2b")  # 49155 tokens, tied: one 49216-row table in vLLM
    stored = sum(b for t, b in weight_bytes_by_tensor(granite) if t.kind != "vector")
    assert sum(vllm_rank_tensor_bytes(granite)) - stored == (49216 - 49155) * 2048 * 2
    qwen = ModelSpec.from_catalog("qwen2.5-7b-instruct")  # 28 heads, 4 KV heads
    for tp in (3, 7, 16):
        with pytest.raises(ValueError, match="tp"):
            vllm_rank_tensor_bytes(qwen, tp=tp)
        with pytest.raises(ValueError, match="tp"):
            vllm_replicated_extra_bytes(qwen, tp)


def test_a_quantized_matrix_is_its_packed_values():
    # int4: values, scales and zero points are separate allocations; the values of the fused gate_up are
    # 2 x 14336 x 4096 / 2 bytes = 56 MiB, while the 16-bit embedding keeps 128256 x 4096 x 2
    spec = ModelSpec.from_catalog("llama-3.1-8b")
    int4, bf16 = vllm_rank_tensor_bytes(spec, "int4"), vllm_rank_tensor_bytes(spec, "bf16")
    assert len(int4) == len(bf16) == 130 and 56 * 2**20 in int4 and 128256 * 4096 * 2 in int4
    assert sorted(int4) != sorted(bf16) and vllm_rank_tensor_bytes(spec, "BF16") == bf16
