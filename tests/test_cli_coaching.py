"""``salesnb diagnose``, ``training-effect`` and ``quality`` on CSV folders.

The team: six reps R1-R6 in team North. Each closes 20 deals in 2025-Q2
(10 won at 10,000, 10 lost), every deal taking 40 days. R2-R6 created all
20 in Q2; R1 created only 10 in Q2 (the other 10 in late March), so R1 has
10 new opportunities against a team median of 20: -50 %, focus prospecting.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from salesnb.cli import cli

REPS = [f"R{i}" for i in range(1, 7)]
NAMES = dict(zip(REPS, ["Alice", "Bruno", "Chen", "Dana", "Emeka", "Farah"]))


def write(folder, **tables):
    folder.mkdir(exist_ok=True)
    for name, frame in tables.items():
        pd.DataFrame(frame).to_csv(folder / f"{name}.csv", index=False)
    return str(folder)


def deals(rep, n, created, closed, won_every=2, tag=""):
    return [
        {
            "opportunity_id": f"{rep}{tag}-{i}",
            "rep_id": rep,
            "created_date": created,
            "closed_date": closed,
            "status": "won" if i % won_every == 0 else "lost",
            "amount": 10_000,
        }
        for i in range(n)
    ]


@pytest.fixture
def team_source(tmp_path):
    reps = [{"rep_id": r, "name": NAMES[r], "territory": "North", "team": "North"} for r in REPS]
    opps = []
    for rep in REPS:
        in_q2 = 10 if rep == "R1" else 20
        opps += deals(rep, in_q2, "2025-04-01", "2025-05-11", tag="a")  # 40 days
        opps += deals(rep, 20 - in_q2, "2025-03-20", "2025-04-29", tag="b")  # 40 days
    return write(tmp_path / "team", reps=reps, opportunities=opps)


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_diagnose_json_is_the_contract_shape(team_source):
    result = run("diagnose", team_source, "--period", "2025-Q2", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [d["rep_id"] for d in data] == REPS
    assert all({"rep_id", "period", "focus", "strengths", "evidence"} <= set(d) for d in data)
    r1 = data[0]
    assert r1["period"] == "2025-Q2" and r1["focus"] == "prospecting"
    # 10 / 20 - 1 = -50 %
    assert r1["evidence"][0] == {
        **r1["evidence"][0],
        "factor": "prospecting",
        "rep_value": 10.0,
        "peer_median": 20.0,
        "gap_pct": -50.0,
        "small_sample": False,
    }
    assert [d["focus"] for d in data[1:]] == [None] * 5


def test_diagnose_text_reads_aloud_for_one_rep(team_source):
    result = run("diagnose", team_source, "--period", "2025-Q2", "--rep", "R1")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("R1  2025-Q2  focus: prospecting")
    assert "Alice, here is how your period looks" in result.output  # nothing clearly ahead: no strength
    assert "50% fewer than the team median of 20" in " ".join(result.output.split())  # the text is wrapped
    assert "Questions for the next one-to-one" in result.output
    for other in ["Bruno", "Chen", "Dana", "Emeka", "Farah"]:
        assert other not in result.output


def test_unknown_rep_is_named_with_known_ones(team_source):
    result = CliRunner().invoke(cli, ["diagnose", team_source, "--period", "2025-Q2", "--rep", "R99"])
    assert result.exit_code == 1
    assert "no rep 'R99'" in result.output and "R1, R2" in result.output


def test_usage_errors_exit_2_and_bad_periods_exit_1(team_source):
    assert CliRunner().invoke(cli, ["diagnose", team_source]).exit_code == 2  # --period is required
    assert CliRunner().invoke(cli, ["quality", team_source, "--as-of", "yesterday"]).exit_code == 2
    bad = CliRunner().invoke(cli, ["diagnose", team_source, "--period", "2025-Q7"])
    assert bad.exit_code == 1 and "period" in bad.output


def test_relative_period_resolves_against_as_of(team_source):
    # last-quarter as of 2025-07-15 is 2025-Q2.
    result = run("diagnose", team_source, "--period", "last-quarter", "--as-of", "2025-07-15", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["period"] == "2025-Q2"


@pytest.fixture
def training_source(tmp_path):
    # T1-T3 trained in January 2025; C1-C3 not. Before (closed 2024-10-15): 5 of 10 won
    # by everyone. After (closed 2025-06-30): trained 8 of 10, untrained 5 of 10.
    # Effect (0.8 - 0.5) - (0.5 - 0.5) = +0.30; three reps a group -> a warning.
    reps, opps, training = [], [], []
    for rep in ["T1", "T2", "T3", "C1", "C2", "C3"]:
        reps.append({"rep_id": rep, "name": f"Rep {rep}", "territory": "North"})
        opps += [
            {
                "opportunity_id": f"{rep}-b{i}",
                "rep_id": rep,
                "created_date": "2024-07-01",
                "closed_date": "2024-10-15",
                "status": "won" if i < 5 else "lost",
                "amount": 1000,
            }
            for i in range(10)
        ]
        wins = 8 if rep.startswith("T") else 5
        opps += [
            {
                "opportunity_id": f"{rep}-a{i}",
                "rep_id": rep,
                "created_date": "2025-02-10",
                "closed_date": "2025-06-30",
                "status": "won" if i < wins else "lost",
                "amount": 1000,
            }
            for i in range(10)
        ]
        if rep.startswith("T"):
            training.append({"rep_id": rep, "program": "Closing Skills", "start_date": "2025-01-01", "end_date": "2025-01-31"})
    return write(tmp_path / "training", reps=reps, opportunities=opps, training=training)


def test_training_effect_json_and_text(training_source):
    result = run("training-effect", training_source, "--program", "Closing Skills", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"program", "metric", "effect", "ci_low", "ci_high", "treated", "control", "method"} <= set(data)
    assert data["effect"] == pytest.approx(0.30) and data["treated"] == ["T1", "T2", "T3"]
    assert data["control"] == ["C1", "C2", "C3"] and data["metric"] == "win_rate"

    text = run("training-effect", training_source, "--program", "closing skills").output
    assert "Effect: +30.0 percentage points (95% interval +30.0 to +30.0)" in text
    assert "Warning: Only 3 trained reps and 3 untrained reps" in text


def test_training_effect_errors_say_what_to_do(training_source, team_source):
    unknown = CliRunner().invoke(cli, ["training-effect", training_source, "--program", "Negotiation"])
    assert unknown.exit_code == 1 and "known programs: Closing Skills" in unknown.output
    missing = CliRunner().invoke(cli, ["training-effect", team_source, "--program", "Closing Skills"])
    assert missing.exit_code == 1 and "No `training` table" in missing.output


@pytest.fixture
def padded_source(tmp_path):
    # Q2 2025, 64 working days. P1 and P2 log 5 customer contacts a day; P1 adds
    # 30 contacts linked to nothing on 2025-06-30 (30 >= 10 and >= 3 x 5): flagged.
    # P2 adds one unlinked call each Monday: not flagged. Neither closed 10 deals.
    days = pd.bdate_range("2025-04-01", "2025-06-30")
    acts = []
    for rep in ["P1", "P2"]:
        acts += [
            {"activity_id": f"{rep}-{i}", "rep_id": rep, "date": d.date(), "type": "call", "customer_id": "K1"}
            for i, d in enumerate(d for d in days for _ in range(5))
        ]
    acts += [{"activity_id": f"P1-x{i}", "rep_id": "P1", "date": "2025-06-30", "type": "call"} for i in range(30)]
    acts += [
        {"activity_id": f"P2-x{i}", "rep_id": "P2", "date": d.date(), "type": "call"}
        for i, d in enumerate(d for d in days if d.day_of_week == 0)
    ]
    reps = [{"rep_id": r, "name": r, "territory": "North"} for r in ["P1", "P2"]]
    opps = [
        {
            "opportunity_id": "O1",
            "rep_id": "P2",
            "created_date": "2025-04-02",
            "closed_date": "2025-05-02",
            "status": "won",
            "amount": 500,
        }
    ]
    return write(tmp_path / "padded", reps=reps, opportunities=opps, activities=pd.DataFrame(acts))


def test_quality_json_and_text(padded_source):
    result = run("quality", padded_source, "--period", "2025-Q2", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert all(set(d) == {"flag", "rep_id", "table", "rows", "detail"} for d in data)
    got = [(d["flag"], d["rep_id"], d["rows"]) for d in data]
    # P2's one closed deal and P1's none are small samples.
    assert got == [("padded_activity", "P1", 30), ("small_sample", "P1", 0), ("small_sample", "P2", 1)]

    text = run("quality", padded_source, "--period", "2025-Q2").output
    assert text.splitlines()[0].split() == ["flag", "rep", "table", "rows", "detail"]
    assert "padded_activity" in text and "2025-06-30: 30" in text


def test_help_lists_the_commands():
    result = run("--help")
    for command in ("diagnose", "training-effect", "quality"):
        assert command in result.output


def test_diagnose_brief_is_one_line_per_rep_within_80_columns(team_source, tmp_path):
    # a yearly quota of 800,000 is 200,000 for Q2; each rep won 10 deals of 10,000 = 100,000: 50 %
    (tmp_path / "team" / "expectations.yml").write_text("revenue_quota: 800000\n", encoding="utf-8")
    result = run("diagnose", team_source, "--period", "2025-Q2", "--format", "brief")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Coaching focus for 2025-Q2 (6 reps)"
    assert lines[2].split() == ["rep", "name", "focus", "attainment", "win", "rate"]
    rows = {line.split()[0]: line for line in lines[3:]}
    assert list(rows) == REPS and max(len(line) for line in lines) <= 80
    assert rows["R1"].split()[:3] == ["R1", "Alice", "prospecting"]
    assert all(line.split()[-2:] == ["50%", "50%"] for line in rows.values())  # attainment, win rate (10 of 20)
    assert "none named" in rows["R2"]
