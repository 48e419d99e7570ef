"""The kit's figures, in one style: units on the axes, GB (10^9 bytes) stated, readable at a glance.

matplotlib is imported here, so `import llmmem` does not pay for it. Where matplotlib is missing (a browser kernel
built on Pyodide's core only, as `make lite` builds by default), importing this module says so plainly; the
calculators (llmmem.widgets) draw their bars in HTML and keep working.
"""

from __future__ import annotations

from .estimate import SERVING_BITS, serving_memory
from .gpus import get_gpu
from .units import GB

MATPLOTLIB_MISSING = (
    "llmmem's figures need matplotlib, which is not installed in this Python. Install it (pip install matplotlib); "
    "in a browser (JupyterLite) use a site built with the full Pyodide distribution (make lite PYODIDE=cdn). "
    "The calculators (llmmem.widgets) and every number work without it."
)

try:
    import matplotlib.pyplot as plt
except ModuleNotFoundError as missing:
    if (missing.name or "").partition(".")[0] != "matplotlib":
        raise  # matplotlib is there but broken (its numpy, say): that error says more than ours would
    raise ModuleNotFoundError(MATPLOTLIB_MISSING, name="matplotlib") from missing

# One colour per component, stable across figures (colour-blind-safe Okabe-Ito palette).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
# Each component keeps its colour in every figure; others take the palette in order.
COMPONENT_COLOR = {"weights": PALETTE[0], "master_weights": PALETTE[1], "gradients": PALETTE[2],
                   "optimizer_states": PALETTE[3], "activations": PALETTE[4], "logits": PALETTE[5],
                   "logits_grad": "#F5C710", "kv_cache": PALETTE[2], "adapter_weights": "#7B3294",
                   "gathered_weights": "#A6761D", "overhead": "#999999", "margin": "#BBBBBB"}
PRECISION_LABEL = {32: "fp32 (32 bits)", 16: "bf16/fp16 (16 bits)", 8: "int8/fp8 (8 bits)", 4: "int4 (4 bits)"}


def component_color(name: str, i: int) -> str:
    return COMPONENT_COLOR.get(name, PALETTE[i % len(PALETTE)])


def _new_axes(ax, size=(8, 3)):
    if ax is None:
        _, ax = plt.subplots(figsize=size, dpi=90, layout="constrained")
    return ax


def _finish_line_chart(ax, ticks, tick_labels, xlabel, ylabel, heading, x_base=10, log_y=True, **legend):
    """The kit's line charts: log x (and usually log y) at the given ticks, labels, a grid, a legend."""
    ax.set_xscale("log", base=x_base)
    if log_y:
        ax.set_yscale("log")
    ax.set_xticks(ticks, tick_labels)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(heading)
    ax.grid(alpha=0.3, which="both")
    ax.legend(**legend)
    return ax


def _gpu_capacity_lines(ax, gpus, x_right):
    """One dashed line per GPU at its driver-reported capacity, labelled at the right."""
    for j, name in enumerate(gpus):
        card = get_gpu(name)
        ax.axhline(card.memory_bytes / GB, color="0.35", linestyle=(0, (4, 2 + 2 * j)), linewidth=1)
        ax.text(x_right, card.memory_bytes / GB * 1.02, f"one {card.name}: {card.memory_bytes / GB:.1f} GB",
                color="0.25", fontsize=8, va="bottom", ha="right")


def plot_breakdown(breakdown, ax=None, capacity_bytes=None, capacity_label=None):
    """One horizontal stacked bar of a Breakdown in GB, with a dashed line at a GPU capacity."""
    ax = _new_axes(ax, size=(8, 2.4))
    left = 0.0
    for i, (name, value) in enumerate(breakdown.items()):
        width = value / GB
        ax.barh([0], [width], left=left, color=component_color(name, i), label=f"{name}: {width:,.1f} GB")
        left += width
    if capacity_bytes is not None:
        ax.axvline(capacity_bytes / GB, color="#B00020", linestyle="--", linewidth=2)
        ax.text(capacity_bytes / GB, 0.45, f" {capacity_label or 'capacity'}", color="#B00020", va="bottom")
    ax.set_yticks([])
    ax.set_ylim(-0.6, 0.8)
    ax.set_xlabel("GPU memory, GB (10^9 bytes)")
    ax.set_title(breakdown.title or f"Total {breakdown.total / GB:,.1f} GB")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=4, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return ax


