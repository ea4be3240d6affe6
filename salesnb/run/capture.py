"""A report's outputs, as a Jupyter kernel would have sent them.

The fork server runs a report's cells in an IPython shell of its own; this
module builds that shell (:func:`make_shell`) so that every stream, display,
result and error becomes an nbformat output, catches what C code writes
straight to file descriptors 1 and 2 (:func:`redirect_fds`) and turns the
outputs into what JSON would carry (:func:`json_safe`).
"""

from __future__ import annotations

import base64
import os
import sys
import tempfile
from collections.abc import Iterable

__all__ = ["FdOutput", "redirect_fds", "json_safe", "make_shell", "warm_shell", "remember_cells"]


class FdOutput:
    """Files that fds 1 and 2 point to: what C code writes there becomes a stream output.

    The files are in memory (``memfd_create``; temporary files where there is none):
    each report makes two, and a temporary file object cost a child ~0.3 ms more."""

    def __init__(self):
        self.fds: dict[str, int] = {}
        self._kept = []  # the temporary files, where there is no memfd_create
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        for fd, name in ((1, "stdout"), (2, "stderr")):
            own = self._scratch(name)
            os.dup2(own, fd)
            self.fds[name] = own

    def _scratch(self, name: str) -> int:
        try:
            return os.memfd_create(f"salesnb-{name}", os.MFD_CLOEXEC)
        except (AttributeError, OSError):
            handle = tempfile.TemporaryFile()
            self._kept.append(handle)
            return handle.fileno()

    def collect(self, outputs: list) -> None:
        for name, own in self.fds.items():
            size = os.fstat(own).st_size
            if size:
                data = os.pread(own, size, 0)
                os.ftruncate(own, 0)
                os.lseek(1 if name == "stdout" else 2, 0, os.SEEK_SET)
                _append_stream(outputs, name, data.decode("utf-8", "replace"))


def redirect_fds() -> FdOutput:
    return FdOutput()


def json_safe(outputs: list) -> list:
    """Outputs as a kernel would have sent them through JSON: bytes as base64 text."""
    import json

    def default(obj):
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return base64.b64encode(bytes(obj)).decode("ascii")
        try:
            from jupyter_client.jsonutil import json_default

            return json_default(obj)
        except TypeError:
            return repr(obj)

    return json.loads(json.dumps(outputs, default=default))


def _append_stream(outputs: list, name: str, text: str) -> None:
    if outputs and outputs[-1]["output_type"] == "stream" and outputs[-1]["name"] == name:
        outputs[-1]["text"] += text
    else:
        outputs.append({"output_type": "stream", "name": name, "text": text})


class _Capture:
    """Where a cell's outputs go, in the order the kernel would send them."""

    def __init__(self):
        self.outputs: list | None = None
        self.display_ids: dict[str, list[dict]] = {}
        self.clear_pending = False

    def begin(self) -> list:
        self.outputs = []
        self.display_ids = {}
        self.clear_pending = False
        return self.outputs

    def end(self) -> None:
        self.clear_pending = False

    def add(self, output: dict) -> None:
        if self.outputs is None:
            return
        if self.clear_pending:
            self.outputs.clear()
            self.clear_pending = False
        self.outputs.append(output)

    def stream(self, name: str, text: str) -> None:
        if self.outputs is None or not text:
            return
        if self.clear_pending:
            self.outputs.clear()
            self.clear_pending = False
        _append_stream(self.outputs, name, text)

    def clear(self, wait: bool) -> None:
        if self.outputs is None:
            return
        if wait:
            self.clear_pending = True
        else:
            self.outputs.clear()


