"""A calculator for chapter 02: a model's shapes -> its exact parameter count, part by part.

Thin, in the style of `llmmem.widgets`: pick a model (catalog, Hugging Face id or an uploaded config.json), edit
its sizes, and the counts come from `ModelSpec.param_counts` / `num_active_params` of the edited spec; nothing
here counts a parameter. Bad input shows a red message; nothing raises into the notebook.
"""

from __future__ import annotations

import html
import re
from typing import NamedTuple

import ipywidgets as W

from .model import ModelSpec
from .names import PALETTE, typeset
from .resize import resized_spec
from .units import format_count
from .widgets import STYLE, Calculator, ModelPicker, _count, _headline_html, _read_count

# The sizes a student can edit: ModelSpec field -> its label on the page (FIELD_KINDS kind of the text box).
SIZE_FIELDS = {
    "hidden_size": ("Hidden size", "width"), "num_layers": ("Layers", "layers"), "num_heads": ("Heads", "heads"),
    "num_kv_heads": ("KV heads", "heads"), "head_dim": ("Head dim", "width"),
    "intermediate_size": ("FFN width", "width"), "vocab_size": ("Vocabulary", "width"),
    "num_experts": ("Experts", "experts"), "experts_per_token": ("Top-k", "experts"),
    "moe_intermediate_size": ("Expert FFN", "expert_width"),
}
# ModelSpec.param_counts' parts, in plain words (the order of the bar and the table).
PART_NAMES = {"embedding": "embedding", "attention": "attention", "mlp": "MLP / experts", "norms": "norms",
              "lm_head": "LM head", "vision_tower": "vision tower", "projector": "vision projector"}
PART_COLORS = dict(zip(PART_NAMES, PALETTE, strict=False))  # Okabe-Ito, as every figure of the kit (llmmem.names)


def edited_spec(base: ModelSpec, tie_embeddings: bool, **sizes: int) -> ModelSpec:
    """`base` with the sizes of `SIZE_FIELDS` replaced (`llmmem.resize`'s rules); errors name the boxes."""
    try:
        return resized_spec(base, tie_embeddings=tie_embeddings, **sizes)
    except ValueError as err:  # llmmem.resize and llmmem.validation name the ModelSpec field; the page names the box
        text = str(err)
        for field, (label, _) in SIZE_FIELDS.items():
            text = re.sub(rf"\bModelSpec\.{field}\b", label, text)
            text = re.sub(rf"\b{field}\b", label, text)
        raise ValueError(text) from None


class ArchitectureView(NamedTuple):
    """What `ArchitectureCalculator._compute` returns: the edited spec's counts, from llmmem."""

    spec: ModelSpec
    counts: dict
    total: int
    active: int
    headline: str
    lines: tuple


def parameter_bar_html(counts: dict, total: int) -> str:
    """A stacked bar of the parts' shares of the parameters, and a table of the exact counts."""
    parts = [(name, n) for name, n in counts.items() if n]
    segments = "".join(
        f'<div title="{html.escape(PART_NAMES.get(name, name))}: {n:,}" style="width:{100 * n / total:.3f}%;'
        f'background:{PART_COLORS.get(name, "#999999")};height:100%"></div>' for name, n in parts)
    rows = "".join(
        f'<tr><td><span style="color:{PART_COLORS.get(name, "#999999")}">&#9632;</span> '
        f"{html.escape(PART_NAMES.get(name, name))}</td><td>{n:,}</td><td>{100 * n / total:.1f} %</td></tr>"
        for name, n in counts.items())
    return (f'<div class="llmmem-parameter-bar" style="display:flex;height:24px;border:1px solid #999;'
            f'margin:4px 0 6px 0">{segments}</div>'
            f'<table class="llmmem-parameter-table" style="border-collapse:collapse;font-size:13px">'
            f"<tr><th>part</th><th>parameters</th><th>share</th></tr>{rows}"
            f"<tr><th>total</th><th>{total:,}</th><th></th></tr></table>"
            "<style>.llmmem-parameter-table td, .llmmem-parameter-table th {padding:1px 12px 1px 0;"
            "text-align:right} .llmmem-parameter-table td:first-child, .llmmem-parameter-table th:first-child"
            " {text-align:left}</style>")


