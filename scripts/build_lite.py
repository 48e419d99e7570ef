"""Build the course as a JupyterLite site: static files that run every notebook and calculator in the browser.

    python scripts/build_lite.py                 # build/lite/: self-hosted Pyodide core, works offline, no plots
    python scripts/build_lite.py --pyodide cdn   # Pyodide's full distribution from its CDN: plots work, online

`make lite` (and `make lite PYODIDE=cdn`) run this. Copy build/lite/ to any static web host (GitHub Pages, a
university web space, `python -m http.server`): every student opens one URL, nothing to install.

What goes into the site, and where it comes from (nothing but PyPI and the npm registry, at pinned versions;
downloads are kept in build/lite-cache/, so a second build is offline):

- JupyterLite's app and the Pyodide kernel's front end: the `lite` extra (jupyterlite-core, jupyterlite-pyodide-
  kernel); the widgets' front end (@jupyter-widgets/jupyterlab-manager) from the installed jupyterlab_widgets.
- Pyodide's core runtime (pyodide.mjs, pyodide.asm.wasm, python_stdlib.zip, pyodide-lock.json): the npm package
  `pyodide`, at the version the kernel was built for (jupyterlite_pyodide_kernel.constants.PYODIDE_VERSION).
  It holds no wheels: the pure-Python ones the kernel loads through the lock at start (micropip, IPython, jedi
  and what they depend on) come from PyPI at the lock's exact versions. PyPI's files are not byte-identical to
  Pyodide's rebuilds, so their sha256 are rewritten, and the lock is pruned to the wheels that are present.
- llmmem's wheel (built from this checkout) and its pure-Python dependencies (ipywidgets, sympy, ...), served by
  the kernel's own package index (piplite), with the fallback to PyPI turned off.
- every notebook, each with one cell added at its top that installs llmmem from the site's wheels (only the
  copies in the site: the notebooks in notebooks/ are unchanged).

matplotlib (and numpy) exist only in Pyodide's full distribution (its CDN or release archive), not on PyPI or
npm: the offline site has no figures (llmmem.plots says so), the calculators work. The CDN site loads Pyodide and
matplotlib from the CDN when a student opens it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
CACHE = BUILD / "lite-cache"

# The Pyodide the kernel was built for: jupyterlite-pyodide-kernel 0.8.6, jupyterlite_pyodide_kernel/constants.py
# (PYODIDE_VERSION = "314.0.6"). Checked against the installed kernel at build time.
PYODIDE_VERSION = "314.0.6"
PYODIDE_PYTHON = "3.14"  # the Python inside it (constants.PYODIDE_PYTHON_VERSION): wheels are chosen for it
# Packages the kernel loads through Pyodide's lock at start: the worker calls loadPackage(["micropip"]), then
# piplite.install for ipykernel, comm, pyodide-kernel, jedi, ipython (jupyterlite-pyodide-kernel 0.8.6,
# static/comlink.worker.*.js, initPackageManager / initKernel). ipykernel and pyodide-kernel are the kernel's own
# wheels; comm is in PIPLITE below.
LOCK_ROOTS = ("micropip", "ipython", "jedi")
# llmmem's dependencies in the browser, from PyPI (pure Python). ipywidgets needs comm, jupyterlab_widgets and
# widgetsnbextension (the kernel ships a stub of the last); sympy needs mpmath<1.4. Versions: the ones this kit is
# tested with in its venv.
PIPLITE = {
    "ipywidgets": "8.1.9",
    "comm": "0.2.3",
    "jupyterlab_widgets": "3.0.17",
    "sympy": "1.14.0",
    "mpmath": "1.3.0",
}
# Front-end extensions the site needs; nothing else from the environment (voila's preview, say, needs a server).
EXTENSIONS = ("@jupyter-widgets/jupyterlab-manager", "@jupyterlite/pyodide-kernel-extension")
KERNEL_PLUGIN = "@jupyterlite/pyodide-kernel-extension:kernel"
# From the npm package, only what the runtime loads (no source maps, type declarations, consoles or pyodide.js,
# the classic script the module workers cannot load).
PYODIDE_CORE = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")

INSTALL_CELL = """\
# In the browser (JupyterLite) this installs the kit {source}.
# Elsewhere it does nothing.
import sys

