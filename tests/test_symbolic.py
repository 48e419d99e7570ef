from fractions import Fraction

import pytest
import sympy as sp

from llmmem import serving_memory, symbolic
from llmmem.symbolic import P, Q


def test_seed_formula_simplifies_to_0_15_p_q():
    assert sp.simplify(symbolic.serving_simplified() - sp.Rational(3, 20) * P * Q) == 0
    steps = symbolic.serving_derivation()
    simplified = dict(steps)["simplified (bytes)"]
    assert simplified.rhs == sp.Rational(3, 20) * P * Q
    assert dict(steps)["as a decimal (bytes)"].rhs == sp.Float("0.15", 2) * P * Q
    # The on-screen seed form keeps the 32 / Q the article writes.
    assert "32/Q" in str(steps[0][1].rhs).replace(" ", "")


def test_the_general_formula_keeps_overhead_symbolic():
    assert sp.simplify(symbolic.serving_formula() - symbolic.B * P * Q * symbolic.o / 32) == 0


@pytest.mark.parametrize("params", [1, 7, 124_439_808, 7e9, 13e9, 70e9, 405e9, 1.5e12])
@pytest.mark.parametrize("bits", [4, 8, 16, 32])
@pytest.mark.parametrize("overhead", [1.0, 1.1, 1.2, 1.25])
def test_numeric_equals_symbolic_on_a_grid(params, bits, overhead):
    exact = symbolic.serving_formula().subs(
        {P: sp.Integer(int(params)), Q: bits, symbolic.B: 4, symbolic.o: sp.Rational(str(overhead))}
    )
    assert exact.is_Rational
    assert serving_memory(params, bits=bits, overhead=overhead) == float(Fraction(int(exact.p), int(exact.q)))


def test_seed_002_formula_as_written_gives_21_gb_not_210():
    as_written = symbolic.magic_formula_as_printed().subs({P: 70 * 10**9, Q: 16})
    assert as_written == 21 * 10**9  # its own arithmetic; the article prints 210 GB
    assert symbolic.serving_simplified().subs({P: 70 * 10**9, Q: 16}) == 168 * 10**9


def test_seed_000_fp8_applies_precision_twice():
    assert symbolic.serving_article_fp8_as_written().subs({P: 70 * 10**9, Q: 8}) == 21 * 10**9
    assert serving_memory(70e9, bits=8) == 84e9
