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

import errno
import json
import math
import os
import re
import stat
import struct
from pathlib import Path
from typing import Any

from .model import ModelSpec
from .validation import MissingFileError, quote

__all__ = [
    "MAX_HEADER_BYTES",
    "MAX_INDEX_BYTES",
    "MAX_JSON_DEPTH",
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


# ====================================================================== reading files safely

# A real index is a few hundred kB (DeepSeek-V3's model.safetensors.index.json: 8.9 MB for 91,000 tensors);
# 64 MB is 7x that.
MAX_INDEX_BYTES = 64_000_000
# Nesting depth of any JSON read here: a safetensors header is 3 deep, an index 2, a config.json 3-4;
# Python's json parser recurses once per level (a 100,000-deep file ends in RecursionError).
MAX_JSON_DEPTH = 32

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_EMPTY_PAIR = re.compile(r"\[\]|\{\}")


def _open_regular(path: str | os.PathLike) -> tuple[int, int]:
    """(file descriptor, size) of a regular file; a FIFO, device or folder is refused without blocking.

    ``os.stat`` + ``S_ISREG`` before opening, then ``O_NONBLOCK`` and ``fstat`` on what was opened (a file
    swapped for a FIFO in between is refused too). FileNotFoundError for a missing file, as open() would.
    """
    where = Path(path).name
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise MissingFileError(errno.ENOENT, f"no file {quote(where)} there") from None
    except (OSError, ValueError) as err:  # name too long, embedded NUL, permission, loop of symlinks ...
        raise ValueError(f"cannot read {quote(where)}: {type(err).__name__} ({err.strerror or 'bad path'})"
                         if isinstance(err, OSError) else f"cannot read {quote(where)}: not a usable path") from None
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{quote(where)} is not a regular file (a folder, FIFO or device): not read")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):  # pragma: no cover - a race: swapped after the first stat
        os.close(fd)
        raise ValueError(f"{quote(where)} is not a regular file: not read")
    return fd, st.st_size


def _read_exact(fd: int, n: int) -> bytes:
    chunks, left = [], n
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 24))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _json_depth_ok(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when the brackets of ``text`` (strings ignored) balance and nest at most ``limit`` deep.

    Runs before ``json.loads``: peels innermost ``[]``/``{}`` pairs, ``limit`` rounds at most, in C regex code.
    """
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    for _ in range(limit + 1):
        if not brackets:
            return True
        peeled = _EMPTY_PAIR.sub("", brackets)
        if peeled == brackets:
            return False  # unbalanced: not JSON anyway
        brackets = peeled
    return not brackets


def parse_json_text(raw: bytes, what: str) -> Any:
    """JSON from bytes, with the depth bounded before parsing; messages never quote the bytes."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{what} is not UTF-8 text, so not JSON (nothing of it is shown)") from None
    if not _json_depth_ok(text):
        raise ValueError(f"{what} is not valid JSON, or nests more than {MAX_JSON_DEPTH} deep (unbalanced brackets)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:  # its message gives a position, never the content
        raise ValueError(f"{what} is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    except RecursionError:  # pragma: no cover - the depth check above comes first
        raise ValueError(f"{what} is nested too deeply") from None


def read_json_file(path: str | os.PathLike, max_bytes: int, what: str) -> Any:
    """The JSON in a regular file of at most ``max_bytes`` bytes (size checked before reading)."""
    fd, size = _open_regular(path)
    try:
        if size > max_bytes:
            raise ValueError(f"{what} is {size:,} bytes; at most {max_bytes:,} are read (this is not a real one)")
        raw = _read_exact(fd, size)
    finally:
        os.close(fd)
    return parse_json_text(raw, what)


# ====================================================================== one .safetensors file


def read_safetensors_header(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """The tensor table of a ``.safetensors`` file: ``{name: {"dtype", "shape", "data_offsets"}}``.

    Reads only the first 8 + N bytes of a regular file (a FIFO or device is refused, never opened for
    reading). ``__metadata__`` is left out (it must be a str -> str object). Raises ``ValueError`` when the
    file is not a valid safetensors file: too short, a header size above :data:`MAX_HEADER_BYTES` (checked
    *before* reading it), a header longer than the file, JSON that does not parse or nests too deep, or
    tensors whose shapes, dtypes or offsets do not fit the data that follows or overlap. Messages never
    show the file's bytes.
    """
    path = Path(path)
    fd, file_size = _open_regular(path)
    where = quote(path.name)
    try:
        head = _read_exact(fd, 8)
        if len(head) < 8:
            raise ValueError(f"{where} is {file_size} bytes: too short for a safetensors file "
                             "(it must start with an 8-byte header size)")
        (n,) = struct.unpack("<Q", head)
        if n > MAX_HEADER_BYTES:
            raise ValueError(f"{where} is not a safetensors file (or it is corrupt): its first 8 bytes do not "
                             f"give a header size of at most {MAX_HEADER_BYTES:,} bytes")
        if 8 + n > file_size:
            raise ValueError(f"{where} declares a header longer than the {file_size:,}-byte file: the file is "
                             "truncated, or not a safetensors file")
        raw = _read_exact(fd, n)
    finally:
        os.close(fd)
    header = parse_json_text(raw, f"{where}: the header")
    if not isinstance(header, dict):
        raise ValueError(f"{where}: the header must be a JSON object; got {type(header).__name__}")
    metadata = header.pop("__metadata__", None)
    if metadata is not None and (not isinstance(metadata, dict)
                                 or not all(isinstance(v, str) for v in metadata.values())):
        raise ValueError(f"{where}: __metadata__ must be an object of strings")
    data_size = file_size - 8 - n
    for name, info in header.items():
        _check_tensor(where, name, info, data_size)
    spans = sorted((info["data_offsets"][0], info["data_offsets"][1], name) for name, info in header.items())
    for (_, end, first), (begin, _, second) in zip(spans, spans[1:], strict=False):
        if begin < end:
            raise ValueError(f"{where}: tensors {quote(first, 40)} and {quote(second, 40)} overlap in the file "
                             "(data_offsets): corrupt or crafted header")
    return header


def _check_tensor(file: str, name: str, info: Any, data_size: int) -> None:
    where = f"{file}: tensor {quote(name, 60)}"
    if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= info.keys():
        raise ValueError(f"{where} must have 'dtype', 'shape' and 'data_offsets'; got {quote(info)}")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(dtype, str) or dtype not in SAFETENSORS_DTYPE_BITS:
        raise ValueError(f"{where} has unknown dtype {quote(dtype, 20)}; known: {', '.join(SAFETENSORS_DTYPE_BITS)}")
    if (not isinstance(shape, list) or len(shape) > 64
            or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**64 for d in shape)):
        raise ValueError(f"{where}: shape must be a list of at most 64 non-negative integers; got {quote(shape)}")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= data_size):
        raise ValueError(f"{where}: data_offsets {quote(offsets)} must be [begin, end] with "
                         f"0 <= begin <= end <= {data_size:,} (the bytes after the header): truncated file?")
    expected = math.ceil(math.prod(shape) * SAFETENSORS_DTYPE_BITS[dtype] / 8)
    if offsets[1] - offsets[0] != expected:
        raise ValueError(f"{where}: {dtype} {shape} needs {expected:,} bytes but data_offsets span "
                         f"{offsets[1] - offsets[0]:,}")


# ====================================================================== sharded checkpoints


def _plain_shard_name(name: Any, index: str) -> str:
    """A shard file name as an index may give it: a plain ``*.safetensors`` name inside the index's folder."""
    if (not isinstance(name, str) or not name or len(name) > 255 or "/" in name or "\\" in name or "\0" in name
            or name in (".", "..") or os.path.isabs(name) or ":" in name or not name.endswith(".safetensors")):
        raise ValueError(f"{index} names a shard {quote(name, 60)}; shards must be plain '.safetensors' file "
                         "names in the index's own folder (no paths): refused, nothing outside was opened")
    return name


def read_safetensors_index(path: str | os.PathLike) -> dict[str, Any]:
    """A ``model.safetensors.index.json``: ``{"total_size": bytes or None, "weight_map": {tensor: shard}}``.

    Every shard must be a plain file name (no ``/``, ``\\``, ``..``, absolute path); the file must be a regular
    file of at most :data:`MAX_INDEX_BYTES`.
    """
    path = Path(path)
    where = quote(path.name)
    index = read_json_file(path, MAX_INDEX_BYTES, where)
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict):
        raise ValueError(f"{where} must hold a 'weight_map' object of tensor name -> shard file name")
    for shard in weight_map.values():
        _plain_shard_name(shard, where)
    metadata = index.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise ValueError(f"{where}: 'metadata' must be an object")
    total = (metadata or {}).get("total_size")
    if total is not None and (isinstance(total, bool) or not isinstance(total, int) or not 0 <= total < 2**64):
        raise ValueError(f"{where}: metadata.total_size must be a whole number of bytes; got {quote(total, 40)}")
    return {"total_size": total, "weight_map": weight_map}