def make_shell():
    """An IPython shell whose outputs become nbformat outputs (see module doc)."""
    import io

    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.formatters import DisplayFormatter
    from IPython.core.inputtransformer2 import TransformerManager
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    capture = _Capture()

    class _RememberingTransformer(TransformerManager):
        """IPython's static input transformations (``%magic``, ``!cmd``, ``x?``...),
        remembered per cell source: they read nothing but the source and the
        transform lists, and the template makes them for a notebook's cells
        once (:func:`remember_cells`), not every report again. A changed
        transform list (a user's own transform) is a different key."""

        def __init__(self):
            super().__init__()
            self.remembered: dict[str, tuple[tuple, str]] = {}

        def _transforms(self) -> tuple:
            return (*self.cleanup_transforms, None, *self.line_transforms, None, *self.token_transformers)

        def transform_cell(self, cell: str) -> str:
            transforms = self._transforms()
            known = self.remembered.get(cell)
            if known is not None and known[0] == transforms:
                return known[1]
            transformed = super().transform_cell(cell)
            self.remembered[cell] = (transforms, transformed)
            return transformed

    class _Stream(io.TextIOBase):
        def __init__(self, name: str):
            self.name = name

        @property
        def encoding(self):
            return "utf-8"

        def writable(self):
            return True

        def isatty(self):
            return False

        def write(self, text):
            if not isinstance(text, str):
                raise TypeError(f"write() argument must be str, not {type(text).__name__}")
            capture.stream(self.name, text)
            return len(text)

        def flush(self):
            pass

    class _Publisher(DisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
            display_id = (transient or {}).get("display_id")
            if update:
                for output in capture.display_ids.get(display_id, []):
                    output["data"] = dict(data)
                    output["metadata"] = dict(metadata or {})
                return
            output = {"output_type": "display_data", "data": dict(data), "metadata": dict(metadata or {})}
            capture.add(output)
            if display_id:
                capture.display_ids.setdefault(display_id, []).append(output)

        def clear_output(self, wait=False):
            capture.clear(wait)

    class _DisplayHook(DisplayHook):
        def start_displayhook(self):
            self._is_active = True
            self._pending = {"output_type": "execute_result", "execution_count": self.prompt_count, "data": {}, "metadata": {}}

        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            self._pending["data"] = dict(format_dict)
            self._pending["metadata"] = dict(md_dict or {})

        def finish_displayhook(self):
            if self._pending.get("data"):
                capture.add(self._pending)
            self._is_active = False

    class _Formatter(_SkippingFormatter, DisplayFormatter):
        pass

    class ReportShell(InteractiveShell):
        """Runs a report's cells; outputs go to :class:`_Capture`."""

        def init_display_formatter(self):
            self.display_formatter = _Formatter(parent=self)
            self.configurables.append(self.display_formatter)

        displayhook_class = _DisplayHook
        display_pub_class = _Publisher
        #: pandas (and others) tell a notebook front end from a terminal by
        #: ``hasattr(get_ipython(), "kernel")``; there is none to talk to.
        kernel = None

        def _showtraceback(self, etype, evalue, stb):
            capture.add({"output_type": "error", "ename": str(etype.__name__), "evalue": str(evalue), "traceback": list(stb)})

        def system(self, cmd):  # `!cmd`: its output is captured, as ipykernel does
            return self.system_piped(cmd)

        def enable_gui(self, gui=None):
            pass

    config = Config()
    config.HistoryManager.enabled = False  # no SQLite file, no saving thread
    shell = ReportShell.instance(config=config)
    shell.input_transformer_manager = _RememberingTransformer()
    shell.capture = capture
    sys.stdout = _Stream("stdout")
    sys.stderr = _Stream("stderr")
    return shell


class _Printers(dict):
    """A formatter's printers (by type, by id, by type name) that count their changes."""

    changes = [0]  # one count for every formatter's printers: a plan made at one count holds until the next

    def _changed(self):
        _Printers.changes[0] += 1

    def __setitem__(self, key, value):
        self._changed()
        super().__setitem__(key, value)

    def __delitem__(self, key):
        self._changed()
        super().__delitem__(key)

    def __ior__(self, other):
        self._changed()
        return super().__ior__(other)

    def _counted(name):  # noqa: N805 - makes the methods below
        def method(self, *args, **kwargs):
            self._changed()
            return getattr(dict, name)(self, *args, **kwargs)

        method.__name__ = name
        return method

    pop = _counted("pop")
    popitem = _counted("popitem")
    setdefault = _counted("setdefault")
    update = _counted("update")
    clear = _counted("clear")
    del _counted


_CANARY = "_ipython_canary_method_should_not_exist_"
_PRINTER_TRAITS = ("type_printers", "deferred_printers", "singleton_printers")


class _SkippingFormatter:
    """IPython's ``DisplayFormatter`` that asks only the formatters that can answer.

    IPython asks each of its ten formatters for every result a cell shows; for an
    HTML fragment eight of them look the type up in their printers and look for
    their ``_repr_*_`` method, and return nothing (a tenth of a page's own
    cost). Here a formatter is skipped for an object when, for its type, it is
    disabled, or has no printer (singleton, type or deferred) and the type no
    ``_repr_*_`` method, nor the object an attribute of that name: what IPython
    would have found nothing with. Only a plain formatter (``BaseFormatter``'s own
    ``__call__``) is ever skipped. The plan for a type holds until any
    formatter's printers, switches or the formatters themselves change
    (:class:`_Printers` counts them); until :meth:`track` it is IPython's own.
    """

    def track(self) -> None:
        """Count changes to the printers from now (the template calls this once, its imports made)."""
        from IPython.core.formatters import BaseFormatter

        self._plans = {}
        self._plain_call = BaseFormatter.__call__
        for formatter in self._all_formatters():
            for trait in _PRINTER_TRAITS:
                setattr(formatter, trait, _Printers(getattr(formatter, trait)))
            formatter.observe(self._changed, names=["enabled", "print_method", *_PRINTER_TRAITS])
        self.formatters = _Printers(self.formatters)
        self.observe(self._changed, names=["formatters", "ipython_display_formatter", "mimebundle_formatter"])

    def _changed(self, change=None) -> None:
        _Printers.changes[0] += 1

    def _all_formatters(self) -> list:
        return [self.ipython_display_formatter, self.mimebundle_formatter, *self.formatters.values()]

    def _plan(self, kind: type):
        """(format types to skip, ids of singletons, attribute names) for objects of ``kind``; None: skip none."""
        if isinstance(kind, type) and issubclass(kind, type):
            return None  # a class: IPython looks only for its class methods
        if any("__getattr__" in vars(cls) for cls in kind.__mro__) or kind.__getattribute__ is not object.__getattribute__:
            return None  # answers for attributes it has not got
        if not isinstance(self.formatters, _Printers):
            return None
        skipped, singletons, names = set(), set(), {_CANARY}
        for format_type, formatter in self.formatters.items():
            if type(formatter).__call__ is not self._plain_call:
                continue
            if not all(isinstance(getattr(formatter, trait), _Printers) for trait in _PRINTER_TRAITS):
                return None
            if formatter.enabled:
                try:
                    formatter.lookup_by_type(kind)
                    continue  # a printer for the type
                except KeyError:
                    pass
                method = next(
                    (vars(cls)[formatter.print_method] for cls in kind.__mro__ if formatter.print_method in vars(cls)), None
                )
                if method is not None:
                    continue  # its _repr_*_ method (or a descriptor that may be one)
                singletons.update(formatter.singleton_printers)
                names.add(formatter.print_method)
            skipped.add(format_type)
        return frozenset(skipped), frozenset(singletons), frozenset(names)

    def _skipped(self, obj) -> frozenset:
        plans = getattr(self, "_plans", None)
        if plans is None:
            return frozenset()
        kind = type(obj)
        changes = _Printers.changes[0]
        known = plans.get(kind)
        if known is None or known[0] != changes:
            known = (changes, self._plan(kind))
            plans[kind] = known if _Printers.changes[0] == changes else (None, None)  # a deferred printer moved: plan again
        plan = known[1]
        if plan is None or id(obj) in plan[1]:
            return frozenset()
        own = getattr(obj, "__dict__", None)
        if own and not plan[2].isdisjoint(own):
            return frozenset()
        return plan[0]

    def format(self, obj, include=None, exclude=None):
        skipped = self._skipped(obj)
        if not skipped:
            return super().format(obj, include=include, exclude=exclude)
        # IPython's DisplayFormatter.format (9.x), but for the formatters skipped
        format_dict = {}
        md_dict = {}
        if self.ipython_display_formatter(obj):
            return {}, {}
        format_dict, md_dict = self.mimebundle_formatter(obj, include=include, exclude=exclude)
        if format_dict or md_dict:
            if include:
                format_dict = {k: v for k, v in format_dict.items() if k in include}
                md_dict = {k: v for k, v in md_dict.items() if k in include}
            if exclude:
                format_dict = {k: v for k, v in format_dict.items() if k not in exclude}
                md_dict = {k: v for k, v in md_dict.items() if k not in exclude}
        for format_type, formatter in self.formatters.items():
            if format_type in skipped:
                continue  # it has no printer for the object: IPython's lookup below fails, its call returns None
            if format_type in format_dict:
                try:
                    formatter.lookup(obj)
                except KeyError:
                    continue
            if include and format_type not in include:
                continue
            if exclude and format_type in exclude:
                continue
            md = None
            data = formatter(obj)
            if isinstance(data, tuple) and len(data) == 2:
                data, md = data
            if data is not None:
                format_dict[format_type] = data
            if md is not None:
                md_dict[format_type] = md
        return format_dict, md_dict


def warm_shell(shell) -> None:
    """Take the shell once through what every report's cells take it through, in
    the template, leaving no trace a report could see.

    A forked report copies every memory page it writes to: what IPython and its
    formatters set up lazily on a first cell, display or format (attributes made on
    first use, caches filled) was set up again, its pages copied, in every child, a
    third of the shell's own cost of a page (docs/performance.md "Session 10: the
    report's process"). Here a blank cell runs without history (no execution count,
    ``In`` or ``_i`` changes), the formatters format an HTML fragment and a PNG image
    (no ``_`` or ``Out``) and outputs go through :func:`json_safe`; what the shell
    remembers of its last cell and the blank cell's source are put back.
    """
    import linecache

    from IPython.display import HTML, Image

    last = (shell.last_execution_succeeded, shell.last_execution_result)
    cached = set(linecache.cache)
    try:
        if hasattr(shell.display_formatter, "track"):
            shell.display_formatter.track()
        shell.run_cell("pass", store_history=False)
        shell.transform_cell("x = 1\ny = 2\n")
        shell.displayhook.quiet()
        image = Image(data=_BLANK_PNG, format="png", alt="warm-up")
        for shown in (HTML("<p>warm-up</p>"), image):
            shell.display_formatter.format(shown)
        json_safe([{"output_type": "display_data", "data": {"image/png": _BLANK_PNG}, "metadata": {}}])
    finally:
        shell.last_execution_succeeded, shell.last_execution_result = last
        for name in set(linecache.cache) - cached:  # the blank cell's source, kept for tracebacks
            linecache.cache.pop(name, None)


def remember_cells(shell, sources: Iterable[str]) -> None:
    """Transform a notebook's cells (IPython's static transformations) in the
    template, so that every report forked after reads them (see ``make_shell``)."""
    transform = shell.input_transformer_manager.transform_cell
    for source in sources:
        try:
            transform(source)
        except Exception:  # noqa: BLE001 - the report's own run shows the error
            continue


#: A 1x1 PNG, for :func:`warm_shell`.
_BLANK_PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4//8/AAX+Av4N70a4AAAAAElFTkSuQmCC")
