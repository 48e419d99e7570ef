"""Pipeline stages are uneven: vLLM's layer split, the embedding on the first stage, the LM head on the last."""

from __future__ import annotations

import pytest

from llmmem.formats import weight_bytes
from llmmem.inference import inference_memory, pipeline_stage_weight_bytes
from llmmem.model import ModelSpec

L8 = ModelSpec.from_catalog("llama-3.1-8b")


def test_stages_sum_to_the_model_and_the_ends_carry_embedding_and_head():
    stages = pipeline_stage_weight_bytes(L8, "bf16", pp=4)
    assert sum(stages) == weight_bytes(L8, "bf16")
    layer = 2 * (L8.num_params() - 2 * L8.vocab_size * L8.hidden_size - L8.hidden_size) // L8.num_layers
    embed = 2 * L8.vocab_size * L8.hidden_size
    assert stages == [embed + 8 * layer, 8 * layer, 8 * layer, 8 * layer + embed + 2 * L8.hidden_size]
    # The PP=4 case: total / 4 is 12 % below the largest stage, which is what each GPU must hold.
    assert sum(stages) / 4 / max(stages) == pytest.approx(0.884, abs=0.001)
    b = inference_memory(L8, weights="bf16", pp=4)
    assert b["weights"] == max(stages) and any("largest of 4 pipeline stages" in n for n in b.notes)


def test_remainder_layers_go_to_the_stages_before_the_last():
    spec = ModelSpec.from_catalog("llama-3.1-70b")  # 80 layers over 3 stages: 27, 27, 26 (get_pp_indices)
    stages = pipeline_stage_weight_bytes(spec, "bf16", pp=3)
    per_layer = (stages[0] - stages[1])  # stage 0 = stage 1 + the embedding
    assert per_layer == 2 * spec.vocab_size * spec.hidden_size
    assert stages[1] > stages[2] - 2 * (spec.vocab_size * spec.hidden_size + spec.hidden_size)


def test_tied_embeddings_are_paid_on_both_ends():
    spec = ModelSpec.from_catalog("llama-3.2-1b")  # tie_word_embeddings: true
    stages = pipeline_stage_weight_bytes(spec, "bf16", pp=2)
    assert spec.tie_embeddings
    assert sum(stages) == weight_bytes(spec, "bf16") + 2 * spec.vocab_size * spec.hidden_size
