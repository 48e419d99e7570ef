"""ipywidgets calculators: thin views that read inputs, call llmmem, and write HTML.

Each calculator writes its result into an `HTML` widget's value (observe-style, no `interact`), so the
notebooks pass nbval strictly and tests can set inputs and read the result. Bad input shows a red
message in the widget; nothing raises into the notebook, and the next good input recovers.

Every calculator has the same surface: `.widget` (what to display), `.result` (the HTML), `.summary()`
(the headline as plain text, or "error: ..."), `.breakdown`, `.n_gpus`, `.error`. The shared work
(wiring, error handling, drawing) lives in `Calculator`; a subclass only builds its controls and says
which llmmem function to call in `_compute`.
"""

from __future__ import annotations

import html
import json
import logging
import re
from typing import Any, NamedTuple

import ipywidgets as W

from .breakdown import Breakdown
from .compare import FormatRow, compare_inference_formats, compare_serving_formats, pure_block_type
from .estimate import serving_breakdown
from .finetune import TARGET_GROUPS, lora_memory, qlora_memory
from .formats import format_names
from .gpus import GPU, get_gpu, gpu_names, gpus_needed_explained
from .inference import (
    KV_CACHE_FORMATS,
    VLLM_GPU_MEMORY_UTILIZATION,
    _capacity,  # serving_gpus' rule: one home for a card's usable share
    inference_memory,
    max_context,
)
from .model import ModelSpec, catalog_names
from .names import component_color, display_name, plain_note, typeset
from .parallel import STRATEGIES, sharded_training_memory
from .training import ATTENTION, OPTIMIZERS, PRECISIONS, RECOMPUTE, training_memory
from .units import GB, format_bytes, parse_context, parse_count
from .validation import MAX_DIM, MAX_EXPERTS, MAX_LAYERS

RED = "#B00020"
GREEN = "#1B7F3B"
BITS_OPTIONS = (("32 (fp32)", 32), ("16 (bf16/fp16)", 16), ("8 (int8/fp8)", 8), ("4 (int4)", 4))
SEED_FORMAT = "seed"  # the serving calculator's "by bits: the quick rule P x Q / 8 x overhead" choice
BY_SIZE = "__size__"  # the model picker's "a parameter count, no architecture" choice
UPLOADED = "__upload__"  # the model picker's "the config.json I uploaded" choice
HUB = "__hub__"  # the model picker's "the Hugging Face id I typed" choice
STYLE = {"description_width": "110px"}
NARROW = W.Layout(width="260px")


LOG = logging.getLogger(__name__)
MESSAGE_CHARS = 300  # a message longer than this is cut: it may quote a huge input back
# Errors that bad input can raise from deep inside an estimate, and what they mean in plain words. Anything else
# is a bug: it is logged with its traceback and still shown as a message (never a stale answer).
EXPECTED_ERRORS = ((RecursionError, "the input is nested too deeply to read"),
                   (ArithmeticError, "a number is too large (or too small) to compute with"),  # Overflow, decimal
                   (MemoryError, "the input is too large to compute with"),
                   (LookupError, "a value is not one of those accepted"),  # KeyError, IndexError
                   (TypeError, "a value has the wrong type"))


