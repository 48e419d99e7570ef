"""How long one calculator update takes (change the model -> new breakdown and HTML), for each calculator.

Run `.venv/bin/python -m pytest tests/test_widget_benchmarks.py --benchmark-enable -q` for the timings; under
`make test` each runs once, as a check that the update produced a new answer. Target: under 30 ms of Python
time per update, so that the page answers before a person notices.
"""

import itertools

import pytest

from llmmem.widgets import CALCULATORS

MODELS = {"serving": ("llama-3.1-8b", "llama-3.1-70b"), "inference": ("llama-3.1-8b", "llama-3.1-70b"),
          "training": ("llama-3.2-1b", "llama-3.1-8b"), "finetune": ("llama-3.1-8b", "qwen2.5-7b"),
          "many_gpus": ("llama-3.1-70b", "qwen2.5-72b")}


@pytest.mark.parametrize("name", list(CALCULATORS))
def test_bench_one_update(benchmark, name):
    calc = CALCULATORS[name](model=MODELS[name][0])
    first = calc.result.value
    models = itertools.cycle(reversed(MODELS[name]))

    def update():
        calc.model.value = next(models)
        return calc.breakdown

    breakdown = benchmark(update)
    assert calc.error is None and breakdown is not None
    calc.model.value = MODELS[name][1]
    assert calc.result.value != first  # a new model is a new answer
    # The 30 ms target is read off the benchmark table (`make bench`), not asserted: timings vary by machine.


CHAPTER_CALCULATORS = {"architecture": ("llmmem.architecture_widget", "ArchitectureCalculator"),
                       "quantization": ("llmmem.quantization_widget", "QuantizationCalculator")}


@pytest.mark.parametrize("name", list(CHAPTER_CALCULATORS))
def test_bench_one_update_chapter_calculators(benchmark, name):
    import importlib

    module, cls = CHAPTER_CALCULATORS[name]
    calc = getattr(importlib.import_module(module), cls)(model="llama-3.1-8b")
    first = calc.result.value
    models = itertools.cycle(("llama-3.1-70b", "llama-3.1-8b"))

    def update():
        calc.model.value = next(models)
        return calc.summary()

    summary = benchmark(update)
    assert calc.error is None and not summary.startswith("error")
    calc.model.value = "llama-3.1-70b"
    assert calc.result.value != first
