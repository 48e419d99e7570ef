"""Phi-3 / Phi-4."""

from __future__ import annotations

from ._common import Config, llama_family_core, window_everywhere


def read_phi3(c: Config) -> dict:
    # transformers/models/phi3/configuration_phi3.py: num_key_value_heads=None (-> heads),
    # tie_word_embeddings=False, sliding_window=None. modeling_phi3.py: fused qkv_proj and gate_up_proj
    # hold the same weights as separate q/k/v and gate/up projections; no biases.
    fields = llama_family_core(c, kv_default=None)
    return dict(fields, tie_embeddings=c.tie(False), **window_everywhere(c, fields["num_layers"], None))
