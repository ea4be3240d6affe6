"""The rep page's chart fast paths of issue #16 (salesnb.present.drawing): each
does less work than before and draws exactly what plain matplotlib draws.

A report's process is forked from a warm template, and matplotlib empties
its font cache in every forked child (``os.register_at_fork``): the child's
FT2Font objects are new ones. The tests do what that hook does,
``font_manager._get_font.cache_clear()``, between two drawings.
"""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
import pytest
from chart_inputs import FACTORS, TREND, TRENDS
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.ft2font import FT2Font

from salesnb.fast_paths import FAST_PATHS
from salesnb.present import charts, drawing, layout_memos


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def _plain_png(monkeypatch, draw) -> bytes:
    """``draw()``'s chart as plain matplotlib draws it: every fast path off, a fresh Agg canvas."""
    with monkeypatch.context() as plain:
        for path in FAST_PATHS.values():
            plain.setattr(path, "on", False)
        fig = draw()
        FigureCanvasAgg(fig)
        return _png(fig)


@pytest.fixture
def fast(monkeypatch):
    """Every fast path on, the glyph cache empty."""
    for path in FAST_PATHS.values():
        monkeypatch.setattr(path, "on", True)
        monkeypatch.setattr(path, "error", None)
    for cache in ("_layouts", "_bitmaps", "_fonts"):
        getattr(drawing._GLYPHS, cache, {}).clear()
    drawing._RENDERERS.clear()  # renderers made with the paths on
    yield
    drawing._RENDERERS.clear()


