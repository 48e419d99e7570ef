import json
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmmem import GB, GiB, MiB, get_gpu, gpu_names, gpus_needed, gpus_needed_explained, serving_memory


def test_catalog_has_current_gpus_each_with_a_source():
    raw = json.loads(resources.files("llmmem").joinpath("data/gpus.json").read_text())["gpus"]
    names = [g["name"] for g in raw]
    assert len(names) >= 12 and len(set(names)) == len(names)
    for required in ("A100-40GB", "A100-80GB", "H100-80GB", "H100-PCIe", "H200", "B200", "L4", "L40S", "T4",
                     "A10G", "RTX-4090", "MI300X"):
        assert required in names
    for g in raw:
        assert g["source"].strip() and g["memory_mib"] > 0
    assert gpu_names() == names


def test_driver_reported_capacities():
    assert get_gpu("A100-80GB").memory_bytes == 80 * GiB  # 81920 MiB
    assert get_gpu("H100-80GB").memory_mib == 81559  # nvidia-smi on an H100 80GB HBM3
    assert get_gpu("T4").memory_bytes == 15 * GiB  # 16 GiB less ECC's 1/16


def test_two_a100_80gb_hold_168_gb_because_each_holds_85_9_gb():
    a100 = get_gpu("A100-80GB")
    assert round(a100.memory_bytes / GB, 1) == 85.9
    assert gpus_needed(serving_memory(70e9, bits=16), gpu="A100-80GB") == 2
    # Had the card held 80 GB (10^9), two would not be enough: 168 > 160.
    assert serving_memory(70e9, bits=16) > 2 * 80 * GB


def test_usable_fraction_and_reserve_change_the_answer():
    need = serving_memory(70e9, bits=16)
    assert gpus_needed(need, gpu="A100-80GB", usable_fraction=0.9) == 3
    # 168 GB only just fits two cards: 1 GiB of context each still fits, 2 GiB does not (2 x 83.75 GB < 168).
    assert gpus_needed(need, gpu="A100-80GB", reserve_bytes=1 * GiB) == 2
    assert gpus_needed(need, gpu="A100-80GB", reserve_bytes=2 * GiB) == 3
    count, text = gpus_needed_explained(need, gpu="A100-80GB")
    assert count == 2 and "168.0 GB / 85.9 GB per A100-80GB = 1.96 -> 2 GPUs" == text


def test_names_and_aliases_are_forgiving():
    assert get_gpu("a100 80gb").name == "A100-80GB"
    assert get_gpu("NVIDIA H100 80GB HBM3").name == "H100-80GB"
    assert get_gpu(get_gpu("L4")) is get_gpu("L4")


@pytest.mark.parametrize("bad", ["A100-90GB", "B300X", "", None, 80])
def test_unknown_gpu_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="GPU"):
        get_gpu(bad)


def test_unknown_gpu_suggests_close_names():
    with pytest.raises(ValueError, match="Did you mean.*A100-80GB"):
        get_gpu("A100-90GB")


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"n_bytes": -1}, "non-negative"),
        ({"n_bytes": float("nan")}, "finite"),
        ({"n_bytes": "1GB"}, "number of bytes"),
        ({"n_bytes": 1, "usable_fraction": 0}, "usable_fraction"),
        ({"n_bytes": 1, "usable_fraction": 1.5}, "usable_fraction"),
        ({"n_bytes": 1, "reserve_bytes": 100 * GiB}, "nothing is left"),
    ],
)
def test_bad_gpus_needed_input(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        gpus_needed(**kwargs)


@given(st.floats(min_value=0, max_value=1e14), st.floats(min_value=0, max_value=1e14),
       st.sampled_from(gpu_names()), st.floats(min_value=0.05, max_value=1.0))
def test_gpus_needed_never_falls_as_memory_grows(a, b, gpu, fraction):
    lo, hi = sorted((a, b))
    n_lo, n_hi = gpus_needed(lo, gpu=gpu, usable_fraction=fraction), gpus_needed(hi, gpu=gpu, usable_fraction=fraction)
    assert 0 <= n_lo <= n_hi
    if hi > 0:
        assert n_hi * get_gpu(gpu).memory_mib * MiB * fraction >= hi * (1 - 1e-12)


def test_every_card_has_bandwidth_and_dense_flops_with_a_datasheet_source():
    raw = json.loads(resources.files("llmmem").joinpath("data/gpus.json").read_text())
    assert "sparsity" in raw["speed_fields"]  # the file says that sparsity figures are not used
    names = [g["name"] for g in raw["gpus"]]
    for required in ("H100-NVL", "H20", "MI325X", "A10G", "RTX-3090", "RTX-5090", "M2-Ultra"):
        assert required in names
    for g in raw["gpus"]:
        assert g["bandwidth_bytes_per_s"] > 1e11, g["name"]
        assert g["speed_source"].strip(), g["name"]
        assert g["dense_flops"] and all(v > 1e12 for v in g["dense_flops"].values()), g["name"]
    assert get_gpu("A100-80GB").bandwidth_bytes_per_s == 2_039_000_000_000
    # H100 SXM: the datasheet's 1,979 TFLOPS bf16 is the sparse figure; dense is half of it.
    assert get_gpu("H100-80GB").peak_flops("bf16") == 989_500_000_000_000
    assert get_gpu("T4").peak_flops("bf16") == get_gpu("T4").peak_flops("fp16")  # no bf16: fp16 stands in
    with pytest.raises(ValueError, match="no dense fp8"):
        get_gpu("A100-80GB").peak_flops("fp8")


def test_apple_unified_memory_gives_the_gpu_a_share():
    raw = {g["name"]: g for g in json.loads(resources.files("llmmem").joinpath("data/gpus.json").read_text())["gpus"]}
    m2 = raw["M2-Ultra"]
    assert m2["memory_mib"] < m2["unified_memory_mib"] and "recommendedMaxWorkingSetSize" in m2["notes"]