if sys.platform == "emscripten":
    import piplite

    await piplite.install({packages})"""


def _run(cmd: list[str], **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pip_download(spec: str, dest: Path) -> Path:
    """One pure-Python wheel from PyPI (cached: a wheel already in dest is not fetched again)."""
    name, _, version = spec.partition("==")
    norm = name.lower().replace("-", "_")
    for whl in dest.glob("*.whl"):
        stem = whl.name.split("-")
        if stem[0].lower().replace("-", "_") == norm and stem[1] == version:
            return whl
    dest.mkdir(parents=True, exist_ok=True)
    before = set(dest.glob("*.whl"))
    _run([sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-q", "--no-deps",
          "--only-binary=:all:", "--python-version", PYODIDE_PYTHON, "-d", dest, spec])
    new = set(dest.glob("*.whl")) - before
    if len(new) != 1 or not next(iter(new)).name.endswith("-none-any.whl"):
        raise SystemExit(f"expected one pure-Python wheel for {spec}, got {sorted(p.name for p in new)}")
    return new.pop()


def _kit_wheel(dest: Path) -> Path:
    """llmmem's wheel, built from a clean copy of the checkout (no stale build/lib of setuptools inside)."""
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("llmmem-*.whl"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(ROOT / name, src / name)
        shutil.copytree(ROOT / "llmmem", src / "llmmem", ignore=shutil.ignore_patterns("__pycache__"))
        try:  # the venv's setuptools: no download
            _run([sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "-q", "--no-deps",
                  "--no-build-isolation", "-w", dest, src])
        except subprocess.CalledProcessError:
            _run([sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "-q", "--no-deps", "-w", dest,
                  src])
    (wheel,) = dest.glob("llmmem-*.whl")
    return wheel


def _pyodide_core(static: Path) -> None:
    """Pyodide's core from npm into <lite_dir>/static/pyodide, its lock pruned to the wheels put beside it."""
    tarball = CACHE / f"pyodide-{PYODIDE_VERSION}.tgz"
    if not tarball.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        _run(["npm", "pack", f"pyodide@{PYODIDE_VERSION}", "--silent", "--pack-destination", CACHE])
    static.mkdir(parents=True)
    with tarfile.open(tarball) as tar:
        for name in PYODIDE_CORE:
            member = tar.extractfile(f"package/{name}")
            if member is None:
                raise SystemExit(f"{tarball.name} has no {name}")
            (static / name).write_bytes(member.read())

    lock_path = static / "pyodide-lock.json"
    lock = json.loads(lock_path.read_text())
    packages = lock["packages"]
    keep: list[str] = []
    todo = list(LOCK_ROOTS)
    while todo:
        key = todo.pop().lower().replace("_", "-")
        if key in keep:
            continue
        keep.append(key)
        todo.extend(packages[key]["depends"])
    pruned = {}
    for key in sorted(keep):
        entry = dict(packages[key])
        if not entry["file_name"].endswith("-none-any.whl"):
            raise SystemExit(f"{key} in Pyodide's lock is not pure Python: it cannot come from PyPI")
        wheel = _pip_download(f"{entry['name']}=={entry['version']}", CACHE / "lock-wheels")
        shutil.copy2(wheel, static / wheel.name)
        entry.update(file_name=wheel.name, sha256=_sha256(wheel))
        pruned[key] = entry
    lock["packages"] = pruned
    lock_path.write_text(json.dumps(lock, indent=1, sort_keys=True))
    print(f"pyodide-lock.json: {len(pruned)} of {len(packages)} packages kept (the wheels present)")


def _labextension(name: str) -> Path:
    from jupyter_core.paths import jupyter_path

    for base in jupyter_path("labextensions"):
        if (Path(base) / name / "package.json").exists():
            return Path(base) / name
    raise SystemExit(f"the front-end extension {name} is not installed: pip install -e '.[lite]'")


def _contents(dest: Path, packages: list[str]) -> None:
    """Every notebook of the course, each with the install cell on top; the data files the notebooks read."""
    src = ROOT / "notebooks"
    dest.mkdir(parents=True)
    source = ("from this site's wheels, and matplotlib from Pyodide's CDN" if "matplotlib" in packages
              else "from this site's own wheels (this site has no matplotlib: no figures)")
    cell = nbformat.v4.new_code_cell(INSTALL_CELL.format(packages=json.dumps(packages), source=source))
    cell.id = "llmmem-lite-install"
    cell.metadata = {"tags": ["lite-install"]}
    for path in sorted(src.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nb.cells.insert(0, cell)
        nbformat.write(nb, dest / path.name)
    for extra in ("data", "README.md"):
        if (src / extra).is_dir():
            shutil.copytree(src / extra, dest / extra, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        elif (src / extra).exists():
            shutil.copy2(src / extra, dest / extra)


def build(out: Path, pyodide: str = "local") -> Path:
    from jupyterlite_pyodide_kernel import constants

    if (constants.PYODIDE_VERSION, constants.PYODIDE_PYTHON_VERSION) != (PYODIDE_VERSION, PYODIDE_PYTHON):
        raise SystemExit(f"jupyterlite-pyodide-kernel expects Pyodide {constants.PYODIDE_VERSION}, this script "
                         f"pins {PYODIDE_VERSION}: install the pinned `lite` extra (pip install -e '.[lite]')")
    started = time.perf_counter()
    lite_dir = BUILD / "lite-src"
    for folder in (lite_dir, out):
        shutil.rmtree(folder, ignore_errors=True)
    lite_dir.mkdir(parents=True)

    wheels = [_kit_wheel(CACHE / "kit")]
    wheels += [_pip_download(f"{name}=={version}", CACHE / "piplite") for name, version in PIPLITE.items()]
    packages = ["llmmem"]
    if pyodide == "local":
        _pyodide_core(lite_dir / "static" / "pyodide")
    else:
        packages = ["matplotlib", "llmmem"]  # matplotlib from the CDN's full distribution, through its lock
    _contents(lite_dir / "content", packages)

    settings = {KERNEL_PLUGIN: {"disablePyPIFallback": True}}
    (lite_dir / "jupyter-lite.json").write_text(json.dumps(
        {"jupyter-lite-schema-version": 0, "jupyter-config-data": {"litePluginSettings": settings}}, indent=2))
    # No news or update check (they would call out of the site).
    (lite_dir / "overrides.json").write_text(json.dumps(
        {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}, indent=2))

    cmd: list[str | Path] = [
        sys.executable, "-m", "jupyterlite_core", "build", "--lite-dir", lite_dir, "--output-dir", out,
        "--contents", lite_dir / "content", "--no-sourcemaps", "--no-unused-shared-packages", "--ignore-sys-prefix",
        "--apps", "lab", "--apps", "notebooks", "--apps", "tree",
        "--settings-overrides", lite_dir / "overrides.json",
        f"--LiteBuildConfig.federated_extensions={json.dumps([str(_labextension(n)) for n in EXTENSIONS])}",
    ]
    for wheel in wheels:
        cmd += ["--piplite-wheels", wheel]
    env = {k: v for k, v in os.environ.items() if k != "JUPYTERLITE_PYODIDE_URL"}
    _run(cmd, cwd=lite_dir, env=env)

    for leftover in out.rglob("*.map"):  # whatever --no-sourcemaps left
        leftover.unlink()
    (out / ".nojekyll").touch()  # GitHub Pages serves the files as they are (no Jekyll pass)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"built {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out} in "
          f"{time.perf_counter() - started:.1f} s: {size / 1e6:.1f} MB, Pyodide {pyodide}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pyodide", choices=("local", "cdn"), default="local",
                        help="local: Pyodide's core copied into the site (offline, no plots); "
                             "cdn: Pyodide's full distribution from its CDN (online, plots work)")
    parser.add_argument("--output-dir", type=Path, default=BUILD / "lite")
    args = parser.parse_args(argv)
    build(args.output_dir.resolve(), args.pyodide)
    return 0


if __name__ == "__main__":
    sys.exit(main())