def _counting(monkeypatch, name: str) -> list:
    """Count calls of FT2Font.<name> (FreeType laying out a text / rendering a glyph)."""
    calls: list = []
    real = getattr(FT2Font, name)
    monkeypatch.setattr(FT2Font, name, lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    return calls


@pytest.mark.pixel
def test_glyphs_drawn_before_a_fork_are_found_after_it(monkeypatch, fast):
    """The trend chart drawn twice, matplotlib's font cache emptied in between
    as in a forked report: the second drawing lays out no text and renders no
    glyph again (before: every text and every glyph again, 19 layouts and
    113 glyphs), and its pixels are plain matplotlib's."""

    def draw():
        return charts.trend(TREND, metric="win_rate")

    plain = _plain_png(monkeypatch, draw)
    first = _png(draw())
    layouts, glyphs = _counting(monkeypatch, "_layout"), _counting(monkeypatch, "_render_glyph")
    font_manager._get_font.cache_clear()  # what matplotlib does in every forked child
    again = _png(draw())
    assert (len(layouts), len(glyphs)) == (0, 0)
    assert again == first == plain


@pytest.mark.pixel
@pytest.mark.filterwarnings("ignore:Glyph .* missing from font")
def test_a_text_with_a_fallback_font_is_drawn_as_matplotlib_draws_it(monkeypatch, fast):
    """A glyph DejaVu Sans lacks (a CJK name) comes from a fallback font (matplotlib's last resort): that
    layout is kept by the font objects, the rest by the font's files, and
    the pixels are plain matplotlib's, before and after the font cache is emptied."""
    named = TREND.assign(quarter=["2025-Q1", "第二季度", "2025-Q3"])

    def draw():
        return charts.trend(named, metric="win_rate")

    plain = _plain_png(monkeypatch, draw)
    assert _png(draw()) == plain
    fallback = [key[0] for key, glyphs in drawing._GLYPHS._layouts.items() if any(face is not None for face, *_ in glyphs)]
    assert fallback == ["第二季度"]
    font_manager._get_font.cache_clear()
    assert _png(draw()) == plain
    assert _png(charts.factor_bands(FACTORS)) == _plain_png(monkeypatch, lambda: charts.factor_bands(FACTORS))


def _counting_text_layouts(monkeypatch) -> tuple[list, list]:
    """(texts asked for their layout, text measurements made) while a chart is drawn."""
    import matplotlib.text as mtext

    asked, measured = [], []
    layout, metrics = mtext.Text._get_layout, mtext._get_text_metrics_with_cache
    monkeypatch.setattr(mtext.Text, "_get_layout", lambda self, r: asked.append(self) or layout(self, r))
    monkeypatch.setattr(mtext, "_get_text_metrics_with_cache", lambda *a, **k: measured.append(a[1]) or metrics(*a, **k))
    return asked, measured


def _changed(fig):
    """Text, size, weight, alignment, rotation and line spacing of a chart's texts changed."""
    ax = fig.axes[0]
    ax.title.set_linespacing(3.0)
    ax.xaxis.label.set_fontweight("bold")
    ax.yaxis.label.set_horizontalalignment("left")
    ax.tick_params(axis="x", labelrotation=30)
    ax.get_yticklabels()[1].set_text("a label")
    return fig


@pytest.mark.pixel
def test_each_text_is_laid_out_once_per_chart_not_at_every_request(monkeypatch, fast):
    """The layout engine's two passes and the draw ask each tick label, title
    and axis name for its layout six to ten times; it is worked out once per
    text (before: every time, each asking for the text's size again), and
    again when the text changed: a chart drawn, its texts changed, drawn
    again is plain matplotlib's pixels."""
    drawing._Renderer(1, 1, 72)  # the first of salesnb's renderers puts the path in place
    monkeypatch.setattr(FAST_PATHS["axis boxes"], "on", False)  # which asks fewer times (tested below)
    asked, measured = _counting_text_layouts(monkeypatch)
    png = _png(charts.factor_bands(FACTORS))
    texts = {id(t) for t in asked}
    assert len(asked) > 8 * len(texts) > 350  # 414 requests of 47 texts (578 before titles were placed without y boxes)
    # each layout measures its text's lines (the legend measures its own): 115 here, 646 before
    assert len(measured) < len(asked) / 3
    monkeypatch.undo()
    assert png == _plain_png(monkeypatch, lambda: charts.factor_bands(FACTORS))

    plain = _plain_png(monkeypatch, lambda: _changed(charts.trend(TREND, metric="revenue_won")))
    fig = charts.trend(TREND, metric="revenue_won")
    fig.savefig(io.BytesIO(), format="png", dpi=90)  # laid out and drawn as it was built
    assert _png(_changed(fig)) == plain


@pytest.mark.pixel
def test_text_layouts_turn_themselves_off_on_their_first_exception(monkeypatch, fast):
    calls = []

    def failing(text, renderer):
        calls.append(1)
        raise AttributeError("'Text' object has no attribute '_rotation_mode' (forced by the test)")

    monkeypatch.setattr(drawing, "layout_key", failing)  # the text layouts' key
    monkeypatch.setattr(layout_memos, "layout_key", failing)  # the same, as the axis boxes read it
    plain = _plain_png(monkeypatch, lambda: charts.trend(TREND, metric="win_rate"))
    assert _png(charts.trend(TREND, metric="win_rate")) == plain
    # the text layouts fail once, and the axis boxes (which read the same text properties) once: both off
    assert FAST_PATHS["text layouts"].on is FAST_PATHS["axis boxes"].on is False and len(calls) == 2
    assert isinstance(FAST_PATHS["text layouts"].error, AttributeError)


def test_titles_are_placed_without_the_y_axis_boxes_of_an_empty_offset_text(monkeypatch, fast):
    """matplotlib places each title (two layout passes and the draw) after asking every
    y axis for its whole box, only to update an offset text: skipped where the axis
    has none (layout_memos._TitlePlace), the pixels plain matplotlib's."""
    from matplotlib.axis import YAxis

    boxes: list = []
    real = YAxis.get_tightbbox
    monkeypatch.setattr(YAxis, "get_tightbbox", lambda self, *a, **k: boxes.append(1) or real(self, *a, **k))
    png = _png(charts.trends(TRENDS))
    # 3 panels x 2 layout passes, one y box each; matplotlib's own title placing asks 12 more (4 a panel)
    assert len(boxes) == 6
    with monkeypatch.context() as off:
        off.setattr(FAST_PATHS["title places"], "on", False)
        boxes.clear()
        assert _png(charts.trends(TRENDS)) == png
        assert len(boxes) == 18
    assert png == _plain_png(monkeypatch, lambda: charts.trends(TRENDS))
    # matplotlib's ScalarFormatter (days), whose offset text ("+1e7") depends on the ticks: placed as matplotlib does
    near = TREND.assign(rep_value=[1e7 + 1, 1e7 + 2, 1e7 + 3], peer_low=np.nan, peer_median=1e7 + 2, peer_high=np.nan)
    fig = charts.trend(near, metric="cycle_days_median")
    assert not layout_memos._TitlePlace._without_offset(fig.axes[0].yaxis)
    assert _png(fig) == _plain_png(monkeypatch, lambda: charts.trend(near, metric="cycle_days_median"))


def _counting_boxes(monkeypatch) -> dict:
    """Count the text extents and spine boxes matplotlib works out while a chart is drawn."""
    from matplotlib.spines import Spine
    from matplotlib.text import Text

    calls = {"texts": 0, "spines": 0}
    text_box, spine_box = Text.get_window_extent, Spine.get_window_extent

    def counted_text(self, *a, **k):
        calls["texts"] += 1
        return text_box(self, *a, **k)

    def counted_spine(self, *a, **k):
        calls["spines"] += 1
        return spine_box(self, *a, **k)

    monkeypatch.setattr(Text, "get_window_extent", counted_text)
    monkeypatch.setattr(Spine, "get_window_extent", counted_spine)
    return calls


def _redrawn(fig):
    """``fig`` laid out and drawn, then its y tick labels made bigger where they stand and drawn again:
    the axis name moves away from the wider labels (the reason matplotlib measures them)."""
    fig.set_dpi(90)  # as saved: reading the labels leaves the ticks (and what the boxes depend on) as drawn
    fig.savefig(io.BytesIO(), format="png", dpi=90)
    fig.set_layout_engine("none")  # the axes stay where they are: only the labels' boxes change
    for label in fig.axes[0].get_yticklabels():
        label.set_fontsize(24)
    return fig


@pytest.mark.pixel
def test_tick_label_and_spine_boxes_are_worked_out_once_per_layout_pass(monkeypatch, fast):
    """The layout engine's two passes and the draw ask for each axis's tick label
    boxes and spine box two to four times each, with the same inputs: worked out
    once per pass (layout_memos._TickLabelBoxes), and again when a label or spine
    changed, the pixels plain matplotlib's."""
    calls = _counting_boxes(monkeypatch)
    png = _png(charts.factor_bands(FACTORS))
    # 4 panels: 114 text extents asked one by one and 24 spine boxes (2 axes x 3 placings), 342 and 52
    # before; the tick labels' boxes are worked out once per placing, an axis's labels placed by one call
    assert (calls["texts"], calls["spines"]) == (114, 24)
    with monkeypatch.context() as off:
        off.setattr(FAST_PATHS["axis boxes"], "on", False)
        calls.update(texts=0, spines=0)
        assert _png(charts.factor_bands(FACTORS)) == png
        assert (calls["texts"], calls["spines"]) == (342, 52)
    assert png == _plain_png(monkeypatch, lambda: charts.factor_bands(FACTORS))

    fig = charts.factor_bands(FACTORS)
    _png(fig)
    renderer = fig.canvas.get_renderer()
    for axis in (axis for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)):
        memo, ticks = axis._get_ticklabel_bboxes, axis._update_ticks()
        assert isinstance(memo, layout_memos._TickLabelBoxes)
        fast_boxes, plain_boxes = memo._measure(ticks, renderer), memo._compute(ticks, renderer)
        assert [[b.bounds for b in part] for part in fast_boxes] == [[b.bounds for b in part] for part in plain_boxes]
    assert sum(len(ax.yaxis._update_ticks()) for ax in fig.axes) > 12  # boxes were compared

    plain = _plain_png(monkeypatch, lambda: _redrawn(charts.trend(TREND, metric="revenue_won")))
    assert _png(_redrawn(charts.trend(TREND, metric="revenue_won"))) == plain


