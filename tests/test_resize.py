"""llmmem.resize: a spec with new sizes keeps its patterns, and its errors name the ModelSpec field."""

import pytest

from llmmem import ModelSpec
from llmmem.resize import resized_spec


def test_nothing_changed_is_the_same_spec_and_a_change_is_named():
    base = ModelSpec.from_catalog("llama-3.1-8b")
    assert resized_spec(base, hidden_size=base.hidden_size) is base
    wider = resized_spec(base, hidden_size=8192)
    assert wider.name == f"{base.name} (edited)" and wider.hidden_size == 8192


def test_experts_turn_every_layer_into_a_mixture_and_zero_experts_back():
    mistral = ModelSpec.from_catalog("mistral-7b-v0.1")
    moe = resized_spec(mistral, num_experts=8, experts_per_token=2, moe_intermediate_size=14336)
    assert moe.moe_layers == tuple(range(mistral.num_layers))
    assert resized_spec(moe, num_experts=0).num_params() == mistral.num_params()


def test_mla_keeps_its_attention_sizes_and_patterns_follow_new_layers():
    v3 = ModelSpec.from_catalog("deepseek-v3")
    deeper = resized_spec(v3, num_layers=v3.num_layers + 3, num_kv_heads=1, head_dim=64)
    assert (deeper.num_kv_heads, deeper.head_dim) == (v3.num_kv_heads, v3.head_dim)
    assert deeper.moe_layers[-3:] == (v3.num_layers, v3.num_layers + 1, v3.num_layers + 2)


@pytest.mark.parametrize("sizes, field", [
    ({"num_experts": 8, "experts_per_token": 9, "moe_intermediate_size": 14336}, "experts_per_token"),
    ({"num_experts": 8, "experts_per_token": 2}, "moe_intermediate_size"),
    ({"rope_theta": 1e6}, "unknown sizes: rope_theta"),
    ({"num_layers": "4"}, "num_layers"),
    ({"num_experts": -1}, "num_experts"),
    ({"hidden_size": True}, "hidden_size"),
])
def test_errors_name_the_field(sizes, field):
    with pytest.raises(ValueError, match=field):
        resized_spec(ModelSpec.from_catalog("mistral-7b-v0.1"), **sizes)
