"""The checkpoint's own quantization: read ``quantization_config`` and count the bytes it stores, tensor by tensor.

A quantized checkpoint says in its ``config.json`` how it is stored, and what it leaves alone. Meta's
Llama-3.1-405B-Instruct-FP8 (``fbgemm_fp8``) keeps every attention projection, the first and last layers
and the LM head in bf16 (``modules_to_not_convert``); RedHatAI's compressed-tensors checkpoints list an
``ignore`` set; gpt-oss stores only its experts in MXFP4. Counting every linear layer in the nominal format
(what a plain ``weight_bytes(spec, "fp8")`` does) is 17 % low for the 405B: this module follows the file.

Supported ``quant_method`` values, and what each stores for a rows x cols Linear (rows = out features):

* ``fbgemm_fp8``: FP8 E4M3 + one fp32 scale per output row (FBGEMM row-wise).
* ``fp8``: FP8 E4M3 + one fp32 scale per tensor, or per ``weight_block_size`` block (DeepSeek-V3, Qwen3-FP8).
* ``compressed-tensors``: per ``config_groups`` entry, ``weights.num_bits`` of ``type`` int/float with scales
  by ``strategy`` (tensor: one fp32; channel: one fp32 per row; group: one 16-bit scale per ``group_size``
  inputs, plus a ``num_bits`` zero point when not ``symmetric``; block: one fp32 per block).
* ``gptq``: ``bits``-bit weights, an fp16 scale per ``group_size`` inputs (``-1``: one group per row), a
  ``bits``-bit zero point per group unless ``sym`` (vLLM's Marlin kernels drop symmetric zero points), and
  with ``desc_act`` two int32 per input feature (``g_idx`` and its sort permutation, kept by gptq_marlin).
* ``awq``: ``bits``-bit weights, fp16 scales and ``bits``-bit zero points per ``group_size`` inputs.
* ``bitsandbytes``: ``load_in_4bit`` (nf4 / fp4: blocks of 64 with an fp32 absmax; ``bnb_4bit_use_double_quant``:
  8-bit absmax + an fp32 per 256 blocks) or ``load_in_8bit`` (int8 + an fp32 scale per row).
* ``mxfp4``: the routed experts in OCP MXFP4 (blocks of 32 with an E8M0 scale); every other tensor 16-bit.

What no scheme here quantizes (the loaders build them unquantized): embeddings, every 1-D tensor (norms,
biases, sinks), MoE routers, the LM head (GPTQ's ``lm_head: true`` aside) and a VLM's vision tower and
projector (vLLM's vision encoders are counted in 16 bits here; a checkpoint that quantizes them is rare, and
the notes say so). Names in an ignore list are matched against canonical module paths
("model.layers.3.self_attn.q_proj", "model.layers.3.mlp.experts.gate_proj", "lm_head"): an entry matches
when its dot-separated parts appear in order inside the path ("lm_head", "self_attn",
"model.layers.0.mlp"; a "*" part matches any one part, as gpt-oss writes "model.layers.*.self_attn"),
``re:`` entries are regular expressions (compressed-tensors), a VLM's
"language_model." prefix is dropped, and vLLM's fused names (qkv_proj, gate_up_proj) cover their parts.

Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from math import ceil
from typing import Any

from .model import ModelSpec, Tensor
from .validation import quote

__all__ = ["QuantScheme", "read_quantization", "checkpoint_weight_bytes", "checkpoint_tensor_bytes", "QUANT_METHODS"]

BitsFn = Callable[[int, int], int]  # (rows, cols) -> exact bits of one matrix

QUANT_METHODS = ("fbgemm_fp8", "fp8", "compressed-tensors", "gptq", "awq", "bitsandbytes", "mxfp4")


@dataclass(frozen=True)
class QuantScheme:
    """How a checkpoint stores its linear layers: the bits of one matrix, what it skips, in words."""

    method: str
    bits: BitsFn
    description: str
    ignore: tuple[str, ...] = ()
    experts_only: bool = False  # mxfp4: only routed experts are quantized
    quantize_lm_head: bool = False
    notes: tuple[str, ...] = field(default=())
    element_bits: int = 0  # bits of one stored value (8 for FP8/INT8, 4 for INT4 and NF4): the packed tensor

    @property
    def name(self) -> str:
        """The description's head, short enough for a title: "GPTQ 4-bit, group 128", "FBGEMM FP8 row-wise"."""
        return self.description.split(":")[0]

    def quantizes(self, t: Tensor) -> bool:
        """Whether this checkpoint stores tensor ``t`` quantized (else it is 16-bit)."""
        if t.kind == "vector" or t.component in ("embedding", "norms", "vision_tower", "projector"):
            return False
        if t.kind == "router":
            return False
        if t.component == "lm_head" and not self.quantize_lm_head:
            return False
        if self.experts_only and t.kind != "expert":
            return False
        return not any(_matches(entry, t.path) for entry in self.ignore)


