"""A report child's own costs (issue #16, session 10): what the warm template settles
once so that every report forked from it does less, and that a report sees no difference.

- the template takes its shell once through a cell's run, a display's formatting and
  a cell's outputs (``capture.warm_shell``): a child then copies fewer memory pages;
- a notebook's cells are transformed (IPython's ``%magic``/``!cmd`` syntax) once, in the
  template (``capture.remember_cells``), exactly as IPython transforms them.

Each check runs in a fresh interpreter: the report shell takes over ``sys.stdout``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import textwrap


def _run(code: str) -> dict:
    """Run ``code`` in a fresh interpreter with a report shell; it prints one JSON line to the real stdout."""
    prelude = textwrap.dedent(
        """
        import json, os, resource, sys
        os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
        from salesnb.run import capture
        shell = capture.make_shell()
        sys.excepthook = lambda *error: __import__("traceback").print_exception(*error, file=sys.__stderr__)
        def answer(value):
            sys.__stdout__.write(json.dumps(value) + "\\n")
            sys.__stdout__.flush()
        def in_child(work):
            # what `work` returns (JSON) in a forked child
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.write(write, json.dumps(work()).encode())
                os._exit(0)
            os.close(write)
            os.waitpid(pid, 0)
            return json.loads(os.read(read, 1 << 20))
        def faults_in_child(work):
            # minor page faults (pages copied after fork) of `work` in a forked child
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:
                before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                work()
                os.write(write, str(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before).encode())
                os._exit(0)
            os.close(write)
            os.waitpid(pid, 0)
            return int(os.read(read, 100))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tempfile.gettempdir(),  # salesnb as installed, not as found in the current folder
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


FIRST = "__import__('IPython.display').display.HTML('<p>first</p>')"


def test_the_template_warms_its_shell_without_a_trace_and_its_children_copy_fewer_pages():
    got = _run(
        """
        def state():
            ns = shell.user_ns
            return {
                "count": shell.execution_count,
                "names": sorted(k for k in ns if not k.startswith("__")),
                "In": list(ns["In"]), "Out": sorted(ns["Out"]),
                "last": shell.last_execution_result is None,
                "succeeded": shell.last_execution_succeeded,
                "linecache": sum(1 for k in __import__("linecache").cache if "ipython-input" in k),
            }
        def page():  # what a report's child does for each display cell
            shell.capture.begin()
            shell.run_cell("__import__('IPython.display').display.HTML('<p>a</p>')", store_history=True)
            capture.json_safe(shell.capture.outputs)
        def first_cells():  # a report's first cells, and what the shell remembers of them
            seen = []
            for source in ["__import__('IPython.display').display.HTML('<p>first</p>')", "1 / 0", "print(_i1, _, In)"]:
                outputs = shell.capture.begin()
                result = shell.run_cell(source, store_history=True)
                seen.append([result.execution_count, result.success, outputs])
            return [seen, state(), repr(shell.user_ns["Out"])]
        cold = faults_in_child(page)
        cold_report = in_child(first_cells)
        before = state()
        capture.warm_shell(shell)
        after = state()
        warm = faults_in_child(page)
        warm_report = in_child(first_cells)
        answer({"before": before, "after": after, "cold": cold, "warm": warm,
                "cold_report": cold_report, "warm_report": warm_report})
        """
    )
    before, after = got["before"], got["after"]
    assert after["count"] == before["count"] == 1
    assert after["names"] == before["names"] and after["In"] == before["In"] == [""] and after["Out"] == []
    assert after["last"] and after["succeeded"] == before["succeeded"]
    # a report's first cells: the same counts, outputs, traceback and history as from a cold shell
    assert got["warm_report"] == got["cold_report"]
    (first, error, printed), _, _ = got["warm_report"]
    assert first == [
        1,
        True,
        [
            {
                "output_type": "execute_result",
                "execution_count": 1,
                "data": {"text/plain": "<IPython.core.display.HTML object>", "text/html": "<p>first</p>"},
                "metadata": {},
            }
        ],
    ]
    assert error[:2] == [2, False] and error[2][0]["ename"] == "ZeroDivisionError"
    assert "Cell In[2], line 1" in re.sub(r"\x1b\[[0-9;]*m", "", "".join(error[2][0]["traceback"]))
    assert printed[2] == [
        {
            "output_type": "stream",
            "name": "stdout",
            "text": FIRST + f" <IPython.core.display.HTML object> ['', \"{FIRST}\", '1 / 0', 'print(_i1, _, In)']\n",
        }
    ]
    # measured: ~900 pages copied by a cold child's first display cell, ~600 once warmed
    assert got["warm"] < 0.8 * got["cold"], (got["cold"], got["warm"])


def test_a_notebooks_cells_are_transformed_once_in_the_template_exactly_as_ipython_does():
    got = _run(
        """
        from IPython.core.inputtransformer2 import TransformerManager
        sources = ["x = 1", "%time y = 2", "a = !echo hi\\nb = 3", "len?", "%%capture out\\nprint(1)", "  z = 4"]
        ipython = [TransformerManager().transform_cell(s) for s in sources]
        capture.remember_cells(shell, sources)
        def refuse(self, lines):
            raise AssertionError("transformed again")
        real = TransformerManager.do_token_transforms
        TransformerManager.do_token_transforms = refuse
        try:
            remembered = [shell.transform_cell(s) for s in sources]
            try:
                shell.transform_cell("new = 5")
                fresh = "transformed"
            except AssertionError:
                fresh = "refused"
        finally:
            TransformerManager.do_token_transforms = real
        # a transform added by a user's cell applies to remembered cells too
        shell.input_transformer_manager.line_transforms.append(lambda lines: [l.replace("1", "9") for l in lines])
        changed = shell.transform_cell("x = 1")
        answer({"ipython": ipython, "remembered": remembered, "fresh": fresh, "changed": changed})
        """
    )
    assert got["remembered"] == got["ipython"]
    assert got["ipython"][1] == "get_ipython().run_line_magic('time', 'y = 2')\n"
    assert got["fresh"] == "refused"  # a cell the template never saw is transformed as before
    assert got["changed"] == "x = 9\n"


