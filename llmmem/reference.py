"""The reference data the kit is checked against (llmmem/data/reference/, see its README): real model
configs with exact parameter counts, and published or logged memory figures with their sources.

Read once per process and cached; the returned objects are shared, so treat them as read-only.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def _load(name: str) -> dict[str, Any]:
    path = resources.files("llmmem").joinpath("data").joinpath("reference").joinpath(name)
    return json.loads(path.read_text(encoding="utf-8"))


def models() -> list[dict[str, Any]]:
    """Nine architectures: name, hf_id, config, total_params, input_embedding_params, lm_head_params, ..."""
    return _load("models.json")["models"]


def configs() -> list[dict[str, Any]]:
    """More config.json files (hf_id, model_type, source, config, exact_counts)."""
    return _load("configs.json")["models"]


def measurements() -> list[dict[str, Any]]:
    """Published and logged memory figures (id, kind, source, setting, values)."""
    return _load("measurements.json")["measurements"]


def measurement(measurement_id: str) -> dict[str, Any]:
    """One figure by its id; KeyError names the id when there is none."""
    for m in measurements():
        if m["id"] == measurement_id:
            return m
    raise KeyError(f"no reference measurement with id {measurement_id!r}")


def model(name: str) -> dict[str, Any]:
    """One of models() by its name ('Llama-3.1-8B') or Hugging Face id."""
    for m in models():
        if name in (m["name"], m["hf_id"]):
            return m
    raise KeyError(f"no reference model named {name!r}")
