"""A model with new sizes: how a spec's per-layer patterns and its MoE / MLA choices follow an edit.

These are the rules behind chapter 02's ArchitectureCalculator (which only names the boxes): a new layer count
carries the MoE, sliding-window and cross-attention patterns along, experts turn a dense MLP into a mixture (or
back), and an MLA model keeps its own attention sizes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .model import ModelSpec

# The sizes an edit may change (ModelSpec fields), besides tie_embeddings.
RESIZABLE = ("hidden_size", "num_layers", "num_heads", "num_kv_heads", "head_dim", "intermediate_size",
             "vocab_size", "num_experts", "experts_per_token", "moe_intermediate_size")
# Per-layer patterns: tuples of layer indices that must follow a new layer count.
PER_LAYER_FIELDS = ("moe_layers", "sliding_window_layers", "cross_attention_layers")


def resized_layers(indices: tuple[int, ...], old: int, new: int) -> tuple[int, ...]:
    """The layers of a per-layer pattern (which layers are MoE, sliding-window, cross-attention) for `new` layers.

    Fewer layers keep the first ones. More layers continue the pattern of the model's second half: its shortest
    period p (1 for "every layer from the fourth is MoE", as DeepSeek-V3; 2 for Gemma 2's alternation; 6 for
    Gemma 3's five sliding layers to one global), each new layer copying the one p before it.
    """
    kept = {i for i in indices if i < new}
    if new <= old or not indices:
        return tuple(sorted(kept))
    has = set(indices)
    tail = range(old // 2, old)
    period = next(p for p in range(1, old + 1)
                  if all((j in has) == (j - p in has) for j in tail if j - p >= tail.start))
    for i in range(old, new):
        source = i - period * (1 + (i - old) // period)
        if source in has or source in kept:
            kept.add(i)
    return tuple(sorted(kept))


def resized_spec(base: ModelSpec, **sizes: Any) -> ModelSpec:
    """`base` with some of the `RESIZABLE` sizes (and `tie_embeddings`) replaced; `base` itself if none changed.

    Experts set on a dense model make every layer a mixture of experts (Mixtral is Mistral 7B built that way);
    experts set to 0 make every layer dense, `intermediate_size` wide. An MLA model (DeepSeek) keeps its own
    attention sizes: KV heads and head dim do not describe its projections. ValueError names the field.
    """
    unknown = set(sizes) - set(RESIZABLE) - {"tie_embeddings"}
    if unknown:
        raise ValueError(f"unknown sizes: {', '.join(sorted(unknown))}; resizable: {', '.join(RESIZABLE)}")
    for name, value in sizes.items():
        if name != "tie_embeddings" and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValueError(f"{name}: {value!r}; a size is a whole number >= 0")
    fields: dict[str, Any] = dict(sizes)
    if base.uses_mla:
        fields.update(num_kv_heads=base.num_kv_heads, head_dim=base.head_dim)
    layers = fields.get("num_layers", base.num_layers)
    for name in PER_LAYER_FIELDS:
        fields[name] = resized_layers(getattr(base, name), base.num_layers, layers)
    experts = fields.get("num_experts", base.num_experts)
    if experts == 0:
        fields.update(num_experts=0, experts_per_token=0, moe_intermediate_size=0, moe_layers=())
    else:
        top_k = fields.get("experts_per_token", base.experts_per_token)
        if not 1 <= top_k <= experts:
            raise ValueError(f"experts_per_token: {top_k:,} experts per token; it must be a whole number from 1 "
                             f"to the {experts:,} experts (0 experts: a dense model)")
        if not fields.get("moe_intermediate_size", base.moe_intermediate_size):
            raise ValueError("moe_intermediate_size: 0; a model with experts needs the width of one expert's MLP, "
                             "e.g. 14336 (Mixtral 8x7B)")
        if not base.is_moe:
            fields["moe_layers"] = tuple(range(layers))
    if fields == {k: getattr(base, k) for k in fields}:
        return base
    return replace(base, name=f"{base.name} (edited)", **fields)
