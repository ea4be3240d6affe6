"""The segment explorer in a real JupyterLab, driven by Chromium.

JupyterLab (from this environment) starts headless on a free loopback port
with a token, its root a temporary folder holding notebooks/ (a copy of
segment_explorer.ipynb, as committed) and data/sample (a link to the bundled
sample), so the notebook's own ``source = "../data/sample"`` is used. News,
update checks and the PyPI extension manager are off, its settings and
workspaces live in the temporary folder, and the browser's proxy leads
nowhere, so no request but those to that server can leave (all are recorded
and checked).

The test opens the notebook, checks it runs on the ``salesnb`` kernel, runs
every cell from the Run menu, waits for the seven controls, then picks
territory North: the chart is redrawn (a new PNG) and the table keeps only North's reps, R01, R05 and R09 (see
tests/test_widgets.py). Picking the win-rate metric redraws both again.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browsing import NO_NETWORK, Visit, screenshot, watch

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
NOTEBOOK = ROOT / "notebooks" / "segment_explorer.ipynb"
START_TIMEOUT = 90  # seconds for JupyterLab to answer
RUN_TIMEOUT = 120_000  # milliseconds for the notebook to run and the widget to draw
NORTH = ["R01", "R05", "R09"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api(base: str, token: str, path: str, method: str = "GET"):
    request = urllib.request.Request(
        f"{base}{path}", method=method, headers={"Authorization": f"token {token}"}, data=b"" if method == "POST" else None
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
    return json.loads(body) if body else None


def lab_workspace(root: Path) -> Path:
    """The server's root: notebooks/segment_explorer.ipynb and data/sample."""
    (root / "notebooks").mkdir(parents=True)
    shutil.copy2(NOTEBOOK, root / "notebooks" / NOTEBOOK.name)
    (root / "data").mkdir()
    (root / "data" / "sample").symlink_to(SAMPLE, target_is_directory=True)
    return root


def lab_environment(home: Path) -> dict:
    """Environment for a JupyterLab that keeps its state in ``home`` and asks nobody for news."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "SALESNB_STATIC"))}
    env.update(
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        IPYTHONDIR=str(home / "ipython"),
        JUPYTER_PLATFORM_DIRS="1",
        MPLBACKEND="module://matplotlib_inline.backend_inline",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    notification = home / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}), encoding="utf-8")
    return env


@pytest.fixture(scope="module")
def jupyterlab(jupyter_available, tmp_path_factory):
    """``(base URL, token)`` of a JupyterLab serving a copy of the notebook; shut down after the module."""
    home = tmp_path_factory.mktemp("jupyterlab")
    root = lab_workspace(home / "root")
    port, token = free_port(), secrets.token_hex(16)
    base = f"http://127.0.0.1:{port}"
    command = [
        str(jupyter_available),
        "lab",
        "--no-browser",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        "--ServerApp.terminals_enabled=False",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        "--ServerApp.allow_root=True",
    ]
    log = open(home / "jupyterlab.log", "w+", encoding="utf-8")
    server = subprocess.Popen(
        command, cwd=root, env=lab_environment(home), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if server.poll() is not None:
                log.seek(0)
                pytest.fail(f"jupyter lab exited with {server.returncode}:\n{log.read()[-3000:]}", pytrace=False)
            try:
                api(base, token, "/api/status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"jupyter lab did not answer in {START_TIMEOUT} s:\n{log.read()[-3000:]}", pytrace=False)
                time.sleep(0.5)
        yield base, token
    finally:
        try:
            api(base, token, "/api/shutdown", method="POST")  # stops the kernels too
            server.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        log.close()


def dropdown(page, description: str):
    return (
        page.locator(".widget-dropdown")
        .filter(has=page.locator("label", has_text=re.compile(f"^{description}$")))
        .locator("select")
    )


def chart_and_table(page) -> tuple[str, str]:
    """The explorer's chart (its PNG as a data: URL) and table text, as shown."""
    chart = page.locator(".widget-output img").first
    return chart.get_attribute("src"), page.locator(".widget-output table").first.inner_text()


