"""The checkpoint's own quantization_config, counted tensor by tensor (llmmem.quantization)."""

from __future__ import annotations

from math import ceil

import pytest

from llmmem.formats import weight_bytes
from llmmem.inference import inference_memory, vllm_model_loading_bytes
from llmmem.model import ModelSpec
from llmmem.quantization import checkpoint_weight_bytes, read_quantization
from llmmem.units import GiB

L8 = ModelSpec.from_catalog("llama-3.1-8b")


def _with(spec_name: str, q: dict) -> ModelSpec:
    from llmmem.model import _catalog

    return ModelSpec.from_hf_config(dict(_catalog()["models"][spec_name]["config"], quantization_config=q))


def test_405b_fp8_keeps_attention_and_the_edge_layers_in_bf16():
    # Issue 13: Meta's config keeps every self_attn, layers 0 and 125 and the lm_head in bf16. Counting by
    # hand: 126 layers' attention (570,425,344 each) + 2 MLPs (2,617,245,696 each) + embedding and lm_head
    # (2 x 128256 x 16384) in bf16; the other 124 MLPs in fp8 with an fp32 scale per output row.
    spec = ModelSpec.from_catalog("llama-3.1-405b-fp8")
    h, f, layers, v = 16384, 53248, 126, 128256
    attn = h * (h + 2 * 1024) + h * h
    bf16 = 2 * (layers * attn + 2 * 3 * h * f + 2 * v * h + (2 * layers + 1) * h)
    fp8 = (layers - 2) * (3 * h * f + 4 * (2 * f + h))
    assert checkpoint_weight_bytes(spec) == weight_bytes(spec) == bf16 + fp8
    per_gpu = weight_bytes(spec) / 8 / GiB
    # vLLM's "Model loading took" adds the RoPE table every rank builds (rope_type llama3 keeps
    # max_position_embeddings rows): 131072 x 128 in bf16 = 32 MiB = 0.03125 GiB per GPU; and the norms are
    # whole on every rank, not split: 7/8 of the 253 norms of 16384 in bf16 beyond an even share; and PyTorch's
    # allocator counts each rank's embedding and LM head slice, 16032 x 16384 in bf16 = 501 MiB, as the
    # 502 MiB segment it opens (a 1 MiB remainder is not split off: llmmem/allocator.py).
    loaded = vllm_model_loading_bytes(spec, tp=8) / GiB
    norms_whole = (2 * layers + 1) * h * 2 * 7 / 8 + 2 * 2**20
    print(f"\n405B-FP8 at TP 8: {loaded:.2f} GiB per GPU loaded ({per_gpu:.2f} of weights; "
          f"the plain fp8 count {weight_bytes(spec, 'fp8') / 8 / GiB:.2f})")
    assert per_gpu == pytest.approx(56.72, abs=0.01)
    assert loaded == pytest.approx(per_gpu + (131072 * 128 * 2 + norms_whole) / GiB) == pytest.approx(56.76, abs=0.01)
    assert per_gpu > 1.18 * weight_bytes(spec, "fp8") / 8 / GiB  # the nominal fp8 count is 17 % lower


def test_405b_fp8_first_upload_with_16_kv_heads_loads_the_quoted_57_75_gib():
    # The quoted "57.75 GiB per GPU at TP 8" is 1.0 GiB above the current checkpoint's 56.75. That is exactly
    # what Meta's first upload (July 2024) carried more: its config said num_key_value_heads 16, and its k/v
    # tensors (which vLLM loaded) held each KV head twice, the layout of the mp16 release. The files were
    # later replaced by 8-head ones: vllm-project/vllm#7139 held v0.5.4 until an 8-KV-head 405B FP8
    # checkpoint was confirmed to work, ollama/ollama#6303 reports the change from 16 to 8 KV heads, and
    # sgl-project/sglang#723 overrode the config's count. By hand: k_proj and v_proj grow by
    # 16384 x (16 - 8) x 128 each, in bf16 (every self_attn is in modules_to_not_convert), on 126 layers,
    # split over 8 GPUs.
    from llmmem.model import _catalog

    config = _catalog()["models"]["llama-3.1-405b-fp8"]["config"]
    now = vllm_model_loading_bytes(ModelSpec.from_hf_config(config), tp=8)
    first = vllm_model_loading_bytes(ModelSpec.from_hf_config(dict(config, num_key_value_heads=16)), tp=8)
    assert first - now == 2 * 16384 * 8 * 128 * 2 * 126 / 8  # 0.98 GiB per GPU
    assert first / GiB == pytest.approx(57.75, rel=0.0002)  # 57.745: -0.01 % from the log
    assert now / GiB == pytest.approx(56.76, abs=0.005)  # what today's files load


def test_auto_is_the_default_and_an_explicit_format_overrides_it():
    spec = ModelSpec.from_catalog("llama-3.1-405b-fp8")
    auto = inference_memory(spec, tp=8)
    assert auto["weights"] == pytest.approx(checkpoint_weight_bytes(spec) / 8)
    assert any("quantization_config" in n and "FBGEMM" in n for n in auto.notes)
    forced = inference_memory(spec, weights="bf16", tp=8)
    assert forced["weights"] == pytest.approx(2 * spec.num_params() / 8)
    assert any("overrides the checkpoint's quantization_config (fbgemm_fp8)" in n for n in forced.notes)
    assert weight_bytes(L8) == weight_bytes(L8, "bf16") == 2 * L8.num_params()  # no config: auto = bf16