def plot_serving_vs_size(sizes_billions=(1, 3, 8, 13, 34, 70, 180, 405), bits=SERVING_BITS,
                         gpus=("A100-80GB", "H100-80GB", "H200"), overhead=1.2, ax=None):
    """Serving memory (seed formula) against model size, one line per precision, GPU capacities dashed."""
    ax = _new_axes(ax, size=(8, 5))
    for i, q in enumerate(sorted(bits, reverse=True)):
        memory = [serving_memory(s * 10**9, bits=q, overhead=overhead) / GB for s in sizes_billions]
        ax.plot(sizes_billions, memory, marker="o", color=PALETTE[i], label=PRECISION_LABEL.get(q, f"{q} bits"))
    _gpu_capacity_lines(ax, gpus, sizes_billions[-1])
    return _finish_line_chart(ax, sizes_billions, [f"{s:g}B" for s in sizes_billions],
                              "model size, billions of parameters (log scale)", "GPU memory to serve, GB (log scale)",
                              f"Serving memory by the seed formula (weights x {overhead:g})",
                              title="weights stored in", loc="upper left")


def plot_activations_vs_seq_len(spec, seq_lens=(512, 1024, 2048, 4096, 8192, 16384), batch=1, precision="bf16",
                                ax=None):
    """Activation memory (saved for backward) against sequence length: recompute and attention variants,
    and Korthikanti et al.'s GPT-style formula for comparison."""
    from .training import activation_bytes, korthikanti_activation_bytes

    ax = _new_axes(ax, size=(8, 5))
    variants = [("eager attention, no recompute", "none", "eager", "-", "o"),
                ("SDPA (flash) attention, no recompute", "none", "sdpa", "-", "s"),
                ("selective recompute (eager; about SDPA's line)", "selective", "eager", "--", "x"),
                ("full recompute (checkpointing)", "full", "sdpa", ":", "^")]
    for i, (label, recompute, attention, style, marker) in enumerate(variants):
        gb = [activation_bytes(spec, batch, s, precision, recompute, attention) / GB for s in seq_lens]
        ax.plot(seq_lens, gb, marker=marker, markersize=8 - 2 * (i == 2), linestyle=style, color=PALETTE[i],
                label=label)
    korthikanti = [korthikanti_activation_bytes(spec, batch, s) / GB for s in seq_lens]
    ax.plot(seq_lens, korthikanti, color="0.4", linestyle="-.",
            label="Korthikanti et al. 2022 (GPT-style, with dropout)")
    return _finish_line_chart(ax, seq_lens, [f"{s:,}" for s in seq_lens], "sequence length, tokens (log scale)",
                              "activations saved for backward, GB (log scale)",
                              f"{spec.name}: activations for batch {batch} at {precision}", x_base=2, fontsize=8)


def plot_breakdown_columns(columns, title, capacity_bytes=None, capacity_label=None, digits=1, ax=None):
    """Breakdowns side by side as stacked columns in GB (a dict label -> Breakdown), totals on top, components in
    their usual colours, a GPU capacity dashed if given."""
    ax = _new_axes(ax, size=(8, 4.5))
    names = list(dict.fromkeys(name for b in columns.values() for name in b))
    bottoms = [0.0] * len(columns)
    for i, name in enumerate(names):
        heights = [b.get(name, 0) / GB for b in columns.values()]
        ax.bar(list(columns), heights, bottom=bottoms, color=component_color(name, i), label=name, width=0.55)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    for x, top in enumerate(bottoms):
        ax.text(x, top, f"{top:,.{digits}f} GB", ha="center", va="bottom", fontsize=9)
    if capacity_bytes is not None:
        ax.axhline(capacity_bytes / GB, color="#B00020", linestyle="--")
        ax.text(-0.45, capacity_bytes / GB, f" {capacity_label or 'capacity'}", color="#B00020", ha="left",
                va="bottom", backgroundcolor="white")
    ax.set_ylim(0, max(bottoms + [capacity_bytes / GB if capacity_bytes else 0]) * 1.12)
    ax.set_ylabel("GPU memory, GB (10^9 bytes)")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return ax


