"""How salesnb's charts are built and drawn fast, with matplotlib's own pixels.

:mod:`salesnb.present.charts` says what a chart shows; this module builds its Figure
and makes drawing it cheap, because drawing is most of a report's time:

- :func:`figure` builds a chart's Figure and Axes on a :class:`_ReportCanvas`,
  whose Agg renderer comes from a pool, one per chart size (text sizes are
  measured once) and remembers fonts' line metrics;
- :class:`_Glyphs` keeps each text's glyph layout and each glyph's bitmap;
- :mod:`salesnb.present.layout_memos` remembers what the layout engine and
  the draw ask an axis for again and again (its ticks, tick label boxes,
  spines' boxes, a title's place; box unions read each box once), put on
  every axes :func:`figure` builds;
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
from matplotlib.transforms import Bbox

from salesnb.fast_paths import FastPath
from salesnb.present.layout_memos import install_box_unions, layout_key, remember_on

__all__ = ["figure", "stock_figures"]

_SHARED_RENDERERS = FastPath("shared renderers")  # _ReportCanvas's pool and _Renderer's line metrics
_GLYPH_CACHE = FastPath("glyph cache")  # _Glyphs
_STOCKED_FIGURES = FastPath("stocked figures")  # _Stock
_TEXT_LAYOUTS = FastPath("text layouts")  # _get_layout


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
        remember_on(ax)
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


_PLAIN_GET_LAYOUT = Text._get_layout
_TEXT_LAYOUTS_PUT = False  # whether _install_text_layouts ran


def _get_layout(self, renderer):
    """``Text._get_layout`` remembered on the text, for texts drawn on a :class:`_Renderer`.

    The layout (the rotated bounding box, each line's size and offset, the
    box corner) is what the text's own properties make it, wherever the text
    is: every property ``Text._get_layout`` reads is in :func:`salesnb.present.layout_memos.layout_key`,
    and the position is applied by its callers. Texts that wrap (their
    lines depend on the figure), use TeX or turn with their transform are
    laid out each time, as is any text on another renderer (a figure that is
    not salesnb's)."""
    if _TEXT_LAYOUTS.on and type(renderer) is _Renderer:
        try:
            key = layout_key(self, renderer)
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


def _install_text_layouts() -> None:
    """Put :func:`_get_layout` on matplotlib's Text and the box unions on its Bbox (:func:`salesnb.present.layout_memos.install_box_unions`), once,
    each while its path is on (when the first :class:`_Renderer` is made; the first falls
    back to the original for other renderers, the second gives the same box anywhere)."""
    global _TEXT_LAYOUTS_PUT
    install_box_unions()
    if not _TEXT_LAYOUTS.on or _TEXT_LAYOUTS_PUT:
        return
    _TEXT_LAYOUTS_PUT = True
    probe = Text(0, 0, "x")
    read = ("_wrap", "_usetex", "_transform_rotates_text", "_text", "_parse_math", "_fontproperties", "_linespacing")
    read += ("_multialignment", "_horizontalalignment", "_verticalalignment", "_rotation", "_rotation_mode")
    if all(hasattr(probe, name) for name in read):  # else: texts are laid out by matplotlib alone
        Text._get_layout = _get_layout
