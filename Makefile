# The two commands: `make lab` opens the kit, `make test` runs every test (after `make lint`).
# Both create .venv when it is missing and install the kit into it (editable, with its test extra).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg

.PHONY: lab app lint test bench notebooks figures measure html clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --disable-pip-version-check -q -e '.[test,lab,lite]'
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

# The calculators as a no-code web page (Voila hides the code): open the printed address in a browser.
APP_PORT ?= 8866
app: $(STAMP)
	@echo "Calculators: http://127.0.0.1:$(APP_PORT)/  (Ctrl+C to stop)"
	$(BIN)/voila notebooks/calculator.ipynb --no-browser --Voila.ip=127.0.0.1 --port=$(APP_PORT)

# ruff (E, W, F, I, UP, B at 120 columns) and mypy on llmmem, both configured in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# Lint first: a lint or type error fails `make test` before the (slower) tests run.
test: lint
	$(BIN)/python -m pytest $(NBVAL) tests notebooks

# Timings of one estimate and of `import llmmem` (not part of `make test`).
bench: $(STAMP)
	$(BIN)/python -m pytest tests/test_benchmarks.py tests/test_widget_benchmarks.py --benchmark-enable -q
	$(BIN)/python benchmarks/import_time.py

# Measure memory with PyTorch on this machine (CPU, or the GPU if there is one) and store it for notebook 06;
# rows of other devices already in the file are kept. Needs the `measure` extra (torch, transformers).
measure: $(STAMP)
	$(BIN)/python -m pip install --disable-pip-version-check -q -e '.[measure]'
	$(BIN)/python -m llmmem.measure --out notebooks/data/measured.csv

# Re-execute every notebook top to bottom in a fresh kernel and store its outputs.
notebooks: $(STAMP)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace notebooks/[0-9]*.ipynb

# The README's picture, drawn by the kit itself.
figures: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python scripts/make_readme_figure.py

# Every notebook as a static HTML page for a class, readable offline: build/html/ (git-ignored), with MathJax
# copied beside the pages (from the jupyter-server-mathjax package) instead of loaded from a CDN.
html: $(STAMP)
	$(BIN)/python -m llmmem html notebooks/*.ipynb --output-dir build/html

# The course as a static JupyterLite site, build/lite/ (git-ignored): copy the folder to any static web host.
# Default: Pyodide's core inside the site (works offline, no figures); PYODIDE=cdn: Pyodide's full distribution
# from its CDN (figures work, needs the internet). Downloads are cached in build/lite-cache/.
.PHONY: lite
PYODIDE ?= local
lite: $(STAMP)
	$(BIN)/python scripts/build_lite.py --pyodide $(PYODIDE)

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks
