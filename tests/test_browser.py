"""The calculators in a real browser: Voila's no-code page, and the calculator of 00_start_here in JupyterLab.

Chromium comes from Debian's package, driven by Playwright (fixtures in conftest.py). Screenshots go to
test-artifacts/ (git-ignored). The expected numbers are computed here with llmmem, not read off the page.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest
from conftest import copy_notebooks, free_port, jupyter_env, running_server

from llmmem import ModelSpec, format_bytes, gpus_needed, serving_memory

pytestmark = pytest.mark.browser
BIN = Path(sys.executable).parent
TOKEN = "llmmem-browser-test"  # a fixed token: the server listens on 127.0.0.1 only, for this test


def _dropdown(calculator, label: str):
    return calculator.locator(f".widget-dropdown:has(label:text-is('{label}')) select")


def test_voila_page_answers_with_llmmem_numbers(page, artifacts, tmp_path):
    from playwright.sync_api import expect

    port = free_port()
    cmd = [str(BIN / "voila"), "notebooks/calculator.ipynb", "--no-browser", "--Voila.ip=127.0.0.1",
           f"--port={port}"]
    with running_server(cmd, f"http://127.0.0.1:{port}/api/status", jupyter_env(tmp_path),
                        artifacts / "voila.log"):
        page.goto(f"http://127.0.0.1:{port}/", timeout=90_000)  # Voila runs the notebook before answering
        serving = page.locator(".llmmem-serving")
        headline = serving.locator(".llmmem-headline")
        expect(headline).to_contain_text("168.0 GB (156.5 GiB)", timeout=60_000)
        assert "import" not in page.locator("body").inner_text()  # Voila shows no code

        _dropdown(serving, "Model").select_option(label="llama-3.1-70b")
        _dropdown(serving, "Bits").select_option(label="8 (int8/fp8)")
        total = serving_memory(ModelSpec.from_catalog("llama-3.1-70b").num_params(), bits=8)
        expected = f"{format_bytes(total)} → {gpus_needed(total, gpu='A100-80GB')} × A100-80GB"
        expect(headline).to_have_text(expected, timeout=20_000)

        _dropdown(serving, "Weight format").select_option("nf4_dq")  # a format, and no model: a red message
        _dropdown(serving, "Model").select_option(label="my config.json (upload)")
        expect(serving.locator("text=upload a Hugging Face config.json")).to_be_visible(timeout=20_000)
        _dropdown(serving, "Model").select_option(label="llama-3.1-70b")
        expect(headline).to_be_visible(timeout=20_000)  # and it recovers
        page.set_viewport_size({"width": 1280, "height": 4200})  # Voila scrolls inside the page: show it all
        page.screenshot(path=str(artifacts / "voila_calculator.png"))


def _lab_settings(env: dict):
    # No news or update toast over the page (design.md, "Browser tests offline").
    folder = Path(env["JUPYTERLAB_SETTINGS_DIR"]) / "@jupyterlab" / "apputils-extension"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))


def _run_all(page, attempts=3):
    """Run > Run All Cells, until the first code cell has run. JupyterLab 4 reconnects the kernel's websocket
    once just after opening a notebook; cells sent during that moment are lost (seen here on 2 cores), so
    try again rather than wait a fixed time."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    first_prompt = page.locator(".jp-CodeCell .jp-InputPrompt").first
    for attempt in range(attempts):
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()
        try:
            expect(first_prompt).to_have_text(re.compile(r"\[\d+\]"), timeout=15_000)
            return
        except (AssertionError, PlaywrightTimeout):
            if attempt == attempts - 1:
                raise


def test_jupyterlab_runs_start_here_and_the_calculator_responds(page, artifacts, tmp_path):
    from playwright.sync_api import expect

    root = copy_notebooks(tmp_path / "notebooks")
    env = jupyter_env(tmp_path / "jupyter")
    _lab_settings(env)
    port = free_port()
    cmd = [str(BIN / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.extension_manager=readonly"]
    if os.geteuid() == 0:  # CI containers run as root
        cmd.append("--allow-root")
    with running_server(cmd, f"http://127.0.0.1:{port}/api/status?token={TOKEN}", env, artifacts / "jupyterlab.log"):
        page.goto(f"http://127.0.0.1:{port}/lab/tree/00_start_here.ipynb?token={TOKEN}", timeout=60_000)
        indicator = page.locator(".jp-Notebook-ExecutionIndicator")
        expect(indicator).to_have_attribute("data-status", "idle", timeout=60_000)  # the kernel has started
        _run_all(page)

        serving = page.locator(".llmmem-serving")
        headline = serving.locator(".llmmem-headline")
        try:
            expect(headline).to_be_visible(timeout=60_000)
        finally:
            page.screenshot(path=str(artifacts / "jupyterlab_after_run_all.png"))
        expect(indicator).to_have_attribute("data-status", "idle", timeout=60_000)  # every cell has run
        serving.scroll_into_view_if_needed()
        _dropdown(serving, "Bits").select_option(label="16 (bf16/fp16)")
        size = serving.locator(".widget-text:has(label:text-is('Model size')) input")
        size.fill("13B")
        size.press("Enter")  # the field updates on Enter (continuous_update=False)
        total = serving_memory("13B", bits=16)
        expected = f"{format_bytes(total)} → {gpus_needed(total, gpu='A100-80GB')} × A100-80GB"
        expect(headline).to_have_text(expected, timeout=20_000)
        page.screenshot(path=str(artifacts / "jupyterlab_start_here.png"))
