"""The fast paths that read a library's private API (salesnb.fast_paths):
each, made to fail, turns itself off for the rest of the process and the
call it failed in is done the public way, with the same result: the same
PNG bytes as plain matplotlib for charts, equal Arrow arrays for pandas'
``_pa_array``. ``SALESNB_FAST_PATHS=0`` turns them all off.

The charts are a rep report's kinds (and the analysts' single trend), on small hand-made frames: a rep
at a 27 % win rate against a team whose middle half is 55-75 %, three
quarters of trend, two forecasts, a value/cost ratio against the team's.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from chart_inputs import FACTORS, TREND, TRENDS
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.font_manager import fontManager
from matplotlib.ft2font import FT2Font

from salesnb.fast_paths import FAST_PATHS
from salesnb.io import categorical, parsing, value_lookup
from salesnb.present import charts, drawing, layout_memos

CHARTS = {
    "factor_bands": lambda: charts.factor_bands(FACTORS, peer_label="team"),
    "trend": lambda: charts.trend(TREND, metric="win_rate"),
    "trends": lambda: charts.trends(TRENDS),
    "value_vs_cost": lambda: charts.value_vs_cost(
        pd.DataFrame({"label": ["You", "Team median"], "value_cost_ratio": [13.2, 19.0]}), highlight=["You"]
    ),
    "forecast_vs_actual": lambda: charts.forecast_vs_actual(
        pd.DataFrame(
            {"period": ["2025-Q1", "2025-Q2"], "forecast_amount": [168_700.0, 128_300.0], "actual": [173_282.0, 117_192.0]}
        )
    ),
}


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def _switch_all(monkeypatch, on: bool) -> None:
    for path in FAST_PATHS.values():
        monkeypatch.setattr(path, "on", on)
        monkeypatch.setattr(path, "error", None)


@pytest.fixture(scope="module")
def plain_pngs():
    """Every chart as plain matplotlib draws it: no fast path, each on a fresh Agg canvas.
    Drawn once for the module (the tests only compare with these bytes)."""
    with pytest.MonkeyPatch.context() as plain:
        _switch_all(plain, False)
        pngs = {}
        for name, draw in CHARTS.items():
            fig = draw()
            FigureCanvasAgg(fig)
            pngs[name] = _png(fig)
    return pngs


@pytest.fixture
def fast(monkeypatch):
    """Every fast path on (whatever SALESNB_FAST_PATHS says), its caches empty."""
    _switch_all(monkeypatch, True)
    drawing._GLYPHS._layouts.clear()
    drawing._GLYPHS._bitmaps.clear()
    drawing._RENDERERS.clear()
    drawing._STOCK.clear()
    yield
    drawing._STOCK.clear()


def _fail_once(monkeypatch, owner, name, calls: list):
    """Make ``owner.name`` raise the first time it is called, as a changed signature would; later calls go through."""
    real = getattr(owner, name)

    def failing(*args, **kwargs):
        calls.append(name)
        if len(calls) == 1:
            raise TypeError(f"{name}() got an unexpected argument (forced by the test)")
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, failing)


@pytest.mark.pixel
def test_charts_as_the_environment_sets_the_fast_paths_draw_what_plain_matplotlib_draws(plain_pngs):
    """CI runs this with SALESNB_FAST_PATHS=0 too: then every chart is drawn the plain way."""
    for name, draw in CHARTS.items():
        assert _png(draw()) == plain_pngs[name], name


@pytest.mark.pixel
def test_glyph_cache_turns_itself_off_on_its_first_exception(monkeypatch, plain_pngs, fast):
    calls = []
    _fail_once(monkeypatch, FT2Font, "_render_glyph", calls)
    drawn_by_cache = []
    real_draw = drawing._GLYPHS.draw
    monkeypatch.setattr(drawing._GLYPHS, "draw", lambda *a: drawn_by_cache.append(1) or real_draw(*a))
    for name, draw in CHARTS.items():
        assert _png(draw()) == plain_pngs[name], name
    assert calls and FAST_PATHS["glyph cache"].on is False
    assert isinstance(FAST_PATHS["glyph cache"].error, TypeError)
    assert len(drawn_by_cache) == 1  # the text it failed on, then never again


@pytest.mark.pixel
def test_shared_renderers_turn_themselves_off_on_their_first_exception(monkeypatch, plain_pngs, fast):
    calls = []
    _fail_once(monkeypatch, fontManager, "_find_fonts_by_props", calls)  # the line metrics read it first
    pngs = {name: _png(draw()) for name, draw in CHARTS.items()}
    assert FAST_PATHS["shared renderers"].on is False
    assert pngs == plain_pngs
    fig = CHARTS["trend"]()
    assert type(fig.canvas.get_renderer()) is not drawing._Renderer  # matplotlib's own, from now on
    plt.close(fig)


@pytest.mark.pixel
def test_tick_memo_turns_itself_off_on_its_first_exception(monkeypatch, plain_pngs, fast):
    """The memo reads the axis's private tick settings (_major_tick_kw...): made to fail, matplotlib computes the ticks."""
    read = []

    def failing(self):
        read.append(1)
        raise AttributeError("'XAxis' object has no attribute '_major_tick_kw' (forced by the test)")

    monkeypatch.setattr(layout_memos._TickMemo, "_depends_on", failing)
    for name, draw in CHARTS.items():
        assert _png(draw()) == plain_pngs[name], name
    assert FAST_PATHS["tick memo"].on is False
    assert len(read) == 1
    fig = CHARTS["trend"]()
    assert not isinstance(fig.axes[0].xaxis.__dict__.get("_update_ticks"), layout_memos._TickMemo)  # none installed now
    plt.close(fig)


