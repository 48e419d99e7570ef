"""The course's figures, one per chapter idea, in the kit's one style (`llmmem.drawing`): units on the axes,
GB (10^9 bytes) stated, readable at notebook width.

These call the estimators; the generic drawing of a Breakdown (`llmmem.drawing`) does not, so
breakdown -> drawing has no import circle. matplotlib is imported there, so `import llmmem` does not pay for it;
where it is missing (a browser kernel on Pyodide's core only, as `make lite` builds by default), importing either
module says so plainly, and the calculators (llmmem.widgets) keep drawing their bars in HTML.
"""

from __future__ import annotations

from .drawing import (  # noqa: F401  (re-exported: the generic drawing lives in llmmem.drawing)
    COMPONENT_COLOR,
    PALETTE,
    RED,
    TEXT_PT,
    _finish_line_chart,
    _gpu_capacity_lines,
    _new_axes,
    component_color,
    plot_breakdown,
    plot_breakdown_columns,
)
from .estimate import SERVING_BITS, serving_memory
from .gpus import get_gpu
from .units import GB

PRECISION_LABEL = {32: "fp32 (32 bits)", 16: "bf16/fp16 (16 bits)", 8: "int8/fp8 (8 bits)", 4: "int4 (4 bits)"}


def plot_serving_vs_size(sizes_billions=(1, 3, 8, 13, 34, 70, 180, 405), bits=SERVING_BITS,
                         gpus=("A100-80GB", "H100-80GB", "H200"), overhead=1.2, ax=None):
    """Serving memory (the quick rule, weights x overhead) against model size, one line per precision, GPU
    capacities dashed."""
    ax = _new_axes(ax, size=(8, 5))
    for i, q in enumerate(sorted(bits, reverse=True)):
        memory = [serving_memory(s * 10**9, bits=q, overhead=overhead) / GB for s in sizes_billions]
        ax.plot(sizes_billions, memory, marker="o", color=PALETTE[i], label=PRECISION_LABEL.get(q, f"{q} bits"))
    _gpu_capacity_lines(ax, gpus)
    return _finish_line_chart(ax, sizes_billions, [f"{s:g}B" for s in sizes_billions],
                              "model size, billions of parameters (log scale)", "GPU memory to serve, GB (log scale)",
                              f"Serving memory by the quick rule (weights \u00d7 {overhead:g})",
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
                              f"{spec.name}: activations for batch {batch} at {precision}", x_base=2, fontsize=TEXT_PT)


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
        ax.text(float(f.bits_per_weight) + 0.3, yi, f"{float(f.bits_per_weight):.4g}", va="center", fontsize=TEXT_PT)
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
        ax.text(i, max(p, m) * 1.02, f"{p / m:.3f}", ha="center", va="bottom", fontsize=TEXT_PT)
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
             "lm_head": "LM head (untied)", "vision": "vision tower + projector"}
    colors = dict(zip(names, (PALETTE[0], PALETTE[1], PALETTE[2], PALETTE[6], PALETTE[3]), strict=True))
    if any(specs[m].is_multimodal for m in labels):  # vision-language models: their vision part too
        names.append("vision")
        colors["vision"] = PALETTE[5]

    def count(spec, name):
        c = spec.param_counts()
        return c.get("vision_tower", 0) + c.get("projector", 0) if name == "vision" else c[name]

    left = [0.0] * len(labels)
    for name in names:
        shares = [100 * count(specs[m], name) / specs[m].num_params() for m in labels]
        ax.barh(labels, shares, left=left, color=colors[name], label=shown[name])
        left = [a + b for a, b in zip(left, shares, strict=True)]
    for i, m in enumerate(labels):
        ax.text(101, i, f"{specs[m].num_params() / 1e9:,.1f} B", va="center", fontsize=TEXT_PT)
    ax.set_xlim(0, 112)
    ax.invert_yaxis()
    ax.set_xlabel("share of the model's parameters, %")
    ax.set_title("Where the parameters are (total in billions at the right)")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.06), ncol=min(len(names), 5), fontsize=TEXT_PT, frameon=False)
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
    _gpu_capacity_lines(ax, gpus)
    return _finish_line_chart(ax, contexts, [f"{n // 1024}k" for n in contexts], "context length, tokens (log scale)",
                              "memory per GPU, GB (10^9 bytes)",
                              f"Weights ({weights}) + KV cache ({kv_cache}) + activations + overhead, batch {batch}",
                              x_base=2, log_y=False, loc="upper left", fontsize=TEXT_PT)


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
    ax.axhline(card.memory_bytes / GB, color=RED, linestyle="--")
    ax.text(1.01, card.memory_bytes / GB, f"one {card.name}\n{card.memory_bytes / GB:.1f} GB", color=RED,
            transform=ax.get_yaxis_transform(), ha="left", va="center", fontsize=TEXT_PT, clip_on=False)
    name = getattr(spec_or_params, "name", None) or f"{spec_or_params / 1e9:g}B parameters"
    return _finish_line_chart(ax, gpu_counts, [str(n) for n in gpu_counts], "number of GPUs (data parallel, log scale)",
                              "training memory per GPU, GB (log scale)", f"{name}: per-GPU memory by ZeRO stage",
                              x_base=2)


def plot_finetune_comparison(results, ax=None):
    """Stacked bars of fine-tuning memory: `results` maps a label ("8B full") to a Breakdown."""
    return plot_breakdown_columns(results, "Full fine-tuning vs LoRA vs QLoRA", digits=0,
                                  ax=_new_axes(ax, size=(9, 5)))