def plot_training_timeline(phases, capacity_bytes=None, capacity_label=None, ax=None):
    """Memory at each moment of a training step (a dict phase -> Breakdown) as stacked columns, in GB."""
    return plot_breakdown_columns(phases, "Memory through one training step: the peak is what must fit",
                                  capacity_bytes, capacity_label, ax=ax)


def plot_bits_per_weight(names=("fp32", "bf16", "fp8", "mxfp8", "int8", "q8_0", "q6_k", "q5_k", "q4_k", "q4_0",
                                "int4", "nf4", "nf4_dq", "nvfp4", "mxfp4", "q3_k", "q2_k"), ax=None):
    """Bits per weight of each format, split into the weights themselves and their constants (scales...)."""
    from .formats import get_format

    ax = _new_axes(ax, size=(8, 0.32 * len(names) + 1.2))
    formats = [get_format(n) for n in names]
    y = list(range(len(formats)))[::-1]
    element = [f.element_bits for f in formats]
    overhead = [float(f.overhead_bits) for f in formats]
    ax.barh(y, element, color=PALETTE[0], label="the weights (element bits)")
    ax.barh(y, overhead, left=element, color=PALETTE[5], label="constants: scales, zeros, mins")
    for yi, f in zip(y, formats, strict=True):
        ax.text(float(f.bits_per_weight) + 0.3, yi, f"{float(f.bits_per_weight):.4g}", va="center", fontsize=8)
    ax.set_yticks(y, [f.name for f in formats])
    ax.set_xlabel("bits per weight (constants included)")
    ax.set_title("What a weight really costs in each format")
    ax.set_xlim(0, max(float(f.bits_per_weight) for f in formats) * 1.12)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right")
    return ax


def plot_predicted_vs_measured(labels, predicted, measured, unit="GiB", title=None, ax=None):
    """Paired bars: predicted and measured sizes (already in ``unit``) per label, ratio printed above."""
    ax = _new_axes(ax, size=(9, 3.6))
    x = list(range(len(labels)))
    ax.bar([i - 0.2 for i in x], predicted, width=0.4, color=PALETTE[0], label="predicted (llmmem)")
    ax.bar([i + 0.2 for i in x], measured, width=0.4, color=PALETTE[1], label="measured")
    for i, (p, m) in enumerate(zip(predicted, measured, strict=True)):
        ax.text(i, max(p, m) * 1.02, f"{p / m:.3f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, labels, rotation=45, ha="right")
    ax.set_ylabel(f"size, {unit}")
    ax.set_title(title or "Predicted vs measured (numbers: predicted / measured)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left")
    return ax


def plot_param_shares(specs, ax=None):
    """Stacked horizontal bars: each model's parameters split into ModelSpec.param_counts() components, in %.

    ``specs``: {label: ModelSpec}. Shares, not counts, so a 124M and a 671B model fit on one axis; the total
    is written at the end of each bar.
    """
    ax = _new_axes(ax, size=(9, 0.32 * len(specs) + 1.2))
    labels = list(specs)
    names = ["embedding", "attention", "mlp", "norms", "lm_head"]
    shown = {"embedding": "embedding", "attention": "attention", "mlp": "MLP / experts", "norms": "norms",
             "lm_head": "LM head (untied)"}
    colors = dict(zip(names, (PALETTE[0], PALETTE[1], PALETTE[2], PALETTE[6], PALETTE[3]), strict=True))
    left = [0.0] * len(labels)
    for name in names:
        shares = [100 * specs[m].param_counts()[name] / specs[m].num_params() for m in labels]
        ax.barh(labels, shares, left=left, color=colors[name], label=shown[name])
        left = [a + b for a, b in zip(left, shares, strict=True)]
    for i, m in enumerate(labels):
        ax.text(101, i, f"{specs[m].num_params() / 1e9:,.1f} B", va="center", fontsize=7)
    ax.set_xlim(0, 112)
    ax.invert_yaxis()
    ax.set_xlabel("share of the model's parameters, %")
    ax.set_title("Where the parameters are (total in billions at the right)")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.06), ncol=5, fontsize=8, frameon=False)
    return ax


