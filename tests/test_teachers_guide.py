"""The teachers' guide (notebooks/README.md) keeps its own clock: the 90-minute plan adds up to 90, each
notebook's core and optional minutes add up to its total, and the sections it names are the notebooks' own."""

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
GUIDE = (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
# Notebooks whose section names the guide must match exactly: all of them.
CHECKED_SECTIONS = ("00", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10")
NOT_TAUGHT = ("Sources", "The interview answer")


def _table(after: str) -> list[list[str]]:
    """The rows of the first markdown table after the heading `after` (header and rule dropped)."""
    block: list[list[str]] = []
    for line in GUIDE[GUIDE.index(after):].splitlines()[1:]:
        if line.startswith("|"):
            block.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif block:
            break
    assert len(block) > 2, f"no table after {after!r}"
    return block[2:]


def _number(cell: str) -> int:
    match = re.fullmatch(r"\**(\d+)\**( min)?", cell)
    assert match, f"not a number of minutes: {cell!r}"
    return int(match.group(1))


def _sections(cell: str) -> list[str]:
    return [s.strip() for s in cell.split(";") if s.strip()]


def _headings(number: str) -> list[str]:
    (path,) = NOTEBOOKS.glob(f"{number}_*.ipynb")
    nb = nbformat.read(path, as_version=4)
    return [line[3:].strip() for cell in nb.cells if cell.cell_type == "markdown"
            for line in cell.source.splitlines() if line.startswith("## ")]


NOTEBOOK_NUMBERS = sorted(p.name[:2] for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
OVERVIEW = {row[0]: _number(row[3]) for row in _table("# The course, for teachers")}
PARTS = {row[0]: {"total": _number(row[1]), "core": _number(row[2]), "core_sections": _sections(row[3]),
                  "optional": _number(row[4]), "optional_sections": _sections(row[5])}
         for row in _table("## Core and optional sections")}


def test_every_notebook_has_a_time_and_core_and_optional_parts():
    assert sorted(OVERVIEW) == sorted(PARTS) == NOTEBOOK_NUMBERS
    for number, part in PARTS.items():
        assert part["core"] + part["optional"] == part["total"] == OVERVIEW[number], number
        assert part["core_sections"], f"{number} has no core section"
        assert bool(part["optional_sections"]) == (part["optional"] > 0), number
    assert OVERVIEW["03"] == 55 and OVERVIEW["06"] == 50  # the honest times the issue measured
    total = sum(OVERVIEW.values())
    assert f"About {total} minutes ({total // 60} h {total % 60} min) in all" in GUIDE


def test_the_90_minute_plan_adds_up_and_takes_whole_parts():
    rows = _table("## A 90-minute class")
    *parts, total_row = rows
    minutes = [_number(row[3]) for row in parts]
    assert sum(minutes) == 90 == _number(total_row[3])
    for row, m in zip(parts, minutes, strict=True):
        number, what = row[1], row[2]
        expected = PARTS[number]["total"] if what.startswith("all of it") else PARTS[number]["core"]
        assert what.startswith(("all of it", "core")) and m == expected, row


@pytest.mark.parametrize("number", CHECKED_SECTIONS)
def test_the_sections_named_are_the_notebooks_own(number):
    headings = _headings(number)
    named = PARTS[number]["core_sections"] + PARTS[number]["optional_sections"]
    for section in named:
        assert sum(h.startswith(section) for h in headings) == 1, f"{number}: {section!r} is not one of {headings}"
    taught = [h for h in headings if h not in NOT_TAUGHT]
    assert all(any(h.startswith(s) for s in named) for h in taught), f"{number}: a section has no time"
    assert len(named) == len(taught), f"{number}: a section is listed twice"
