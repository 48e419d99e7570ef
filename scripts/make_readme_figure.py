"""Draw the README's picture with the kit itself: serving memory for Llama 3 70B at 16 bits on A100-80GB cards."""

from pathlib import Path

import matplotlib.pyplot as plt

import llmmem

OUT = Path(__file__).resolve().parents[1] / "docs" / "serving_70b_breakdown.png"

breakdown = llmmem.serving_breakdown("70B", bits=16)
card = llmmem.get_gpu("A100-80GB")
n = llmmem.gpus_needed(breakdown.total, gpu=card)
capacity = n * card.memory_bytes
ax = breakdown.plot(capacity_bytes=capacity, capacity_label=f"{n} \u00d7 {card.name} = {capacity / 1e9:.1f} GB")
ax.figure.savefig(OUT, dpi=110)
plt.close(ax.figure)
print(f"wrote {OUT.relative_to(OUT.parents[1])}")
