"""The README's promises: the two commands come first, its picture exists, its Python examples run."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_the_two_commands_come_first():
    first_block = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    assert [line.split()[:2] for line in first_block.strip().splitlines()] == [["make", "lab"], ["make", "test"]]


def test_the_picture_and_the_linked_notebooks_exist():
    for target in re.findall(r"\]\(((?:docs|notebooks)/[^)]+)\)", README):
        assert (ROOT / target).exists(), target


def test_the_python_examples_run():
    for block in re.findall(r"```python\n(.*?)```", README, re.S):
        exec(compile(block, "README.md", "exec"), {})


def test_the_picture_is_what_make_figures_draws(tmp_path):
    """The README's picture is the kit's current drawing, not a stale one (compared pixel by pixel, with a small
    tolerance for font rendering on another machine): after a change to the plots, run `make figures`."""
    import importlib.util

    from matplotlib.testing.compare import compare_images

    spec = importlib.util.spec_from_file_location("make_readme_figure", ROOT / "scripts" / "make_readme_figure.py")
    figure = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(figure)
    fresh = figure.draw(tmp_path / "fresh.png")
    assert compare_images(str(ROOT / "docs" / "serving_70b_breakdown.png"), str(fresh), tol=2) is None, \
        "docs/serving_70b_breakdown.png is stale: run `make figures`"
