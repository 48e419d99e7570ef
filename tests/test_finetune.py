import pytest

from llmmem import ModelSpec
from llmmem.finetune import lora_memory, lora_target_names, lora_trainable_params, qlora_memory

LLAMA_8B = ModelSpec.from_catalog("llama-3.1-8b")
# LLaMA-65B, the QLoRA paper's model (huggyllama/llama-65b config.json: the original LLaMA shapes).
LLAMA_65B = ModelSpec.from_hf_config({
    "model_type": "llama", "vocab_size": 32000, "hidden_size": 8192, "intermediate_size": 22016,
    "num_hidden_layers": 80, "num_attention_heads": 64, "max_position_embeddings": 2048, "rms_norm_eps": 1e-5,
}, name="llama-65b")


def test_lora_counts_rank_times_rows_plus_cols_per_target():
    # q_proj 4096x4096, v_proj 1024x4096 in each of 32 layers, rank 8: 8 * (8192 + 5120) * 32
    assert lora_trainable_params(LLAMA_8B, 8, ["q_proj", "v_proj"]) == 8 * (4096 + 4096 + 1024 + 4096) * 32
    attention = lora_trainable_params(LLAMA_8B, 16, "attention")
    everything = lora_trainable_params(LLAMA_8B, 16, "all-linear")
    assert attention < everything == attention + lora_trainable_params(LLAMA_8B, 16, "mlp")
    assert lora_trainable_params(LLAMA_8B, 32, "attention") == 2 * attention


def test_lora_memory_has_frozen_base_and_small_trainable_parts():
    b = lora_memory(LLAMA_8B, rank=16, targets="attention", seq_len=2048)
    trainable = lora_trainable_params(LLAMA_8B, 16, "attention")
    assert b["weights"] == 2 * LLAMA_8B.num_params()
    assert b["adapter_weights"] == b["gradients"] == 4 * trainable  # fp32 adapters, peft's default
    assert b["optimizer_states"] == 8 * trainable  # AdamW, two fp32 moments


def test_qlora_65b_fits_one_48gb_gpu_with_the_terms_listed():
    b = qlora_memory(LLAMA_65B, rank=64, targets="all-linear", batch=1, seq_len=512)
    assert set(b) >= {"weights", "adapter_weights", "gradients", "optimizer_states", "activations", "logits"}
    assert b.total < 48e9  # "finetune a 65B parameter model on a single 48GB GPU" (QLoRA abstract)
    assert b["weights"] > 0.68 * b.total  # the NF4 base dominates
    assert b["weights"] < LLAMA_65B.num_params() * 4.2 / 8 + 2 * 2 * 32000 * 8192


def test_qlora_paged_8bit_states_are_about_2_bytes_per_trainable_parameter():
    b = qlora_memory(LLAMA_8B, optimizer="paged-adamw-8bit")
    trainable = lora_trainable_params(LLAMA_8B, 64, "all-linear")
    assert 2 * trainable < b["optimizer_states"] < 2.01 * trainable


def test_qlora_defaults_to_the_reference_codes_paged_adamw_32bit():
    """artidoro/qlora's qlora.py: optim='paged_adamw_32bit'. 65B then needs 45.1 GB: one 48 GB GPU, barely."""
    b = qlora_memory(LLAMA_65B, rank=64, targets="all-linear", batch=1, seq_len=512)
    trainable = lora_trainable_params(LLAMA_65B, 64, "all-linear")
    assert b["optimizer_states"] == 8 * trainable  # two fp32 moments
    assert round(b.total / 1e9, 1) == 45.1
    eight_bit = qlora_memory(LLAMA_65B, rank=64, targets="all-linear", batch=1, seq_len=512,
                             optimizer="paged-adamw-8bit")
    assert 4.7e9 < b.total - eight_bit.total < 4.9e9  # 6 bytes per trainable parameter fewer
    guanaco = qlora_memory(LLAMA_65B, seq_len=16 + 512, lora_dropout=0.05)  # scripts/finetune_guanaco_65b.sh
    assert b.total < guanaco.total < 48e9


