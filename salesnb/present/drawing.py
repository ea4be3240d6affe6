"""How salesnb's charts are built and drawn fast, with matplotlib's own pixels.

:mod:`salesnb.present.charts` says what a chart shows; this module builds its Figure
and makes drawing it cheap, because drawing is most of a report's time:

- :func:`figure` builds a chart's Figure and Axes on a :class:`_ReportCanvas`,
  whose Agg renderer comes from a pool, one per chart size (text sizes are
  measured once) and remembers fonts' line metrics;
- :class:`_Glyphs` keeps each text's glyph layout and each glyph's bitmap;
- :class:`_TickMemo` recomputes an axis's ticks only when what they depend
  on changed (of the axes' size: how many labels fit, :meth:`_TickMemo._room`);
- :class:`_TitlePlace` places a title without the y-axis boxes matplotlib
  makes only for an offset text the axis does not have;
- :class:`_TickLabelBoxes` and :class:`_SpineBox` remember an axis's tick
  label boxes and a spine's box while nothing they depend on changed: the
  layout engine's passes and the draw ask for them two to four times each;
- :func:`_union` is ``Bbox.union`` reading each box's points once;
- :func:`_get_layout` remembers each text's layout (size and line offsets)
  while nothing it depends on changed: the layout engine's two passes and
  the draw ask for it six to ten times per text;
- :func:`stock_figures` makes blank figures ahead, in a process that forks
  one child per report (:mod:`salesnb.run.forkserver`).

Each is exact: tests/test_plots.py compares the pixels with plain
matplotlib's for every chart kind. They read matplotlib internals (the
versions tested are pinned in pyproject.toml), and this module is the only
one that does: each fast path has a :class:`salesnb.fast_paths.FastPath`
switch and turns itself off for the rest of the process on its first
exception, that call drawn by plain matplotlib instead
(tests/test_fast_paths.py forces it and compares pixels);
``SALESNB_FAST_PATHS=0`` in the environment turns them all off.
"""

from __future__ import annotations

import functools
import math
import threading

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox, BboxBase

from salesnb.fast_paths import FastPath

__all__ = ["figure", "stock_figures"]

_SHARED_RENDERERS = FastPath("shared renderers")  # _ReportCanvas's pool and _Renderer's line metrics
_GLYPH_CACHE = FastPath("glyph cache")  # _Glyphs
_TICK_MEMO = FastPath("tick memo")  # _TickMemo
_STOCKED_FIGURES = FastPath("stocked figures")  # _Stock
_TEXT_LAYOUTS = FastPath("text layouts")  # _get_layout
_TITLE_PLACES = FastPath("title places")  # _TitlePlace
_AXIS_BOXES = FastPath("axis boxes")  # _TickLabelBoxes, _SpineBox
_BOX_UNIONS = FastPath("box unions")  # _union
_TICK_ROOM = FastPath("tick room")  # _TickMemo._room


class _ReportCanvas(FigureCanvasAgg):
    """An Agg canvas that borrows its renderer from a per-thread pool.

    Agg keeps a renderer per canvas, and matplotlib caches text sizes per
    renderer; with one canvas per chart every chart measured its tick
    labels, titles and legends from scratch. Charts of one size share one
    renderer here (each draw clears it first, as Agg always does), so a
    label measured once is measured for every later chart of that size, in
    this process and in any process forked from it. The pixels are the
    same as with a fresh renderer; what differs is that
    ``canvas.buffer_rgba()`` is only valid until the next chart of the same
    size is drawn (savefig and the notebook display encode it at once).
    """

    def get_renderer(self):
        if _SHARED_RENDERERS.on:
            try:
                return self._shared_renderer()
            except Exception as error:  # noqa: BLE001 - a fast path: plain matplotlib draws instead
                _SHARED_RENDERERS.fail(error)
        if isinstance(getattr(self, "renderer", None), _Renderer):
            self._lastKey = None  # a plain renderer of its own from here on, as FigureCanvasAgg makes
        return super().get_renderer()

    def _shared_renderer(self):
        w, h = self.get_width_height(physical=True)
        key = (threading.get_ident(), w, h, self.figure.dpi)
        with _RENDERERS_LOCK:
            renderer = _RENDERERS.pop(key, None)
            if renderer is None:
                renderer = _Renderer(w, h, self.figure.dpi)
            _RENDERERS[key] = renderer  # the most recently used last
            while len(_RENDERERS) > _MAX_RENDERERS:
                _RENDERERS.pop(next(iter(_RENDERERS)))
        self.renderer = renderer
        return renderer