@pytest.mark.pixel
def test_stocked_figures_turn_themselves_off_on_their_first_exception(monkeypatch, plain_pngs, fast):
    def draw_all():
        for draw in CHARTS.values():
            _png(draw())

    assert charts.stock_figures(draw_all) > 0
    taken = []

    def failing(shape):
        taken.append(shape)
        raise RuntimeError("a stocked figure could not be handed out (forced by the test)")

    monkeypatch.setattr(drawing._STOCK, "take", failing)
    for name, draw in CHARTS.items():
        assert _png(draw()) == plain_pngs[name], name
    assert FAST_PATHS["stocked figures"].on is False
    assert len(taken) == 1
    assert charts.stock_figures(draw_all) == 0  # and none are made any more


@pytest.mark.pixel
def test_title_places_turn_themselves_off_on_their_first_exception(monkeypatch, plain_pngs, fast):
    calls = []

    def failing(axis):
        calls.append(1)
        raise AttributeError("'YAxis' object has no attribute 'offsetText' (forced by the test)")

    monkeypatch.setattr(layout_memos._TitlePlace, "_without_offset", staticmethod(failing))
    for name, draw in CHARTS.items():
        assert _png(draw()) == plain_pngs[name], name
    assert FAST_PATHS["title places"].on is False
    assert len(calls) == 1
    fig = CHARTS["trend"]()
    assert "_update_title_position" not in fig.axes[0].__dict__  # none installed now
    plt.close(fig)


def test_the_environment_turns_every_fast_path_off():
    code = (
        "from salesnb.present import drawing; from salesnb.io import categorical; "
        "from salesnb.fast_paths import FAST_PATHS; print(sorted(n for n, p in FAST_PATHS.items() if p.on))"
    )
    env = {**os.environ, "SALESNB_FAST_PATHS": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    env["SALESNB_FAST_PATHS"] = "1"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert "glyph cache" in out and "pandas _pa_array" in out


TEXT = pd.Series([" Ann ", "Bo", None, "", "Cy"] * 3, dtype="str")


def test_arrow_array_is_the_array_pandas_holds(monkeypatch):
    monkeypatch.setattr(FAST_PATHS["pandas _pa_array"], "on", True)
    assert categorical.arrow_array(TEXT) is TEXT.array._pa_array


def test_arrow_array_without_pa_array_gives_an_equal_array(monkeypatch):
    monkeypatch.setattr(FAST_PATHS["pandas _pa_array"], "on", True)
    held = categorical.arrow_array(TEXT)
    monkeypatch.setattr(FAST_PATHS["pandas _pa_array"], "on", False)
    converted = categorical.arrow_array(TEXT)
    assert converted is not held and converted.equals(held)
    assert categorical.arrow_array(pd.Series(["b", "a"], dtype=object)).equals(
        pa.chunked_array([["b", "a"]], type=pa.large_string())
    )


def test_arrow_array_turns_itself_off_when_pa_array_fails(monkeypatch):
    monkeypatch.setattr(FAST_PATHS["pandas _pa_array"], "on", True)
    monkeypatch.setattr(FAST_PATHS["pandas _pa_array"], "error", None)

    class Changed:  # an Arrow-backed array of a pandas whose _pa_array changed meaning
        _pa_array = pa.array(["x", None])  # a plain Array, not a ChunkedArray

        def __arrow_array__(self, type=None):
            return pa.array(["x", None], type=type)

    assert categorical.arrow_array(Changed()).equals(pa.chunked_array([["x", None]]))
    assert FAST_PATHS["pandas _pa_array"].on is False
    assert isinstance(FAST_PATHS["pandas _pa_array"].error, TypeError)
    assert categorical.arrow_array(TEXT).equals(TEXT.array._pa_array)  # still right, the public way


def test_loader_steps_give_the_same_results_without_pa_array(monkeypatch):
    known = pd.Series(["Ann", "Cy"], dtype="str")
    codes = pd.Series(["b", "a", None, "b"], dtype="category")

    def results():
        return (
            parsing.clean_text(TEXT),
            value_lookup.is_in(TEXT, known),
            categorical.arrow_dictionary(codes),
            categorical.as_category(TEXT),
        )

    monkeypatch.setattr(FAST_PATHS["pandas _pa_array"], "on", True)
    cleaned, is_in, dictionary, category = results()
    monkeypatch.setattr(FAST_PATHS["pandas _pa_array"], "on", False)
    cleaned_public, is_in_public, dictionary_public, category_public = results()
    pd.testing.assert_series_equal(cleaned_public, cleaned)
    np.testing.assert_array_equal(is_in_public, is_in)
    assert dictionary_public.equals(dictionary)
    pd.testing.assert_series_equal(category_public, category)
