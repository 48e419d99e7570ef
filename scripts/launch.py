"""Start JupyterLab (`make lab`) or the Voila calculator page (`make app`) for everyone, root included.

- As root (Docker, cloud notebooks) Jupyter refuses to start without --allow-root: it is added only then.
- The address to open is read from the server's own log and printed last, so it is right even when the server
  moved to another port because the usual one was taken.
  It is printed once the server accepts connections (Jupyter logs its address a moment before it listens).
- Ctrl-C stops the server and its kernels at once (the server runs in its own session and gets SIGTERM, which it
  handles as a clean shutdown, instead of asking "Shutdown this Jupyter server (y/[n])?"). If this launcher is
  killed outright, Linux sends the server SIGTERM too (PR_SET_PDEATHSIG), so no server is left behind.

    python scripts/launch.py lab [jupyter lab options...]
    python scripts/launch.py app [voila options...]
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

BIN = Path(sys.executable).parent
# Jupyter prints "http://127.0.0.1:8888/lab?token=..." (and a localhost twin); Voila "http://localhost:8866/".
_URL = re.compile(r"(https?://(?:127\.0\.0\.1|localhost|\[::1\]|[\w.-]+):\d+/\S*)")


def command(what: str, extra: list[str]) -> list[str]:
    if what == "lab":
        cmd = [str(BIN / "jupyter"), "lab", "notebooks/", *extra]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        return cmd
    if what == "app":
        return [str(BIN / "voila"), "notebooks/calculator.ipynb", "--no-browser", "--Voila.ip=127.0.0.1", *extra]
    raise SystemExit(f"launch.py: say 'lab' or 'app', not {what!r}")


def _die_with_parent() -> None:
    """In the server's process, before exec: SIGTERM when the launcher dies (Linux; elsewhere nothing)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG, prctl(2)


def _announce_when_listening(url: str, timeout: float = 120) -> None:
    parts = urlsplit(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=1):
                break
        except OSError:
            time.sleep(0.1)
    print(f"\n  llmmem: open {url}   (Ctrl-C stops the server)\n", flush=True)


def main(argv: list[str]) -> int:
    if not argv:
        raise SystemExit(__doc__)
    proc = subprocess.Popen(command(argv[0], argv[1:]), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True, bufsize=1, start_new_session=True,
                            preexec_fn=_die_with_parent)
    shown = False
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            match = _URL.search(line)
            if match and not shown and ("127.0.0.1" in line or "localhost" in line):
                shown = True
                threading.Thread(target=_announce_when_listening, args=(match.group(1),), daemon=True).start()
        return proc.wait()
    except KeyboardInterrupt:
        print("\n  llmmem: stopping the server and its kernels ...", flush=True)
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
