"""Fixtures for the browser tests (tests/test_browser.py): Debian's Chromium driven by Playwright, and servers
(Voila, JupyterLab) that are always stopped.

No browser is downloaded (`playwright install` is never run): Playwright drives /usr/bin/chromium from Debian's
`chromium` package. Where Chromium or Playwright is missing the browser tests skip, saying why; under CI
(CI=true) they fail instead, so a CI machine without a browser cannot pass silently.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"  # git-ignored: screenshots and server logs
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _under_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives a real Chromium through Playwright (Voila, JupyterLab)")
    _let_nbval_kernels_exit_under_coverage()
    # `make test` skips the cross-checks against PyTorch when the `measure` extra is missing (the README says so);
    # CI must run them, so there a missing torch stops the run instead of skipping silently.
    if _under_ci():
        import importlib.util

        missing = [m for m in ("torch", "transformers", "peft") if importlib.util.find_spec(m) is None]
        if missing:
            raise pytest.UsageError(f"CI runs every test, but {', '.join(missing)} is missing: run `make test-all`")


def _let_nbval_kernels_exit_under_coverage() -> None:
    """Under `coverage run` (`make test`), let each notebook's kernel exit normally, so coverage, which runs in the
    kernel through its subprocess patch ([tool.coverage.run] in pyproject.toml), writes what the notebook
    exercised. nbval stops kernels with `shutdown_kernel(now=True)`, a SIGKILL that loses that data; a shutdown
    request ends the kernel just as surely, in well under a second. (This conftest is loaded for `pytest tests
    notebooks`, the command `make test` runs.)"""
    if "COVERAGE_PROCESS_CONFIG" not in os.environ:
        return
    from nbval.kernel import RunningKernel

    def stop(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=False)
        del self.km

    RunningKernel.stop = stop

def _missing_browser() -> str | None:
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} not found: install Debian's browser with `apt-get install chromium`"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed: `pip install -e '.[test]'` installs it"
    return None


@pytest.fixture(scope="session")
def browser():
    reason = _missing_browser()
    if reason:
        if _under_ci():
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, request):
    """A fresh page; its console messages and failed requests go to test-artifacts/<test>.console.log."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    lines = []
    try:
        page = context.new_page()
        page.on("console", lambda m: lines.append(f"console {m.type}: {m.text}"))
        page.on("requestfailed", lambda r: lines.append(f"request failed: {r.method} {r.url} {r.failure}"))
        yield page
    finally:
        context.close()
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / f"{request.node.name}.console.log").write_text("\n".join(lines) + "\n")


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jupyter_env(tmp: Path) -> dict:
    """An environment that keeps a test's servers and kernels off the user's Jupyter files."""
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # Agg would hide the notebooks' figures in the kernel
    for var, sub in (("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                     ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("JUPYTER_CONFIG_DIR", "config")):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(tmp / sub)
    return env


@contextlib.contextmanager
def running_server(cmd, ready_url: str, env: dict, log: Path, timeout: float = 60):
    """Start a server, wait until `ready_url` answers (any HTTP status), and always stop it (its whole process group:
    kernels included) on the way out."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                start_new_session=True)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited with {proc.returncode}; see {log}")
                try:
                    with urllib.request.urlopen(ready_url, timeout=2):
                        break
                except urllib.error.HTTPError:
                    break  # it answers (Voila has no /api/status: a 403 or 404 still means it is up)
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server not ready after {timeout} s; see {log}")
                time.sleep(0.25)
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def copy_notebooks(dest: Path) -> Path:
    shutil.copytree(ROOT / "notebooks", dest, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return dest


def offline(page) -> list[str]:
    """Block every request of the page's context that leaves 127.0.0.1 and record it: a test then asserts that
    the list stays empty (the calculators and the course load nothing from the internet)."""
    attempted: list[str] = []

    def route(r):
        host = urlsplit(r.request.url).hostname
        if r.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
            r.continue_()
        else:
            attempted.append(r.request.url)
            r.abort()

    page.context.route("**/*", route)
    return attempted
