"""Exact parameter counts from real checkpoints, without loading a single weight.

A ``.safetensors`` file starts with its own table of contents. The format (safetensors README, "Format",
https://github.com/huggingface/safetensors#format) is:

* 8 bytes: ``N``, an unsigned little-endian 64-bit integer, the size of the header;
* ``N`` bytes: a UTF-8 JSON object ``{tensor_name: {"dtype": "BF16", "shape": [4096, 4096],
  "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}}`` (it starts with ``{`` and may be padded
  with trailing spaces);
* the tensor bytes, ``data_offsets`` counted from the end of the header.

So reading 8 + N bytes gives every tensor's dtype and shape: the exact parameter count by dtype of a 140 GB
checkpoint in milliseconds. Sharded checkpoints add ``model.safetensors.index.json``:
``{"metadata": {"total_size": bytes}, "weight_map": {tensor_name: shard_file}}``.

Why our own reader: ``huggingface_hub.parse_safetensors_file_metadata`` / ``get_safetensors_metadata`` read
these headers *on the Hub* (HTTP range requests), and the ``safetensors`` library's ``safe_open`` needs a
tensor framework (numpy, torch, ...); neither reads a local header with the standard library alone. The
format is 20 lines of ``struct`` + ``json``, so this module does it, with the checks the format implies.

:func:`from_hub` builds a :class:`~llmmem.model.ModelSpec` from a ``config.json`` in the local Hugging Face
cache (``huggingface_hub`` is imported only inside it).
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path
from typing import Any

from .model import ModelSpec

__all__ = [
    "MAX_HEADER_BYTES",
    "SAFETENSORS_DTYPE_BITS",
    "read_safetensors_header",
    "read_safetensors_index",
    "read_safetensors_counts",
    "safetensors_total_params",
    "from_hub",
]

# The safetensors library refuses headers above 100 MB ("Header parsing is limited to 100MB to prevent
# parsing extremely large JSON", safetensors README, Notes; MAX_HEADER_SIZE = 100_000_000 in
# safetensors/src/tensor.rs). A real header is a few hundred kB even for DeepSeek-V3's 91,000 tensors.
MAX_HEADER_BYTES = 100_000_000

# Bits per element of each dtype name the format defines (safetensors/src/tensor.rs, enum Dtype).
SAFETENSORS_DTYPE_BITS = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
    "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
    "I32": 32, "U32": 32, "F32": 32,
    "I64": 64, "U64": 64, "F64": 64, "C64": 64,
    "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}

INDEX_NAME = "model.safetensors.index.json"


# ====================================================================== one .safetensors file


def read_safetensors_header(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """The tensor table of a ``.safetensors`` file: ``{name: {"dtype", "shape", "data_offsets"}}``.

    Reads only the first 8 + N bytes. ``__metadata__`` is left out. Raises ``ValueError`` when the file is
    not a valid safetensors file: too short, a header size above :data:`MAX_HEADER_BYTES` (checked *before*
    reading it), a header longer than the file, JSON that does not parse, or tensors whose shapes, dtypes or
    offsets do not fit the data that follows.
    """
    path = Path(path)
    file_size = path.stat().st_size  # FileNotFoundError for a missing file, as open() would
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ValueError(f"{path.name} is {file_size} bytes: too short for a safetensors file "
                             "(it must start with an 8-byte header size)")
        (n,) = struct.unpack("<Q", head)
        if n > MAX_HEADER_BYTES:
            raise ValueError(f"{path.name} declares a {n:,}-byte header; safetensors headers are at most "
                             f"{MAX_HEADER_BYTES:,} bytes, so this is not a safetensors file (or it is corrupt)")
        if 8 + n > file_size:
            raise ValueError(f"{path.name} declares a {n:,}-byte header but the file has only {file_size - 8:,} "
                             "bytes after the size field: the file is truncated")
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path.name}: the header is not valid UTF-8 JSON ({e})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path.name}: the header must be a JSON object; got {type(header).__name__}")
    header.pop("__metadata__", None)
    data_size = file_size - 8 - n
    for name, info in header.items():
        _check_tensor(path.name, name, info, data_size)
    return header


def _check_tensor(file: str, name: str, info: Any, data_size: int) -> None:
    where = f"{file}: tensor {name!r}"
    if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= info.keys():
        raise ValueError(f"{where} must have 'dtype', 'shape' and 'data_offsets'; got {info!r}")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if dtype not in SAFETENSORS_DTYPE_BITS:
        raise ValueError(f"{where} has unknown dtype {dtype!r}; known: {', '.join(SAFETENSORS_DTYPE_BITS)}")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                              for d in shape):
        raise ValueError(f"{where}: shape must be a list of non-negative integers; got {shape!r}")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= data_size):
        raise ValueError(f"{where}: data_offsets {offsets!r} must be [begin, end] with "
                         f"0 <= begin <= end <= {data_size:,} (the bytes after the header): truncated file?")
    expected = math.ceil(math.prod(shape) * SAFETENSORS_DTYPE_BITS[dtype] / 8)
    if offsets[1] - offsets[0] != expected:
        raise ValueError(f"{where}: {dtype} {shape} needs {expected:,} bytes but data_offsets span "
                         f"{offsets[1] - offsets[0]:,}")


# ====================================================================== sharded checkpoints


def read_safetensors_index(path: str | os.PathLike) -> dict[str, Any]:
    """A ``model.safetensors.index.json``: ``{"total_size": bytes or None, "weight_map": {tensor: shard}}``."""
    path = Path(path)
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path.name} is not valid JSON ({e})") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise ValueError(f"{path.name} must hold a 'weight_map' object of tensor name -> shard file name")
    total = (index.get("metadata") or {}).get("total_size")
    return {"total_size": int(total) if total is not None else None, "weight_map": weight_map}


def _shards(path: Path) -> list[Path]:
    """The .safetensors files that make up the checkpoint at ``path`` (file, index or folder)."""
    if path.is_dir():
        if (path / INDEX_NAME).is_file():
            return _shards(path / INDEX_NAME)
        files = sorted(path.glob("*.safetensors"))
        if not files:
            raise ValueError(f"no {INDEX_NAME} and no .safetensors file in the folder {path.name!r}")
        return files
    if path.name.endswith(".index.json"):
        index = read_safetensors_index(path)
        names = sorted(set(index["weight_map"].values()))
        missing = [n for n in names if not (path.parent / n).is_file()]
        if missing:
            hint = ""
            if index["total_size"] is not None:
                hint = (f"; the index alone says total_size = {index['total_size']:,} bytes "
                        "(divide by the bytes per parameter when every tensor has the same dtype)")
            raise ValueError(f"{len(missing)} of the {len(names)} shards named by {path.name} are not in its "
                             f"folder (first: {missing[0]}){hint}")
        return [path.parent / n for n in names]
    return [path]


def read_safetensors_counts(path: str | os.PathLike) -> dict[str, int]:
    """Exact number of parameters per dtype, e.g. ``{"BF16": 8030261248}``, from headers only.

    ``path`` is a ``.safetensors`` file, a ``model.safetensors.index.json`` (its shards must sit beside
    it), or a model folder (its index if it has one, else every ``.safetensors`` file in it). A
    checkpoint stores tied weights once, so for an unquantized checkpoint the total equals
    ``ModelSpec.num_params()``; quantized ones add their scales (often F32), which the dtypes show.
    """
    counts: dict[str, int] = {}
    for shard in _shards(Path(path)):
        for info in read_safetensors_header(shard).values():
            counts[info["dtype"]] = counts.get(info["dtype"], 0) + math.prod(info["shape"])
    return counts


def safetensors_total_params(path: str | os.PathLike) -> int:
    """Total parameters (all dtypes) of the checkpoint at ``path``; see :func:`read_safetensors_counts`."""
    return sum(read_safetensors_counts(path).values())


# ====================================================================== the Hugging Face cache


def from_hub(repo_id: str, cache_dir: str | os.PathLike[str] | None = None, revision: str | None = None,
             download: bool = False) -> ModelSpec:
    """A :class:`ModelSpec` from the ``config.json`` of ``repo_id`` ("org/name") in the local HF cache.

    Looks in ``cache_dir`` (default: the ``huggingface_hub`` cache, ``HF_HUB_CACHE``) without touching the
    network. With ``download=True`` a missing ``config.json`` is fetched from the Hub (a few kB; gated
    models need a token). Needs ``pip install huggingface_hub``.
    """
    if not isinstance(repo_id, str) or repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise ValueError(f"repo_id must look like 'org/name' (e.g. 'meta-llama/Llama-3.1-8B'); got {repo_id!r}")
    try:
        import huggingface_hub
    except ImportError:
        raise ImportError("from_hub needs the huggingface_hub package: pip install huggingface_hub") from None
    cache = None if cache_dir is None else Path(cache_dir)  # huggingface_hub takes a str or a Path
    cached = huggingface_hub.try_to_load_from_cache(repo_id, "config.json", cache_dir=cache, revision=revision)
    if isinstance(cached, str):
        path = cached
    elif download:
        path = huggingface_hub.hf_hub_download(repo_id, "config.json", cache_dir=cache, revision=revision)
    else:
        raise ValueError(f"config.json of {repo_id!r} is not in the local Hugging Face cache; fetch it with "
                         f"`hf download {repo_id} config.json`, or call from_hub(..., download=True)")
    return ModelSpec.from_hf_config(path, name=repo_id)