# ---------------------------------------------------------------- matching ignore lists

_FUSED = {"qkv_proj": ("q_proj", "k_proj", "v_proj"), "gate_up_proj": ("gate_proj", "up_proj")}


def _canonical(entry: str) -> str:
    """A module name as our paths spell it: no VLM language_model prefix, no .weight/.bias suffix."""
    if entry.startswith("model.language_model."):
        entry = "model." + entry[len("model.language_model."):]
    elif entry.startswith("language_model."):
        entry = entry[len("language_model."):]
    for suffix in (".weight", ".bias"):
        if entry.endswith(suffix):
            entry = entry[: -len(suffix)]
    return entry


def _matches(entry: str, path: str) -> bool:
    if entry.startswith("re:"):
        pattern = entry[3:]
        return re.match(pattern, path) is not None or re.match(pattern, "language_model." + path) is not None
    parts = _canonical(entry).split(".")
    if parts[-1] in _FUSED:
        return any(_matches(".".join(parts[:-1] + [p]), path) for p in _FUSED[parts[-1]])
    segs, n = path.split("."), len(parts)
    return any(all(p in ("*", s) for p, s in zip(parts, segs[i:i + n], strict=True))
               for i in range(len(segs) - n + 1))


# ---------------------------------------------------------------- reading quantization_config


def _int(q: Mapping[str, Any], key: str, default: int) -> int:
    value = q.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"quantization_config {key!r} must be an integer; got {quote(value)}")
    return value


def _grouped(bits: int, group: int, scale_bits: int, zero_bits: int, per_input_bits: int = 0) -> BitsFn:
    def f(rows: int, cols: int) -> int:
        g = cols if group in (-1, 0) else group
        groups = ceil(cols / g)
        return rows * cols * bits + rows * groups * (scale_bits + zero_bits) + cols * per_input_bits
    return f


def _per_row(bits: int, scale_bits: int) -> BitsFn:
    return lambda rows, cols: rows * cols * bits + rows * scale_bits


def _per_tensor(bits: int) -> BitsFn:
    return lambda rows, cols: rows * cols * bits + 32


def _blocked(bits: int, b_rows: int, b_cols: int) -> BitsFn:
    return lambda rows, cols: rows * cols * bits + ceil(rows / b_rows) * ceil(cols / b_cols) * 32


def _ignore_list(q: Mapping[str, Any], *keys: str) -> tuple[str, ...]:
    for key in keys:
        value = q.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"quantization_config {key!r} must be a list of module names; got {quote(value)}")
        return tuple(value)
    return ()


def read_quantization(q: Mapping[str, Any]) -> QuantScheme:
    """The storage scheme a ``quantization_config`` dict describes; ValueError for one we cannot count."""
    if not isinstance(q, Mapping):
        raise ValueError(f"quantization_config must be a dict; got {type(q).__name__}")
    method = q.get("quant_method")
    if method is None and (q.get("load_in_4bit") or q.get("load_in_8bit")):
        method = "bitsandbytes"
    if method == "fbgemm_fp8":
        return QuantScheme(method, _per_row(8, 32), "FBGEMM FP8 row-wise: fp8 weights + an fp32 scale per row",
                           _ignore_list(q, "modules_to_not_convert"), element_bits=8)
    if method == "fp8":
        block = q.get("weight_block_size")
        ignore = _ignore_list(q, "modules_to_not_convert", "ignored_layers")
        if block:
            if not (isinstance(block, list) and len(block) == 2 and all(isinstance(b, int) and b > 0 for b in block)):
                raise ValueError(f"weight_block_size must be two positive integers; got {quote(block)}")
            return QuantScheme(method, _blocked(8, block[0], block[1]),
                               f"FP8 with an fp32 scale per {block[0]}x{block[1]} block", ignore, element_bits=8)
        return QuantScheme(method, _per_tensor(8), "FP8 with an fp32 scale per tensor", ignore, element_bits=8)
    if method == "compressed-tensors":
        return _compressed_tensors(q)
    if method == "gptq":
        bits, group = _int(q, "bits", 4), _int(q, "group_size", 128)
        sym, desc_act = q.get("sym", True), q.get("desc_act", False)
        return QuantScheme(method, _grouped(bits, group, 16, 0 if sym else bits, 64 if desc_act else 0),
                           f"GPTQ {bits}-bit, group {group}{'' if sym else ', zero points'}"
                           f"{', act-order (g_idx)' if desc_act else ''}",
                           _ignore_list(q, "modules_to_not_convert"), quantize_lm_head=bool(q.get("lm_head", False)),
                           element_bits=bits)
    if method == "awq":
        bits, group = _int(q, "bits", _int(q, "w_bit", 4)), _int(q, "group_size", _int(q, "q_group_size", 128))
        zero = q.get("zero_point", True)
        return QuantScheme(method, _grouped(bits, group, 16, bits if zero else 0),
                           f"AWQ {bits}-bit, group {group}{', zero points' if zero else ''}",
                           _ignore_list(q, "modules_to_not_convert"), element_bits=bits)
    if method == "bitsandbytes":
        skip = _ignore_list(q, "llm_int8_skip_modules")
        if q.get("load_in_4bit"):
            kind = q.get("bnb_4bit_quant_type", "fp4")
            if q.get("bnb_4bit_use_double_quant"):
                def dq(rows: int, cols: int) -> int:
                    blocks = ceil(rows * cols / 64)
                    return rows * cols * 4 + blocks * 8 + ceil(blocks / 256) * 32
                return QuantScheme(method, dq, f"bitsandbytes 4-bit {kind}, double quantization", skip,
                                   element_bits=4)
            return QuantScheme(method, lambda r, c: r * c * 4 + ceil(r * c / 64) * 32,
                               f"bitsandbytes 4-bit {kind}, an fp32 absmax per 64", skip, element_bits=4)
        if q.get("load_in_8bit"):
            return QuantScheme(method, _per_row(8, 32), "bitsandbytes LLM.int8(): int8 + an fp32 scale per row",
                               skip, element_bits=8)
        raise ValueError("a bitsandbytes quantization_config needs load_in_4bit or load_in_8bit")
    if method == "mxfp4":
        return QuantScheme(method, _grouped(4, 32, 8, 0), "MXFP4 experts (4-bit, an E8M0 scale per 32)",
                           _ignore_list(q, "modules_to_not_convert"), experts_only=True, element_bits=4)
    raise ValueError(f"quantization_config quant_method {quote(method)} is not one llmmem can count; supported: "
                     f"{', '.join(QUANT_METHODS)} (or pass an explicit weight format)")