def test_the_display_formatter_asks_only_the_formatters_that_can_answer_and_answers_as_ipython():
    got = _run(
        """
        import base64, numpy, pandas
        from IPython.core.formatters import DisplayFormatter
        from IPython.display import HTML, Image, Markdown
        capture.warm_shell(shell)
        formatter = shell.display_formatter
        png = base64.b64decode(
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4//8/AAX+Av4N70a4AAAAAElFTkSuQmCC")

        class Bundle:
            def _repr_mimebundle_(self, include=None, exclude=None):
                return {"application/json": {"a": 1}, "text/plain": "bundle"}, {}

        class Proxy:  # answers for any attribute, as some proxies do
            def __getattr__(self, name):
                return lambda *a, **k: "<b>proxy</b>"

        class Plain:
            pass

        own = Plain()
        own._repr_html_ = lambda: "<i>its own</i>"  # on the object, not its type
        objects = [HTML("<p>a</p>"), Image(data=png, format="png", alt="chart"), Markdown("**m**"), Bundle(),
                   Proxy(), Plain, own, Plain(), None, True, 1.5, numpy.float64(2.25), pandas.DataFrame({"a": [1]}),
                   {"k": [1, 2]}, "text"]
        def both():
            return [[repr(formatter.format(o)), repr(DisplayFormatter.format(formatter, o))] for o in objects]
        first = both()
        latex = formatter.formatters["text/latex"]
        asked = []
        real_lookup = latex.lookup
        latex.lookup = lambda obj: asked.append(type(obj).__name__) or real_lookup(obj)
        formatter.format(HTML("<p>b</p>"))
        html_asked = list(asked)
        # a printer registered by a user's cell is found at once
        latex.for_type(HTML, lambda obj: "$html$")
        registered = repr(formatter.format(HTML("<p>c</p>"))[0].get("text/latex"))
        formatter.active_types = ["text/plain"]  # and a formatter switched off is off
        switched = repr(formatter.format(HTML("<p>d</p>")))
        answer({"pairs": first, "html_asked": html_asked, "registered": registered, "switched": switched,
                "after": repr(DisplayFormatter.format(formatter, HTML("<p>d</p>")))})
        """
    )
    for fast, ipython in got["pairs"]:
        assert fast == ipython
    assert got["pairs"][0][0] == "({'text/plain': '<IPython.core.display.HTML object>', 'text/html': '<p>a</p>'}, {})"
    assert "text/html" not in got["pairs"][4][0]  # IPython's canary: a proxy's answers are not believed
    assert "'text/html': '<i>its own</i>'" in got["pairs"][6][0]
    assert got["html_asked"] == []  # the LaTeX formatter has nothing for an HTML fragment: not asked
    assert got["registered"] == "'$html$'"
    assert got["switched"] == got["after"] == "({'text/plain': '<IPython.core.display.HTML object>'}, {})"


def test_what_c_code_writes_to_a_reports_fds_is_kept_in_memory_and_becomes_its_stream_output():
    got = _run(
        """
        saved = os.dup(2)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            fd_out = capture.redirect_fds()
            where = os.readlink("/proc/self/fd/1")
            outputs = []
            os.write(1, "C code wrote this\\n".encode())
            os.write(2, "and this, to stderr\\n".encode())
            fd_out.collect(outputs)
            os.write(1, b"then more\\n")
            fd_out.collect(outputs)
            empty = []
            fd_out.collect(empty)
            os.write(write, json.dumps({"where": where, "outputs": outputs, "empty": empty}).encode())
            os._exit(0)
        os.close(write)
        os.waitpid(pid, 0)
        answer(json.loads(os.read(read, 1 << 16)))
        """
    )
    assert got["where"].startswith("/memfd:salesnb-stdout")  # not a file in the temporary folder
    assert got["outputs"] == [
        {"output_type": "stream", "name": "stdout", "text": "C code wrote this\n"},
        {"output_type": "stream", "name": "stderr", "text": "and this, to stderr\n"},
        {"output_type": "stream", "name": "stdout", "text": "then more\n"},
    ]
    assert got["empty"] == []


def test_a_report_dies_with_its_template_without_finding_libc_again():
    got = _run(
        """
        import ctypes
        from salesnb.run import template
        template._prctl()  # the template finds prctl once, as it warms up
        def no_cdll(*args, **kwargs):
            raise AssertionError("libc looked up in the report")
        ctypes.CDLL = no_cdll
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            template.die_with_parent()
            signal = ctypes.c_int()
            template._prctl()(2, ctypes.byref(signal))  # PR_GET_PDEATHSIG
            os.write(write, str(signal.value).encode())
            os._exit(0)
        os.close(write)
        _, status = os.waitpid(pid, 0)
        answer({"signal": os.read(read, 10).decode(), "status": status})
        """
    )
    assert got == {"signal": "9", "status": 0}  # SIGKILL when the template goes
