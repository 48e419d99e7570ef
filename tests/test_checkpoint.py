"""Tests for llmmem.checkpoint: safetensors headers written by hand, sharded indexes, the local HF cache."""

import json
import math
import struct
import sys

import pytest

from llmmem.checkpoint import (
    MAX_HEADER_BYTES,
    SAFETENSORS_DTYPE_BITS,
    from_hub,
    read_safetensors_counts,
    read_safetensors_header,
    read_safetensors_index,
    safetensors_total_params,
)
from llmmem.model import ModelSpec


def write_safetensors(path, tensors, metadata=None, pad=0):
    """Write a real .safetensors file: 8-byte little-endian header size, JSON header, zero bytes of data.

    ``tensors``: {name: (dtype, shape)}. Layout as in the safetensors README ("Format").
    """
    header, offset = {}, 0
    for name, (dtype, shape) in tensors.items():
        size = math.ceil(math.prod(shape) * SAFETENSORS_DTYPE_BITS[dtype] / 8)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    if metadata is not None:
        header["__metadata__"] = metadata
    raw = json.dumps(header).encode() + b" " * pad  # trailing spaces are allowed by the format
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(offset))
    return path


def write_raw(path, header_bytes, declared=None, data=b""):
    declared = len(header_bytes) if declared is None else declared
    path.write_bytes(struct.pack("<Q", declared) + header_bytes + data)
    return path


# ---------------------------------------------------------------------------------------- one file


def test_counts_by_dtype_in_one_file(tmp_path):
    f = write_safetensors(tmp_path / "m.safetensors", {
        "a.weight": ("BF16", (64, 32)),
        "b.weight": ("BF16", (7,)),
        "a.weight_scale": ("F32", (2, 3)),
        "c.weight": ("F8_E4M3", (5, 4)),
        "scalar": ("F32", ()),  # shape [] is one element
    }, metadata={"format": "pt"}, pad=5)
    assert read_safetensors_counts(f) == {"BF16": 64 * 32 + 7, "F32": 6 + 1, "F8_E4M3": 20}
    assert safetensors_total_params(f) == 64 * 32 + 7 + 7 + 20
    header = read_safetensors_header(f)
    assert "__metadata__" not in header
    assert header["a.weight"]["shape"] == [64, 32]


def test_sub_byte_dtype_is_counted_by_elements(tmp_path):
    f = write_safetensors(tmp_path / "q.safetensors", {"w": ("F4", (8, 8))})  # 64 elements in 32 bytes
    assert read_safetensors_counts(f) == {"F4": 64}