def _shorten(text: str, limit: int = MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def describe_error(err: BaseException) -> str:
    """One line for the page: a ValueError's own message; for other types, what they mean in plain words."""
    if isinstance(err, ValueError):
        return _shorten(str(err))
    for kind, meaning in EXPECTED_ERRORS:
        if isinstance(err, kind):
            return _shorten(f"{meaning} ({type(err).__name__})")
    return _shorten(f"unexpected error, please report it: {type(err).__name__}: {err}")


def error_html(err: BaseException | str) -> str:
    text = err if isinstance(err, str) else describe_error(err)
    return f'<div class="llmmem-error" style="color:{RED};font-weight:bold">&#9888; {html.escape(text)}</div>'


def breakdown_bar_html(breakdown, capacity_bytes: int, n_gpus: int, gpu_name: str) -> str:
    """A stacked bar of the components against the capacity of `n_gpus` cards, in plain HTML/CSS.

    Drawn in HTML rather than matplotlib so that a redraw costs microseconds, not a figure render, and the
    page updates in place (the HTML widget's value is replaced, nothing is appended). The scale runs 12 %
    past the larger of the total and the capacity, so a capacity line is never hidden on the bar's edge, and
    each line carries its label.
    """
    cards = max(n_gpus, 1)
    span = (max(breakdown.total, capacity_bytes * cards) or 1) * 1.12
    segments = "".join(
        f'<div title="{html.escape(display_name(name))}: {value / GB:,.1f} GB" style="width:{100 * value / span:.3f}%;'
        f'background:{component_color(name, i)};height:100%"></div>'
        for i, (name, value) in enumerate(breakdown.items())
    )
    marks = "".join(
        f'<div class="llmmem-capacity" style="position:absolute;left:{100 * k * capacity_bytes / span:.3f}%;'
        f'top:-6px;bottom:-6px;border-left:3px dashed {RED}"></div>'
        for k in range(1, cards + 1)
    )
    label_at = 100 * cards * capacity_bytes / span
    what = f"one {gpu_name}" if cards == 1 else f"{cards} \u00d7 {gpu_name}"
    words = f"{html.escape(what)}: {cards * capacity_bytes / GB:,.1f} GB"
    # The label ends at its line, or starts there when the line is too far left for the words to fit before it.
    place = (f"left:{label_at:.3f}%\">&#9662; {words}" if label_at < 40 else
             f"right:{100 - label_at:.3f}%\">{words} &#9662;")
    label = (f'<div style="position:relative;height:16px;font-size:12px;color:{RED}">'
             f'<span style="position:absolute;white-space:nowrap;{place}</span></div>')
    legend = " &nbsp; ".join(
        f'<span style="white-space:nowrap"><span style="color:{component_color(name, i)}">&#9632;</span> '
        f"{html.escape(display_name(name))} {value / GB:,.1f} GB</span>"
        for i, (name, value) in enumerate(breakdown.items())
    )
    return (
        f"{label}"
        f'<div style="position:relative;display:flex;height:24px;border:1px solid #999;margin:0 0 6px 0">'
        f"{segments}{marks}</div>"
        f'<div style="font-size:13px">{legend} &nbsp; <span style="color:{RED}">&#9476;&#9476;</span> '
        f"the memory of one {html.escape(gpu_name)} (each dashed line one more card)</div>"
    )


def _headline_html(text: str) -> str:
    return f'<b class="llmmem-headline">{html.escape(typeset(text))}</b>'


def badge_html(fits: bool, text: str) -> str:
    """The verdict at a glance: a green badge when it fits, a red one when it does not."""
    colour, kind = (GREEN, "fits") if fits else (RED, "does-not-fit")
    return (f'<span class="llmmem-badge llmmem-{kind}" style="display:inline-block;padding:3px 10px;'
            f'border-radius:12px;background:{colour};color:white;font-weight:bold;margin:4px 0">'
            f"{'&#10004;' if fits else '&#10008;'} {html.escape(typeset(text))}</span>")


def _fits_text(per_gpu_bytes, card: GPU) -> str:
    verdict = "fits on" if per_gpu_bytes <= card.memory_bytes else "does not fit on"
    return f"{verdict} one {card.name} ({card.memory_bytes / GB:,.1f} GB)"


def _serving_fits_text(per_gpu_bytes, card: GPU) -> str:
    """Whether a server's memory fits in the share of one card vLLM gives it, by `serving_gpus`' own rule."""
    usable = serving_capacity(card)
    verdict = "fits in" if per_gpu_bytes <= usable else "does not fit in"
    return (f"{verdict} {VLLM_GPU_MEMORY_UTILIZATION:.0%} of one {card.name} ({usable / GB:,.1f} GB of "
            f"{card.memory_bytes / GB:,.1f} GB, the share vLLM uses by default)")


def serving_capacity(card: GPU) -> float:
    """Bytes a vLLM server may use on one card: the rule of `llmmem.inference.serving_gpus`, `max_context` and
    the compare table (gpu_memory_utilization 0.9 of the card), so that every serving verdict agrees."""
    return _capacity(card, VLLM_GPU_MEMORY_UTILIZATION)


def _per_gpu_verdict(per_gpu_bytes, card: GPU, cards: int = 1, capacity=None) -> tuple:
    """(fits, badge text) for memory that must fit on each of `cards` cards, in `capacity` bytes of each (the
    whole card unless given: a server's is `serving_capacity`)."""
    where = f"{cards} \u00d7 {card.name}" if cards > 1 else f"1 \u00d7 {card.name}"
    have = card.memory_bytes if capacity is None else capacity
    if per_gpu_bytes <= have:
        return True, f"fits on {where}"
    usable = "" if capacity is None else " usable"
    return False, f"does not fit on {where}: {per_gpu_bytes / GB:,.1f} GB per GPU, {have / GB:,.1f} GB{usable} each"


def _weights_cells(r: FormatRow, largest: float) -> str:
    """The quantization table's two columns: bits per parameter, and the weights in GB with a bar to scale."""
    if r.weight_bytes is None or r.bits_per_param is None:
        return '<td></td><td></td>'
    width = 100 * r.weight_bytes / (largest or 1)
    colour = component_color("weights", 0)
    bar = (f'<span style="display:inline-block;width:{0.8 * width:.1f}px;height:9px;background:{colour};'
           'margin-right:4px"></span>')
    return f"<td>{float(r.bits_per_param):.3f}</td><td>{bar}{r.weight_bytes / GB:,.1f}</td>"


def compare_table_html(rows: list[FormatRow], card: GPU, caption: str) -> str:
    """The "compare formats" table: each weight format's memory, per GPU and GPU count; with the weights alone
    too (bits per parameter, GB) when the rows carry them (the quantization calculator's)."""
    weights = any(r.weight_bytes is not None for r in rows)
    largest = max((r.weight_bytes or 0 for r in rows), default=0)
    body = []
    for r in rows:
        first = _weights_cells(r, largest) if weights else ""
        if r.n_gpus is None or r.total_bytes is None or r.per_gpu_bytes is None:
            cells = f'<td colspan="3" style="color:#555">{html.escape(r.note)}</td>'
            if weights and r.weight_bytes is None:
                first, cells = "", f'<td colspan="5" style="color:#555">{html.escape(r.note)}</td>'
        else:
            colour = GREEN if r.n_gpus == 1 else RED
            cells = (f"<td>{r.total_bytes / GB:,.1f}</td><td>{r.per_gpu_bytes / GB:,.1f}</td>"
                     f'<td style="color:{colour};font-weight:bold">{r.n_gpus} \u00d7 {html.escape(card.name)}</td>')
        body.append(f"<tr><td><code>{html.escape(r.fmt)}</code></td>{first}{cells}</tr>")
    heads = "<th>bits per parameter</th><th>weights, GB</th>" if weights else ""
    return (f'<details class="llmmem-compare" open><summary><b>Compare formats</b></summary>'
            f'<div style="color:#555;font-size:13px">{html.escape(caption)}</div>'
            f'<table class="llmmem-compare-table" style="border-collapse:collapse;font-size:13px">'
            f"<tr><th>weights in</th>{heads}<th>memory, GB</th><th>per GPU, GB</th><th>GPUs needed</th></tr>"
            f"{''.join(body)}</table></details>"
            "<style>.llmmem-compare-table td, .llmmem-compare-table th {padding:1px 12px 1px 0;"
            "text-align:right} .llmmem-compare-table td:first-child, .llmmem-compare-table th:first-child,"
            ".llmmem-compare-table td[colspan] {text-align:left}</style>")


def _dropdown(options, value, description):
    return W.Dropdown(options=options, value=value, description=description, style=STYLE, layout=NARROW)


# What each kind of number field accepts, and its top. Parameter counts up to 10^15 (1,000x the largest
# published model) and contexts up to 10^9 tokens are llmmem.units' documented ranges; a batch of 10^6
# sequences is far above any server's (vLLM's max_num_seqs defaults to 256 or 1024), a cluster of 10^6 GPUs
# above any built, and a LoRA rank above 65,536 wider than any model's hidden size.
FIELD_KINDS = {
    "size": ("a parameter count from 1 to 10^15, e.g. 70B, 8e9, 1.5T", 10**15),
    "tokens": ("a number of tokens from 1 to 10^9, e.g. 8192, 128K (= 131,072), 1M", 10**9),
    "batch": ("a whole number of sequences from 1 to 1,000,000, e.g. 1 or 8", 10**6),
    "rank": ("a whole number from 1 to 65,536, e.g. 8, 16 or 64", 65_536),
    "gpus": ("a whole number of GPUs from 1 to 1,000,000, e.g. 8 or 64", 10**6),
    # A model's sizes, bounded as every ModelSpec is (llmmem.validation: MAX_DIM, MAX_LAYERS, MAX_EXPERTS).
    "width": ("a whole number from 1 to 10^8, e.g. 4096", MAX_DIM),
    "layers": ("a whole number of layers from 1 to 10,000, e.g. 32", MAX_LAYERS),
    "heads": ("a whole number of heads from 1 to 10^8, e.g. 32 or 8", MAX_DIM),
    "experts": ("a whole number from 0 (a dense model) to 100,000, e.g. 8", MAX_EXPERTS),
    "expert_width": ("a whole number from 0 (a dense model) to 10^8, e.g. 14336", MAX_DIM),
}


def _count(value, description, kind, placeholder="") -> W.Text:
    """A text field for a whole number ("8192", "128K"), of one of FIELD_KINDS; read with `_read_count`."""
    # continuous_update: the answer redraws on every keystroke (each redraw costs well under a millisecond to a
    # few milliseconds, tests/test_widget_benchmarks.py), not only on Enter; a half-typed value shows a red
    # message until it reads as a number.
    field = W.Text(value=str(value), description=description, placeholder=placeholder, continuous_update=True,
                   style=STYLE, layout=NARROW)
    field.accepted, field.maximum = FIELD_KINDS[kind]
    field.tooltip = field.accepted
    return field


# An exponent this large is refused before parsing: '1e999999' would otherwise build a million-digit integer.
_HUGE_EXPONENT = re.compile(r"[eE][+]?\s*0*(\d{3,})")
# A comma not followed by exactly three digits is a decimal comma ('1,5B'): refused, never read as 15B.
_DECIMAL_COMMA = re.compile(r",(?!\d{3}(?:\D|$))")


def _read_count(field: W.Text, parse=parse_count) -> int:
    """The field's value parsed, or a ValueError that names the field, quotes the text and says what it accepts.

    Nothing is clamped: a value outside the field's range is refused, with the range in the message.
    """
    text = str(field.value).strip()
    quoted = _shorten(repr(text), 60)
    refuse = f"{field.description}: cannot use {quoted}; enter {field.accepted}"
    if not text:
        raise ValueError(f"{field.description}: empty; enter {field.accepted}")
    if len(text) > 40 or _HUGE_EXPONENT.search(text):
        raise ValueError(refuse)
    if _DECIMAL_COMMA.search(text):
        raise ValueError(f"{field.description}: write a decimal point, not a comma ({quoted}); enter {field.accepted}")
    try:
        value = parse(text)
    except ValueError:
        raise ValueError(refuse) from None
    except Exception as err:  # OverflowError, KeyError ('7\u212a', a Kelvin sign) ... from the parser itself
        raise ValueError(refuse) from err
    if value > field.maximum:
        raise ValueError(f"{field.description}: {value:,} is too large; enter {field.accepted}")
    return value


def _read_tokens(field: W.Text) -> int:
    """A context length: '128K' is 131,072 tokens, as model cards mean it (`llmmem.units.parse_context`)."""
    return _read_count(field, parse_context)


def _gpu_dropdown(gpu) -> W.Dropdown:
    return _dropdown(gpu_names(), get_gpu(gpu).name, "GPU type")


class View(NamedTuple):
    """What a calculator's `_compute` returns; `Calculator` draws it."""

    breakdown: Breakdown
    headline: str  # one line of plain text: what `summary()` returns
    gpu: GPU  # the capacity the bar is drawn against
    n_gpus: int  # cards drawn as dashed lines (1 for a per-GPU breakdown)
    fits: bool  # the badge's colour: green when it fits, red when not
    badge: str  # the badge's words: "fits on 1 x H100-80GB", "needs 3 x H100-80GB"
    lines: tuple = ()  # more arithmetic, shown under the breakdown's own notes
    extra_html: str = ""  # drawn under everything (the compare-formats table)


class ModelPicker:
    """A catalog model, a Hugging Face id ("org/name", its config.json read from the local HF cache, or fetched
    when online), the user's own config.json (FileUpload), or (serving only) just a size."""

    def __init__(self, model="llama-3.1-8b", allow_size=False, hub_cache=None, download=True):
        options = [("by size", BY_SIZE)] if allow_size else []
        options += [(name, name) for name in catalog_names()]
        options += [("Hugging Face id (type it)", HUB), ("my config.json (upload)", UPLOADED)]
        self.model = _dropdown(options, model, "Model")
        # On Enter, not per keystroke: a name typed halfway is not worth a look-up (or a download).
        self.hub = W.Text(value="", description="or HF id", placeholder="org/name, then Enter",
                          continuous_update=False, style=STYLE, layout=NARROW,
                          tooltip="a Hugging Face model id such as meta-llama/Llama-3.1-8B, or a catalog name")
        self.upload = W.FileUpload(accept=".json,application/json", multiple=False, description="config.json")
        self.hub_cache, self.download = hub_cache, download  # where from_hub looks; whether it may fetch
        self._uploaded = None  # a ModelSpec, or the ValueError that reading the file raised
        self._hub = None  # the same for the Hugging Face id
        self.upload.observe(self._read_upload, names="value")  # before the calculator's observer: it runs first
        self.hub.observe(self._read_hub, names="value")
        self.controls = (self.model, self.hub, self.upload)
        self.box = W.HBox([self.model, self.hub, self.upload])

    def _read_hub(self, change):
        text = str(change["new"]).strip()
        if not text:
            return
        if text.lower() in catalog_names():  # a catalog name typed in the box: pick it
            self.model.value = text.lower()
            return
        try:
            self._hub = self._from_hub(text)
        except Exception as err:
            if not isinstance(err, (ValueError, *(kind for kind, _ in EXPECTED_ERRORS))):
                LOG.exception("reading a Hugging Face config failed unexpectedly")
            self._hub = ValueError(_shorten(f"or HF id: {describe_error(err)}"))
        self.model.value = HUB

    def _from_hub(self, repo_id: str) -> ModelSpec:
        from .checkpoint import from_hub

        quoted = _shorten(repr(repo_id), 80)
        if repo_id.count("/") != 1 or not all(repo_id.split("/")):
            raise ValueError(f"{quoted} is neither a catalog model nor a Hugging Face id like "
                             "meta-llama/Llama-3.1-8B")
        try:
            return from_hub(repo_id, cache_dir=self.hub_cache)
        except ImportError:
            raise ValueError("reading a Hugging Face id needs the huggingface_hub package; upload the model's "
                             "config.json instead") from None
        except ValueError:  # not in the local cache
            if not self.download:
                raise
        try:
            return from_hub(repo_id, cache_dir=self.hub_cache, download=True)
        except ValueError:
            raise
        except Exception as err:  # offline, unknown or gated repository: huggingface_hub's own errors
            raise ValueError(f"{quoted} is not in the local Hugging Face cache and could not be fetched "
                             f"({type(err).__name__}: offline, misspelt, or gated?); run `hf download {repo_id} "
                             "config.json` where there is a network, or upload its config.json") from None

    def _read_upload(self, change):
        files = change["new"]
        if not files:
            return
        name = files[0].get("name", "config.json")
        try:
            cfg = json.loads(bytes(files[0]["content"]).decode("utf-8"))
            self._uploaded = ModelSpec.from_hf_config(cfg)
            top = FIELD_KINDS["size"][1]
            if self._uploaded.num_params() > top:  # a 400-digit vocab_size is refused here, by name
                raise ValueError(f"it describes {self._uploaded.num_params():.3g} parameters, more than {top:.0e}")
        except Exception as err:  # JSON nested 100k deep (RecursionError), "model_type": ["llama"] (TypeError)...
            if not isinstance(err, (ValueError, *(kind for kind, _ in EXPECTED_ERRORS))):
                LOG.exception("reading an uploaded config.json failed unexpectedly")
            self._uploaded = ValueError(_shorten(f"{name} could not be used: {describe_error(err)}"))
        self.model.value = UPLOADED

    def spec(self) -> ModelSpec:
        """The chosen model's spec; ValueError (shown in red) when there is none."""
        if self.model.value == HUB:
            if self._hub is None:
                raise ValueError("type a Hugging Face id such as meta-llama/Llama-3.1-8B in 'or HF id', then Enter")
            if isinstance(self._hub, ValueError):
                raise self._hub
            return self._hub
        if self.model.value == UPLOADED:
            if self._uploaded is None:
                raise ValueError("upload a Hugging Face config.json (the button beside Model), or pick a model")
            if isinstance(self._uploaded, ValueError):
                raise self._uploaded
            return self._uploaded
        if self.model.value == BY_SIZE:
            raise ValueError("this calculator needs an architecture: pick a model or upload a config.json")
        return ModelSpec.from_catalog(self.model.value)


class Calculator:
    """The shared part: wire the controls, call `_compute`, draw the result or a red error."""

    css_class = "llmmem-calculator"

    def _finish(self, rows, controls):
        """Call at the end of a subclass's __init__ with its rows of widgets and every input control."""
        self.result = W.HTML()
        self.breakdown, self.n_gpus, self.error, self._headline, self.fits = None, None, None, "", None
        for control in controls:
            control.observe(self._update, names="value")
        self.widget = W.VBox([*rows, self.result])
        self.widget.add_class("llmmem-calculator")
        self.widget.add_class(self.css_class)
        self._update()

    def _compute(self) -> Any:  # a View, or what the subclass's own `_draw` reads
        raise NotImplementedError

    def _update(self, change=None):
        try:
            view = self._compute()
            page = self._draw(view)
        except Exception as err:  # every failure replaces the answer with a red message; the next input recovers
            if not isinstance(err, (ValueError, *(kind for kind, _ in EXPECTED_ERRORS))):
                LOG.exception("%s failed on unexpected input", type(self).__name__)
            self.breakdown, self.n_gpus, self.error, self.fits = None, None, self._name_field(err), None
            self.result.value = error_html(self.error)
            return
        self.error = None
        self.result.value = page

    def _draw(self, view: Any) -> str:
        """The page for what `_compute` returned (a `View` here); records the answer's state. A calculator whose
        answer is not memory on a GPU (parameter counts) returns its own kind of view and draws it itself."""
        self._check_finite(view)
        self.breakdown, self.n_gpus, self._headline = view.breakdown, view.n_gpus, view.headline
        self.fits = view.fits
        lines = "".join(f"<li>{html.escape(plain_note(n))}</li>" for n in (*view.breakdown.notes, *view.lines))
        return (
            f"{_headline_html(view.headline)}<br>{badge_html(view.fits, view.badge)}"
            f'<div style="color:#555;font-size:13px">{html.escape(typeset(view.breakdown.title))}</div>'
            f"{breakdown_bar_html(view.breakdown, view.gpu.memory_bytes, view.n_gpus, view.gpu.name)}"
            f"<ul style='margin:4px 0;font-size:13px'>{lines}</ul>{view.extra_html}"
        )

    def _name_field(self, err: BaseException) -> str:
        """The message, led by the field's label when the library named its keyword ('n_gpus (100) must ...')."""
        text = typeset(describe_error(err))
        first = re.match(r"[a-z_]+", text)
        labels = {"n_gpus": getattr(getattr(self, "gpus", None), "description", None),
                  "seq_len": getattr(getattr(self, "seq_len", None), "description", None),
                  "batch": getattr(getattr(self, "batch", None), "description", None),
                  "rank": getattr(getattr(self, "rank", None), "description", None)}
        label = labels.get(first.group(0)) if first else None
        return f"{label}: {text}" if label and not text.startswith(label) else text

    @staticmethod
    def _check_finite(view: View) -> None:
        total = float(view.breakdown.total)  # OverflowError for a 1000-digit integer: caught by the caller
        if total != total or total in (float("inf"), float("-inf")):
            raise ValueError("the inputs give a memory too large to compute; use smaller numbers")

    def summary(self) -> str:
        """The result in one line of plain text (what the HTML's headline says), or the error."""
        if self.error is not None:
            return f"error: {self.error}"
        return typeset(self._headline)

    def __repr__(self):
        return f"{type(self).__name__}: {self.summary()}"

    def _ipython_display_(self):
        from IPython.display import display

        # The widget's own bundle, with this short text instead of the VBox repr (which lists every control
        # and would change whenever a control is added; nbval compares text/plain).
        bundle = self.widget._repr_mimebundle_()
        bundle["text/plain"] = repr(self)
        display(bundle, raw=True)


class ServingCalculator(Calculator):
    """Model size (or a catalog model, or a config.json), bits or a weight format, GPU -> serving memory
    by the quick rule of the two source articles (weights x overhead) and the number of GPUs."""

    css_class = "llmmem-serving"

    def __init__(self, size="70B", bits=16, gpu="A100-80GB", overhead=1.2, model=BY_SIZE, fmt=SEED_FORMAT):
        self.picker = ModelPicker(model, allow_size=True)
        self.model, self.upload, self.hub = self.picker.model, self.picker.upload, self.picker.hub
        self.size = _count(size, "Model size", "size", "70B, 8e9, 1.5T")
        self.fmt = _dropdown([("by bits (quick rule)", SEED_FORMAT)] + [(f, f) for f in format_names()], fmt,
                             "Weight format")
        self.bits = _dropdown(BITS_OPTIONS, bits, "Bits")
        self.gpu = _gpu_dropdown(gpu)
        # Not a BoundedFloatText: that silently clamps 5 to 3 and 0.5 to 1; out of range is a red message instead.
        self.overhead = W.FloatText(value=overhead, step=0.05, description="Overhead \u00d7", style=STYLE,
                                    layout=NARROW, tooltip="a multiplier from 1.0 (none) to 3.0; 1.2 = 20 % extra")
        controls = (*self.picker.controls, self.size, self.fmt, self.bits, self.gpu, self.overhead)
        rows = [self.picker.box, W.HBox([self.size, self.fmt, self.bits]), W.HBox([self.gpu, self.overhead])]
        self._finish(rows, controls)

    def _weights(self):
        """(what weight_bytes / serving_breakdown take: a spec or a count, the parameter count)."""
        self.size.disabled = self.model.value != BY_SIZE
        self.bits.disabled = self.fmt.value != SEED_FORMAT
        if self.model.value == BY_SIZE:
            count = _read_count(self.size)
            return count, count
        spec = self.picker.spec()
        return spec, spec.num_params()

    def _overhead(self) -> float:
        value = self.overhead.value
        if not 1 <= value <= 3:  # refused, not clamped
            raise ValueError(f"Overhead \u00d7: {value:g} is out of range; enter a multiplier from 1.0 (none) to "
                             "3.0 (1.2 = 20 % extra)")
        return value

    def _compute(self) -> View:
        model, count = self._weights()
        fmt = None if self.fmt.value == SEED_FORMAT else self.fmt.value
        if fmt is not None and self.model.value == BY_SIZE and pure_block_type(fmt):
            raise ValueError(f"Weight format: {fmt} mixes block types layer by layer (llama.cpp), so a size alone "
                             f"is not enough; pick a model in the Model list, or choose {pure_block_type(fmt)}, "
                             "its main block type")
        weights_of = count if fmt is None else model
        overhead = self._overhead()
        breakdown = serving_breakdown(weights_of, bits=self.bits.value, overhead=overhead, fmt=fmt)
        card = get_gpu(self.gpu.value)
        n_gpus, arithmetic = gpus_needed_explained(breakdown.total, gpu=card)
        badge = f"fits on 1 x {card.name}" if n_gpus <= 1 else f"needs {n_gpus} x {card.name}"
        table = compare_table_html(compare_serving_formats(model, card, overhead=overhead), card,
                                   f"Weights in each format \u00d7 {overhead:g} overhead, on {card.name} cards")
        return View(breakdown, f"{format_bytes(breakdown.total)} -> {n_gpus} x {card.name}", card, n_gpus,
                    n_gpus <= 1, badge, (arithmetic,), table)


class InferenceCalculator(Calculator):
    """A model, weight and KV-cache formats, context, batch, TP and a GPU -> memory per GPU with the KV cache,
    and the longest context that fits."""

    css_class = "llmmem-inference"

    def __init__(self, model="llama-3.1-8b", weights="bf16", kv_cache="bf16", seq_len=8192, batch=1, tp=1,
                 gpu="H100-80GB"):
        self.picker = ModelPicker(model)
        self.model, self.upload, self.hub = self.picker.model, self.picker.upload, self.picker.hub
        self.weights = _dropdown(format_names(), weights, "Weights")
        self.kv_cache = _dropdown(list(KV_CACHE_FORMATS), kv_cache, "KV cache")
        self.seq_len = _count(seq_len, "Context", "tokens", "8192, 128K")
        self.batch = _count(batch, "Batch", "batch", "1")
        self.tp = _dropdown((1, 2, 4, 8, 16), tp, "GPU count (TP)")
        self.gpu = _gpu_dropdown(gpu)
        controls = (*self.picker.controls, self.weights, self.kv_cache, self.seq_len, self.batch, self.tp, self.gpu)
        rows = [self.picker.box, W.HBox([self.weights, self.kv_cache, self.gpu]),
                W.HBox([self.seq_len, self.batch, self.tp])]
        self._finish(rows, controls)

    def _compute(self) -> View:
        spec, card, tp = self.picker.spec(), get_gpu(self.gpu.value), self.tp.value
        seq_len, batch = _read_tokens(self.seq_len), _read_count(self.batch)
        options = dict(weights=self.weights.value, kv_cache=self.kv_cache.value, tp=tp)
        breakdown = inference_memory(spec, batch=batch, seq_len=seq_len, **options)
        longest = max_context(spec, card, batch=batch, **options)
        if longest is None:
            context = "any context fits: every layer has a sliding window, so the KV cache stops growing"
        elif longest == 0:
            context = f"no context fits: even 1 token overflows one {card.name} at batch {batch}"
        else:
            context = f"longest context that fits at batch {batch}: {longest:,} tokens per sequence"
        headline = f"{format_bytes(breakdown.total)} per GPU (TP={tp}): {_serving_fits_text(breakdown.total, card)}"
        # The same rule as the longest context above and the compare table below (serving_gpus): 90 % of a card.
        fits, badge = _per_gpu_verdict(breakdown.total, card, tp, serving_capacity(card))
        rows = compare_inference_formats(spec, card, kv_cache=self.kv_cache.value, batch=batch, seq_len=seq_len)
        table = compare_table_html(rows, card, f"Each weight format at the fewest {card.name} (TP = 1, 2, 4, 8, 16) "
                                               f"that hold it, {self.kv_cache.value} KV cache, batch {batch} "
                                               f"\u00d7 {seq_len:,} tokens")
        return View(breakdown, headline, card, 1, fits, badge, (context,), table)


class TrainingCalculator(Calculator):
    """A model, precision, optimizer, checkpointing, batch and sequence -> training memory on one GPU."""

    css_class = "llmmem-training"

    def __init__(self, model="llama-3.2-1b", precision="mixed-bf16", optimizer="adamw", recompute="none",
                 attention="sdpa", batch=1, seq_len=4096, gpu="H100-80GB"):
        self.picker = ModelPicker(model)
        self.model, self.upload, self.hub = self.picker.model, self.picker.upload, self.picker.hub
        self.precision = _dropdown(PRECISIONS, precision, "Precision")
        self.optimizer = _dropdown(OPTIMIZERS, optimizer, "Optimizer")
        self.recompute = _dropdown(RECOMPUTE, recompute, "Checkpointing")
        self.attention = _dropdown(ATTENTION, attention, "Attention")
        self.batch = _count(batch, "Batch", "batch", "1")
        self.seq_len = _count(seq_len, "Sequence", "tokens", "4096")
        self.gpu = _gpu_dropdown(gpu)
        controls = (*self.picker.controls, self.precision, self.optimizer, self.recompute, self.attention,
                    self.batch, self.seq_len, self.gpu)
        rows = [self.picker.box, W.HBox([self.precision, self.optimizer, self.gpu]),
                W.HBox([self.recompute, self.attention]), W.HBox([self.batch, self.seq_len])]
        self._finish(rows, controls)

    def _compute(self) -> View:
        spec, card = self.picker.spec(), get_gpu(self.gpu.value)
        breakdown = training_memory(spec, precision=self.precision.value, optimizer=self.optimizer.value,
                                    batch=_read_count(self.batch), seq_len=_read_tokens(self.seq_len),
                                    recompute=self.recompute.value, attention=self.attention.value)
        headline = f"{format_bytes(breakdown.total)} to train on one GPU: {_fits_text(breakdown.total, card)}"
        fits, badge = _per_gpu_verdict(breakdown.total, card)
        return View(breakdown, headline, card, 1, fits, badge,
                    ("more than one GPU: see the many-GPUs calculator (ZeRO, TP, PP)",))


class FinetuneCalculator(Calculator):
    """A model, LoRA rank and targets, QLoRA or not, batch and sequence -> fine-tuning memory on one GPU."""

    css_class = "llmmem-finetune"

    # Gradient checkpointing on by default: the QLoRA paper (Dettmers et al. 2023, section 4) and the PEFT/TRL
    # recipes train with it, which is how a 65B model fine-tunes on one 48 GB card.
    def __init__(self, model="llama-3.1-8b", method="LoRA", rank=16, targets="attention", batch=1, seq_len=2048,
                 recompute="full", gpu="A100-80GB"):
        self.picker = ModelPicker(model)
        self.model, self.upload, self.hub = self.picker.model, self.picker.upload, self.picker.hub
        # A dropdown like every other choice, so its label lines up with theirs.
        self.method = _dropdown((("LoRA (16-bit base)", "LoRA"), ("QLoRA (4-bit NF4 base)", "QLoRA")), method,
                                "Method")
        self.rank = _count(rank, "LoRA rank", "rank", "16")
        self.targets = _dropdown(tuple(TARGET_GROUPS), targets, "Targets")
        self.recompute = _dropdown(RECOMPUTE, recompute, "Checkpointing")
        self.batch = _count(batch, "Batch", "batch", "1")
        self.seq_len = _count(seq_len, "Sequence", "tokens", "2048")
        self.gpu = _gpu_dropdown(gpu)
        controls = (*self.picker.controls, self.method, self.rank, self.targets, self.recompute, self.batch,
                    self.seq_len, self.gpu)
        rows = [self.picker.box, W.HBox([self.method, self.gpu]), W.HBox([self.rank, self.targets]),
                W.HBox([self.batch, self.seq_len, self.recompute])]
        self._finish(rows, controls)

    def _compute(self) -> View:
        spec, card = self.picker.spec(), get_gpu(self.gpu.value)
        estimate = qlora_memory if self.method.value == "QLoRA" else lora_memory
        breakdown = estimate(spec, rank=_read_count(self.rank), targets=self.targets.value,
                             batch=_read_count(self.batch), seq_len=_read_tokens(self.seq_len),
                             recompute=self.recompute.value)
        headline = f"{format_bytes(breakdown.total)} with {self.method.value}: {_fits_text(breakdown.total, card)}"
        fits, badge = _per_gpu_verdict(breakdown.total, card)
        return View(breakdown, headline, card, 1, fits, badge)


class ManyGPUCalculator(Calculator):
    """A model, ZeRO stage / FSDP strategy, TP, PP and a GPU count -> training memory per GPU."""

    css_class = "llmmem-many-gpus"

    def __init__(self, model="llama-3.1-70b", n_gpus=64, strategy="zero3", tp=1, pp=1, precision="mixed-bf16",
                 optimizer="adamw", recompute="full", batch=1, seq_len=4096, gpu="H100-80GB"):
        self.picker = ModelPicker(model)
        self.model, self.upload, self.hub = self.picker.model, self.picker.upload, self.picker.hub
        self.gpus = _count(n_gpus, "GPU count", "gpus", "64")
        self.strategy = _dropdown(tuple(STRATEGIES), strategy, "Strategy")
        self.tp = _dropdown((1, 2, 4, 8, 16), tp, "Tensor (TP)")
        self.pp = _dropdown((1, 2, 4, 8, 16, 32), pp, "Pipeline (PP)")
        self.precision = _dropdown(PRECISIONS, precision, "Precision")
        self.optimizer = _dropdown(OPTIMIZERS, optimizer, "Optimizer")
        self.recompute = _dropdown(RECOMPUTE, recompute, "Checkpointing")
        self.batch = _count(batch, "Micro-batch", "batch", "1")
        self.seq_len = _count(seq_len, "Sequence", "tokens", "4096")
        self.gpu = _gpu_dropdown(gpu)
        controls = (*self.picker.controls, self.gpus, self.strategy, self.tp, self.pp, self.precision,
                    self.optimizer, self.recompute, self.batch, self.seq_len, self.gpu)
        rows = [self.picker.box, W.HBox([self.gpus, self.strategy, self.gpu]), W.HBox([self.tp, self.pp]),
                W.HBox([self.precision, self.optimizer, self.recompute]), W.HBox([self.batch, self.seq_len])]
        self._finish(rows, controls)

    def _compute(self) -> View:
        spec, card, n = self.picker.spec(), get_gpu(self.gpu.value), _read_count(self.gpus)
        breakdown = sharded_training_memory(spec, n, strategy=self.strategy.value, tp=self.tp.value,
                                            pp=self.pp.value, precision=self.precision.value,
                                            optimizer=self.optimizer.value, batch=_read_count(self.batch),
                                            seq_len=_read_tokens(self.seq_len), recompute=self.recompute.value)
        headline = f"{format_bytes(breakdown.total)} per GPU on {n} GPUs: {_fits_text(breakdown.total, card)}"
        fits, badge = _per_gpu_verdict(breakdown.total, card)
        return View(breakdown, headline, card, 1, fits, badge.replace("1 \u00d7", "each", 1))


CALCULATORS = {"serving": ServingCalculator, "inference": InferenceCalculator, "training": TrainingCalculator,
               "finetune": FinetuneCalculator, "many_gpus": ManyGPUCalculator}
