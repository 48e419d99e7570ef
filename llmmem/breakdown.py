"""`Breakdown`: where the bytes go, component by component.

Every estimate in the kit returns one, so every view (table, chart, widget, CLI) reads the same thing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from fractions import Fraction
from types import MappingProxyType

from .units import GB, GiB, check_bytes
from .validation import quote

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class Breakdown(Mapping):
    """An immutable mapping of component name -> bytes, with `.total`.

    Values are ints where the count is exact (weights, gradients, KV cache) and floats where they
    rest on an assumption (activations, overhead, margins). `notes` carry those assumptions.
    """

    __slots__ = ("_parts", "_title", "_notes")
    # Set once in __init__ through object.__setattr__ (assignment is blocked); declared here for type checkers.
    _parts: Mapping[str, float]
    _title: str
    _notes: tuple[str, ...]

    def __init__(self, parts: Mapping, title: str = "", notes=()):
        clean = {}
        for name, value in dict(parts).items():
            if not isinstance(name, str) or not _NAME.match(name):
                raise ValueError(f"component names are lower_snake_case; got {quote(name)}")
            value = check_bytes(value, what=f"component {quote(name)}")
            if not isinstance(value, (int, float)):  # Fraction, numpy scalars: plain int when whole, else float
                value = int(value) if value == int(value) else float(value)
            clean[name] = value
        object.__setattr__(self, "_parts", MappingProxyType(clean))
        object.__setattr__(self, "_title", str(title))
        object.__setattr__(self, "_notes", tuple(str(n) for n in notes))

    def __setattr__(self, name, value):
        raise AttributeError("a Breakdown is immutable; build a new one")

    def __getitem__(self, name):
        return self._parts[name]

    def __iter__(self):
        return iter(self._parts)

    def __len__(self):
        return len(self._parts)

    @property
    def title(self) -> str:
        return self._title

    @property
    def notes(self) -> tuple:
        return self._notes

    @property
    def total(self):
        """Sum of the components: an int when every component is, else an exactly rounded float."""
        values = self._parts.values()
        if all(isinstance(v, int) for v in values):
            return sum(values)
        return math.fsum(values)

    def with_margin(self, fraction) -> Breakdown:
        """A new Breakdown with a "margin" component of `fraction` x total (0 <= fraction <= 1)."""
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction <= 1:
            raise ValueError(f"margin must be a fraction between 0 and 1 (0.2 for 20 %); got {quote(fraction)}")
        if "margin" in self._parts:
            raise ValueError("this breakdown already has a margin")
        # Exact through the shortest decimal, so 364 GB with 20 % is exactly 436.8 GB, not 436.80000000000007.
        margin = Fraction(self.total) * Fraction(repr(float(fraction)))
        parts = dict(self._parts, margin=int(margin) if margin.denominator == 1 else float(margin))
        note = f"margin: {fraction:.0%} of {self.total / GB:,.1f} GB"
        return Breakdown(parts, title=self._title, notes=self._notes + (note,))

    def _rows(self):
        total = self.total or 1
        for name, value in self._parts.items():
            yield name, value / GB, value / GiB, 100 * value / total

    def __repr__(self) -> str:
        width = max([len("component"), len("total")] + [len(n) for n in self._parts])
        lines = [self._title] if self._title else []
        lines.append(f"{'component':<{width}}  {'GB':>10}  {'GiB':>10}  {'share':>6}")
        for name, gb, gib, share in self._rows():
            lines.append(f"{name:<{width}}  {gb:>10,.2f}  {gib:>10,.2f}  {share:>5.1f}%")
        lines.append(f"{'total':<{width}}  {self.total / GB:>10,.2f}  {self.total / GiB:>10,.2f}  {'':>6}")
        lines += [f"note: {n}" for n in self._notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = f"<caption>{self._title}</caption>" if self._title else ""
        rows = "".join(
            f"<tr><td>{name}</td><td>{gb:,.2f}</td><td>{gib:,.2f}</td><td>{share:.1f}%</td></tr>"
            for name, gb, gib, share in self._rows()
        )
        total = (
            f"<tr><th>total</th><th>{self.total / GB:,.2f}</th><th>{self.total / GiB:,.2f}</th><th></th></tr>"
        )
        notes = "".join(f"<li>{n}</li>" for n in self._notes)
        notes = f"<ul>{notes}</ul>" if notes else ""
        return (
            f"<table>{head}<tr><th>component</th><th>GB</th><th>GiB</th><th>share</th></tr>"
            f"{rows}{total}</table>{notes}"
        )

    def plot(self, ax=None, capacity_bytes=None, capacity_label=None):
        """A stacked bar of the components (matplotlib is imported here, not at `import llmmem`)."""
        from .drawing import plot_breakdown

        return plot_breakdown(self, ax=ax, capacity_bytes=capacity_bytes, capacity_label=capacity_label)
