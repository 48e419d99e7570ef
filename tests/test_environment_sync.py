"""environment.yml (conda, Binder) and pyproject.toml must name the same packages with the same bounds.

The conda environment is the full one a class opens the kit in: runtime, `lab`, `lite` and `test`. A requirement
whose marker asks for an older Python (tomli) has no conda line; one whose marker only leaves a browser kernel
(Pyodide) out, as matplotlib's does, has one.
"""

import re
from pathlib import Path

import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _parse(requirement: str) -> tuple:
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*(;.*)?$", requirement)
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    pip_side = dict(_parse(r) for r in project["dependencies"] + extras["lab"] + extras["lite"] + extras["test"]
                    if "python_version" not in r)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_side = dict(_parse(d) for d in env["dependencies"] if isinstance(d, str))
    conda_side.pop("python"), conda_side.pop("pip")
    assert conda_side == pip_side
    pip_block = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip_block  # the kit itself, editable, as `make lab` installs it


def test_runtime_needs_no_server():
    # `%pip install llmmem` in a browser kernel (JupyterLite) cannot resolve jupyterlab or voila: they live in `lab`.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_parse(r)[0] for r in project["dependencies"]}
    assert runtime == {"ipywidgets", "sympy", "matplotlib"}
    assert {"jupyterlab", "voila"} <= {_parse(r)[0] for r in project["optional-dependencies"]["lab"]}
    matplotlib = next(r for r in project["dependencies"] if r.startswith("matplotlib"))
    assert "sys_platform != 'emscripten'" in matplotlib


def test_python_floor_is_the_same():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert f"python{project['requires-python']}" in env["dependencies"]
