"""The Makefile's promises, checked with stand-in tools (fast, and independent of the real ones): `make test` stops
on a lint or type error before any test runs, and reports coverage after them."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _fake_venv(tmp: Path, failing: str | None) -> Path:
    """A venv whose tools only record that they ran; `failing` exits 1."""
    bin_dir = tmp / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("python", "ruff", "mypy", "coverage"):
        code = 1 if tool == failing else 0
        (bin_dir / tool).write_text(f"#!/bin/sh\necho {tool} $1 >> {tmp / 'ran.log'}\nexit {code}\n")
        (bin_dir / tool).chmod(0o755)
    for stamp in (".installed", ".measure-installed"):
        (tmp / "venv" / stamp).touch()
    return tmp / "venv"


def _make_test(tmp: Path, failing: str | None):
    work = tmp / "checkout"
    work.mkdir()
    shutil.copy(ROOT / "Makefile", work)
    shutil.copy(ROOT / "pyproject.toml", work)
    venv = _fake_venv(tmp, failing)  # its stamps are newer than the copied pyproject.toml: nothing to install
    result = subprocess.run(["make", "-s", "test", f"VENV={venv}"], cwd=work, capture_output=True, text=True)
    ran = (tmp / "ran.log").read_text().split("\n") if (tmp / "ran.log").exists() else []
    return result.returncode, [line.split()[0] for line in ran if line]


@pytest.mark.parametrize("failing", ["ruff", "mypy"])
def test_a_lint_or_type_error_fails_make_test_before_any_test_runs(tmp_path, failing):
    code, ran = _make_test(tmp_path, failing)
    assert code != 0
    assert "coverage" not in ran  # the tests (run through coverage) never started


def test_make_test_lints_then_tests_then_reports_coverage(tmp_path):
    code, ran = _make_test(tmp_path, None)
    assert code == 0
    assert ran == ["ruff", "mypy", "coverage", "coverage", "coverage"]  # run, combine, report