def test_gptq_counts_scales_zero_points_and_act_order():
    rows, cols = 4096, 14336
    q = {"quant_method": "gptq", "bits": 4, "group_size": 128, "sym": False, "desc_act": True}
    bits = read_quantization(q).bits(rows, cols)
    assert bits == rows * cols * 4 + rows * (cols // 128) * (16 + 4) + cols * 64
    sym = read_quantization(dict(q, sym=True, desc_act=False)).bits(rows, cols)
    assert sym == rows * cols * 4 + rows * (cols // 128) * 16
    per_channel = read_quantization(dict(q, group_size=-1, sym=True, desc_act=False)).bits(rows, cols)
    assert per_channel == rows * cols * 4 + rows * 16


def test_awq_bitsandbytes_and_mxfp4():
    awq = read_quantization({"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True})
    assert awq.bits(8, 256) == 8 * 256 * 4 + 8 * 2 * (16 + 4)
    nf4 = read_quantization({"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4"})
    assert nf4.bits(64, 64) == 64 * 64 * 4 + 64 * 32
    dq = read_quantization({"load_in_4bit": True, "bnb_4bit_use_double_quant": True})
    assert dq.bits(64, 64 * 256) == 64 * 64 * 256 * 4 + 64 * 256 * 8 + 64 * 32
    int8 = read_quantization({"quant_method": "bitsandbytes", "load_in_8bit": True})
    assert int8.bits(10, 20) == 10 * 20 * 8 + 10 * 32
    mx = read_quantization({"quant_method": "mxfp4"})
    assert mx.experts_only and mx.bits(1, 64) == 64 * 4 + 2 * 8


def test_mxfp4_quantizes_only_the_experts():
    cfg = dict(model_type="gpt_oss", vocab_size=1000, hidden_size=64, intermediate_size=64, num_hidden_layers=2,
               num_attention_heads=4, num_key_value_heads=2, head_dim=16, num_local_experts=4,
               quantization_config={"quant_method": "mxfp4", "modules_to_not_convert": ["model.layers.*.self_attn",
                                                                                        "lm_head", "embed_tokens"]})
    spec = ModelSpec.from_hf_config(cfg)
    experts = [t for t in spec.weight_tensors() if t.kind == "expert" and t.rows > 1]
    rest = spec.num_params() - sum(t.numel for t in experts)
    expected = 2 * rest + sum(t.count * ceil((t.rows * t.cols * 4 + t.rows * ceil(t.cols / 32) * 8) / 8)
                              for t in experts)
    assert weight_bytes(spec) == expected


def test_compressed_tensors_ignore_list_and_regex():
    q = {"quant_method": "compressed-tensors", "ignore": ["lm_head", "re:.*layers\\.0\\..*"],
         "config_groups": {"g": {"targets": ["Linear"], "weights": {"num_bits": 8, "type": "int",
                                                                    "strategy": "channel", "symmetric": True}}}}
    spec = _with("llama-3.1-8b", q)
    layer0 = [t for t in spec.weight_tensors() if t.layer == 0 and t.kind == "matrix"]
    kept = sum(t.numel for t in layer0)
    plain = weight_bytes(L8, "int8")  # every linear layer int8 with an fp32 row scale, lm_head kept
    layer0_int8 = sum(t.rows * t.cols + 4 * t.rows for t in layer0)
    assert weight_bytes(spec) == plain - layer0_int8 + 2 * kept


def test_fused_and_prefixed_names_match():
    scheme = read_quantization({"quant_method": "fp8", "modules_to_not_convert":
                                ["language_model.model.layers.3.self_attn.qkv_proj", "model.layers.4.mlp"]})
    by_path = {t.path: t for t in L8.weight_tensors()}
    assert not scheme.quantizes(by_path["model.layers.3.self_attn.k_proj"])
    assert scheme.quantizes(by_path["model.layers.3.self_attn.o_proj"])
    assert not scheme.quantizes(by_path["model.layers.4.mlp.down_proj"])
    assert scheme.quantizes(by_path["model.layers.14.mlp.down_proj"])  # layer 4 is not layer 14
    wildcard = read_quantization({"quant_method": "fbgemm_fp8", "modules_to_not_convert": ["model.layers.*.self_attn"]})
    assert not wildcard.quantizes(by_path["model.layers.7.self_attn.q_proj"])
    assert wildcard.quantizes(by_path["model.layers.7.mlp.up_proj"])


def test_unknown_method_says_what_is_supported():
    with pytest.raises(ValueError, match="quant_method 'hqq'.*fbgemm_fp8"):
        read_quantization({"quant_method": "hqq"})
    with pytest.raises(ValueError, match="no quantization_config"):
        checkpoint_weight_bytes(L8)


def test_gpt_oss_20b_mxfp4_bytes_equal_the_checkpoints_index():
    # The Hub's model.safetensors.index.json for openai/gpt-oss-20b: metadata.total_size = 13,761,264,768
    # bytes (two public copies of the file's head; find_string '"total_size": 13761264768'). Its experts are
    # MXFP4 (4-bit values, one 8-bit scale per 32), everything else bf16: the kit's count must be that sum.
    spec = ModelSpec.from_catalog("gpt-oss-20b")
    assert weight_bytes(spec) == checkpoint_weight_bytes(spec) == 13_761_264_768
    assert weight_bytes(spec, "bf16") == 2 * spec.num_params()  # an explicit format still overrides it