@pytest.mark.pixel
def test_axis_boxes_turn_themselves_off_on_their_first_exception(monkeypatch, fast):
    calls = []

    def failing(text, renderer, alive):
        calls.append(1)
        raise AttributeError("'Text' object has no attribute '_in_layout' (forced by the test)")

    monkeypatch.setattr(layout_memos, "_label_key", failing)
    plain = _plain_png(monkeypatch, lambda: charts.factor_bands(FACTORS))
    assert _png(charts.factor_bands(FACTORS)) == plain
    assert FAST_PATHS["axis boxes"].on is False and len(calls) == 1
    assert isinstance(FAST_PATHS["axis boxes"].error, AttributeError)


def test_box_unions_are_matplotlibs_with_each_box_read_once(fast):
    """Bbox.union (some forty per panel between the layout and the draw) takes each
    box's points once instead of four numpy minima of two numbers per box: the same
    box, NaN and infinities and boxes given right to left included."""
    from matplotlib.transforms import Affine2D, Bbox, BboxBase, TransformedBbox

    drawing._Renderer(1, 1, 72)  # the first of salesnb's renderers puts the path in place
    assert BboxBase.union is layout_memos._union
    moved = TransformedBbox(Bbox([[0, 0], [1, 2]]), Affine2D().scale(3).translate(-5, 1))
    cases = [
        [Bbox([[1, 2], [3, 4]])],
        [Bbox([[1, 2], [3, 4]]), Bbox([[-1, 5], [0.5, 4.5]]), moved],
        [Bbox([[3, 4], [1, 2]]), Bbox([[0, 0], [0, 0]])],  # right to left, top to bottom
        [Bbox([[1, 2], [3, 4]]), Bbox([[np.nan, 0], [1, 1]])],
        [Bbox([[1, 2], [3, 4]]), Bbox([[-np.inf, 0], [1, np.inf]])],
    ]
    for boxes in cases:
        np.testing.assert_array_equal(Bbox.union(boxes).get_points(), layout_memos._PLAIN_UNION(boxes).get_points())
    assert Bbox.union(cases[1]).bounds == (-5.0, 1.0, 8.0, 6.0)  # worked out: x -5..3, y 1..7
    with pytest.raises(ValueError, match="cannot be empty"):
        Bbox.union([])


