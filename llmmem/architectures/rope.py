"""The RoPE cos/sin tables vLLM precomputes when it builds a model (not parameters, but loaded memory).

vLLM v0.19.0, vllm/model_executor/layers/rotary_embedding/: every attention layer asks ``get_rope`` for its
rotary embedding; equal requests share one instance (``_ROPE_DICT``), and each instance registers a
``cos_sin_cache`` buffer of ``rows x rotary_dim`` elements (cos and sin halves side by side) in the model's
dtype (base.py: ``cache.to(dtype)``), built on the GPU while the model is constructed -- so it lands inside
the worker's "Model loading took" figure, on every TP rank. The rows depend on the scaling type:

* default, llama3, mrope: max_position_embeddings rows (base.py, llama3_rope.py);
* linear: max_position_embeddings x factor rows (linear_scaling_rope.py: "the maximum length after applying
  the rope scaling is self.max_position_embeddings * self.scaling_factor"); dynamic NTK likewise;
* yarn, deepseek_yarn: original_max_position_embeddings x factor rows (yarn_scaling_rope.py,
  deepseek_scaling_rope.py, given the original length by get_rope).

Most tables are a few MiB. Two are not: Gemma 3's global layers use linear scaling x 8 over 131,072
positions (1,048,576 rows x 256 = 512 MiB in bf16, beside a 64 MiB table for the sliding layers), and
Llama 4 states 10,485,760 positions (x 128 = 2.5 GiB in bf16).
"""

from __future__ import annotations

from typing import Any

# Position encodings without a RoPE table: learned (gpt2, gpt_bigcode) or ALiBi (bloom).
NO_ROPE_TYPES = ("gpt2", "gpt_bigcode", "bloom")
# Models whose attention asks get_rope for an fp32 table whatever the model dtype (vLLM v0.19.0
# models/gpt_oss.py: ``get_rope(..., dtype=torch.float32)``): 4 bytes an element.
FP32_ROPE_TYPES = ("gpt_oss",)
# Gemma 3: the sliding layers override the config's rope with a default one of rope_local_base_freq
# (vllm/model_executor/models/gemma3.py, Gemma3Attention), a second table beside the global layers' one.
GEMMA3_TYPES = ("gemma3", "gemma3_text")


def _number(value: Any, default: float) -> float:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else default


def _rows(rope: dict, positions: int) -> int:
    kind = rope.get("rope_type", rope.get("type", "default"))
    factor = _number(rope.get("factor"), 1.0)
    if kind in ("linear", "dynamic"):
        return int(positions * factor)
    if kind in ("yarn", "deepseek_yarn"):
        original = rope.get("original_max_position_embeddings")
        return int(_number(original, positions) * factor)
    return positions


def rope_tables(config: dict[str, Any], model_type: str, fields: dict) -> tuple[tuple[int, int], ...]:
    """(rows, rotary_dim) of each cos/sin table vLLM builds for this config; () without RoPE."""
    if model_type in NO_ROPE_TYPES or fields.get("learned_positions") or config.get("alibi") is True:
        return ()
    text = config["text_config"] if isinstance(config.get("text_config"), dict) else config
    positions = text.get("max_position_embeddings", fields.get("max_position_embeddings"))
    if isinstance(positions, bool) or not isinstance(positions, int) or positions <= 0:
        return ()
    head = fields["qk_rope_head_dim"] if fields.get("kv_lora_rank") else fields["head_dim"]
    rope = text.get("rope_scaling") or text.get("rope_parameters") or {}
    rope = rope if isinstance(rope, dict) else {}
    if "full_attention" in rope and isinstance(rope["full_attention"], dict):  # transformers v5, per layer type
        rope = rope["full_attention"]
    partial = _number(text.get("partial_rotary_factor", text.get("rotary_pct", rope.get("partial_rotary_factor"))),
                      1.0)
    dim = int(head * min(partial, 1.0))
    tables = [(_rows(rope, positions), dim)]
    inner = text.get("model_type", model_type)
    if (model_type in GEMMA3_TYPES or inner in GEMMA3_TYPES) and fields.get("sliding_window_layers"):
        tables.append((positions, dim))  # the sliding layers' default table (a distinct base, so its own)
    return tuple(tables)
