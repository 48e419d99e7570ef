"""One reader per model family, and the registry that maps a config's ``model_type`` to its reader.

A reader takes a :class:`~llmmem.architectures._common.Config` (typed access to a ``config.json`` dict) and
returns the :class:`~llmmem.model.ModelSpec` fields of that model. Each family module cites the
``transformers`` files whose defaults and module shapes it copies. Adding a family: write
``llmmem/architectures/<family>.py`` and add its model types to ``READERS`` below; the meta-device test
(tests/test_architectures.py) then checks the count against transformers.

Standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..validation import WrongTypeError, listing, quote
from . import (
    bigcode,
    bloom,
    cohere,
    deepseek,
    falcon,
    gemma,
    glm,
    gpt2,
    gpt_neox,
    gpt_oss,
    granite,
    llama,
    llama4,
    olmo,
    phi,
    qwen,
    vision,
)
from ._common import Config
from .rope import rope_tables

__all__ = ["READERS", "SUPPORTED_MODEL_TYPES", "Config", "read_config", "reader_for"]

Reader = Callable[[Config], dict]

READERS: dict[str, Reader] = {
    "gpt2": gpt2.read_gpt2,
    "llama": llama.read_llama,
    "mistral": llama.read_mistral,
    "mixtral": llama.read_mixtral,
    "qwen2": qwen.read_qwen2,
    "qwen3": qwen.read_qwen3,
    "qwen3_moe": qwen.read_qwen3_moe,
    "gemma2": gemma.read_gemma2,
    "phi3": phi.read_phi3,
    "falcon": falcon.read_falcon,
    "bloom": bloom.read_bloom,
    "deepseek_v2": lambda c: deepseek.read_deepseek(c, v3=False),
    "deepseek_v3": lambda c: deepseek.read_deepseek(c, v3=True),
    "gemma": gemma.read_gemma,
    "gemma3_text": gemma.read_gemma3_text,
    "phi": phi.read_phi,
    "granite": granite.read_granite,
    "granitemoe": granite.read_granitemoe,
    "qwen2_moe": qwen.read_qwen2_moe,
    "llama4_text": llama4.read_llama4_text,
    "gpt_oss": gpt_oss.read_gpt_oss,
    "olmo2": olmo.read_olmo2,
    "cohere2": cohere.read_cohere2,
    "starcoder2": bigcode.read_starcoder2,
    "gpt_bigcode": bigcode.read_gpt_bigcode,
    "gpt_neox": gpt_neox.read_gpt_neox,
    "glm4_moe": glm.read_glm4_moe,
}
# Vision-language wrappers: (default text model_type, vision tower), as in transformers'
# configuration_<type>.py (the text_config and vision_config defaults of each class).
_MULTIMODAL = {
    "gemma3": ("gemma3_text", "siglip"),
    "llava": ("llama", "clip"),
    "llava_next": ("llama", "clip_next"),
    "mistral3": ("mistral", "pixtral"),
    "llama4": ("llama4_text", "llama4"),
    "qwen2_vl": ("qwen2", "qwen2_vl"),
    "qwen2_5_vl": ("qwen2", "qwen2_5_vl"),
    "mllama": ("mllama_text_model", "mllama"),
    "kimi_vl": ("deepseek_v3", "moonvit"),  # trust_remote_code; text model DeepSeek-V3 style (MLA + MoE)
}
for _type, (_text, _tower) in _MULTIMODAL.items():
    READERS[_type] = (lambda text, tower: lambda c: vision.read_multimodal(c, text, tower, READERS))(_text, _tower)


def reader_for(model_type: str) -> Reader | None:
    return READERS.get(model_type)


SUPPORTED_MODEL_TYPES: tuple[str, ...] = tuple(READERS)


def read_config(config: dict[str, Any]) -> tuple[str, dict]:
    """(model_type, ModelSpec fields) of a config dict; ValueError for a missing or unknown model_type."""
    model_type = config.get("model_type")
    if model_type is None:
        raise ValueError(f"config has no 'model_type'; supported types: {listing(SUPPORTED_MODEL_TYPES, 8)}")
    if not isinstance(model_type, str):
        raise WrongTypeError(f"config 'model_type' must be a string such as 'llama'; got {quote(model_type)}")
    reader = READERS.get(model_type)
    if reader is None:
        route = ""
        if isinstance(config.get("text_config"), dict):
            inner = config["text_config"].get("model_type")
            route = (" This is a multimodal wrapper: its language model is text_config "
                     f"(model_type {quote(inner, 30)}); "
                     f"ModelSpec.from_hf_config(config['text_config']) counts the language model alone, "
                     f"without the vision tower.")
        raise ValueError(
            f"unsupported model_type {quote(model_type, 40)}; supported types: "
            f"{listing(SUPPORTED_MODEL_TYPES, 8, 'llmmem.SUPPORTED_MODEL_TYPES')}.{route}"
        )
    fields = reader(Config(config, model_type))
    text = config.get("text_config")
    text = text if isinstance(text, dict) else {}
    fields.setdefault("max_position_embeddings", _max_positions(config) or _max_positions(text))
    fields.setdefault("rope_tables", rope_tables(config, model_type, fields))
    quant = config.get("quantization_config")
    if quant is not None:
        if not isinstance(quant, dict):
            raise ValueError(f"quantization_config must be a JSON object; got {type(quant).__name__}")
        fields.setdefault("quantization_config", json.dumps(quant, sort_keys=True))
    return model_type, fields


def _max_positions(config: dict[str, Any]) -> int | None:
    """max_position_embeddings (n_positions for gpt2-style configs), the longest sequence the model is built for.

    Where rope scaling stretches a shorter pre-training length (YaRN: ``factor`` x
    ``original_max_position_embeddings``), the config's max_position_embeddings already states the stretched
    limit in every release we read (Llama 3.1: 131072 with rope_type llama3; Qwen2.5: 32768). We take it as
    written; a YaRN config that states only the original length gets factor x original.
    """
    value = config.get("max_position_embeddings", config.get("n_positions", config.get("seq_length")))
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    rope = config.get("rope_scaling") or config.get("rope_parameters")
    if isinstance(rope, dict) and rope.get("rope_type", rope.get("type")) == "yarn":
        original = rope.get("original_max_position_embeddings")
        factor = rope.get("factor")
        if isinstance(original, int) and isinstance(factor, (int, float)) and original == value:
            return int(original * factor)
    return value
