"""The calculators in a real browser: Voila's no-code page, and the calculator of 00_start_here in JupyterLab.

Chromium comes from Debian's package, driven by Playwright (fixtures in conftest.py). Screenshots go to
test-artifacts/ (git-ignored). The expected numbers are computed here with llmmem, not read off the page.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path

import pytest
from conftest import copy_notebooks, free_port, jupyter_env, offline, running_server

from llmmem import ModelSpec, format_bytes, gpus_needed, serving_memory

pytestmark = pytest.mark.browser
BIN = Path(sys.executable).parent
TOKEN = "llmmem-browser-test"  # a fixed token: the server listens on 127.0.0.1 only, for this test


RED, GREEN = "rgb(176, 0, 32)", "rgb(27, 127, 59)"  # llmmem.widgets.RED and GREEN


def _expected(size: str, gpu: str = "A100-80GB") -> str:
    total = serving_memory(size, bits=16)
    return f"{format_bytes(total)} → {gpus_needed(total, gpu=gpu)} × {gpu}"


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


# Read off the running app (the server starts with --LabApp.expose_app_in_browser): the notebook's kernel and its
# cells, instead of guessing from the page's pixels. `ready` holds once the kernel's websocket is connected and the
# kernel idle; `done` once every code cell has an execution count and the kernel is idle again.
_NOTEBOOK_STATE = """() => {
    const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const kernel = panel && panel.sessionContext && panel.sessionContext.session
        && panel.sessionContext.session.kernel;
    if (!kernel || !panel.content) return {ready: false, done: false, pending: -1};
    const ready = kernel.connectionStatus === 'connected' && kernel.status === 'idle';
    const code = panel.content.widgets.filter(cell => cell.model.type === 'code');
    const pending = code.filter(cell => cell.model.executionCount === null).length;
    return {ready: ready, done: ready && code.length > 0 && pending === 0, pending: pending};
}"""


# "done" when every cell ran; "stalled" when the kernel has sat connected and idle for 10 s with cells still
# unnumbered (their requests were lost), a state no run that is still going shows: a cell that runs keeps it busy.
_DONE_OR_STALLED = f"""() => {{
    const s = ({_NOTEBOOK_STATE})();
    if (s.done) return "done";
    if (!(s.ready && s.pending > 0)) {{ window.__llmmemIdleSince = null; return false; }}
    window.__llmmemIdleSince = window.__llmmemIdleSince || Date.now();
    return Date.now() - window.__llmmemIdleSince > 10000 ? "stalled" : false;
}}"""

def _start_session(base: str, path: str) -> None:
    """Start the notebook's kernel through the server's REST API before the page opens it: JupyterLab then joins
    that session instead of asking which kernel to use (the "Select Kernel" dialog seen under load)."""
    def call(method, url, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{base}{url}", data=data, method=method,
                                     headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)

    # The server reports the new kernel "starting" until a client connects; the page waits for it to be idle.
    call("POST", "/api/sessions", {"path": path, "name": path, "type": "notebook", "kernel": {"name": "python3"}})


def _run_all(page, attempts: int = 3, timeout_ms: int = 120_000) -> None:
    """Run every cell, through JupyterLab's own command, once the kernel is connected and idle; done when every code
    cell has an execution count. Under load JupyterLab 4 may drop its kernel websocket once just after opening a
    notebook ("Connection lost, reconnecting"), and cells sent in that moment never run: then the kernel is idle with
    cells still unnumbered, and Run All goes again. Each wait is on a state, never on a fixed time."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.wait_for_function(f"({_NOTEBOOK_STATE})().ready", timeout=timeout_ms)
    # The stored outputs carry execution counts: clear them, so a count proves that this kernel ran the cell.
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.wait_for_function(f"({_NOTEBOOK_STATE})().pending > 0", timeout=timeout_ms)
    for attempt in range(attempts):
        page.wait_for_function(f"({_NOTEBOOK_STATE})().ready", timeout=timeout_ms)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        try:
            outcome = page.wait_for_function(_DONE_OR_STALLED, timeout=timeout_ms).json_value()
        except PlaywrightTimeout:
            outcome = "timeout"
        if outcome == "done":
            return
        if attempt == attempts - 1:
            state = page.evaluate(f"({_NOTEBOOK_STATE})()")
            raise AssertionError(f"Run All did not finish after {attempts} tries ({outcome}): {state}")


def test_jupyterlab_runs_start_here_and_the_calculator_responds(page, artifacts, tmp_path):
    from playwright.sync_api import expect

    root = copy_notebooks(tmp_path / "notebooks")
    env = jupyter_env(tmp_path / "jupyter")
    _lab_settings(env)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [str(BIN / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.extension_manager=readonly",
           "--LabApp.expose_app_in_browser=True"]
    if os.geteuid() == 0:  # CI containers run as root
        cmd.append("--allow-root")
    with running_server(cmd, f"{base}/api/status?token={TOKEN}", env, artifacts / "jupyterlab.log"):
        _start_session(base, "00_start_here.ipynb")
        attempted = offline(page)
        try:
            page.goto(f"{base}/lab/tree/00_start_here.ipynb?token={TOKEN}", timeout=90_000)
            _run_all(page)
            serving = page.locator(".llmmem-serving")
            headline, badge = serving.locator(".llmmem-headline"), serving.locator(".llmmem-badge")
            expect(headline).to_have_text(_expected("70B"), timeout=60_000)  # the live widget, after this run
            serving.scroll_into_view_if_needed()
            size = serving.locator(".widget-text:has(label:text-is('Model size')) input")
            size.fill("")
            size.press_sequentially("13B", delay=50)  # no Enter: the answer redraws while typing
            expect(headline).to_have_text(_expected("13B"), timeout=30_000)
            expect(badge).to_have_css("background-color", GREEN)
            size.fill("")
            size.press_sequentially("405B", delay=50)  # 972 GB: more than one card, the badge turns red
            expect(headline).to_have_text(_expected("405B"), timeout=30_000)
            expect(badge).to_have_css("background-color", RED)
        finally:  # the page as it was, pass or fail (its console log is kept by the `page` fixture)
            page.screenshot(path=str(artifacts / "jupyterlab_start_here.png"))
    assert attempted == [], f"JupyterLab asked the internet for {attempted}"
