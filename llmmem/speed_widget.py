"""A calculator for memory and speed side by side: model, GPU, formats, batch, context -> GB and tokens/s.

Thin, in the style of `llmmem.widgets`: it reads the controls, calls `llmmem.inference_memory` and
`llmmem.decode_throughput` (with the measured default efficiency), and writes HTML. Bad input shows a red
message; nothing raises into the notebook.
"""

from __future__ import annotations

import ipywidgets as W

from .formats import format_names
from .gpus import get_gpu
from .inference import KV_CACHE_FORMATS, inference_memory, max_batch
from .speed import decode_throughput, prefill_time
from .units import format_bytes
from .widgets import (
    Calculator,
    ModelPicker,
    View,
    _count,
    _dropdown,
    _gpu_dropdown,
    _per_gpu_verdict,
    _read_count,
    _read_tokens,
    _serving_fits_text,
    serving_capacity,
)


class SpeedCalculator(Calculator):
    """Memory per GPU and decode speed for one configuration; also the ridge batch, the largest batch that fits,
    and the time to first token for a prompt as long as the context."""

    css_class = "llmmem-speed"

    def __init__(self, model="llama-3.1-8b", weights="bf16", kv_cache="bf16", context=4096, batch=1, tp=1,
                 gpu="H100-80GB"):
        self.picker = ModelPicker(model)
        self.model, self.upload = self.picker.model, self.picker.upload
        self.weights = _dropdown(format_names(), weights, "Weights")
        self.kv_cache = _dropdown(list(KV_CACHE_FORMATS), kv_cache, "KV cache")
        self.context = _count(context, "Context", "tokens", "4096, 128K")
        self.batch = _count(batch, "Batch", "batch", "1")
        self.tp = _dropdown((1, 2, 4, 8), tp, "GPUs (TP)")
        self.gpu = _gpu_dropdown(gpu)
        controls = (*self.picker.controls, self.weights, self.kv_cache, self.context, self.batch, self.tp, self.gpu)
        rows = [self.picker.box, W.HBox([self.weights, self.kv_cache, self.gpu]),
                W.HBox([self.context, self.batch, self.tp])]
        self.speed = None
        self._finish(rows, controls)

    def _compute(self) -> View:
        self.speed = None
        spec, card, tp = self.picker.spec(), get_gpu(self.gpu.value), self.tp.value
        context, batch = _read_tokens(self.context), _read_count(self.batch)
        options = dict(weights=self.weights.value, kv_cache=self.kv_cache.value, tp=tp)
        memory = inference_memory(spec, batch=batch, seq_len=context, **options)
        speed = decode_throughput(spec, card, batch=batch, context=context, efficiency=None, **options)
        self.speed = speed
        ttft = prefill_time(spec, card, context, weights=self.weights.value, tp=tp, efficiency=None)
        most = max_batch(spec, card, seq_len=context, **options)
        ridge = (f"compute-bound from batch {speed.ridge_batch:,}" if speed.ridge_batch
                 else "never compute-bound at this context (every sequence's KV read outweighs its FLOPs)")
        headline = (f"{speed.tokens_per_s_per_seq:,.1f} tok/s per sequence, {speed.tokens_per_s_total:,.0f} tok/s "
                    f"in total ({speed.bound}-bound); {format_bytes(memory.total)} per GPU: "
                    f"{_serving_fits_text(memory.total, card)}")
        lines = (
            f"bytes read per step: {format_bytes(speed.weight_bytes_per_step)} of weights + "
            f"{format_bytes(speed.kv_bytes_per_step)} of KV cache; {speed.step_time_s * 1e3:,.2f} ms per step",
            f"{ridge}; the largest batch that fits at {context:,} tokens: {most:,}",
            f"time to first token for a {context:,}-token prompt: {ttft * 1e3:,.0f} ms (prefill, nothing queued)",
            *speed.notes,
        )
        fits, badge = _per_gpu_verdict(memory.total, card, capacity=serving_capacity(card))  # as max_batch
        return View(memory, headline, card, 1, fits, badge, lines)