def wait_for_new_chart(page, old_src: str) -> None:
    page.wait_for_function(
        "old => { const img = document.querySelector('.widget-output img');"
        " return img !== null && img.getAttribute('src') !== old; }",
        arg=old_src,
        timeout=RUN_TIMEOUT,
    )


def explorer_screenshot(page, folder, name: str) -> None:
    """The controls, the chart and the table (the explorer's widget), and the whole window."""
    page.locator(".widget-vbox").first.screenshot(path=str(folder / f"{name}.png"))
    screenshot(page, folder, f"{name}-window")


def test_segment_explorer_redraws_when_a_control_changes(browser, jupyterlab, screenshots):
    base, token = jupyterlab
    origin = re.compile(rf"^(https?|wss?)://127\.0\.0\.1:{base.rsplit(':', 1)[1]}/")
    # not routed (Playwright's routing stalls JupyterLab's start-up): the proxy leads nowhere,
    # so a request for any other host fails here; every request is recorded and checked below
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, proxy=NO_NETWORK)
    seen = Visit(page=None)
    try:
        page = context.new_page()
        seen.page = page
        watch(page, seen)
        page.goto(f"{base}/lab/tree/notebooks/{NOTEBOOK.name}?token={token}", wait_until="domcontentloaded")
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=RUN_TIMEOUT)

        sessions = []
        deadline = time.monotonic() + 60
        while not sessions and time.monotonic() < deadline:
            sessions = [s for s in api(base, token, "/api/sessions") if s["path"].endswith(NOTEBOOK.name)]
            time.sleep(0.5)
        assert sessions, "JupyterLab started no kernel for the notebook"
        assert sessions[0]["kernel"]["name"] == "salesnb"
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=RUN_TIMEOUT)

        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Run All Cells$")).click()
        controls = page.locator(".widget-dropdown select")
        controls.nth(7).wait_for(timeout=RUN_TIMEOUT)
        page.locator(".widget-output img").first.wait_for(timeout=RUN_TIMEOUT)
        page.locator(".widget-output table").first.wait_for(timeout=RUN_TIMEOUT)
        assert controls.count() == 8  # with the View control (metrics or stages)
        assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
        src, table = chart_and_table(page)
        assert src.startswith("data:image/png")
        assert page.locator(".widget-output img").first.evaluate("img => img.complete && img.naturalWidth") > 300
        assert page.locator(".widget-output img").first.get_attribute("alt").startswith("Revenue won by rep")
        assert all(f"R{n:02d}" in table for n in range(1, 13))
        explorer_screenshot(page, screenshots, "lab-segment-explorer-all")

        dropdown(page, "Territory").select_option(label="North")
        wait_for_new_chart(page, src)
        page.wait_for_function(
            "() => { const t = document.querySelector('.widget-output table'); return t && !t.innerText.includes('R02'); }",
            timeout=RUN_TIMEOUT,
        )
        north_src, north_table = chart_and_table(page)
        assert north_src != src
        rows = page.locator(".widget-output table tbody tr td:first-child").all_inner_texts()
        assert rows == NORTH
        assert north_table != table
        explorer_screenshot(page, screenshots, "lab-segment-explorer-north")

        dropdown(page, "Metric").select_option(label="Win rate")
        wait_for_new_chart(page, north_src)
        page.wait_for_function(
            "() => { const th = document.querySelector('.widget-output table th:nth-child(3)');"
            " return th && th.innerText.includes('Win rate'); }",
            timeout=RUN_TIMEOUT,
        )
        win_src, win_table = chart_and_table(page)
        assert win_src not in (src, north_src) and win_table != north_table
        assert page.locator(".widget-output table tbody tr td:first-child").all_inner_texts() == NORTH

        explorer_screenshot(page, screenshots, "lab-segment-explorer-north-win-rate")
        assert seen.page_errors == [] and seen.dialogs == []
        strangers = [u for u in seen.requests if not origin.match(u) and not u.startswith(("data:", "blob:"))]
        assert strangers == [], f"requests left the machine: {strangers}"
    except Exception:
        if seen.page is not None:
            screenshot(seen.page, screenshots, "lab-failure")  # what the page showed when the test failed
        raise
    finally:
        context.close()