def _inside(folder: Path, candidate: Path) -> Path:
    """``candidate`` (a file in ``folder``) if its resolved path stays inside the folder, else ValueError.

    One exception, the Hugging Face cache layout: a file in ``.../snapshots/<revision>/`` is a symlink to
    ``.../blobs/<hash>``, so there the blobs folder of the same repository is inside too.
    """
    root = folder.resolve()
    allowed = [root]
    if root.parent.name == "snapshots":
        allowed.append(root.parent.parent / "blobs")
    target = candidate.resolve()
    if not any(target.parent == a or a in target.parents for a in allowed):
        raise ValueError(f"{quote(candidate.name, 60)} in the checkpoint folder leads outside it (a symlink?): "
                         "refused, not read")
    return target


def _shards(path: Path) -> list[Path]:
    """The .safetensors files that make up the checkpoint at ``path`` (file, index or folder)."""
    if path.is_dir():
        if (path / INDEX_NAME).is_file():
            return _shards(path / INDEX_NAME)
        files = sorted(path.glob("*.safetensors"))
        if not files:
            raise ValueError(f"no {INDEX_NAME} and no .safetensors file in the folder {quote(path.name)}")
        return [_inside(path, f) for f in files]
    if path.name.endswith(".index.json"):
        index = read_safetensors_index(path)
        names = sorted(set(index["weight_map"].values()))
        missing = [n for n in names if not (path.parent / n).is_file()]
        if missing:
            hint = ""
            if index["total_size"] is not None:
                hint = (f"; the index alone says total_size = {index['total_size']:,} bytes "
                        "(divide by the bytes per parameter when every tensor has the same dtype)")
            raise ValueError(f"{len(missing)} of the {len(names)} shards named by {quote(path.name)} are not in "
                             f"its folder (first: {quote(missing[0], 60)}){hint}")
        return [_inside(path.parent, path.parent / n) for n in names]
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
        raise ValueError(f"repo_id must look like 'org/name' (e.g. 'meta-llama/Llama-3.1-8B'); got {quote(repo_id)}")
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
        raise ValueError(f"config.json of {quote(repo_id)} is not in the local Hugging Face cache; fetch it with "
                         f"`hf download {repo_id} config.json`, or call from_hub(..., download=True)")
    return ModelSpec.from_hf_config(path, name=repo_id)
