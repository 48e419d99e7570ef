"""The kit's one figure style, and the generic drawing of a `Breakdown` (a stacked bar, stacked columns).

Nothing here calls an estimator (`llmmem.plots` holds the chapter figures that do), so `Breakdown.plot` ->
`llmmem.drawing` is not an import circle. matplotlib is imported here, so `import llmmem` does not pay for it.

Legible at notebook width: figures are drawn 8 inches wide at 100 dpi (800 px, about JupyterLab's text column),
and no text is smaller than 9 pt = 12.5 px at that resolution (TEXT_PT). Log axes are labelled in GB
(1, 2, 5, 10, 20 ... GB), not as powers of ten.
"""

from __future__ import annotations

from .gpus import get_gpu
from .names import COMPONENT_COLOR, PALETTE, component_color, display_name
from .units import GB

MATPLOTLIB_MISSING = (
    "llmmem's figures need matplotlib, which is not installed in this Python. Install it (pip install matplotlib); "
    "in a browser (JupyterLite) use a site built with the full Pyodide distribution (make lite PYODIDE=cdn). "
    "The calculators (llmmem.widgets) and every number work without it."
)

try:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
except ModuleNotFoundError as missing:
    if (missing.name or "").partition(".")[0] != "matplotlib":
        raise  # matplotlib is there but broken (its numpy, say): that error says more than ours would
    raise ModuleNotFoundError(MATPLOTLIB_MISSING, name="matplotlib") from missing


__all__ = ["COMPONENT_COLOR", "PALETTE", "RED", "TEXT_PT", "DPI", "component_color", "plot_breakdown",
           "plot_breakdown_columns", "gb_axis"]

RED = "#B00020"  # GPU capacity lines, as on the calculators' bars
DPI = 100
TEXT_PT = 9  # the smallest text in any figure: 9 pt at 100 dpi is 12.5 px (the issue asked for at least 10 px)
STYLE = {"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "xtick.labelsize": TEXT_PT,
         "ytick.labelsize": TEXT_PT, "legend.fontsize": TEXT_PT}


def _new_axes(ax, size=(8, 3)):
    if ax is None:
        with plt.rc_context(STYLE):
            _, ax = plt.subplots(figsize=size, dpi=DPI, layout="constrained")
    for text in (ax.xaxis.label, ax.yaxis.label, ax.title):
        text.set_fontsize(max(text.get_fontsize(), TEXT_PT))
    ax.tick_params(labelsize=TEXT_PT)
    return ax


def _gb(value, _pos=None) -> str:
    return f"{value:,.0f}" if value >= 1 else f"{value:g}"


def gb_axis(axis) -> None:
    """A log axis in GB read as numbers: ticks at 1, 2, 5 x each power of ten, written 1, 2, 5, 10, 20 ..."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(_gb))
    axis.set_minor_formatter(NullFormatter())


def _finish_line_chart(ax, ticks, tick_labels, xlabel, ylabel, heading, x_base=10, log_y=True, **legend):
    """The kit's line charts: log x (and usually log y, ticked in GB) at the given ticks, a grid, a legend."""
    ax.set_xscale("log", base=x_base)
    if log_y:
        ax.set_yscale("log")
        gb_axis(ax.yaxis)
    ax.set_xticks(ticks, tick_labels)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(heading)
    ax.grid(alpha=0.3, which="major")
    legend.setdefault("fontsize", TEXT_PT)
    legend["fontsize"] = max(legend["fontsize"], TEXT_PT)
    ax.legend(**legend)
    return ax


