"""The calculator page as `make app` serves it (Voila, the kit's template, idle kernels culled), in Chromium.

What a student sees (in JupyterLab too: tests/test_browser.py): typing "13B" redraws the answer without Enter;
the verdict badge is red when the model does not fit and green when it does; the page asks nothing of the
internet (every request that is not to 127.0.0.1 is blocked and recorded, and there must be none); and a closed
page's kernel is shut down.
Screenshots of every calculator go to test-artifacts/ (git-ignored). Every wait is on a state, never a sleep.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, free_port, jupyter_env, offline, running_server

from llmmem import format_bytes, gpus_needed, serving_memory

pytestmark = pytest.mark.browser
BIN = Path(sys.executable).parent
RED, GREEN = "rgb(176, 0, 32)", "rgb(27, 127, 59)"  # llmmem.widgets.RED and GREEN
CALCULATORS = ("serving", "inference", "training", "finetune", "many-gpus", "architecture", "quantization")


def _make_app_flags() -> list[str]:
    """The Voila flags of `make app`, read from the Makefile so the test serves the page exactly as a class gets it."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^app:.*\n(?:\t.*\n)+", makefile, re.M)
    assert recipe, "the Makefile has no app target"
    defaults = dict(re.findall(r"^(\w+) \?= (\S+)", makefile, re.M))
    text = re.sub(r"\$\((\w+)\)", lambda m: defaults.get(m.group(1), m.group(0)), recipe.group(0))
    flags = re.findall(r"(--[\w.-]+(?:=\S+)?)", text)
    assert "--template=llmmem" in flags and "--MappingKernelManager.cull_idle_timeout=600" in flags
    return [f for f in flags if not f.startswith("--port")]


def _voila(tmp_path, artifacts, name, cull_idle=None):
    env = jupyter_env(tmp_path)
    env["JUPYTER_PATH"] = str(ROOT / "share" / "jupyter")  # as `make app` sets it: the llmmem template
    port = free_port()
    flags = _make_app_flags()
    if cull_idle is not None:  # the same culler as `make app`, on a test's time scale
        flags = [f for f in flags if not f.startswith("--MappingKernelManager.cull")]
    cmd = [str(BIN / "voila"), "notebooks/calculator.ipynb", *flags, f"--port={port}"]
    if cull_idle is not None:
        cmd += [f"--MappingKernelManager.cull_idle_timeout={cull_idle}", "--MappingKernelManager.cull_interval=1"]
    log = artifacts / f"{name}.voila.log"
    return running_server(cmd, f"http://127.0.0.1:{port}/api/status", env, log), port, log


def _dropdown(calculator, label: str):
    return calculator.locator(f".widget-dropdown:has(label:text-is('{label}')) select")


def _expected(size: str, gpu: str = "A100-80GB") -> tuple[str, int]:
    total = serving_memory(size, bits=16)
    n = gpus_needed(total, gpu=gpu)
    return f"{format_bytes(total)} → {n} × {gpu}", n


def test_typing_updates_live_the_badge_tells_and_nothing_leaves_the_machine(page, artifacts, tmp_path):
    from playwright.sync_api import expect

    attempted = offline(page)
    server, port, _ = _voila(tmp_path, artifacts, "calculators")
    with server:
        page.goto(f"http://127.0.0.1:{port}/", timeout=90_000)
        assert page.title() == "How much GPU memory? LLM memory calculators"
        serving = page.locator(".llmmem-serving")
        headline, badge = serving.locator(".llmmem-headline"), serving.locator(".llmmem-badge")
        expect(headline).to_have_text(_expected("70B")[0], timeout=60_000)
        expect(badge).to_have_text("✘ needs 2 × A100-80GB")  # 168 GB: two cards, so red
        expect(badge).to_have_css("background-color", RED)

        size = serving.locator(".widget-text:has(label:text-is('Model size')) input")
        size.fill("")
        size.press_sequentially("13B", delay=50)  # as a student types: no Enter, no Tab
        expect(headline).to_have_text(_expected("13B")[0], timeout=20_000)
        expect(badge).to_have_text("✔ fits on 1 × A100-80GB")
        expect(badge).to_have_css("background-color", GREEN)
        assert size.input_value() == "13B"  # the field still has focus and the text typed

        size.fill("405B")
        text, n = _expected("405B")
        expect(headline).to_have_text(text, timeout=20_000)
        expect(badge).to_have_text(f"✘ needs {n} × A100-80GB")
        expect(badge).to_have_css("background-color", RED)

        size.fill("1,5B")  # a hostile value replaces the answer with a red message naming the field
        expect(serving.locator(".llmmem-error")).to_contain_text("Model size: write a decimal point")
        expect(headline).to_have_count(0)
        size.fill("70B")
        expect(headline).to_have_text(_expected("70B")[0], timeout=20_000)

        inference = page.locator(".llmmem-inference")
        _dropdown(inference, "Model").select_option(label="llama-3.1-405b")
        expect(inference.locator(".llmmem-badge")).to_have_css("background-color", RED, timeout=20_000)
        expect(inference.locator(".llmmem-compare")).to_contain_text("q4_k_m")

        for name in CALCULATORS:
            page.locator(f".llmmem-{name}").screenshot(path=str(artifacts / f"calculator_{name}.png"))
        page.set_viewport_size({"width": 1280, "height": 5200})
        page.screenshot(path=str(artifacts / "calculator_page.png"))
    assert attempted == [], f"the page asked the internet for {attempted}"


def test_a_closed_page_has_its_kernel_culled(page, artifacts, tmp_path):
    from playwright.sync_api import expect

    server, port, log = _voila(tmp_path, artifacts, "culling", cull_idle=3)
    with server:
        page.goto(f"http://127.0.0.1:{port}/", timeout=90_000)
        expect(page.locator(".llmmem-serving .llmmem-headline")).to_be_visible(timeout=60_000)
        started = re.findall(r"Kernel started: ([0-9a-f-]{36})", log.read_text())
        assert len(started) == 1
        page.close()
        deadline = time.monotonic() + 60  # a bound on the wait, polled on the server's own log
        while f"Kernel shutdown: {started[0]}" not in log.read_text():
            assert time.monotonic() < deadline, f"kernel {started[0]} still running; see {log}"
            time.sleep(0.2)
        # shut down by the culler (not by the page): idle, with no browser connected
        assert re.search(rf"Culling 'idle' kernel .*\({started[0]}\) with 0 connections", log.read_text())