def _counting_tick_computations(monkeypatch) -> list:
    from matplotlib.axis import Axis

    computed: list = []
    real = Axis._update_ticks
    monkeypatch.setattr(Axis, "_update_ticks", lambda self: computed.append(self) or real(self))
    return computed


@pytest.mark.pixel
def test_ticks_are_computed_again_only_when_fewer_or_more_labels_fit(monkeypatch, fast):
    """An axis's ticks depend on the axes' size only through how many tick labels
    fit (matplotlib's MaxNLocator and AutoLocator) or not at all (fixed, null and
    multiple locators): the title's fitting at the screen's dpi, the layout's two
    passes and the draw compute them once per number of labels that fit, not four
    times an axis, the pixels plain matplotlib's."""
    from matplotlib.ticker import AutoMinorLocator, FixedLocator, LogLocator, MaxNLocator, NullLocator

    computed = _counting_tick_computations(monkeypatch)
    png = _png(charts.factor_bands(FACTORS))
    # 4 panels: each x axis (no ticks) once; each y axis 3 times (10, 8 then 6 labels fit): 28 before
    assert len(computed) == 16
    assert sum(axis.axis_name == "x" for axis in computed) == 4
    assert png == _plain_png(monkeypatch, lambda: charts.factor_bands(FACTORS))
    computed.clear()
    png = _png(charts.trends(TRENDS))
    assert len(computed) == 9  # 3 panels: 21 before
    assert png == _plain_png(monkeypatch, lambda: charts.trends(TRENDS))

    fig = charts.trends(TRENDS)
    axis = fig.axes[0].yaxis
    assert layout_memos._TickMemo._room(axis, FixedLocator([1, 2]), NullLocator()) == ()
    assert layout_memos._TickMemo._room(axis, MaxNLocator(), NullLocator()) == (axis.get_tick_space(),)
    where = (fig.axes[0].bbox.bounds, fig.dpi)
    assert layout_memos._TickMemo._room(axis, LogLocator(), NullLocator()) == where  # any other: the axes' place
    assert layout_memos._TickMemo._room(axis, MaxNLocator(), AutoMinorLocator()) == where
    plt.close(fig)


@pytest.mark.pixel
def test_tick_room_turns_itself_off_on_its_first_exception(monkeypatch, fast):
    calls = []

    class Broken:
        def __ge__(self, kinds):
            calls.append(1)
            raise TypeError("locator kinds unreadable (forced by the test)")

    plain = _plain_png(monkeypatch, lambda: charts.trends(TRENDS))
    monkeypatch.setattr(layout_memos, "_SIZELESS", Broken())
    computed = _counting_tick_computations(monkeypatch)
    assert _png(charts.trends(TRENDS)) == plain
    assert FAST_PATHS["tick room"].on is False and len(calls) == 1
    assert isinstance(FAST_PATHS["tick room"].error, TypeError)
    assert FAST_PATHS["tick memo"].on is True and len(computed) == 21  # keyed by the axes' place, as before