def plot_memory_vs_context(specs, contexts=(1024, 4096, 16384, 32768, 65536, 131072), weights="bf16",
                           kv_cache="bf16", batch=1, tp=1, gpus=("H100-80GB", "H200"), ax=None):
    """Memory on one GPU (weights + KV cache + activations + overhead) against context length, per model.

    ``specs``: a mapping label -> ModelSpec. Numbers come from llmmem.inference.inference_memory; GPU capacities
    (what the driver reports) are dashed. Solid lines cross a dashed one at the longest context that fits.
    """
    from .inference import inference_memory

    ax = _new_axes(ax, size=(8, 4.5))
    for i, (label, spec) in enumerate(specs.items()):
        totals = [inference_memory(spec, weights, kv_cache, batch, n, tp).total / GB for n in contexts]
        ax.plot(contexts, totals, marker="o", color=PALETTE[i % len(PALETTE)], label=label)
    _gpu_capacity_lines(ax, gpus, contexts[-1])
    return _finish_line_chart(ax, contexts, [f"{n // 1024}k" for n in contexts], "context length, tokens (log scale)",
                              "memory per GPU, GB (10^9 bytes)",
                              f"Weights ({weights}) + KV cache ({kv_cache}) + activations + overhead, batch {batch}",
                              x_base=2, log_y=False, loc="upper left", fontsize=8)


def plot_zero_stages_vs_gpus(spec_or_params, gpu_counts=(1, 2, 4, 8, 16, 32, 64, 128, 256), gpu="A100-80GB",
                             ax=None, **kwargs):
    """Per-GPU training memory against the number of GPUs, one line per ZeRO stage, a GPU's capacity dashed."""
    from .parallel import sharded_training_memory

    ax = _new_axes(ax, size=(8, 5))
    for stage, strategy in enumerate(("ddp", "zero1", "zero2", "zero3")):
        gb = [sharded_training_memory(spec_or_params, n, strategy, **kwargs).total / GB for n in gpu_counts]
        label = f"ZeRO-{stage}" + (" (plain data parallel)" if stage == 0 else "")
        ax.plot(gpu_counts, gb, marker="o", color=PALETTE[stage], label=label)
    card = get_gpu(gpu)
    ax.axhline(card.memory_bytes / GB, color="#B00020", linestyle="--")
    ax.text(gpu_counts[-1], card.memory_bytes / GB * 1.05, f"one {card.name}", color="#B00020", ha="right")
    name = getattr(spec_or_params, "name", None) or f"{spec_or_params / 1e9:g}B parameters"
    return _finish_line_chart(ax, gpu_counts, [str(n) for n in gpu_counts], "number of GPUs (data parallel, log scale)",
                              "training memory per GPU, GB (log scale)", f"{name}: per-GPU memory by ZeRO stage",
                              x_base=2)


def plot_finetune_comparison(results, ax=None):
    """Stacked bars of fine-tuning memory: `results` maps a label ("8B full") to a Breakdown."""
    return plot_breakdown_columns(results, "Full fine-tuning vs LoRA vs QLoRA", digits=0,
                                  ax=_new_axes(ax, size=(9, 5)))
