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


def _shown(comment: str):
    """The number a README comment starts with ('# 70,553,706,496: ...', '# 436.8e9: ...') and half its last digit."""
    match = re.match(r"#\s*([-+]?[\d,]*\.?\d+)(e[-+]?\d+)?", comment)
    if not match:
        return None
    digits, exponent = match.group(1).replace(",", ""), int((match.group(2) or "e0")[1:])
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    return float(digits) * 10**exponent, 0.5 * 10 ** (exponent - decimals)


def test_the_numbers_in_the_python_examples_comments_are_what_they_print():
    """`expr   # 53.10 ...`: the number after the '#' is the expression's value, to the digits shown."""
    import ast

    checked = 0
    for block in re.findall(r"```python\n(.*?)```", README, re.S):
        namespace: dict = {}
        lines = block.splitlines()
        for node in ast.parse(block).body:
            code = compile(ast.Module([node], type_ignores=[]), "README.md", "exec")
            line = lines[node.lineno - 1]
            shown = _shown(line[line.index("#"):]) if isinstance(node, ast.Expr) and "#" in line else None
            if shown is None:
                exec(code, namespace)
                continue
            value = eval(compile(ast.Expression(node.value), "README.md", "eval"), namespace)
            number, half_digit = shown
            assert abs(value - number) <= half_digit + 1e-9 * abs(number), f"README: {line.strip()} gives {value}"
            checked += 1
    assert checked >= 8
