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

__all__ = ["FdOutput", "redirect_fds", "json_safe", "make_shell"]


class FdOutput:
    """Files that fds 1 and 2 point to: what C code writes there becomes a stream output."""

    def __init__(self):
        self.files = {}
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        for fd, name in ((1, "stdout"), (2, "stderr")):
            handle = tempfile.TemporaryFile()
            os.dup2(handle.fileno(), fd)
            self.files[name] = handle

    def collect(self, outputs: list) -> None:
        for name, handle in self.files.items():
            handle.seek(0)
            data = handle.read()
            if data:
                handle.seek(0)
                handle.truncate()
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
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    capture = _Capture()

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

    class ReportShell(InteractiveShell):
        """Runs a report's cells; outputs go to :class:`_Capture`."""

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
    shell.capture = capture
    sys.stdout = _Stream("stdout")
    sys.stderr = _Stream("stderr")
    return shell
