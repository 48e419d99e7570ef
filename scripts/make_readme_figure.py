"""Draw the README's picture with the kit itself: serving memory for Llama 3 70B at 16 bits on A100-80GB cards.

    python scripts/make_readme_figure.py [OUT.png]     (default: docs/serving_70b_breakdown.png)

The PNG carries no version or date metadata, so drawing it again with the same matplotlib gives the same bytes
(`make figures` leaves git status clean); tests/test_readme.py draws it afresh and compares the pixels.
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import llmmem  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[1] / "docs" / "serving_70b_breakdown.png"


def draw(out: Path) -> Path:
    breakdown = llmmem.serving_breakdown("70B", bits=16)
    card = llmmem.get_gpu("A100-80GB")
    n = llmmem.gpus_needed(breakdown.total, gpu=card)
    capacity = n * card.memory_bytes
    ax = breakdown.plot(capacity_bytes=capacity, capacity_label=f"{n} × {card.name} = {capacity / 1e9:.1f} GB")
    ax.figure.savefig(out, dpi=110, metadata={"Software": None})
    plt.close(ax.figure)
    return out


if __name__ == "__main__":
    out = draw(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT)
    print(f"wrote {out}")