def _compressed_tensors(q: Mapping[str, Any]) -> QuantScheme:
    groups = q.get("config_groups")
    if not isinstance(groups, dict) or not groups:
        raise ValueError("a compressed-tensors quantization_config needs config_groups")
    fns: list[tuple[BitsFn, str, int]] = []
    for name, group in groups.items():
        w = (group or {}).get("weights")
        if not isinstance(w, dict):
            continue
        bits, kind = _int(w, "num_bits", 8), w.get("type", "int")
        strategy, sym = w.get("strategy", "tensor"), w.get("symmetric", True)
        zero = 0 if sym else bits
        if strategy == "tensor":
            fn = _per_tensor(bits)
        elif strategy == "channel":
            fn = _per_row(bits, 32 + zero)
        elif strategy == "group":
            fn = _grouped(bits, _int(w, "group_size", 128), 16, zero)
        elif strategy == "block":
            br, bc = (w.get("block_structure") or [128, 128])[:2]
            fn = _blocked(bits, int(br), int(bc))
        else:
            raise ValueError(f"compressed-tensors group {quote(name)}: unknown weight strategy {quote(strategy)}")
        targets = group.get("targets", ["Linear"])
        if targets not in (["Linear"], ("Linear",)):
            raise ValueError(f"compressed-tensors group {quote(name)} targets {quote(targets)}; "
                             "only ['Linear'] is counted")
        fns.append((fn, f"{kind}{bits} {strategy}{'' if sym else ' asymmetric'}", bits))
    if len(fns) != 1:
        raise ValueError(f"compressed-tensors: expected one weight config group, got {len(fns)}")
    fn, what, bits = fns[0]
    return QuantScheme("compressed-tensors", fn, f"compressed-tensors {what}", _ignore_list(q, "ignore"),
                       element_bits=bits)


def checkpoint_weight_bytes(spec: ModelSpec, quantization: Mapping[str, Any] | None = None,
                            unquantized_bytes: int = 2) -> int:
    """Exact bytes of the weights as the checkpoint stores them (its ``quantization_config``, or the one given).

    Tensors the scheme does not quantize take ``unquantized_bytes`` (2: bf16/fp16) per parameter.
    """
    return sum(b for _, b in checkpoint_tensor_bytes(spec, quantization, unquantized_bytes))


def checkpoint_tensor_bytes(spec: ModelSpec, quantization: Mapping[str, Any] | None = None,
                            unquantized_bytes: int = 2) -> list[tuple[Tensor, int]]:
    """(tensor, exact bytes) for every tensor of ``spec.weight_tensors()``, as the checkpoint stores it."""
    if not isinstance(spec, ModelSpec):
        raise ValueError(f"checkpoint_weight_bytes needs a ModelSpec; got {type(spec).__name__}")
    q = quantization if quantization is not None else spec.quantization
    if q is None:
        raise ValueError(f"{spec.name} has no quantization_config; pass one, or use weight_bytes(spec, fmt)")
    scheme = read_quantization(q)
    return [(t, t.count * ceil(scheme.bits(t.rows, t.cols) / 8) if scheme.quantizes(t) else unquantized_bytes * t.numel)
            for t in spec.weight_tensors()]
