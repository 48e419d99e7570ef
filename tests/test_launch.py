"""`make lab` and `make app` start for everyone (root included), print the address the server really took, and
stop cleanly on Ctrl-C. Each test runs the real make target, reads the address from its output, asks the server,
then sends Ctrl-C (SIGINT to the whole process group, as a terminal does)."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest
from conftest import ROOT, free_port, jupyter_env

TOKEN = "llmmem-launch-test"
_OPEN = re.compile(r"llmmem: open (\S+)")


def _start(target: str, variables: dict, env: dict):
    cmd = ["make", "-s", target, *(f"{k}={v}" for k, v in variables.items())]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    return proc, lines


def _address(proc, lines, log: list, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            assert proc.poll() is None, "".join(log)
            continue
        log.append(line)
        if match := _OPEN.search(line):
            return match.group(1)
    raise AssertionError("no address printed:\n" + "".join(log))


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10):
            return True
    except urllib.error.HTTPError:
        return True  # it answered
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _ctrl_c(proc, port: int) -> None:
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=60)
    deadline = time.monotonic() + 30
    while _answers(f"http://127.0.0.1:{port}/") and time.monotonic() < deadline:
        time.sleep(0.25)
    assert not _answers(f"http://127.0.0.1:{port}/"), "the server still answers after Ctrl-C"
    with pytest.raises(ProcessLookupError):  # nothing of the make target (server, kernels) is left running
        os.killpg(proc.pid, 0)


def _stop(proc) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_make_lab_serves_jupyterlab_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    args = (f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 --ServerApp.token={TOKEN} "
            "--LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate")
    proc, lines = _start("lab", {"LAB_ARGS": args}, jupyter_env(tmp_path))
    log: list = []
    try:
        url = _address(proc, lines, log)
        assert f":{port}/lab" in url, "".join(log)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={TOKEN}", timeout=10) as r:
                assert r.status == 200 and "started" in r.read().decode()
        except urllib.error.URLError as e:
            raise AssertionError(f"{e} after the address was printed:\n{''.join(log)}") from None
        _ctrl_c(proc, port)
    finally:
        _stop(proc)
    # As root (CI runs as root) Jupyter refuses to start without --allow-root: serving at all proves the rule.
    assert "Running as root is not recommended" not in "".join(log)


def test_make_app_prints_the_port_voila_really_took(tmp_path):
    with socket.socket() as taken:  # the usual port is busy: Voila moves on, and the printed address follows it
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        proc, lines = _start("app", {"APP_PORT": busy}, jupyter_env(tmp_path))
        try:
            url = _address(proc, lines, [])
            port = int(re.search(r":(\d+)/", url).group(1))
            assert port != busy
            assert _answers(url)
            _ctrl_c(proc, port)
        finally:
            _stop(proc)