def test_lora_dropout_saves_a_copy_and_a_mask_per_adapted_module():
    """With dropout, LoRA's activations exceed full training's: "as full training" is no upper bound."""
    from llmmem.training import activation_bytes

    kw = dict(rank=16, targets="all-linear", batch=1, seq_len=2048, adapter_dtype="bf16")
    plain, dropped = lora_memory(LLAMA_8B, **kw), lora_memory(LLAMA_8B, lora_dropout=0.05, **kw)
    h, f, L, tokens = 4096, 14336, 32, 2048
    inputs = 4 * h + 2 * h + f  # q, k, v, o (o reads 4096 wide), gate, up, down
    # each adapted module: a bf16 dropped copy (2 B) and a bool mask (1 B) of its input; without dropout the
    # three attention and two MLP modules share their norm's output, and down_proj saves its input
    shared = 2 * (h + h + f)  # norm outputs and down_proj's input, saved once when dropout is 0
    per_layer = 3 * inputs - shared
    first_layer = 3 * 1 * h  # layer 0's q/k/v masks are not saved: nothing before them needs a gradient
    assert dropped["activations"] - plain["activations"] == tokens * (L * per_layer - first_layer)
    assert dropped["activations"] > activation_bytes(LLAMA_8B, 1, 2048)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"rank": 0}, "rank"), ({"rank": -8}, "rank"), ({"rank": 8.5}, "rank"),
    ({"targets": ["q_proj", "w_proj"]}, "unknown target module 'w_proj'"),
    ({"targets": []}, "unknown target module"),
    ({"targets": "everything"}, "unknown target module"),
    ({"adapter_dtype": "int8"}, "adapter_dtype"),
    ({"optimizer": "adagrad"}, "optimizer"),
])
def test_bad_lora_input(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        lora_memory(LLAMA_8B, **kwargs)


def test_fused_models_name_their_own_targets():
    phi3 = ModelSpec.from_catalog("phi-3-mini-4k")
    assert "qkv_proj" in lora_target_names(phi3) and "q_proj" not in lora_target_names(phi3)
    with pytest.raises(ValueError, match="qkv_proj"):
        lora_trainable_params(phi3, 8, ["q_proj"])


def test_lora_counts_match_peft():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    peft = pytest.importorskip("peft")
    config = transformers.LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=176, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2)
    spec = ModelSpec.from_hf_config(config.to_dict())
    for rank, targets in ((8, ["q_proj", "v_proj"]), (4, "all-linear")):
        with torch.device("meta"):
            model = transformers.AutoModelForCausalLM.from_config(config)
        lora = peft.get_peft_model(model, peft.LoraConfig(r=rank, target_modules=targets))
        trainable = sum(p.numel() for p in lora.parameters() if p.requires_grad)
        assert trainable == lora_trainable_params(spec, rank, targets)


def test_lora_count_equals_the_sympy_formula_per_matrix():
    from llmmem import symbolic as s

    per_matrix = s.lora_params_per_matrix().rhs
    attention = ("q_proj", "k_proj", "v_proj", "o_proj")
    expected = sum(int(per_matrix.subs({s.LR_r: 16, s.LR_in: cols, s.LR_out: rows})) * n
                   for name, rows, cols, n in LLAMA_8B.weight_matrices() if name in attention)
    assert lora_trainable_params(LLAMA_8B, 16, "attention") == expected


@pytest.mark.parametrize("targets, dropout, adapter_dtype", [
    (("q_proj", "v_proj"), 0.0, "bf16"),
    (("q_proj", "v_proj"), 0.05, "bf16"),
    (("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"), 0.05, "bf16"),
    (("q_proj", "v_proj"), 0.0, "fp32"),
    (("q_proj", "v_proj", "down_proj"), 0.1, "fp32"),
])
def test_lora_saved_activations_match_peft_storage_by_storage(targets, dropout, adapter_dtype):
    """Frozen base + adapters: what autograd saves in a peft LoRA model equals `activation_terms(trainable=False)`,
    dropout copies and masks included (CPU dropout keeps its noise in the input's dtype, CUDA a bool mask)."""
    pytest.importorskip("torch")
    peft = pytest.importorskip("peft")
    from llmmem import measure
    from llmmem.training import activation_terms

    cfg = measure.tiny_config(hidden_size=128, num_layers=2, num_heads=4, num_kv_heads=2)
    spec = ModelSpec.from_hf_config(cfg.to_dict())
    model = measure.build_model(cfg, dtype="bf16")
    lora = peft.get_peft_model(model, peft.LoraConfig(r=8, target_modules=list(targets), lora_dropout=dropout),
                               autocast_adapter_dtype=adapter_dtype == "fp32")
    lora.train()
    got = measure.saved_tensor_bytes(lora.base_model.model, batch=2, seq_len=32)
    ab = 4 if adapter_dtype == "fp32" else 2
    per_layer, once = activation_terms(spec, 2, 32, "bf16", trainable=False, lora_targets=targets, lora_rank=8,
                                       lora_dropout=dropout, adapter_bytes=ab, dropout_mask_bytes=ab)
    assert got["activations"] == spec.num_layers * per_layer + once
    without = activation_terms(spec, 2, 32, "bf16", trainable=False, lora_targets=targets, lora_rank=8,
                               adapter_bytes=ab)
    if dropout:
        assert per_layer > without[0]  # dropout's copies are not free: "as full training" was no bound