def _gpu_capacity_lines(ax, gpus, x_right=None):
    """One dashed line per GPU at its driver-reported capacity, labelled in the right margin, outside the data
    (so no data line crosses a label). Cards within 10 % of each other (A100-80GB, H100-80GB) share one label,
    so labels never overlap. `x_right` is accepted for older callers and not needed."""
    transform = ax.get_yaxis_transform()  # x in axes fractions, y in data
    cards = sorted((get_gpu(name) for name in gpus), key=lambda c: c.memory_bytes)
    groups: list[list] = []
    for j, card in enumerate(cards):
        ax.axhline(card.memory_bytes / GB, color="0.35", linestyle=(0, (4, 2 + 2 * j)), linewidth=1.2)
        if groups and card.memory_bytes <= groups[-1][0].memory_bytes * 1.1:
            groups[-1].append(card)
        else:
            groups.append([card])
    for group in groups:
        at = sum(c.memory_bytes for c in group) / len(group) / GB
        text = "\n".join(f"{c.name}: {c.memory_bytes / GB:.1f} GB" for c in group)
        ax.text(1.01, at, text, transform=transform, color="0.2", fontsize=TEXT_PT, va="center", ha="left",
                clip_on=False)


def plot_breakdown(breakdown, ax=None, capacity_bytes=None, capacity_label=None):
    """One horizontal stacked bar of a Breakdown in GB, with a dashed line at a GPU capacity."""
    ax = _new_axes(ax, size=(8, 2.6))
    left = 0.0
    for i, (name, value) in enumerate(breakdown.items()):
        width = value / GB
        ax.barh([0], [width], left=left, color=component_color(name, i),
                label=f"{display_name(name)}: {width:,.1f} GB")
        left += width
    right = left
    if capacity_bytes is not None:
        ax.axvline(capacity_bytes / GB, color=RED, linestyle="--", linewidth=2)
        right = max(right, capacity_bytes / GB)
        # The label stays inside the frame: left of the line when the line is in the right half.
        inside_left = capacity_bytes / GB > right * 1.12 / 2
        ax.text(capacity_bytes / GB, 0.45, f" {capacity_label or 'capacity'} ", color=RED, va="bottom",
                ha="right" if inside_left else "left", fontsize=TEXT_PT, backgroundcolor="white")
    ax.set_xlim(0, right * 1.12 or 1)  # the capacity line never sits on the frame
    ax.set_yticks([])
    ax.set_ylim(-0.6, 0.8)
    ax.set_xlabel("GPU memory, GB (10^9 bytes)")
    ax.set_title(breakdown.title or f"Total {breakdown.total / GB:,.1f} GB")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=3, frameon=False, fontsize=TEXT_PT)
    ax.grid(axis="x", alpha=0.3)
    return ax


def plot_breakdown_columns(columns, title, capacity_bytes=None, capacity_label=None, digits=1, ax=None):
    """Breakdowns side by side as stacked columns in GB (a dict label -> Breakdown), totals on top, components in
    their usual colours, a GPU capacity dashed if given."""
    ax = _new_axes(ax, size=(8, 4.5))
    names = list(dict.fromkeys(name for b in columns.values() for name in b))
    bottoms = [0.0] * len(columns)
    for i, name in enumerate(names):
        heights = [b.get(name, 0) / GB for b in columns.values()]
        ax.bar(list(columns), heights, bottom=bottoms, color=component_color(name, i), label=display_name(name),
               width=0.55)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    for x, top in enumerate(bottoms):
        ax.text(x, top, f"{top:,.{digits}f} GB", ha="center", va="bottom", fontsize=TEXT_PT)
    if capacity_bytes is not None:
        ax.axhline(capacity_bytes / GB, color=RED, linestyle="--")
        ax.text(-0.45, capacity_bytes / GB, f" {capacity_label or 'capacity'}", color=RED, ha="left",
                va="bottom", backgroundcolor="white", fontsize=TEXT_PT)
    ax.set_ylim(0, max(bottoms + [capacity_bytes / GB if capacity_bytes else 0]) * 1.12)
    ax.set_ylabel("GPU memory, GB (10^9 bytes)")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=TEXT_PT)
    ax.grid(axis="y", alpha=0.3)
    return ax