class _Renderer(RendererAgg):
    """RendererAgg that also remembers each font's line metrics.

    matplotlib asks the renderer for them (``_get_font_height_metrics``)
    before it falls back to reading the font's tables for every text it
    lays out; the values are the ones that fallback computes.
    """

    def __init__(self, width, height, dpi):
        super().__init__(width, height, dpi)
        self._line_metrics: dict = {}
        _install_text_layouts()  # texts drawn on this renderer have their layouts remembered

    def _get_font_height_metrics(self, prop, *args, **kwargs):
        """(ascent, descent, line gap); (None, None, None) lets matplotlib.text
        read them itself, as it does for a renderer without this method."""
        if _SHARED_RENDERERS.on:
            try:
                if args or kwargs:
                    raise TypeError(f"_get_font_height_metrics called with more than prop: {args!r} {kwargs!r}")
                key = (prop.copy(), self.dpi)
                metrics = self._line_metrics.get(key)
                if metrics is None:
                    metrics = self._line_metrics[key] = _font_height_metrics(prop, self.dpi)
                return metrics
            except Exception as error:  # noqa: BLE001 - a fast path: matplotlib measures instead
                _SHARED_RENDERERS.fail(error)
        return None, None, None

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        """RendererAgg.draw_text with each text's glyph layout and each glyph's
        bitmap remembered (:class:`_Glyphs`); mathtext, a matplotlib without
        the internals this reads and any text after the glyph cache's first
        exception are drawn by RendererAgg itself."""
        if not ismath and _GLYPH_CACHE.on and _Glyphs.fits():
            try:
                _GLYPHS.draw(self, gc, x, y, s, prop, angle, mtext)
                return None
            except Exception as error:  # noqa: BLE001 - a fast path: RendererAgg draws this text instead
                _GLYPH_CACHE.fail(error)
        return super().draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)


