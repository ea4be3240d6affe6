"""Issue #14 item 6 in the runner: the index opens with the manager's queue, the
batch renders forecast_review and one training_effect page per program, and
the index links them. Fast: a fake execution stands in for the kernel."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from batches import FIXTURE_NOTEBOOKS, HOSTILE_NAME, by_key, read_manifest, write_source
from batches import fake_execute as _fake_execute

import salesnb.run.batch as report_module
import salesnb.run.execute as execute_module
from salesnb.run.batch import run_batch


@pytest.fixture
def no_kernel(monkeypatch):
    monkeypatch.setattr(execute_module, "_execute", _fake_execute)
    monkeypatch.setattr(report_module, "_require_kernel", lambda name: None)


@pytest.fixture
def notebooks(tmp_path):
    """The fixture notebooks plus stand-ins for forecast_review and training_effect."""
    folder = tmp_path / "notebooks"
    shutil.copytree(FIXTURE_NOTEBOOKS, folder)
    for kind in ("forecast_review", "training_effect"):
        shutil.copy(folder / "data_quality.ipynb", folder / f"{kind}.ipynb")
    return folder


def _write(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def with_forecasts_and_training(folder):
    write_source(folder)
    _write(folder / "forecasts.csv", ["rep_id", "period", "forecast_amount"], [["R1", "2026-Q1", 1500]])
    _write(
        folder / "training.csv",
        ["rep_id", "program", "start_date"],
        [
            ["R1", "Consultative Selling", "2026-01-05"],
            ["a/b", "<i>Negotiation</i>", "2026-01-06"],
            ["R3", "consultative selling", "2026-01-07"],
        ],
    )
    return folder


def test_forecast_and_training_pages_are_rendered_and_linked(no_kernel, tmp_path, notebooks):
    source = with_forecasts_and_training(tmp_path / "src")
    out = tmp_path / "out"
    result = run_batch(source, period="2026-Q1", as_of="2026-04-02", out=out, notebooks=notebooks)
    manifest = read_manifest(out)
    reports = by_key(manifest)
    forecast = reports[("forecast_review", None)]
    assert forecast["status"] == "ok" and forecast["html"] == "forecast_review.html" and (out / "forecast_review.html").is_file()
    # two programs: "Consultative Selling" (written twice, once in lower case) and "<i>Negotiation</i>"
    programs = sorted(key for kind, key in reports if kind == "training_effect")
    assert programs == ["<i>Negotiation</i>", "Consultative Selling"]
    for program in programs:
        entry = reports[("training_effect", program)]
        assert entry["parameters"]["program"] == program
        assert entry["status"] == "ok" and entry["html"].startswith("training/") and (out / entry["html"]).is_file()
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="forecast_review.html"' in index
    assert all(f'href="{reports[("training_effect", p)]["html"]}"' in index for p in programs)
    assert "&lt;i&gt;Negotiation&lt;/i&gt;" in index and "<i>Negotiation" not in index
    assert result.counts["ok"] == 9  # data quality, team, forecast review, 2 programs, 4 of the 5 reps (R3 fails)


def test_no_forecast_or_training_table_no_such_page_and_no_broken_link(no_kernel, tmp_path, notebooks):
    source = write_source(tmp_path / "src")
    out = tmp_path / "out"
    run_batch(source, period="2026-Q1", as_of="2026-04-02", out=out, notebooks=notebooks)
    manifest = read_manifest(out)
    assert {r["kind"] for r in manifest["reports"]} == {"data_quality", "team_overview", "rep_coaching"}
    assert not (out / "forecast_review.html").exists() and not (out / "training").exists()
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "forecast_review" not in index and "training/" not in index
    for href in __import__("re").findall(r'href="([^"]+)"', index):  # every link on the index leads to a file
        assert (out / href).is_file(), href


def test_index_opens_with_the_queue_linking_each_rep(no_kernel, tmp_path):
    source = write_source(tmp_path / "src")
    out = tmp_path / "out"
    run_batch(source, period="2026-Q1", as_of="2026-04-02", out=out, notebooks=FIXTURE_NOTEBOOKS)
    manifest = read_manifest(out)
    json.dumps(manifest, allow_nan=False)  # the manifest stays plain JSON
    queue = manifest["queue"]
    # every rep of the batch, one row each; one deal per rep: no rep has a focus, none has 10 closed deals
    assert sorted(q["rep_id"] for q in queue) == sorted(key for kind, key in by_key(manifest) if kind == "rep_coaching")
    assert {q["focus_text"] for q in queue} == {"too little data"}
    assert all(q["stake"] is None for q in queue)
    index = (out / "index.html").read_text(encoding="utf-8")
    head, _, rest = index.partition("Whom to coach first")
    assert rest, "the index has the queue"
    assert "Failed reports" in head  # failures come first
    reports = by_key(manifest)
    for q in queue:
        entry = reports[("rep_coaching", q["rep_id"])]
        if entry["status"] == "ok":
            assert f'href="{entry["html"]}"' in rest
    assert "fixture failure" in head and "Seconds" not in index  # a failure shows its error; seconds stay in the manifest
    assert all("seconds" in r for r in manifest["reports"])
    assert HOSTILE_NAME not in index and "&lt;script&gt;" in index
    # the reps are in the queue, not listed again below it
    pages = rest.partition("Team and analysis pages")[2]
    assert "Rep coaching" not in pages and "Team overview" in pages and "Data quality" in pages
