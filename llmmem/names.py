"""Display names: what each Breakdown component is called on a page, in a figure and in the CLI's tables.

The code keeps lower_snake_case component names (`kv_cache`, `optimizer_states`: the public API contract);
people read these. One home, so the calculators, the figures and `llmmem serve` say the same words.
Standard library only: `import llmmem` stays light.
"""

from __future__ import annotations

COMPONENT_NAMES = {
    "weights": "weights",
    "master_weights": "fp32 master copy of the weights",
    "gradients": "gradients",
    "optimizer_states": "optimizer states",
    "activations": "activations",
    "logits": "logits",
    "logits_grad": "gradient of the logits",
    "kv_cache": "KV cache",
    "adapter_weights": "LoRA adapters",
    "gathered_weights": "weights gathered for one layer (ZeRO-3 / FSDP)",
    "overhead": "overhead",
    "margin": "safety margin",
}


def display_name(component: str) -> str:
    """The plain-words name of a Breakdown component; an unknown one with its underscores as spaces."""
    return COMPONENT_NAMES.get(component, component.replace("_", " "))


def typeset(text: str) -> str:
    """Plain text with the kit's ASCII arithmetic typeset: ' x ' as a times sign, '->' as an arrow."""
    return text.replace(" x ", " \u00d7 ").replace(" -> ", " \u2192 ")


def plain_note(note: str) -> str:
    """A Breakdown note ("kv_cache: exact, ...") with its leading component name in plain words, typeset."""
    head, sep, rest = note.partition(": ")
    if sep and head in COMPONENT_NAMES:
        note = f"{display_name(head)}: {rest}"
    return typeset(note)
