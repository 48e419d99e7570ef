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
    "vision_weights": "vision tower and projector",
    "rope_tables": "RoPE cos/sin tables",
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


# One colour per component, the same on the calculators' bars and in every figure (colour-blind-safe Okabe-Ito
# palette: Okabe & Ito, "Color Universal Design", 2008; https://jfly.uni-koeln.de/color/).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
COMPONENT_COLOR = {"weights": PALETTE[0], "master_weights": PALETTE[1], "gradients": PALETTE[2],
                   "optimizer_states": PALETTE[3], "activations": PALETTE[4], "logits": PALETTE[5],
                   "logits_grad": "#F5C710", "kv_cache": PALETTE[2], "adapter_weights": "#7B3294",
                   "gathered_weights": "#A6761D", "overhead": "#999999", "margin": "#BBBBBB",
                   "vision_weights": "#4D9DE0", "rope_tables": "#666666"}


def component_color(name: str, i: int) -> str:
    """The component's own colour; one not listed takes the palette in order (its position `i`)."""
    return COMPONENT_COLOR.get(name, PALETTE[i % len(PALETTE)])
