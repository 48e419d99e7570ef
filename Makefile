# The two commands: `make lab` opens the kit, `make test` runs every test (after `make lint`).
# Both create .venv when it is missing and install the kit into it (editable, with its test, lab and lite extras).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg

.PHONY: lab app lint test test-all bench notebooks figures measure html clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --disable-pip-version-check -q -e '.[test,lab,lite]'
	touch $(STAMP)

# As root too (--allow-root only then), printing the address the server really took; Ctrl-C stops it cleanly.
# LAB_ARGS: more `jupyter lab` options, e.g. LAB_ARGS="--no-browser --port=9999".
lab: $(STAMP)
	$(BIN)/python scripts/launch.py lab $(LAB_ARGS)

# The calculators as a no-code web page (Voila hides the code): open the address it prints (read from Voila's
# own log: Voila moves on to the next port when 8866 is taken). APP_ARGS: more Voila options.
APP_PORT ?= 8866
# A page closed (or left) for APP_CULL_IDLE seconds has its kernel shut down, checked every APP_CULL_INTERVAL s;
# an open page is never culled. The llmmem template (share/jupyter) is Voila's lab page minus its CDN fonts.
APP_CULL_IDLE ?= 600
APP_CULL_INTERVAL ?= 60
app: $(STAMP)
	JUPYTER_PATH=$(CURDIR)/share/jupyter $(BIN)/python scripts/launch.py app --port=$(APP_PORT) --template=llmmem \
		--MappingKernelManager.cull_idle_timeout=$(APP_CULL_IDLE) --MappingKernelManager.cull_interval=$(APP_CULL_INTERVAL) $(APP_ARGS)

# ruff (E, W, F, I, UP, B at 120 columns) and mypy on llmmem, both configured in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# Lint first: a lint or type error fails `make test` before the (slower) tests run. The tests run under coverage,
# the notebooks' kernels too ([tool.coverage] in pyproject.toml), and end with the line coverage of llmmem, which
# must not fall under the floor set there.
test: lint
	rm -rf .coverage && mkdir .coverage
	$(BIN)/coverage run -m pytest $(NBVAL) tests notebooks
	$(BIN)/coverage combine -q
	$(BIN)/coverage report

# The `measure` extra (PyTorch on the CPU, transformers, peft), pinned to the versions the activation accounting
# was read from; without it `make test` skips the cross-checks against PyTorch (tests/test_measure.py and others).
MEASURE_PINS := torch==2.13.0 transformers==5.23.0 peft==0.21.2
MEASURE_STAMP := $(VENV)/.measure-installed
$(MEASURE_STAMP): $(STAMP)
	$(BIN)/python -m pip install --disable-pip-version-check -q -e '.[test,lab,lite,measure]' $(MEASURE_PINS)
	touch $(MEASURE_STAMP)

# Everything CI runs: `make test` with the PyTorch cross-checks too (the CPU build of torch: ~750 MB installed).
test-all: $(MEASURE_STAMP)
	$(MAKE) test

# Timings of one estimate and of `import llmmem` (not part of `make test`).
bench: $(STAMP)
	$(BIN)/python -m pytest tests/test_benchmarks.py tests/test_widget_benchmarks.py --benchmark-enable -q
	$(BIN)/python benchmarks/import_time.py

# Measure memory with PyTorch on this machine (CPU, or the GPU if there is one) and store it for notebook 06;
# rows of other devices already in the file are kept. Needs the `measure` extra (torch, transformers).
measure: $(MEASURE_STAMP)
	$(BIN)/python -m llmmem.measure --out notebooks/data/measured.csv

# Re-execute every notebook top to bottom in a fresh kernel and store its outputs, reproducibly: stable widget
# ids and no timestamps, so an unchanged checkout stays unchanged (scripts/execute_notebooks.py says how).
notebooks: $(STAMP)
	$(BIN)/python scripts/execute_notebooks.py notebooks/[0-9]*.ipynb notebooks/calculator.ipynb

# The README's picture, drawn by the kit itself.
figures: $(STAMP)
	$(BIN)/python scripts/make_readme_figure.py

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