class _Glyphs:
    """The glyphs of the texts charts draw, laid out and rendered once.

    Drawing text is a sixth of a chart's time, and a report's charts draw
    the same titles, labels, legends and tick labels as every other report.
    RendererAgg lays out each text (FreeType, every time) and renders each
    glyph at its position; here the layout is kept per text, font, size and
    dpi, and each glyph's bitmap per glyph, size, rotation and position
    within its pixel (1/64 px, as FreeType places it): a glyph at a whole
    pixel further is the same bitmap, moved. The bitmaps are put on the
    canvas exactly as RendererAgg puts them, so the pixels are the same
    (tests/test_plots.py). What a report template draws before it forks
    is there for every report.

    A font is known here by what made it (its files, kerning factor and
    last-resort setting, as matplotlib's font cache keys it), not by its
    FT2Font object: matplotlib empties that cache in every forked child
    (FT2Font objects must not cross a fork), so keyed by the object nothing
    the template drew would be found in a report's process. Layouts whose
    glyphs all come from the text's own font are kept by that key and drawn
    with the child's own FT2Font; a text that needed a fallback font is
    kept by its objects, as before.
    """

    LIMIT = 100_000  # entries of each kind kept; beyond, start again (a few MB)

    def __init__(self):
        self._layouts: dict = {}
        self._bitmaps: dict = {}
        self._fonts: dict = {}  # id(FT2Font) -> (the FT2Font, kept alive so the id stays its own; its key)
        self._turns: dict = {}  # angle -> (cos, sin, FreeType's 16.16 rotation matrix, it as a tuple)
        self._lock = threading.Lock()

    @staticmethod
    @functools.cache
    def fits() -> bool:
        from matplotlib.ft2font import FT2Font

        return all(hasattr(FT2Font, name) for name in ("_layout", "_render_glyph", "_set_transform")) and hasattr(
            RendererAgg, "_draw_text_glyphs_and_boxes"
        )

    def draw(self, renderer, gc, x, y, s, prop, angle, mtext) -> None:
        font = renderer._prepare_font(prop)
        font_key = self._font_key(font, prop)
        flags = get_hinting_flag()
        features = mtext.get_fontfeatures() if mtext is not None else None
        language = mtext.get_language() if mtext is not None else None
        size, dpi = prop.get_size_in_points(), renderer.dpi
        key = (s, font_key, size, dpi, flags, features, language)  # glyphs of the text's own font: face None
        glyphs = self._layouts.get(key)
        if glyphs is None:
            key = (s, font, size, dpi, flags, features, language)  # a text with glyphs of a fallback font
            glyphs = self._layouts.get(key)
        if glyphs is None:
            items = font._layout(s, flags=flags, features=features, language=language)
            if all(item.ft_object is font for item in items):
                key = (s, font_key, size, dpi, flags, features, language)
                glyphs = [(None, item.glyph_index, item.x, item.y) for item in items]
            else:
                glyphs = [(item.ft_object, item.glyph_index, item.x, item.y) for item in items]
            self._remember(self._layouts, key, glyphs)
        turn = self._turns.get(angle)
        if turn is None:
            cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
            matrix = (0x10000 * np.array([[cos, -sin], [sin, cos]])).round().astype(int)
            turn = self._turns[angle] = (cos, sin, matrix, tuple(matrix.ravel()))
        cos, sin, matrix, rotation = turn
        antialiased = gc.get_antialiased()
        height = renderer.height
        put = renderer._renderer.draw_text_image
        placed = []  # every bitmap first: an exception then leaves the canvas untouched for RendererAgg
        for face, index, dx, dy in glyphs:  # dy is upwards, as FreeType's y
            to_x = round(0x40 * (x + dx * cos - dy * sin))
            to_y = round(0x40 * (height - y + dx * sin + dy * cos))
            glyph_key = (face or font_key, size, dpi, index, rotation, to_x & 63, to_y & 63, flags, antialiased)
            bitmap = self._bitmaps.get(glyph_key)
            if bitmap is None:
                from matplotlib.ft2font import RenderMode  # (matplotlib 3.11+, as fits() checks)

                face = face or font
                face.set_size(size, dpi)
                face._set_transform(matrix, [to_x & 63, to_y & 63])
                rendered = face._render_glyph(index, flags, RenderMode.NORMAL if antialiased else RenderMode.MONO)
                buffer = np.array(rendered.buffer, copy=True)
                if not antialiased:
                    buffer *= 0xFF
                bitmap = (buffer, rendered.left, rendered.top)
                self._remember(self._bitmaps, glyph_key, bitmap)
            buffer, left, top = bitmap
            placed.append((buffer, left + (to_x >> 6), int(height) - (top + (to_y >> 6)) + buffer.shape[0]))
        for buffer, left, bottom in placed:
            put(buffer, left, bottom, 0, gc)

    def _font_key(self, font, prop) -> tuple:
        """What made ``font`` (the FT2Font ``renderer._prepare_font(prop)`` just gave):
        its font files and the two settings matplotlib's font cache keys it by."""
        known = self._fonts.get(id(font))
        if known is not None and known[0] is font:
            return known[1]
        from matplotlib.font_manager import fontManager

        paths = tuple((str(path.path), int(path.face_index)) for path in fontManager._find_fonts_by_props(prop))
        rc = matplotlib.rcParams
        key = (paths, rc["text.kerning_factor"], rc["font.enable_last_resort"])
        self._remember(self._fonts, id(font), (font, key))
        return key

    def _remember(self, cache: dict, key, value) -> None:
        with self._lock:
            if len(cache) >= self.LIMIT:
                cache.clear()
            cache[key] = value


_GLYPHS = _Glyphs()


def _font_height_metrics(prop, dpi):
    """Ascent, descent and line gap in pixels, as matplotlib.text reads them
    from the font's OS/2 or hhea table; (None, None, None): let it measure."""
    from matplotlib.font_manager import fontManager, get_font

    font = get_font(fontManager._find_fonts_by_props(prop))
    for table_name, gap, ascent, descent in (
        ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
        ("hhea", "lineGap", "ascent", "descent"),
    ):
        table = font.get_sfnt_table(table_name)
        if table is None:
            continue
        scale = 1 / font.get_sfnt_table("head")["unitsPerEm"] * prop.get_size_in_points() * dpi / 72
        return table[ascent] * scale, -table[descent] * scale, table[gap] * scale
    return None, None, None


_RENDERERS_LOCK = threading.Lock()
_RENDERERS: dict = {}  # (thread, width, height, dpi) -> _Renderer, least recently used first
_MAX_RENDERERS = 8  # a report draws charts of a few sizes; each renderer holds its pixels (about 1 MB)


def figure(nrows: int = 1, ncols: int = 1, *, figsize, style: dict, **kw):
    """A new chart's Figure and its grid of Axes, built under ``style`` (rcParams,
    already in effect): a blank one made ahead (:func:`stock_figures`) when
    there is one of this shape, else built now."""
    shape = _shape(nrows, ncols, figsize, kw)
    made = None
    if _STOCKED_FIGURES.on and shape is not None:
        try:
            made = _STOCK.take(shape)
        except Exception as error:  # noqa: BLE001 - a fast path: the figure is built now instead
            _STOCKED_FIGURES.fail(error)
    if made is None:
        made = _new_figure(nrows, ncols, figsize=figsize, style=style, **kw)
    if _STOCK.recording is not None:
        _STOCK.recording.append((shape, made[1], style))
    return made


