"""The console script (``salesnb.cli:run``) and the report template end at once when its command is done (issue #16): the exit
handlers run and the output is flushed, but the interpreter's teardown (freeing
every object one by one, 0.2-0.3 s after a batch) is skipped; never while another
thread or a child process still runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap

PROGRAM = textwrap.dedent(
    """
    import atexit, sys, threading, time
    from salesnb.cli import run

    class Noisy:
        def __del__(self):
            print("teardown", flush=True)

    noisy = Noisy()  # freed only by the interpreter's teardown
    atexit.register(print, "exit handler")
    if "--thread" in sys.argv:
        sys.argv.remove("--thread")
        threading.Thread(target=lambda: (time.sleep(0.3), print("thread done"))).start()
    print("buffered", end="")  # no newline: flushed only at the end
    sys.argv = ["salesnb", *sys.argv[1:]]
    run()
    """
)


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PROGRAM, *args], capture_output=True, text=True, timeout=60)


def test_a_finished_command_runs_the_exit_handlers_flushes_and_skips_the_teardown():
    done = _run("--help")
    assert done.returncode == 0
    assert done.stdout.startswith("buffered")
    assert "Usage: salesnb" in done.stdout
    assert done.stdout.rstrip().endswith("exit handler")
    assert "teardown" not in done.stdout


def test_the_exit_code_is_kept():
    done = _run("report")  # no SOURCE: a usage error
    assert done.returncode == 2
    assert "Missing argument" in done.stderr
    assert "teardown" not in done.stdout


def test_a_running_thread_is_waited_for_and_the_interpreter_exits_as_usual():
    done = _run("--help", "--thread")
    assert done.returncode == 0
    assert "thread done" in done.stdout
    assert "teardown" in done.stdout  # the usual way out


def test_the_report_template_ends_at_once_when_its_batch_lets_it_go():
    """The batch waits for its template to end; the template does not free the batch's data first."""
    program = textwrap.dedent(
        """
        import runpy, sys
        from multiprocessing import Pipe

        class Noisy:
            def __del__(self):
                print("teardown", flush=True)

        noisy = Noisy()
        mine, theirs = Pipe()
        mine.close()  # the launcher is gone at once: the template's main returns after its first step
        sys.argv = ["template", str(theirs.fileno())]
        runpy.run_module("salesnb.run.template", run_name="__main__")
        print("not reached")
        """
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "teardown" not in done.stdout and "not reached" not in done.stdout
