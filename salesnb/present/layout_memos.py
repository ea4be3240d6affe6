"""What matplotlib's layout asks an axis for again and again, remembered: exact, cheaper.

The constrained layout's two passes, the title placement and the draw ask each
axis for its ticks, its tick labels' boxes and its spines' boxes two to ten
times per chart, always with the same answer while nothing it depends on changed.
:func:`remember_on` puts these memos on an Axes (:func:`salesnb.present.drawing.figure`
does, for every chart it builds):

- :class:`_TickMemo` recomputes an axis's ticks only when what they depend
  on changed (of the axes' size: how many labels fit, :meth:`_TickMemo._room`);
- :class:`_TitlePlace` places a title without the y-axis boxes matplotlib
  makes only for an offset text the axis does not have;
- :class:`_TickLabelBoxes` and :class:`_SpineBox` remember an axis's tick
  label boxes and a spine's box while nothing they depend on changed;
- :func:`_union` is ``Bbox.union`` reading each box's points once
  (:func:`install_box_unions`, for the whole process);
- :func:`layout_key` is what a text's layout depends on (the text layouts of
  :mod:`salesnb.present.drawing` and the label boxes here key on it).

Each has a :class:`salesnb.fast_paths.FastPath` switch and turns itself off for
the rest of the process on its first exception, matplotlib answering instead;
tests/test_plots.py compares every chart's pixels with plain matplotlib's.
"""

from __future__ import annotations

import numpy as np
from matplotlib.transforms import Bbox, BboxBase

from salesnb.fast_paths import FastPath

__all__ = ["remember_on", "install_box_unions", "layout_key"]

_TICK_MEMO = FastPath("tick memo")  # _TickMemo
_TITLE_PLACES = FastPath("title places")  # _TitlePlace
_AXIS_BOXES = FastPath("axis boxes")  # _TickLabelBoxes, _SpineBox
_BOX_UNIONS = FastPath("box unions")  # _union
_TICK_ROOM = FastPath("tick room")  # _TickMemo._room


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
    layout = layout_key(text, renderer)
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


def layout_key(text, renderer) -> tuple | None:
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


def remember_on(ax) -> None:
    """Put the tick memo on both axes of ``ax``, its title place and its axis boxes (each while its path is on)."""
    for axis in (ax.xaxis, ax.yaxis):
        _TickMemo.install(axis)
    _TitlePlace.install(ax)
    _TickLabelBoxes.install(ax)


def install_box_unions() -> None:
    """Put :func:`_union` on matplotlib's Bbox, once, while its path is on (the same box anywhere)."""
    if _BOX_UNIONS.on and isinstance(BboxBase.__dict__.get("union"), staticmethod):
        BboxBase.union = staticmethod(_union)