class ArchitectureCalculator(Calculator):
    """A model's config sizes -> its exact parameter count by part (and, for a mixture of experts, how many one
    token uses). Picking a model fills the sizes in; editing one recounts the edited model."""

    css_class = "llmmem-architecture"

    def __init__(self, model="llama-3.1-8b"):
        self.picker = ModelPicker(model)
        self.model, self.upload, self.hub = self.picker.model, self.picker.upload, self.picker.hub
        self.sizes = {field: _count(1, label, kind) for field, (label, kind) in SIZE_FIELDS.items()}
        for field in ("num_experts", "experts_per_token", "moe_intermediate_size"):  # 0 here: a dense model
            self.sizes[field].accepts_zero = True
        self.tied = W.Checkbox(value=False, description="Tied embeddings", style=STYLE, indent=False,
                               tooltip="the LM head reuses the embedding matrix (counted once)")
        self.counts, self.total, self.active, self.spec = None, None, None, None
        self._base, self._filling = None, False
        s = self.sizes
        controls = (*self.picker.controls, *s.values(), self.tied)
        rows = [self.picker.box, W.HBox([s["hidden_size"], s["num_layers"], s["vocab_size"]]),
                W.HBox([s["num_heads"], s["num_kv_heads"], s["head_dim"]]),
                W.HBox([s["intermediate_size"], self.tied]),
                W.HBox([s["num_experts"], s["experts_per_token"], s["moe_intermediate_size"]])]
        self._finish(rows, controls)

    def _update(self, change=None):
        if not self._filling:  # filling the boxes from a newly picked model sets each: one recount after, not ten
            super()._update(change)

    def _fill(self, base: ModelSpec) -> None:
        """Show the picked model's own sizes in the boxes."""
        self._filling = True
        try:
            for field, box in self.sizes.items():
                box.value = str(getattr(base, field))
            self.tied.value = base.tie_embeddings
        finally:
            self._filling = False
        self._base = base

    def _read(self, field: str) -> int:
        box = self.sizes[field]
        if getattr(box, "accepts_zero", False) and str(box.value).strip() == "0":
            return 0
        return _read_count(box)

    def _compute(self) -> ArchitectureView:
        self.counts, self.total, self.active, self.spec = None, None, None, None
        base = self.picker.spec()
        if base != self._base:
            self._fill(base)
        for field in ("num_kv_heads", "head_dim"):  # MLA (DeepSeek) attention is not described by them
            self.sizes[field].disabled = base.uses_mla
        spec = edited_spec(base, self.tied.value, **{field: self._read(field) for field in SIZE_FIELDS})
        self.sizes["experts_per_token"].disabled = self.sizes["moe_intermediate_size"].disabled = not spec.is_moe
        counts, total = spec.param_counts(), spec.num_params()
        active = spec.num_active_params()
        edited = "" if spec is base else " (edited)"
        headline = f"{base.name}{edited}: {total:,} parameters ({format_count(total)})"
        lines = []
        if spec.is_moe:
            headline += f", {active:,} ({format_count(active)}) active per token"
            lines.append(f"{spec.experts_per_token} of {spec.num_experts} experts per token in "
                         f"{len(spec.moe_layers)} of {spec.num_layers} layers: the other experts' weights are "
                         "stored but not used for that token")
        if spec.uses_mla:
            lines.append("multi-head latent attention (MLA): its projections are sized by the latent ranks in "
                         "config.json, so KV heads and head dim are shown but not used")
        if spec.is_multimodal:
            vision = counts.get("vision_tower", 0) + counts.get("projector", 0)
            lines.append(f"the vision tower and projector add {vision:,} parameters; they hold weights but no KV cache")
        if spec.tie_embeddings:
            lines.append("tied embeddings: the LM head is the embedding matrix, counted once")
        return ArchitectureView(spec, counts, total, active, headline, tuple(lines))

    def _draw(self, view: ArchitectureView) -> str:
        self.counts, self.total, self.active, self.spec = view.counts, view.total, view.active, view.spec
        self.breakdown, self.n_gpus, self.fits, self._headline = None, None, None, view.headline
        notes = "".join(f"<li>{html.escape(typeset(line))}</li>" for line in view.lines)
        return (f"{_headline_html(view.headline)}{parameter_bar_html(view.counts, view.total)}"
                f"<ul style='margin:4px 0;font-size:13px'>{notes}</ul>")
