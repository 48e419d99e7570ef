"""The course in a browser tab: the JupyterLite site that `make lite` builds, run by Pyodide inside Chromium.

The offline site is built once per test session (scripts/build_lite.py, with its downloads cached in
build/lite-cache/), served from 127.0.0.1 by a static file server in this process, and opened in Debian's
Chromium (fixtures in conftest.py). Every request the page or its workers make is recorded: none may leave
127.0.0.1. The expected answer is computed here with llmmem, not read off the page. Screenshot:
test-artifacts/lite_calculator.png.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import ARTIFACTS, ROOT

from llmmem import format_bytes, gpus_needed, serving_memory

pytestmark = pytest.mark.browser
SITE = ROOT / "build" / "lite-test"
# Pyodide starts, then micropip installs IPython and the kit from the site's wheels: about a minute on 2 busy cores.
KERNEL_READY_MS = 240_000


class _Handler(http.server.SimpleHTTPRequestHandler):
    # Module workers refuse a script served with a non-JavaScript type: set the types here, whatever the
    # machine's /etc/mime.types says.
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript",
                      ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json"}

    def log_message(self, *args):  # quiet: Playwright records the requests
        pass


@contextlib.contextmanager
def _static_server(folder: Path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def lite_site() -> Path:
    pytest.importorskip("jupyterlite_core", reason="the `lite` extra is not installed: pip install -e '.[lite]'")
    ARTIFACTS.mkdir(exist_ok=True)
    started = time.perf_counter()
    log = ARTIFACTS / "lite_build.log"
    with open(log, "wb") as out:
        done = subprocess.run([sys.executable, "scripts/build_lite.py", "--output-dir", str(SITE)], cwd=ROOT,
                              stdout=out, stderr=subprocess.STDOUT, timeout=900)
    assert done.returncode == 0, f"build failed; see {log}"
    size = sum(p.stat().st_size for p in SITE.rglob("*") if p.is_file())
    (ARTIFACTS / "lite_build.txt").write_text(
        f"build: {time.perf_counter() - started:.1f} s (with cached downloads after the first)\n"
        f"site: {size / 1e6:.1f} MB in {sum(1 for p in SITE.rglob('*') if p.is_file())} files\n")
    return SITE


def test_the_offline_site_is_self_contained(lite_site):
    assert not list(lite_site.rglob("*.map")), "source maps are dropped"
    config = json.loads((lite_site / "jupyter-lite.json").read_text())["jupyter-config-data"]
    kernel = config["litePluginSettings"]["@jupyterlite/pyodide-kernel-extension:kernel"]
    assert kernel["pyodideUrl"] == "./static/pyodide/pyodide.mjs" and kernel["disablePyPIFallback"] is True
    lock = json.loads((lite_site / "static" / "pyodide" / "pyodide-lock.json").read_text())
    assert {"micropip", "ipython", "jedi"} <= set(lock["packages"])
    for entry in lock["packages"].values():  # every package the lock names is here, with its own hash
        wheel = lite_site / "static" / "pyodide" / entry["file_name"]
        assert wheel.exists(), entry["file_name"]
        assert hashlib.sha256(wheel.read_bytes()).hexdigest() == entry["sha256"]
        assert set(entry["depends"]) <= {k.replace("-", "_") for k in lock["packages"]} | set(lock["packages"])
    wheels = {p.name.split("-")[0] for p in (lite_site / "pypi").glob("*.whl")}
    assert {"llmmem", "ipywidgets", "sympy", "mpmath", "comm"} <= wheels
    notebooks = {p.name for p in (lite_site / "files").glob("*.ipynb")}
    assert notebooks == {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}


def _run_all(page):
    from playwright.sync_api import expect

    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()
    # The first cell installs the kit (micropip, from the site's wheels): its prompt gets a number once it has run.
    expect(page.locator(".jp-CodeCell .jp-InputPrompt").first).to_have_text(re.compile(r"\[\d+\]"),
                                                                          timeout=KERNEL_READY_MS)


def test_the_calculator_page_answers_in_the_browser_kernel(lite_site, page, artifacts):
    from playwright.sync_api import expect

    outside: list[str] = []

    def only_loopback(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1" or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.context.route("**/*", only_loopback)
    seen: list[str] = []
    page.context.on("request", lambda r: seen.append(r.url))
    with _static_server(lite_site) as base:
        page.goto(f"{base}/lab/index.html?path=calculator.ipynb", timeout=120_000)
        status = page.get_by_text("Python (Pyodide) | Idle")
        expect(status).to_be_visible(timeout=KERNEL_READY_MS)
        _run_all(page)
        serving = page.locator(".llmmem-serving")
        headline = serving.locator(".llmmem-headline")
        try:
            expect(headline).to_be_visible(timeout=KERNEL_READY_MS)
            expect(status).to_be_visible(timeout=KERNEL_READY_MS)  # every cell has run
        finally:
            page.screenshot(path=str(artifacts / "lite_after_run_all.png"))
        size = serving.locator(".widget-text:has(label:text-is('Model size')) input")
        size.fill("13B")
        size.press("Enter")  # the field updates on Enter (continuous_update=False)
        total = serving_memory("13B", bits=16)
        expected = f"{format_bytes(total)} → {gpus_needed(total, gpu='A100-80GB')} × A100-80GB"
        expect(headline).to_have_text(expected, timeout=60_000)
        serving.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "lite_calculator.png"))
    assert outside == [], f"requests left 127.0.0.1: {outside}"
    assert all(urlsplit(u).hostname in ("127.0.0.1", None) for u in seen if not u.startswith(("data:", "blob:")))
    assert any(u.endswith("/static/pyodide/pyodide.asm.wasm") for u in seen)  # the site's own Pyodide ran
