"""A calculator for chapter 04: one model's weights in every format side by side, and how many GPUs each needs.

Thin, in the style of `llmmem.widgets`: the table is `llmmem.compare.compare_quantized_formats` (exact weight
bytes and bits per parameter from `llmmem.formats` / `llmmem.quantization`, GPU counts from `serving_gpus`, the
rules of `llmmem serve`), and the bar is `inference_memory` of the chosen format at that GPU count. Bad input
shows a red message; nothing raises into the notebook.
"""

from __future__ import annotations

import ipywidgets as W

from .compare import GROUP_SIZES, checkpoint_option, compare_quantized_formats, quantization_options, stored_as
from .gpus import get_gpu
from .inference import VLLM_GPU_MEMORY_UTILIZATION, inference_memory, serving_gpus
from .units import format_bytes
from .widgets import (
    Calculator,
    ModelPicker,
    View,
    _count,
    _dropdown,
    _gpu_dropdown,
    _read_count,
    _read_tokens,
    compare_table_html,
)


class QuantizationCalculator(Calculator):
    """A model and a GPU -> each weight format's real bits per parameter (scales, zero points and the tensors kept
    in 16 bits counted), its weights in GB, and the GPUs it needs to serve; the chosen format drawn as a bar."""

    css_class = "llmmem-quantization"

    def __init__(self, model="llama-3.1-8b", fmt="gptq", group_size=128, gpu="L4", seq_len=8192, batch=1):
        self.picker = ModelPicker(model)
        self.model, self.upload, self.hub = self.picker.model, self.picker.upload, self.picker.hub
        self.fmt = _dropdown([("as the checkpoint stores it", "checkpoint"),
                              *((o.label.replace(", group 128", ""), o.key) for o in quantization_options())], fmt,
                             "Weight format")
        self.group = _dropdown([(f"{g} weights", g) for g in GROUP_SIZES], group_size, "Group size")
        self.gpu = _gpu_dropdown(gpu)
        self.seq_len = _count(seq_len, "Context", "tokens", "8192, 128K")
        self.batch = _count(batch, "Batch", "batch", "1")
        controls = (*self.picker.controls, self.fmt, self.group, self.gpu, self.seq_len, self.batch)
        rows = [self.picker.box, W.HBox([self.fmt, self.group, self.gpu]), W.HBox([self.seq_len, self.batch])]
        self.rows = None
        self._finish(rows, controls)

    def _compute(self) -> View:
        self.rows = None
        spec, card = self.picker.spec(), get_gpu(self.gpu.value)
        seq_len, batch = _read_tokens(self.seq_len), _read_count(self.batch)
        options = quantization_options(self.group.value)
        serve = dict(kv_cache="bf16", batch=batch, seq_len=seq_len)
        rows = compare_quantized_formats(spec, card, options, **serve)
        self.rows = rows
        own = checkpoint_option(spec)
        if self.fmt.value == "checkpoint" and own is not None:  # its own row comes first in the table
            option, row = own, rows[0]
        else:  # an unquantized checkpoint stores its weights in bf16
            index = [o.key for o in options].index("bf16" if self.fmt.value == "checkpoint" else self.fmt.value)
            option, row = options[index], rows[index + len(rows) - len(options)]
        if row.weight_bytes is None or row.bits_per_param is None:
            raise ValueError(f"Weight format: {option.label}: {row.note}")
        stored = stored_as(spec, option)
        if row.n_gpus is None:  # drawn on one card, red: the table still shows which formats do fit
            breakdown = inference_memory(stored, option.fmt, **serve)
            tp, arithmetic = None, f"{row.note} of {card.name} at {VLLM_GPU_MEMORY_UTILIZATION:.0%} of each"
            where, badge = "does not fit on 16 GPUs", f"does not fit on up to 16 x {card.name}"
        else:
            tp, breakdown, arithmetic = serving_gpus(stored, card, weights=option.fmt, **serve, max_tp=16)
            where = f"{tp} x {card.name} (TP={tp})"
            badge = f"fits on 1 x {card.name}" if tp == 1 else f"needs {tp} x {card.name}"
        headline = (f"{option.label}: {float(row.bits_per_param):.3f} bits per parameter, "
                    f"{format_bytes(row.weight_bytes)} of weights -> {where}")
        lines = (f"bits per parameter = 8 x {row.weight_bytes:,} bytes / {spec.num_params():,} parameters: the "
                 "block scales and zero points, and the tensors kept in 16 bits (embedding, LM head, norms), "
                 "are counted",
                 arithmetic)
        table = compare_table_html(rows, card, f"Each format at the fewest {card.name} that serve it "
                                               f"({VLLM_GPU_MEMORY_UTILIZATION:.0%} of each card, TP up to 16), "
                                               f"bf16 KV cache, batch {batch} \u00d7 {seq_len:,} tokens; "
                                               f"{spec.num_params():,} parameters")
        return View(breakdown, headline, card, 1, tp == 1, badge, lines, table)
