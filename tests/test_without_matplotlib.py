"""Without matplotlib (a browser kernel on Pyodide's core, as `make lite` builds by default) the kit still works:
the calculators draw HTML bars, and asking for a figure says plainly what it needs.

Each check runs in a fresh Python in which an import hook makes matplotlib missing, whether or not it is
installed here.
"""

import subprocess
import sys

import pytest

from llmmem import format_bytes, gpus_needed, serving_memory

BLOCK_MATPLOTLIB = """
import importlib.abc, sys

class NoMatplotlib(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "matplotlib":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoMatplotlib())
"""


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK_MATPLOTLIB + code], capture_output=True, text=True,
                          timeout=120)


def test_the_hook_really_hides_matplotlib():
    out = _run("import matplotlib")
    assert out.returncode != 0 and "No module named 'matplotlib'" in out.stderr


@pytest.mark.parametrize("code", ["import llmmem.plots", "from llmmem import plots",
                                  "import llmmem; llmmem.serving_breakdown(70e9, bits=16).plot()"])
def test_asking_for_a_figure_says_what_it_needs(code):
    out = _run(code)
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("ModuleNotFoundError: llmmem's figures need matplotlib"), out.stderr
    assert "pip install matplotlib" in last and "PYODIDE=cdn" in last and "calculators" in last


def test_the_calculator_answers_without_matplotlib():
    out = _run(
        "import sys\n"
        "from llmmem.widgets import ServingCalculator\n"
        "calc = ServingCalculator()\n"
        "calc.size.value = '8B'\n"
        "assert 'matplotlib' not in sys.modules\n"
        "print(calc.summary())\n"
        "print('<div' in calc.result.value)\n"
    )
    assert out.returncode == 0, out.stderr
    total = serving_memory("8B", bits=16)
    summary, html_bars = out.stdout.strip().splitlines()
    assert summary == f"{format_bytes(total)} → {gpus_needed(total, gpu='A100-80GB')} × A100-80GB"
    assert html_bars == "True"
