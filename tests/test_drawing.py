"""The kit's figure style: legible at notebook width, GB on the axes, labels clear of the data, no import circle."""

import ast
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

from llmmem import ModelSpec, inference_memory  # noqa: E402
from llmmem.names import display_name  # noqa: E402
from llmmem.plots import (  # noqa: E402
    plot_memory_vs_context,
    plot_serving_vs_size,
    plot_training_timeline,
    plot_zero_stages_vs_gpus,
)

ESTIMATORS = {"estimate", "inference", "parallel", "training", "finetune", "plots", "speed"}


def test_the_generic_drawing_imports_no_estimator():
    tree = ast.parse((Path(__file__).parents[1] / "llmmem" / "drawing.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 1}
    assert imported and not imported & ESTIMATORS, imported
    breakdown = ast.parse((Path(__file__).parents[1] / "llmmem" / "breakdown.py").read_text())
    lazy = {node.module for node in ast.walk(breakdown) if isinstance(node, ast.ImportFrom) and node.level == 1}
    assert "drawing" in lazy and not lazy & ESTIMATORS  # Breakdown.plot draws through llmmem.drawing


def _figures():
    spec = ModelSpec.from_catalog("llama-3.1-8b")
    return {"01 serving": plot_serving_vs_size(), "03 context": plot_memory_vs_context({"8B": spec}),
            "08 zero": plot_zero_stages_vs_gpus(spec),
            "breakdown": inference_memory(spec).plot(capacity_bytes=80 * 2**30, capacity_label="one H100-80GB")}


@pytest.mark.parametrize("name", ["01 serving", "03 context", "08 zero", "breakdown"])
def test_no_text_is_smaller_than_10_px(name):
    ax = _figures()[name]
    fig = ax.figure
    fig.canvas.draw()
    texts = [t for t in fig.findobj(matplotlib.text.Text) if t.get_text().strip() and t.get_visible()]
    assert texts
    smallest = min(t.get_fontsize() * fig.dpi / 72 for t in texts)
    assert smallest >= 10, smallest
    assert fig.get_size_inches()[0] * fig.dpi >= 800  # notebook width


def test_log_axes_are_ticked_in_gb_not_powers_of_ten():
    ax = plot_serving_vs_size()
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert {"1", "10", "100", "1,000"} <= set(labels), labels
    assert not any("10^" in s or "mathdefault" in s for s in labels)


def test_gpu_labels_sit_outside_the_data_and_do_not_overlap():
    ax = plot_serving_vs_size(gpus=("A100-80GB", "H100-80GB", "H200"))
    fig = ax.figure
    fig.canvas.draw()
    labels = [t for t in ax.texts if "GB" in t.get_text()]
    assert labels and all(t.get_position()[0] > 1 for t in labels)  # right of the axes, where no line is drawn
    boxes = [t.get_window_extent() for t in labels]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert all(name in " ".join(t.get_text() for t in labels) for name in ("A100-80GB", "H100-80GB", "H200"))


def test_breakdown_figures_use_display_names():
    spec = ModelSpec.from_catalog("llama-3.1-8b")
    ax = inference_memory(spec).plot()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(s.startswith(display_name("kv_cache")) for s in legend) and not any("kv_cache" in s for s in legend)
    from llmmem.training import training_timeline

    ax = plot_training_timeline(training_timeline(spec))
    assert "optimizer_states" not in " ".join(t.get_text() for t in ax.get_legend().get_texts())
