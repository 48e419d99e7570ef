"""The command line, run in-process through main([...]) (plus one real subprocess)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from llmmem import cli
from llmmem.inference import inference_memory
from llmmem.model import ModelSpec, catalog_names

ROOT = Path(__file__).resolve().parents[1]


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_serve_a_size_prints_the_seed_answer_and_the_gpus(capsys):
    code, out, err = run(capsys, "serve", "70B", "--bits", "16", "--gpu", "A100-80GB")
    assert code == 0 and err == ""
    assert "168.0 GB" in out and "156.5 GiB" in out
    assert "2 x A100-80GB" in out and "= 1.96 -> 2 GPUs" in out


def test_serve_json_has_the_bytes(capsys):
    code, out, _ = run(capsys, "serve", "70B", "--bits", "16", "--json")
    data = json.loads(out)
    assert code == 0 and data["total"]["bytes"] == 168_000_000_000
    assert data["total"]["GB"] == 168.0 and round(data["total"]["GiB"], 1) == 156.5
    assert data["components"]["weights"]["bytes"] == 140_000_000_000
    assert data["gpus"] == {"gpu": "A100-80GB", "memory_bytes": 80 * 2**30, "count": 2,
                            "arithmetic": "168.0 GB / 85.9 GB per A100-80GB = 1.96 -> 2 GPUs"}


def test_serve_a_catalog_model_uses_the_architecture(capsys):
    # Issue 15 item 7: TP must divide the 64 attention heads, and vLLM uses 90 % of each card: 4 GPUs, not 3.
    args = ("serve", "llama-3.1-70b", "--context", "128k", "--batch", "4", "--weights", "bf16", "--kv-cache", "fp8",
            "--gpu", "H100-80GB", "--json")
    code, out, _ = run(capsys, *args)
    data = json.loads(out)
    spec = ModelSpec.from_catalog("llama-3.1-70b")
    per_gpu = inference_memory(spec, weights="bf16", kv_cache="fp8", batch=4, seq_len=131072, tp=4)
    assert code == 0 and data["input"]["seq_len"] == 131072  # 128k = 128 x 1024
    assert data["gpus"]["count"] == 4 and "3 GPU(s) not a valid TP size" in data["gpus"]["arithmetic"]
    assert data["total"]["bytes"] == pytest.approx(per_gpu.total)
    assert data["components"]["kv_cache"]["bytes"] == per_gpu["kv_cache"] == 80 * 2**30 // 4
    # Both rules are options: the whole card and any GPU count give the plain total / capacity answer, 3.
    code, out, _ = run(capsys, *args, "--gpu-memory-utilization", "1.0", "--no-tp-divides-heads")
    data = json.loads(out)
    one_gpu = inference_memory(spec, weights="bf16", kv_cache="fp8", batch=4, seq_len=131072)
    assert code == 0 and data["gpus"]["count"] == 3
    assert data["total"]["bytes"] == pytest.approx(one_gpu.total)


def test_serve_with_tensor_parallelism_says_whether_it_fits(capsys):
    code, out, _ = run(capsys, "serve", "llama-3.1-70b", "--tp", "4", "--gpu", "H100-80GB")
    assert code == 0 and "Per GPU with TP=4" in out and "fits" in out


@pytest.mark.parametrize("text, tokens", [("128k", 131072), ("8192", 8192), ("1M", 1048576), ("4K", 4096)])
def test_context_lengths_use_k_1024(text, tokens):
    assert cli.parse_context(text) == tokens


def test_train_standard_and_seed(capsys):
    code, out, _ = run(capsys, "train", "13B", "--optimizer", "adamw", "--json")
    data = json.loads(out)
    assert code == 0 and data["components"]["optimizer_states"]["bytes"] == 104_000_000_000
    assert data["total"]["bytes"] - data["components"]["overhead"]["bytes"] == 208_000_000_000  # 16 B/param
    code, out, _ = run(capsys, "train", "13B", "--as-written", "--margin", "0.2")
    assert code == 0 and "364.0 GB" in out and "436.8 GB" in out


def test_train_seed_is_a_hidden_deprecated_alias_of_as_written(capsys):
    """`--seed` used to mean "the article's process as written"; 'seed' now means only a random seed (drills)."""
    code, new, _ = run(capsys, "train", "13B", "--as-written", "--json")
    old_code, old, err = run(capsys, "train", "13B", "--seed", "--json")
    assert code == old_code == 0 and json.loads(old) == json.loads(new)
    assert json.loads(new)["total"]["bytes"] == 364_000_000_000
    assert "deprecated" in err and "--as-written" in err
    _, help_text, _ = run(capsys, "train", "--help")
    assert "--as-written" in help_text and "--seed" not in help_text and "seed 00" not in help_text.lower()
    code, _, err = run(capsys, "train", "13B", "--as-written", "--precision", "bf16")
    assert code != 0 and "--as-written" in err


def test_train_a_catalog_model_adds_activations(capsys):
    code, out, _ = run(capsys, "train", "llama-3.2-1b", "--batch", "2", "--seq-len", "2k", "--recompute", "full",
                       "--json")
    data = json.loads(out)
    assert code == 0 and data["input"]["seq_len"] == 2048 and data["components"]["activations"]["bytes"] > 0


def test_gpus_and_models_list_the_catalogs(capsys):
    code, out, _ = run(capsys, "gpus")
    assert code == 0 and re.search(r"A100-80GB\s+80 GB HBM2e\s+81,920\s+80.00\s+85.9", out) and "Sources:" in out
    code, out, _ = run(capsys, "models", "--json")
    rows = json.loads(out)
    assert [r["name"] for r in rows] == catalog_names()
    assert rows[catalog_names().index("llama-3.1-70b")]["params"] == 70_553_706_496


def test_drill_is_seeded_and_checks_answers(capsys):
    code, first, _ = run(capsys, "drill", "--seed", "11", "--answer")
    _, again, _ = run(capsys, "drill", "--seed", "11", "--answer")
    assert code == 0 and first == again and "Answer:" in first
    code, out, _ = run(capsys, "drill", "--seed", "1", "--kind", "erratum", "--json", "--answer")
    assert json.loads(out)["kind"] == "erratum"
    code, out, _ = run(capsys, "drill", "--kind", "gpus", "--seed", "3", "--check", "1")
    assert code == 0 and out.startswith(("Correct", "Not quite"))


@pytest.mark.parametrize("command", [[], ["serve"], ["train"], ["gpus"], ["models"], ["drill"], ["html"]])
def test_help_for_every_subcommand(capsys, command):
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0 and "usage: llmmem" in out
    if command in (["serve"], ["train"], ["drill"]):
        assert "examples:" in out


@pytest.mark.parametrize("argv, says", [
    (["serve", "seventy"], "neither a size"),
    (["serve", "70B", "--bits", "3"], "bits must be one of 4, 8, 16, 32; got 3"),
    (["serve", "70B", "--gpu", "A100-90GB"], "unknown GPU 'A100-90GB'"),
    (["serve", "70B", "--context", "128k"], "need the architecture"),
    (["serve", "llama-3.1-8b", "--context", "lots"], "cannot read 'lots' as a number of tokens"),
    (["train", "13B", "--optimizer", "adamx"], "adamx"),
    (["serve"], "required: model"),
    (["fly"], "invalid choice"),
])
def test_bad_input_exits_2_with_one_line(capsys, argv, says):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert says in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_python_dash_m_llmmem():
    done = subprocess.run([sys.executable, "-m", "llmmem", "serve", "70B", "--bits", "16"], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0 and "168.0 GB" in done.stdout and "156.5 GiB" in done.stdout


def test_offline_html_has_formulas_and_no_external_script(tmp_path):
    pytest.importorskip("nbconvert")
    pytest.importorskip("jupyter_server_mathjax")
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("Serving: $M = \\frac{P \\cdot Q}{8} \\cdot 1.2$\n\n"
                                      "<details><summary>Solution</summary>168 GB</details>"),
        nbformat.v4.new_code_cell("x", execution_count=1, outputs=[nbformat.v4.new_output(
            "execute_result", {"text/plain": "M", "text/latex": "$\\displaystyle M = \\frac{3 P Q}{20}$"},
            execution_count=1)]),
        nbformat.v4.new_code_cell("w", execution_count=2, outputs=[nbformat.v4.new_output(
            "display_data", {"application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2,
                                                                           "version_minor": 0},
                             "text/plain": "VBox()"})]),
    ])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    path = tmp_path / "demo.ipynb"
    nbformat.write(nb, path)
    pages = cli.export_html([path], tmp_path / "html")
    page = pages[0].read_text()
    assert "\\frac{P \\cdot Q}{8}" in page and "\\frac{3 P Q}{20}" in page  # left for MathJax to typeset
    scripts = re.findall(r"<script[^>]*\bsrc=[\"']([^\"']*)", page)
    assert scripts and all(not s.startswith(("http:", "https:", "//")) for s in scripts), scripts
    assert any(s.startswith("mathjax/MathJax.js") for s in scripts)
    imports = re.findall(r"\bimport\b[^;]*?[\"'](https?://[^\"']+)", page)  # ES modules (Mermaid)
    assert not imports, imports
    assert (tmp_path / "html" / "mathjax" / "MathJax.js").is_file()
    assert "<details>" in page and "Interactive widget" in page and "widget-view+json" not in page


def test_speed_prints_the_roofline_and_json(capsys):
    assert cli.main(["speed", "llama-2-7b", "--gpu", "A100-80GB", "--weights", "fp16", "--kv-cache", "fp16"]) == 0
    out = capsys.readouterr().out
    assert "151.3 tokens/s per sequence" in out and "memory-bound" in out and "batch 157" in out
    assert cli.main(["speed", "llama-3.1-8b", "--batch", "64", "--context", "4k", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    from llmmem import decode_throughput
    expected = decode_throughput(ModelSpec.from_catalog("llama-3.1-8b"), "H100-80GB", batch=64, context=4096)
    assert data["roofline"]["tokens_per_s_total"] == expected.tokens_per_s_total
    assert data["input"]["context"] == 4096 and data["ridge_batch"] is None and data["expected"]["efficiency"] == 0.75


@pytest.mark.parametrize("argv, says", [(["speed", "70B"], "architecture"),
                                        (["speed", "llama-2-7b", "--gpu", "B300X"], "GPU"),
                                        (["speed", "llama-2-7b", "--efficiency", "2"], "efficiency")])
def test_speed_bad_input_exits_2(capsys, argv, says):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1


def test_drill_speed_kind_and_why(capsys):
    assert cli.main(["drill", "--seed", "1", "--kind", "speed", "--answer"]) == 0
    assert "tokens/s" in capsys.readouterr().out
    assert cli.main(["drill", "--why", "--seed", "0", "--answer", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "why" and data["answer"]


# ---------------------------------------------------------------------- serve --compare (issue 17)


def test_serve_compare_lists_every_format_with_gpus_as_the_calculator_does(capsys):
    from llmmem.compare import COMPARE_FORMATS
    from llmmem.widgets import InferenceCalculator

    code, out, _ = run(capsys, "serve", "llama-3.1-70b", "--compare", "--gpu", "H100-80GB", "--json")
    data = json.loads(out)
    assert code == 0 and [r["format"] for r in data["formats"]] == list(COMPARE_FORMATS)
    calc = InferenceCalculator(model="llama-3.1-70b", gpu="H100-80GB")  # the table under the calculator
    table = calc.result.value.split('class="llmmem-compare"')[1]
    for row in data["formats"]:
        assert f"<td>{row['total']['GB']:,.1f}</td>" in table and f"{row['gpus']} × H100-80GB" in table
    bf16 = next(r for r in data["formats"] if r["format"] == "bf16")
    per_gpu = inference_memory(ModelSpec.from_catalog("llama-3.1-70b"), weights="bf16", tp=bf16["gpus"]).total
    assert bf16["per_gpu"]["bytes"] == per_gpu and per_gpu <= 80 * 2**30


def test_serve_compare_for_a_size_says_what_a_mixed_format_needs(capsys):
    code, out, _ = run(capsys, "serve", "70B", "--compare")
    assert code == 0 and "168.0" in out and "2 x A100-80GB" in out  # bf16 is the seed answer
    assert re.search(r"q4_k_m\s+needs a model's architecture", out)


def test_serve_tables_use_plain_component_names(capsys):
    code, out, _ = run(capsys, "serve", "llama-3.1-8b")
    assert code == 0 and "KV cache" in out and "kv_cache" not in out