def test_a_tiny_llama_checkpoint_matches_modelspec(tmp_path):
    # Tensor names and shapes as transformers saves LlamaForCausalLM (nn.Linear weight = (out, in)).
    cfg = {"model_type": "llama", "vocab_size": 100, "hidden_size": 16, "intermediate_size": 40,
           "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2}
    V, h, i, heads, kv, d = 100, 16, 40, 4, 2, 4
    tensors = {"model.embed_tokens.weight": ("BF16", (V, h)), "model.norm.weight": ("BF16", (h,)),
               "lm_head.weight": ("BF16", (V, h))}
    for layer in range(3):
        p = f"model.layers.{layer}."
        tensors |= {
            p + "self_attn.q_proj.weight": ("BF16", (heads * d, h)),
            p + "self_attn.k_proj.weight": ("BF16", (kv * d, h)),
            p + "self_attn.v_proj.weight": ("BF16", (kv * d, h)),
            p + "self_attn.o_proj.weight": ("BF16", (h, heads * d)),
            p + "mlp.gate_proj.weight": ("BF16", (i, h)),
            p + "mlp.up_proj.weight": ("BF16", (i, h)),
            p + "mlp.down_proj.weight": ("BF16", (h, i)),
            p + "input_layernorm.weight": ("BF16", (h,)),
            p + "post_attention_layernorm.weight": ("BF16", (h,)),
        }
    f = write_safetensors(tmp_path / "model.safetensors", tensors)
    assert safetensors_total_params(f) == ModelSpec.from_hf_config(cfg).num_params()
    assert safetensors_total_params(tmp_path) == ModelSpec.from_hf_config(cfg).num_params()  # the folder


# ---------------------------------------------------------------------------------------- sharded


def _sharded(tmp_path, with_index=True):
    write_safetensors(tmp_path / "model-00001-of-00002.safetensors",
                      {"embed.weight": ("BF16", (10, 4)), "norm.weight": ("F32", (4,))})
    write_safetensors(tmp_path / "model-00002-of-00002.safetensors", {"head.weight": ("BF16", (10, 4))})
    index = tmp_path / "model.safetensors.index.json"
    if with_index:
        index.write_text(json.dumps({
            "metadata": {"total_size": 2 * 40 + 4 * 4 + 2 * 40},
            "weight_map": {"embed.weight": "model-00001-of-00002.safetensors",
                           "norm.weight": "model-00001-of-00002.safetensors",
                           "head.weight": "model-00002-of-00002.safetensors"},
        }))
    return index


def test_index_reads_every_shard(tmp_path):
    index = _sharded(tmp_path)
    assert read_safetensors_counts(index) == {"BF16": 80, "F32": 4}
    assert read_safetensors_counts(tmp_path) == {"BF16": 80, "F32": 4}  # the folder uses its index
    assert read_safetensors_index(index)["total_size"] == 176


def test_folder_without_index_reads_all_files(tmp_path):
    _sharded(tmp_path, with_index=False)
    assert safetensors_total_params(tmp_path) == 84


def test_index_shards_only_in_the_index(tmp_path):
    index = _sharded(tmp_path)
    (tmp_path / "stray.safetensors").write_bytes(b"junk")  # not named by the index: not read
    assert safetensors_total_params(index) == 84


def test_missing_shard_is_named_and_total_size_offered(tmp_path):
    index = _sharded(tmp_path)
    (tmp_path / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(ValueError, match=r"1 of the 2 shards.*00002.*total_size = 176"):
        read_safetensors_counts(index)


@pytest.mark.parametrize("text", ["{not json", "[]", '{"weight_map": {"a": 3}}', '{"metadata": {}}'])
def test_bad_index_is_refused(tmp_path, text):
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(text)
    with pytest.raises(ValueError):
        read_safetensors_counts(index)


def test_empty_folder_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no model.safetensors.index.json"):
        read_safetensors_counts(tmp_path)


# ---------------------------------------------------------------------------------------- refusals


def test_absurd_header_size_is_refused_before_reading(tmp_path, monkeypatch):
    f = write_raw(tmp_path / "huge.safetensors", b"{}", declared=MAX_HEADER_BYTES + 1)
    with pytest.raises(ValueError, match="at most 100,000,000"):
        read_safetensors_header(f)
    # 2**64 - 1: the size a random or text file often starts with; still a clean error, no huge read.
    f = write_raw(tmp_path / "text.safetensors", b"", declared=2**64 - 1)
    with pytest.raises(ValueError, match="not a safetensors file"):
        read_safetensors_counts(f)


def test_header_longer_than_file_is_truncated(tmp_path):
    f = write_raw(tmp_path / "cut.safetensors", b'{"a": {}}', declared=1000)
    with pytest.raises(ValueError, match="truncated"):
        read_safetensors_header(f)


def test_data_shorter_than_offsets_is_truncated(tmp_path):
    f = write_safetensors(tmp_path / "m.safetensors", {"w": ("F32", (10,))})
    f.write_bytes(f.read_bytes()[:-4])  # cut the last element
    with pytest.raises(ValueError, match="truncated"):
        read_safetensors_header(f)


@pytest.mark.parametrize("content", [b"", b"\x01\x02\x03"])
def test_file_shorter_than_size_field(tmp_path, content):
    f = tmp_path / "short.safetensors"
    f.write_bytes(content)
    with pytest.raises(ValueError, match="too short"):
        read_safetensors_header(f)


@pytest.mark.parametrize("header", [b"{not json}", b"\xff\xfe{}", b"[1, 2]"])
def test_bad_json_is_refused(tmp_path, header):
    f = write_raw(tmp_path / "bad.safetensors", header)
    with pytest.raises(ValueError, match="header"):
        read_safetensors_header(f)


@pytest.mark.parametrize("info", [
    {"dtype": "BF16", "shape": [2]},  # no data_offsets
    {"dtype": "Q4_K", "shape": [2], "data_offsets": [0, 4]},  # not a safetensors dtype
    {"dtype": "BF16", "shape": [-2], "data_offsets": [0, 4]},
    {"dtype": "BF16", "shape": [2], "data_offsets": [0, 6]},  # 2 BF16 elements are 4 bytes, not 6
    {"dtype": "BF16", "shape": [2], "data_offsets": [4, 0]},
])
def test_inconsistent_tensor_entries_are_refused(tmp_path, info):
    f = write_raw(tmp_path / "bad.safetensors", json.dumps({"w": info}).encode(), data=bytes(8))
    with pytest.raises(ValueError, match="'w'"):
        read_safetensors_header(f)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_safetensors_counts(tmp_path / "nope.safetensors")


# ---------------------------------------------------------------------------------------- HF cache, offline


def _fake_hf_cache(root, repo_id, config, revision="0123456789abcdef0123456789abcdef01234567"):
    """The layout huggingface_hub uses: models--org--name/{refs/main, snapshots/<rev>/config.json}."""
    repo = root / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps(config))


TINY_QWEN = {"model_type": "qwen2", "vocab_size": 320, "hidden_size": 64, "intermediate_size": 96,
             "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
             "tie_word_embeddings": True}


def test_from_hub_reads_the_local_cache_offline(tmp_path, monkeypatch):
    pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _fake_hf_cache(tmp_path, "tiny-org/tiny-qwen", TINY_QWEN)
    spec = from_hub("tiny-org/tiny-qwen", cache_dir=tmp_path)
    assert spec.name == "tiny-org/tiny-qwen"
    assert spec.num_params() == ModelSpec.from_hf_config(TINY_QWEN).num_params()
    assert spec.tie_embeddings and spec.qkv_bias


def test_from_hub_missing_from_cache_says_how_to_fetch(tmp_path, monkeypatch):
    pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _fake_hf_cache(tmp_path, "tiny-org/tiny-qwen", TINY_QWEN)
    with pytest.raises(ValueError, match="hf download other-org/model config.json"):
        from_hub("other-org/model", cache_dir=tmp_path)


@pytest.mark.parametrize("bad", ["llama", "a/b/c", "/name", 42])
def test_from_hub_rejects_bad_repo_ids(bad):
    with pytest.raises(ValueError, match="org/name"):
        from_hub(bad)


def test_from_hub_without_huggingface_hub(monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import now raises ImportError
    with pytest.raises(ImportError, match="pip install huggingface_hub"):
        from_hub("org/name")


def test_checkpoint_module_is_standard_library_only():
    import ast
    from pathlib import Path

    import llmmem.checkpoint as mod

    tree = ast.parse(Path(mod.__file__).read_text())
    top = {n.names[0].name.split(".")[0] for n in tree.body if isinstance(n, ast.Import)}
    top |= {n.module.split(".")[0] for n in tree.body if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
    assert top <= {"__future__", "errno", "json", "math", "os", "re", "stat", "struct", "pathlib", "typing"}
