import math

import pytest

from llmmem import GB, Breakdown


def test_total_is_an_exact_int_when_every_component_is():
    b = Breakdown({"weights": 2, "gradients": 3})
    assert b.total == 5 and isinstance(b.total, int)
    assert Breakdown({"weights": 1, "overhead": 0.5}).total == 1.5


def test_breakdown_is_an_immutable_mapping():
    b = Breakdown({"weights": 10})
    assert dict(b) == {"weights": 10} and len(b) == 1 and list(b) == ["weights"]
    with pytest.raises(TypeError):
        b["weights"] = 3
    with pytest.raises(AttributeError):
        b.title = "x"


def test_with_margin_adds_a_component_and_keeps_the_original():
    b = Breakdown({"a": 364 * GB})
    m = b.with_margin(0.2)
    assert m["margin"] == pytest.approx(72.8 * GB) and m.total == pytest.approx(436.8 * GB)
    assert "margin" not in b
    for bad in (-0.1, 1.5, math.nan, "0.2", True):
        with pytest.raises(ValueError, match="margin"):
            b.with_margin(bad)
    with pytest.raises(ValueError, match="already"):
        m.with_margin(0.1)


@pytest.mark.parametrize("parts", [{"Weights": 1}, {"kv cache": 1}, {"x": -1}, {"x": math.inf}, {"x": "1"}])
def test_bad_components_are_refused(parts):
    with pytest.raises(ValueError):
        Breakdown(parts)


def test_table_repr_shows_gb_and_gib():
    b = Breakdown({"weights": 140 * GB, "overhead": 28 * GB}, title="70B at 16 bits")
    text = repr(b)
    assert "70B at 16 bits" in text and "GiB" in text
    assert "168.00" in text and "156.46" in text  # total in GB and GiB
    html = b._repr_html_()
    assert "<table>" in html and "168.00" in html


def test_plot_draws_one_segment_per_component():
    import matplotlib

    matplotlib.use("Agg")
    b = Breakdown({"weights": 140 * GB, "overhead": 28 * GB}, title="t")
    ax = b.plot(capacity_bytes=2 * 80 * 2**30, capacity_label="2 x A100-80GB")
    assert len(ax.patches) == 2
    assert "GB" in ax.get_xlabel()
    assert ax.patches[1].get_x() == pytest.approx(140)
