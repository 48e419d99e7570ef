"""BigCode: StarCoder (gpt_bigcode) and StarCoder2."""

from __future__ import annotations

from ._common import Config, llama_family_core, window_everywhere
from .gpt2 import read_gpt2


def read_starcoder2(c: Config) -> dict:
    # transformers/models/starcoder2/configuration_starcoder2.py: num_key_value_heads=2, use_bias=True,
    # sliding_window=None, tie_word_embeddings=True. modeling_starcoder2.py: q/k/v/o and the plain GELU MLP
    # (c_fc, c_proj) all carry a bias when use_bias; LayerNorms with bias (input, post-attention, final).
    fields = llama_family_core(c, kv_default=2)
    bias = c.flag("use_bias", True)
    return dict(fields, tie_embeddings=c.tie(True), mlp_kind="plain", norm_kind="layernorm", qkv_bias=bias,
                o_bias=bias, mlp_bias=bias, **window_everywhere(c, fields["num_layers"], None))


def read_gpt_bigcode(c: Config) -> dict:
    # transformers/models/gpt_bigcode/configuration_gpt_bigcode.py: n_positions=1024, n_inner=None
    # (-> 4 * n_embd), multi_query=True, tie_word_embeddings=True. modeling_gpt_bigcode.py: gpt2's layout
    # with nn.Linear layers and one fused c_attn of hidden + 2 * head_dim outputs (one shared KV head) when
    # multi_query, else 3 * hidden; biases everywhere, LayerNorms, a learned position table.
    fields = read_gpt2(c)
    return dict(fields, num_kv_heads=1 if c.flag("multi_query", True) else fields["num_heads"])
