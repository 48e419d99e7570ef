"""The course's corrected claims, each on its number (issue: "Teach it right"). Every figure a notebook states in
prose is recomputed here from llmmem, so a change in the library that breaks a sentence fails a test."""

import llmmem
from llmmem.formats import weight_bytes


def test_falcon_180b_gptq_row_is_eight_40gb_cards():
    """08: the Falcon 180B blog's GPTQ/int4 row is 320 GB on 8 × A100 40GB (40 GB a card fits a 40 GiB card);
    llmmem's int4 weights alone need 3 of them."""
    falcon = llmmem.ModelSpec.from_catalog("falcon-180b")
    card = llmmem.get_gpu("A100-40GB")
    assert 320e9 / 8 <= card.memory_bytes
    assert llmmem.gpus_needed(weight_bytes(falcon, "int4"), gpu=card) == 3


def test_kv_heads_are_replicated_past_tp_8_for_llama_70b():
    """08 ex. 3: with 8 KV heads, vLLM replicates them past TP = 8, so the KV cache per GPU stops shrinking."""
    spec = llmmem.ModelSpec.from_catalog("llama-3.1-70b")
    per_token = {tp: llmmem.kv_cache_bytes(spec, seq_len=1, tp=tp) for tp in (1, 8, 16)}
    assert per_token[1] == 327_680 and per_token[8] == per_token[16] == 40_960