def _new_figure(nrows: int = 1, ncols: int = 1, *, figsize, style: dict, **kw):
    fig = Figure(figsize=figsize, layout="constrained")
    _ReportCanvas(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    for ax in axes.flat:
        for axis in (ax.xaxis, ax.yaxis):
            _TickMemo.install(axis)
        _TitlePlace.install(ax)
        _TickLabelBoxes.install(ax)
        ax.grid(True, axis="both", color=style["grid.color"], linewidth=style["grid.linewidth"])
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    return fig, axes


def _shape(nrows, ncols, figsize, kw):
    """What a blank figure from :func:`_figure` depends on, hashable; None if it cannot be."""
    try:
        shape = (nrows, ncols, tuple(figsize), tuple(sorted(kw.items())))
        hash(shape)
    except TypeError:
        return None
    return shape


class _Stock:
    """Blank figures made ahead, by style and shape, with the matplotlib settings they were made under.

    Building a Figure, its Axes and their ticks is about a third of what a
    report's chart costs. A process that forks one child per report
    (:mod:`salesnb.run.forkserver`) makes them once, before it forks; every child
    finds them in its own copy of memory and only draws. A figure is handed
    out only while ``matplotlib.rcParams`` are exactly what they were when it
    was made (a chart drawn under another style, or a notebook that changes a
    setting, gets figures built as usual), and each is handed out once.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._stocks: list = []  # (rcParams made under, {shape: [(fig, axes)]}), never drawn on
        self.recording: list | None = None  # (shape, axes, style) of each figure figure() returns, while stocking

    def take(self, shape):
        with self._lock:
            if not any(shape in figures for _, figures in self._stocks):
                return None
            rc = dict(matplotlib.rcParams)
            for made_under, figures in self._stocks:
                if figures.get(shape) and made_under == rc:
                    return figures[shape].pop()
            return None

    def fill(self, used: list) -> int:
        """Make, for each shape and style in ``used`` ((shape, axes, style) triples), as
        many blank figures as it appears, each axis with as many ticks as the most it
        was drawn with: the ticks then exist already, as matplotlib would create them."""
        styles: list = []  # the distinct styles, in order of first use
        ticks: dict = {}
        for shape, axes, style in used:
            if style not in styles:
                styles.append(style)
            key = (styles.index(style), shape)
            counts = [(len(ax.xaxis.majorTicks), len(ax.yaxis.majorTicks)) for ax in axes.flat]
            known = ticks.get(key, counts)
            ticks[key] = [(max(a[0], b[0]), max(a[1], b[1])) for a, b in zip(known, counts)]
        stocks = []
        for number, style in enumerate(styles):
            figures: dict = {}
            with matplotlib.rc_context(style):
                for shape, _, used_style in used:
                    if shape is None or used_style != style:
                        continue
                    nrows, ncols, figsize, kw = shape
                    fig, axes = _new_figure(nrows, ncols, figsize=figsize, style=style, **dict(kw))
                    for ax, (x_ticks, y_ticks) in zip(axes.flat, ticks[(number, shape)]):
                        ax.xaxis.get_major_ticks(x_ticks)
                        ax.yaxis.get_major_ticks(y_ticks)
                    figures.setdefault(shape, []).append((fig, axes))
                rc = dict(matplotlib.rcParams)
            stocks.append((rc, figures))
        with self._lock:
            self._stocks = stocks
        return sum(len(v) for _, figures in stocks for v in figures.values())

    def clear(self) -> None:
        with self._lock:
            self._stocks = []


_STOCK = _Stock()


def stock_figures(draw) -> int:
    """Call ``draw()`` (which builds and renders charts, e.g. one report's),
    then make ahead blank figures of the shapes it used, under the style each
    was drawn in, as many of each as it used; later charts of those shapes and
    styles take them instead of building their own. For a process that forks
    a child per report, before it forks. Returns how many figures were made
    (none once the path is off).
    The pixels are the same either way (tests/test_plots.py)."""
    _STOCK.clear()
    _STOCK.recording = []
    try:
        draw()
        used = _STOCK.recording
    finally:
        _STOCK.recording = None
    if not _STOCKED_FIGURES.on:
        return 0
    try:
        return _STOCK.fill(used)
    except Exception as error:  # noqa: BLE001 - a fast path: figures are built when asked for instead
        _STOCKED_FIGURES.fail(error)
        _STOCK.clear()
        return 0


class _TickMemo:
    """``axis._update_ticks`` that recomputes only when what it depends on changed.

    matplotlib recomputes an axis's ticks (locator, formatter, every tick's
    position and text) each time something asks for them: the layout
    engine's two passes, the title and label placement and the draw itself
    ask about ten times per axis per chart, always with the same answer. The
    answer depends on the view limits, the axes' size in pixels (how many
    ticks fit), the locator and formatter objects and which tick parts are
    shown; when none of these changed, the ticks are already as the last
    call left them and that call's list is returned. Pixels are unchanged
    (a test draws every chart of real reports both ways).

    The axes' size counts only through how many tick labels fit
    (``axis.get_tick_space()``) for matplotlib's own linear locators
    (:data:`_ROOMY`), and not at all for fixed, null and multiple ones: the
    ticks a chart's title is fitted to at the screen's dpi, the layout's
    two passes (which move the axes) and the draw are then one computation,
    not four, as long as as many labels fit (:meth:`_room`)."""

    _NEEDS = ("_major_tick_kw", "_minor_tick_kw", "majorTicks", "minorTicks", "major", "minor")

    @classmethod
    def fits(cls, axis) -> bool:
        """Whether this matplotlib has the axis internals the memo reads (else: no memo, same charts)."""
        return callable(getattr(type(axis), "_update_ticks", None)) and all(hasattr(axis, a) for a in cls._NEEDS)

    @classmethod
    def install(cls, axis) -> None:
        """Put a memo on ``axis`` (while the path is on and this matplotlib fits)."""
        if not _TICK_MEMO.on:
            return
        try:
            if cls.fits(axis):
                axis._update_ticks = cls(axis)
        except Exception as error:  # noqa: BLE001 - a fast path: the axis keeps matplotlib's own
            _TICK_MEMO.fail(error)

    def __init__(self, axis):
        self._compute = type(axis)._update_ticks.__get__(axis)
        self._axis = axis
        self._key = self._ticks = None

    def __call__(self):
        """The axis's ticks: the last call's while nothing they depend on changed;
        computed by matplotlib every time once the memo is off."""
        if not _TICK_MEMO.on:
            return self._compute()
        try:
            key = self._depends_on()
        except Exception as error:  # noqa: BLE001 - a fast path: matplotlib computes them instead
            _TICK_MEMO.fail(error)
            return self._compute()
        if self._ticks is None or key != self._key:
            self._ticks = self._compute()
            self._key = (*key[:-2], len(self._axis.majorTicks), len(self._axis.minorTicks))  # after any ticks it created
        return self._ticks

    def _depends_on(self) -> tuple:
        axis = self._axis
        major, minor = axis.major, axis.minor
        return (
            tuple(axis.get_view_interval()),
            self._room(axis, major.locator, minor.locator),
            major.locator,
            major.formatter,
            minor.locator,
            minor.formatter,
            tuple(axis._major_tick_kw.items()),  # in the dict's order: the same settings in another order only recompute
            tuple(axis._minor_tick_kw.items()),
            len(axis.majorTicks),
            len(axis.minorTicks),
        )

    @staticmethod
    def _room(axis, *locators) -> tuple:
        """What of the axes' size the locators read: nothing (fixed, null, multiple), how
        many tick labels fit (matplotlib's MaxNLocator and AutoLocator), or, for any
        other locator, the axes' place and the dpi."""
        if _TICK_ROOM.on:
            try:
                kinds = {type(locator) for locator in locators}
                if kinds <= _SIZELESS:
                    return ()
                if kinds <= _ROOMY | _SIZELESS:
                    return (axis.get_tick_space(),)
            except Exception as error:  # noqa: BLE001 - a fast path: keyed by the axes' place instead
                _TICK_ROOM.fail(error)
        return (axis.axes.bbox.bounds, axis.get_figure(root=True).dpi)


def _locators(*names) -> frozenset:
    import matplotlib.ticker

    return frozenset(getattr(matplotlib.ticker, name) for name in names)


_SIZELESS = _locators("FixedLocator", "NullLocator", "MultipleLocator")  # ticks from the view limits alone
_ROOMY = _locators("MaxNLocator", "AutoLocator")  # ... and how many labels fit (Axis.get_tick_space)


class _TitlePlace:
    """``Axes._update_title_position`` without the y-axis boxes it makes only for an empty offset text.

    matplotlib places an axes' title above its top tick labels, and before
    that asks each y axis for its whole bounding box (every tick label's
    extent, the axis name's place) for one purpose: to bring the axis's
    offset text (``1e6`` above the ticks) up to date and lift the title
    over it. The layout engine's two passes and the draw each place the
    title: a third of all the axis boxes a chart computes. When the axis's
    formatter has no offset (its ``get_offset`` is matplotlib's own ``''``
    or the unset ``offset_string`` of a fixed or function formatter) and
    the offset text is empty, that box changes nothing: the text stays
    empty, and the tick labels, axis name and offset text it would place
    are placed again before anything reads them (the next axis box, the
    axis's draw). Those axes are skipped for the call; pixels unchanged.
    """

    @classmethod
    def install(cls, ax) -> None:
        """Put this on ``ax`` (while the path is on and this matplotlib fits)."""
        if not _TITLE_PLACES.on:
            return
        try:
            if callable(getattr(type(ax), "_update_title_position", None)):
                ax._update_title_position = cls(ax)
        except Exception as error:  # noqa: BLE001 - a fast path: the axes keeps matplotlib's own
            _TITLE_PLACES.fail(error)

    def __init__(self, ax):
        self._place = type(ax)._update_title_position.__get__(ax)
        self._ax = ax

    def __call__(self, renderer):
        if not _TITLE_PLACES.on:
            return self._place(renderer)
        try:
            quiet = [ax.yaxis for ax in self._ax.get_figure(root=False).axes if self._without_offset(ax.yaxis)]
            for axis in quiet:
                axis.get_tightbbox = _no_box
            try:
                return self._place(renderer)
            finally:
                for axis in quiet:
                    del axis.get_tightbbox
        except Exception as error:  # noqa: BLE001 - a fast path: matplotlib places the title (titles start afresh)
            _TITLE_PLACES.fail(error)
            return self._place(renderer)

    @staticmethod
    def _without_offset(axis) -> bool:
        """Whether ``axis`` has, and would get, an empty offset text."""
        from matplotlib.ticker import FixedFormatter, Formatter, FuncFormatter

        if "get_tightbbox" in axis.__dict__ or axis.offsetText.get_text() != "":
            return False
        formatter = axis.major.formatter
        method = type(formatter).get_offset
        if method is Formatter.get_offset:
            return True
        return method in (FixedFormatter.get_offset, FuncFormatter.get_offset) and formatter.offset_string == ""


def _no_box(renderer=None, **kwargs):
    return None


class _TickLabelBoxes:
    """``axis._get_ticklabel_bboxes`` (every drawn tick label's box) and each
    spine's ``get_window_extent`` remembered while nothing they depend on changed.

    Within one layout pass, and in the draw, matplotlib asks for an axis's
    tick label boxes two to four times (the axis's own box, the axis name's
    place, the offset text's, the draw) and for the spine's box beside each
    axis-name placing, every time with the same inputs: the axes' place and
    view limits, the scales, the figure's dpi, the renderer and each label's
    text, font, alignment, rotation, position, visibility and transform
    (:func:`_label_key`); the spine's own place, bounds and transform and its
    axis's drawn ticks (length, direction, which tick lines show). They are
    worked out again whenever any of these changed (the two layout passes
    move the axes, so each pass and the draw compute them once), and the
    boxes handed out are copies. Pixels unchanged.
    """

    @classmethod
    def install(cls, ax) -> None:
        """Put the memo on ``ax``'s x and y axes and their spines (while the path is on)."""
        if not _AXIS_BOXES.on:
            return
        try:
            from matplotlib.axis import XAxis, YAxis

            if not callable(getattr(XAxis, "_get_ticklabel_bboxes", None)):
                return
            for axis, sides in ((ax.xaxis, ("bottom", "top")), (ax.yaxis, ("left", "right"))):
                if type(axis) not in (XAxis, YAxis):
                    continue
                axis._get_ticklabel_bboxes = cls(axis)
                for side in sides:
                    spine = ax.spines.get(side)
                    if spine is not None and spine.axis is axis and _SpineBox.fits(spine):
                        spine.get_window_extent = _SpineBox(spine)
        except Exception as error:  # noqa: BLE001 - a fast path: the axes keeps matplotlib's own
            _AXIS_BOXES.fail(error)

    def __init__(self, axis):
        self._compute = type(axis)._get_ticklabel_bboxes.__get__(axis)
        self._axis = axis
        self._key = self._boxes = None
        self._alive: list = []  # what the key names by id, kept so no other object takes the id

    def __call__(self, ticks, renderer):
        if not _AXIS_BOXES.on:
            return self._compute(ticks, renderer)
        try:
            key, alive = self._depends_on(ticks, renderer)
            if key is not None and key == self._key:
                return tuple([box.frozen() for box in boxes] for boxes in self._boxes)
        except Exception as error:  # noqa: BLE001 - a fast path: matplotlib measures the labels instead
            _AXIS_BOXES.fail(error)
            return self._compute(ticks, renderer)
        boxes = self._measure(ticks, renderer) if key is not None else self._compute(ticks, renderer)
        if key is not None:
            self._key, self._alive = key, alive
            self._boxes = tuple([box.frozen() for box in part] for part in boxes)
        return boxes

    def _measure(self, ticks, renderer):
        """``Axis._get_ticklabel_bboxes``: each drawn label's ``Text.get_window_extent``, the
        positions of the labels that share an affine transform (each side's do) transformed
        by one call: the same arithmetic on the same numbers, row by row."""
        parts = []
        for side in ("label1", "label2"):
            texts = [getattr(tick, side) for tick in ticks]
            texts = [text for text in texts if text.get_visible() and text.get_in_layout()]
            parts.append(_extents(texts, renderer))
        return tuple(parts)

    def _depends_on(self, ticks, renderer):
        """(what the boxes depend on, the objects it names by id); (None, None): not remembered."""
        axis = self._axis
        alive = [renderer, ticks]
        labels = []
        for tick in ticks:
            for text in (tick.label1, tick.label2):
                label = _label_key(text, renderer, alive)
                if label is None:
                    return None, None
                labels.append(label)
        return (*_axes_key(axis.axes, alive), id(renderer), id(ticks), len(ticks), *labels), alive


def _extents(texts, renderer) -> list:
    """``[text.get_window_extent(renderer) for text in texts]``, with one transform call
    where the texts share an affine transform and none is empty (else text by text)."""
    if not texts:
        return []
    transform = texts[0].get_transform()
    dpi = texts[0].get_figure(root=True).dpi
    if not transform.is_affine or any(
        text.get_transform() is not transform or text.get_text() == "" or text.get_figure(root=True).dpi != dpi for text in texts
    ):
        return [text.get_window_extent(renderer) for text in texts]
    places = transform.transform(np.array([text.get_unitless_position() for text in texts], dtype=float))
    boxes = []
    for text, (x, y) in zip(texts, places):
        text._renderer = renderer  # as get_window_extent leaves it
        box, _, _ = text._get_layout(renderer)
        boxes.append(box.translated(x, y))
    return boxes


def _axes_key(ax, alive: list) -> tuple:
    """The place, view limits, scales and dpi an axes' transforms are made of."""
    scales = (ax.xaxis._scale, ax.yaxis._scale)
    alive.extend(scales)
    return (ax.bbox.bounds, ax.viewLim.bounds, ax.get_figure(root=True).dpi, *map(id, scales))


def _label_key(text, renderer, alive: list) -> tuple | None:
    """What a text's window extent depends on beyond its axes' place (None: not remembered)."""
    if not text._visible:
        return (False, text._in_layout)
    layout = _layout_key(text, renderer)
    if layout is None:
        return None
    transform = text._transform
    alive.append(transform)
    return (True, text._in_layout, text._x, text._y, id(transform), text._transformSet, *layout[1:])


class _SpineBox:
    """A straight spine's ``get_window_extent`` remembered (see :class:`_TickLabelBoxes`)."""

    @staticmethod
    def fits(spine) -> bool:
        return spine._patch_type == "line" and spine.spine_type in ("left", "right", "top", "bottom")

    def __init__(self, spine):
        self._compute = type(spine).get_window_extent.__get__(spine)
        self._spine = spine
        self._key = self._box = None
        self._alive: list = []

    def __call__(self, renderer=None):
        if not _AXIS_BOXES.on:
            return self._compute(renderer)
        try:
            key, alive = self._depends_on()
            if key == self._key:
                return self._box.frozen()
        except Exception as error:  # noqa: BLE001 - a fast path: matplotlib measures the spine instead
            _AXIS_BOXES.fail(error)
            return self._compute(renderer)
        box = self._compute(renderer)
        self._key, self._alive, self._box = key, alive, box.frozen()
        return box

    def _depends_on(self):
        spine = self._spine
        axis = spine.axis
        alive = [spine._transform, spine._path]
        key = [*_axes_key(spine.axes, alive), spine._position, spine._bounds, spine._patch_type, spine.spine_type]
        key += [id(spine._transform), id(spine._path)]
        if axis is not None and axis.get_visible():
            drawn = axis._update_ticks()
            alive.append(drawn)
            key += [id(drawn), len(drawn), len(axis.majorTicks), len(axis.minorTicks)]
            for tick in drawn:
                key.append((tick, tick._size, tick._tickdir, tick.tick1line._visible, tick.tick2line._visible))
        else:
            key.append(None)
        return tuple(key), alive


_PLAIN_GET_LAYOUT = Text._get_layout
_TEXT_LAYOUTS_PUT = False  # whether _install_text_layouts ran


def _get_layout(self, renderer):
    """``Text._get_layout`` remembered on the text, for texts drawn on a :class:`_Renderer`.

    The layout (the rotated bounding box, each line's size and offset, the
    box corner) is what the text's own properties make it, wherever the text
    is: every property ``Text._get_layout`` reads is in :func:`_layout_key`,
    and the position is applied by its callers. Texts that wrap (their
    lines depend on the figure), use TeX or turn with their transform are
    laid out each time, as is any text on another renderer (a figure that is
    not salesnb's)."""
    if _TEXT_LAYOUTS.on and type(renderer) is _Renderer:
        try:
            key = _layout_key(self, renderer)
            known = self.__dict__.get("_salesnb_layout")
            if key is not None and known is not None and known[0] == key:
                points, lines, corner = known[1]
                return Bbox(points.copy()), list(lines), corner
        except Exception as error:  # noqa: BLE001 - a fast path: matplotlib lays the text out instead
            _TEXT_LAYOUTS.fail(error)
            key = None
        layout = _PLAIN_GET_LAYOUT(self, renderer)
        if key is not None:
            self._salesnb_layout = (key, (layout[0].get_points().copy(), tuple(layout[1]), layout[2]))
        return layout
    return _PLAIN_GET_LAYOUT(self, renderer)


def _layout_key(text, renderer) -> tuple | None:
    """What ``Text._get_layout`` reads, for texts it lays out the same wherever they are; None for others."""
    if text._wrap or text._usetex or text._transform_rotates_text:
        return None
    return (
        renderer,
        renderer.dpi,
        text.get_figure(root=True).dpi,
        text._text,
        text._parse_math,
        tuple(text._fontproperties.__dict__.items()),  # what FontProperties hashes and compares by
        text._linespacing,
        text._multialignment,
        text._horizontalalignment,
        text._verticalalignment,
        text._rotation,
        text._rotation_mode,
    )


def _install_text_layouts() -> None:
    """Put :func:`_get_layout` on matplotlib's Text and :func:`_union` on its Bbox, once,
    each while its path is on (when the first :class:`_Renderer` is made; the first falls
    back to the original for other renderers, the second gives the same box anywhere)."""
    global _TEXT_LAYOUTS_PUT
    if _BOX_UNIONS.on and isinstance(BboxBase.__dict__.get("union"), staticmethod):
        BboxBase.union = staticmethod(_union)
    if not _TEXT_LAYOUTS.on or _TEXT_LAYOUTS_PUT:
        return
    _TEXT_LAYOUTS_PUT = True
    probe = Text(0, 0, "x")
    read = ("_wrap", "_usetex", "_transform_rotates_text", "_text", "_parse_math", "_fontproperties", "_linespacing")
    read += ("_multialignment", "_horizontalalignment", "_verticalalignment", "_rotation", "_rotation_mode")
    if all(hasattr(probe, name) for name in read):  # else: texts are laid out by matplotlib alone
        Text._get_layout = _get_layout


_PLAIN_UNION = BboxBase.union


def _union(bboxes):
    """``Bbox.union`` (the box around boxes) with each box's points read once.

    matplotlib's reads every corner through a property that takes a minimum
    of two numbers with numpy, four times per box; the layout engine and the
    draw make some forty unions per panel (an axis name beside its tick
    labels and spine, an axis's box, an axes' box). The same minima and
    maxima of the same numbers (NaN stays NaN), as the same Bbox."""
    if _BOX_UNIONS.on:
        try:
            if len(bboxes) and all(isinstance(box, BboxBase) for box in bboxes):
                points = np.array([box.get_points() for box in bboxes], dtype=float).reshape(-1, 2)
                (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
                return Bbox([[x0, y0], [x1, y1]])
        except Exception as error:  # noqa: BLE001 - a fast path: matplotlib's union instead
            _BOX_UNIONS.fail(error)
    return _PLAIN_UNION(bboxes)
