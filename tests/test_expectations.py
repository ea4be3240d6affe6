"""Expectations: merging default/team/rep, pro-rating, and the scorecard."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesnb.analysis.expectations import for_rep, prorate, quotas
from salesnb.analysis.periods import parse_period
from salesnb.analysis.scorecard import SCORECARD_COLUMNS, scorecard
from salesnb.errors import InputError
from salesnb.io.dataset import from_frames

CONTRACT_EXAMPLE = {
    "default": {
        "revenue_quota": 1300000,
        "new_customers": {"primary": 6, "secondary": 15},
        "visits_per_customer": {"primary": 3, "secondary": 1},
        "prospecting_methods": ["cold_call_phone", "cold_call_visit", "referral"],
        "max_travel_share": 0.20,
        "pipeline_coverage": 3.0,
        "win_rate": 0.60,
    },
    "reps": {"R07": {"revenue_quota": 900000}},
}


# -- for_rep ---------------------------------------------------------------------


def test_for_rep_default_and_rep_override():
    assert for_rep(CONTRACT_EXAMPLE, "R01")["revenue_quota"] == 1300000
    r07 = for_rep(CONTRACT_EXAMPLE, "R07")
    assert r07["revenue_quota"] == 900000 and r07["win_rate"] == 0.60  # the rest from default


def test_for_rep_team_then_rep_and_nested_merge():
    goals = {
        "default": {"revenue_quota": 100, "new_customers": {"primary": 6, "secondary": 15}},
        "teams": {"East": {"revenue_quota": 200, "new_customers": {"primary": 2}}},
        "reps": {"R1": {"revenue_quota": 300}},
    }
    # team matched case-insensitively; its primary overrides, secondary kept from default
    assert for_rep(goals, "R2", team="east") == {"revenue_quota": 200, "new_customers": {"primary": 2, "secondary": 15}}
    assert for_rep(goals, "R1", team="East")["revenue_quota"] == 300  # the rep's own beats the team's
    assert for_rep(goals, "R3", team=None)["revenue_quota"] == 100
    assert for_rep(goals, "R3", team=float("nan"))["revenue_quota"] == 100
    assert goals["default"]["new_customers"] == {"primary": 6, "secondary": 15}  # inputs untouched


def test_for_rep_file_without_sections_is_default_and_none_is_empty():
    assert for_rep({"revenue_quota": 5, "win_rate": 0.5}, "R1") == {"revenue_quota": 5, "win_rate": 0.5}
    assert for_rep(None, "R1") == {}
    assert for_rep({"reps": {7: {"revenue_quota": 1}}}, "7") == {"revenue_quota": 1}  # YAML read 7 as a number
    with pytest.raises(InputError):
        for_rep(["not", "a", "mapping"], "R1")


# -- prorate ---------------------------------------------------------------------


def test_prorate():
    assert prorate(1_300_000, "2025") == 1_300_000
    assert prorate(1_300_000, "2025-Q2") == 325_000
    assert prorate(1_200_000, parse_period("2025-06")) == pytest.approx(100_000)
    assert prorate(1_000, "2025-01-01..2025-03-14") == pytest.approx(200)  # 73 days = 0.2 year
    assert prorate({"primary": 6, "secondary": 15}, "2025-Q1") == {"primary": 1.5, "secondary": 3.75}
    assert np.isnan(prorate(None, "2025"))
    with pytest.raises(InputError, match="number"):
        prorate("lots", "2025")


# -- scorecard ----------------------------------------------------------------------


def scorecard_dataset(expectations=CONTRACT_EXAMPLE, with_activities=True):
    reps = pd.DataFrame(
        {"rep_id": ["R1", "R07"], "name": ["Ann", "Sam"], "territory": ["North", "North"], "team": ["East", "East"]}
    )
    won = [
        ("O1", "R1", "C1", "2025-03-01", 400_000.0),
        ("O2", "R1", "C2", "2025-06-01", 500_000.0),
        ("O3", "R1", "C3", "2025-09-01", 500_000.0),
        ("O4", "R07", "C4", "2025-05-01", 300_000.0),
    ]
    deals = pd.DataFrame(
        {
            "opportunity_id": [w[0] for w in won] + ["O5", "O6"],
            "rep_id": [w[1] for w in won] + ["R1", "R07"],
            "customer_id": [w[2] for w in won] + [None, None],
            "created_date": pd.to_datetime(["2025-01-02"] * 6),
            "closed_date": pd.to_datetime([w[3] for w in won] + ["2025-10-01", None]),
            "status": ["won"] * 4 + ["lost", "open"],
            "amount": [w[4] for w in won] + [10.0, 1_800_000.0],
        }
    )
    customers = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4", "C5"],
            "market_tier": ["primary", "primary", "secondary", "secondary", "primary"],
            "acquisition_method": ["referral", "inbound", "cold_call_phone", None, None],
        }
    )
    acts = pd.DataFrame(
        {
            "activity_id": [f"A{i}" for i in range(8)],
            "rep_id": ["R1"] * 8,
            "date": pd.to_datetime(
                ["2025-01-05", "2025-02-05", "2025-03-05", "2025-04-05", "2025-05-05", "2025-06-05", "2025-07-05", "2025-08-05"]
            ),
            # R1: 4 visits to C1, 2 to C2 (primary), 1 call to C1, 1 email to C3 (secondary)
            "type": ["visit", "Visit", "visit", "visit", "visit", "visit", "call", "email"],
            "customer_id": ["C1", "C1", "C1", "C1", "C2", "C2", "C1", "C3"],
        }
    )
    return from_frames(
        reps=reps,
        opportunities=deals,
        customers=customers,
        activities=acts if with_activities else None,
        expectations=expectations,
    )


def test_scorecard_shape_and_revenue_quota():
    card = scorecard(scorecard_dataset(), period="2025")
    assert list(card.columns) == SCORECARD_COLUMNS
    r1 = card[card["rep_id"] == "R1"].set_index("expectation")
    # R1 won 400k + 500k + 500k = 1.4M against 1.3M: met
    assert (r1.loc["revenue_quota", "target"], r1.loc["revenue_quota", "actual"], r1.loc["revenue_quota", "met"]) == (
        1_300_000,
        1_400_000,
        True,
    )
    r07 = card[card["rep_id"] == "R07"].set_index("expectation")
    # R07's own quota 900k; won 300k: not met
    assert (r07.loc["revenue_quota", "target"], r07.loc["revenue_quota", "met"]) == (900_000, False)


def test_scorecard_prorates_yearly_figures():
    card = scorecard(scorecard_dataset(), period="2025-Q1", rep="R1").set_index("expectation")
    # quarter: 1.3M / 4 = 325k, won 400k in Q1; new primary customers 6 / 4 = 1.5, got 1 (C1)
    assert (card.loc["revenue_quota", "target"], card.loc["revenue_quota", "actual"]) == (325_000, 400_000)
    assert (card.loc["new_customers_primary", "target"], card.loc["new_customers_primary", "actual"]) == (1.5, 1)
    assert card.loc["new_customers_primary", "met"] == False  # noqa: E712
    # norms are not pro-rated
    assert card.loc["win_rate", "target"] == 0.60 and card.loc["max_travel_share", "target"] == 0.20


def test_scorecard_new_customers_visits_travel_and_prospecting():
    card = scorecard(scorecard_dataset(), period="2025", rep="R1").set_index("expectation")
    # new customers in 2025: C1, C2 primary; C3 secondary
    assert (card.loc["new_customers_primary", "actual"], card.loc["new_customers_secondary", "actual"]) == (2, 1)
    # primary: 6 visits (4 to C1, 2 to C2) / 2 primary customers contacted = 3 >= 3: met
    assert (card.loc["visits_per_customer_primary", "actual"], card.loc["visits_per_customer_primary", "met"]) == (3, True)
    # secondary: 0 visits / 1 secondary customer contacted (C3, by email) = 0 < 1: not met
    assert (card.loc["visits_per_customer_secondary", "actual"], card.loc["visits_per_customer_secondary", "met"]) == (0, False)
    # travel: 6 visits / 8 activities = 0.75 > 0.20: not met
    assert (card.loc["max_travel_share", "actual"], card.loc["max_travel_share", "met"]) == (0.75, False)
    # prospecting: C1 referral, C2 inbound, C3 cold_call_phone -> 2 of 3 from the listed methods; no target share set
    assert card.loc["prospecting_methods", "actual"] == pytest.approx(2 / 3)
    assert pd.isna(card.loc["prospecting_methods", "met"]) and "min_prospecting_share" in card.loc["prospecting_methods", "note"]
    # win rate: 3 won, 1 lost = 0.75 >= 0.60: met (small sample noted)
    assert (card.loc["win_rate", "actual"], card.loc["win_rate", "met"]) == (0.75, True)
    assert "small sample" in card.loc["win_rate", "note"]
    # pipeline at 2025-12-31: O5 lost on 2025-10-01, nothing open for R1 -> 0 / 1.3M = 0 < 3: not met
    assert (card.loc["pipeline_coverage", "actual"], card.loc["pipeline_coverage", "met"]) == (0, False)


def test_scorecard_prospecting_share_judged_when_set():
    goals = {"default": {**CONTRACT_EXAMPLE["default"], "min_prospecting_share": 0.5}}
    card = scorecard(scorecard_dataset(goals), period="2025", rep="R1").set_index("expectation")
    assert card.loc["prospecting_methods", "target"] == 0.5 and card.loc["prospecting_methods", "met"] == True  # noqa: E712


def test_scorecard_pipeline_coverage_met():
    card = scorecard(scorecard_dataset(), period="2025", rep="R07").set_index("expectation")
    # R07: 1.8M open at year end / 900k quota = 2.0 < 3.0
    assert (card.loc["pipeline_coverage", "actual"], card.loc["pipeline_coverage", "met"]) == (2.0, False)


def test_scorecard_coverage_defaults_to_the_3x_norm_and_names_the_next_period():
    goals = {"default": {"revenue_quota": 1_300_000}, "reps": {"R07": {"revenue_quota": 900_000}}}
    card = scorecard(scorecard_dataset(goals), period="2025", rep="R07", as_of="2026-01-05").set_index("expectation")
    # R07: 1.8M open at 2025's end / 2026's quota of 900k = 2.0 against the usual 3x: not met
    got = card.loc["pipeline_coverage"]
    assert (got["target"], got["actual"], got["met"]) == (3.0, 2.0, False)
    assert got["note"] == (
        "open pipeline at 2025-12-31 / the quota of 2026, the next period; "
        "target: the usual 3x (expectations.yml sets no pipeline_coverage)"
    )
    running = scorecard(scorecard_dataset(), period="2025", rep="R07", as_of="2025-12-31").set_index("expectation")
    assert running.loc["pipeline_coverage", "note"] == "open pipeline at 2025-12-31 / the quota pro-rated to 2025"
    assert running.loc["pipeline_coverage", "target"] == 3.0  # set in expectations: no norm said


def test_scorecard_missing_activities_says_which_table():
    card = scorecard(scorecard_dataset(with_activities=False), period="2025", rep="R1").set_index("expectation")
    for name in ("visits_per_customer_primary", "max_travel_share"):
        assert np.isnan(card.loc[name, "actual"]) and pd.isna(card.loc[name, "met"])
        assert "`activities`" in card.loc[name, "note"]


def test_scorecard_without_expectations_is_empty_with_note():
    card = scorecard(scorecard_dataset(expectations=None), period="2025")
    assert card.empty and list(card.columns) == SCORECARD_COLUMNS
    assert "expectations" in card.attrs["notes"][0]


def test_scorecard_unknown_rep_and_unknown_key():
    with pytest.raises(InputError, match="R99"):
        scorecard(scorecard_dataset(), period="2025", rep="R99")
    card = scorecard(scorecard_dataset({"calls_per_week": 50}), period="2025", rep="R1")
    assert card["expectation"].tolist() == ["calls_per_week"] and "does not know" in card.loc[0, "note"]


def test_quotas_per_rep():
    got = quotas(scorecard_dataset(), period="2025-Q1")
    assert got.to_dict() == {"R1": 325_000, "R07": 225_000}
    assert quotas(scorecard_dataset(expectations=None), period="2025").isna().all()


def test_quotas_take_team_and_own_entries_like_for_rep():
    # 1,200,000 a year by default, 800,000 for team east (matched case-insensitively), 400,000 for
    # R3 itself; a quarter is a quarter of the year. R4 has no team; R5's team has no entry.
    from salesnb.analysis.periods import parse_period
    from salesnb.io.dataset import from_frames

    expectations = {
        "default": {"revenue_quota": 1_200_000},
        "teams": {"East": {"revenue_quota": 800_000}},
        "reps": {"R3": {"revenue_quota": 400_000}},
    }
    reps = pd.DataFrame(
        {
            "rep_id": ["R1", "R2", "R3", "R4", "R5"],
            "name": list("ABCDE"),
            "territory": ["N"] * 5,
            "team": ["east", "East ", "East", None, "West"],
        }
    )
    deals = pd.DataFrame(
        {
            "opportunity_id": ["O1"],
            "rep_id": ["R1"],
            "created_date": pd.to_datetime(["2025-01-02"]),
            "closed_date": pd.to_datetime([None]),
            "status": ["open"],
            "amount": [1.0],
        }
    )
    ds = from_frames(reps=reps, opportunities=deals, expectations=expectations)
    got = quotas(ds, period="2025-Q1")
    share = 0.25
    assert got.to_dict() == pytest.approx(
        {"R1": 800_000 * share, "R2": 800_000 * share, "R3": 400_000 * share, "R4": 1_200_000 * share, "R5": 1_200_000 * share}
    )
    for rep, team in zip(reps["rep_id"], reps["team"]):
        assert got[rep] == pytest.approx(prorate(for_rep(expectations, rep, team)["revenue_quota"], parse_period("2025-Q1")))


def test_scorecard_measures_every_rep_once_per_data_snapshot(monkeypatch):
    """A batch's rep reports each ask for everybody's scorecard through the
    runner's memo (salesnb.present.tables.batch_table) and keep their rep's
    rows: the measures behind it (metrics, visits, travel, prospecting) are
    computed once per fingerprint, and one rep's card is exactly its rows of everybody's."""
    import dataclasses

    from salesnb.analysis import scorecard as scorecards
    from salesnb.present.tables import batch_table
    from salesnb.run import memo

    ds = dataclasses.replace(scorecard_dataset(), fingerprint="snapshot-1", snapshot=True)
    cards = {rep: scorecard(ds, period="2025", rep=rep) for rep in ("R1", "R07")}  # one rep's card, asked alone
    memo.clear()
    calls = []
    measure = scorecards._measures
    monkeypatch.setattr(scorecards, "_measures", lambda ds, **kw: calls.append(kw) or measure(ds, **kw))
    with memo.installed():
        for rep in ("R1", "R07"):
            everybody = batch_table(scorecard, dataclasses.replace(ds), period="2025")  # each report loads its own copy
            mine = everybody[everybody["rep_id"] == rep].reset_index(drop=True)
            pd.testing.assert_frame_equal(cards[rep].reset_index(drop=True), mine)
        assert len(calls) == 1
        batch_table(scorecard, scorecard_dataset(), period="2025")  # no fingerprint (built from frames): computed
    assert len(calls) == 2
    memo.clear()


# -- checking expectations.yml (issue #13: shapes, values, names) -----------------------

REPS_CSV = "rep_id,name,territory,team\nR01,Ann,North,East\nR07,Sam,North,East\n007,Bob,South,West\n"
OPPS_CSV = "opportunity_id,rep_id,created_date,status,amount\nO1,R01,2025-01-02,open,10\n"


def source_with(tmp_path, expectations: str):
    (tmp_path / "reps.csv").write_text(REPS_CSV, encoding="utf-8")
    (tmp_path / "opportunities.csv").write_text(OPPS_CSV, encoding="utf-8")
    (tmp_path / "expectations.yml").write_text(expectations, encoding="utf-8")
    return tmp_path


def located(problems, tmp_path):
    """Each problem as (line, key path, severity), the file checked to be expectations.yml."""
    assert all(p.file == str(tmp_path / "expectations.yml") and p.flag == "bad_expectations" for p in problems), problems
    return [(p.line, p.column, p.severity) for p in problems]


def load_error(tmp_path, expectations: str):
    import salesnb
    from salesnb.errors import DataError

    with pytest.raises(DataError) as caught:
        salesnb.load(source_with(tmp_path, expectations))
    return caught.value.problems


def test_negative_quota_is_an_error_with_file_and_line(tmp_path):
    problems = load_error(tmp_path, "default:\n  revenue_quota: 1300000\nreps:\n  R07: {revenue_quota: -1000000}\n")
    assert located(problems, tmp_path) == [(4, "reps.R07.revenue_quota", "error")]
    assert "must not be negative" in problems[0].message and problems[0].value == "-1000000"
    assert "1000000" in problems[0].hint


@pytest.mark.parametrize(
    "text, line, key, phrase, hint",
    [
        ("default: [1, 2]\n", 1, "default", "default: must be a mapping", "default: {revenue_quota"),
        ("revenue_quota: 1M\n", 1, "revenue_quota", "must be a number", "write 1000000"),
        ("default:\n  win_rate: 0.5\n  revenue_quota: 1.0e+400\n", 3, "default.revenue_quota", "finite", "digits"),
        ("revenue_quota: .inf\n", 1, "revenue_quota", "finite", "digits"),
        ("pipeline_coverage: .nan\n", 1, "pipeline_coverage", "finite", "digits"),
        ("win_rate: 60%\n", 1, "win_rate", "must be a number", "write 0.6 for 60%"),
        ("win_rate: 60\n", 1, "win_rate", "share, between 0 and 1", "write 0.6 for 60%"),
        ("new_customers: 5\n", 1, "new_customers", "mapping by market tier", "{primary: 6, secondary: 15}"),
        ("new_customers: {primary: -2}\n", 1, "new_customers.primary", "must not be negative", "e.g. 2"),
        ("prospecting_methods: [referral, {a: 1}]\n", 1, "prospecting_methods.1", "by name, not a mapping", "cold_call_phone"),
        ("reps: [R07]\n", 1, "reps", "reps: must be a mapping", "R07: {revenue_quota"),
        ("reps:\n  R07: 900000\n", 2, "reps.R07", "entry 'R07' must be a mapping", "R07: {revenue_quota: 900000}"),
        ("win_rate: yes\n", 1, "win_rate", "must be a number, not a yes/no value", "0.6"),
    ],
)
def test_wrong_shapes_and_values_are_located_errors(tmp_path, text, line, key, phrase, hint):
    problems = load_error(tmp_path, text)
    assert located(problems, tmp_path) == [(line, key, "error")], problems
    assert phrase in problems[0].message and hint in problems[0].hint, problems[0]


def test_every_bad_target_is_reported_at_once(tmp_path):
    problems = load_error(tmp_path, "default:\n  revenue_quota: -5\n  win_rate: 2\nteams:\n  East: {pipeline_coverage: lots}\n")
    assert located(problems, tmp_path) == [
        (2, "default.revenue_quota", "error"),
        (3, "default.win_rate", "error"),
        (5, "teams.East.pipeline_coverage", "error"),
    ]


def test_unknown_keys_and_entries_naming_nobody_are_warnings_listed_with_the_problems(tmp_path):
    import salesnb

    ds = salesnb.load(
        source_with(
            tmp_path,
            (
                "default:\n"  # 1
                "  revenue_quota: 1300000\n"  # 2
                "  win_rte: 0.6\n"  # 3 misspelt key
                "  new_customers: {primary: 6, primay: 2}\n"  # 4 misspelt tier
                "  currency: EUR\n"  # 5 a known key (the contract's example)
                "teams:\n"  # 6
                "  east: {win_rate: 0.5}\n"  # 7 matches East (case-insensitive)
                "  Eest: {win_rate: 0.4}\n"  # 8 no such team
                "reps:\n"  # 9
                "  R07: {revenue_quota: 900000}\n"  # 10
                "  R7: {revenue_quota: 800000}\n"  # 11 no such rep
                "  007: {revenue_quota: 700000}\n"  # 12 YAML reads 7: the rep is '007'
                "defualt: {win_rate: 0.1}\n"
            ),
        )
    )  # 13 not a section
    assert located(ds.problems, tmp_path) == [
        (3, "default.win_rte", "warning"),
        (4, "default.new_customers.primay", "warning"),
        (8, "teams.Eest", "warning"),
        (11, "reps.R7", "warning"),
        (12, "reps.7", "warning"),
        (13, "defualt", "warning"),
    ]
    hints = [p.hint for p in ds.problems]
    assert hints[0].startswith("did you mean 'win_rate'?") and hints[1].startswith("did you mean 'primary'?")
    assert "teams in the data: East, West" in hints[2] and "did you mean 'R07'?" in hints[3]
    assert hints[4] == "write '007' in quotes: YAML reads 007 as 7"
    assert "did you mean 'default'?" in hints[5]
    assert "names no rep in the data" in ds.problems[3].message
    assert ds.quarantined_rows == 0 and len(ds.reps) == 3  # warnings set no row aside
    assert for_rep(ds.expectations, "R07")["revenue_quota"] == 900000


def test_validate_lists_the_warnings_and_strict_stops_on_them(tmp_path):
    from click.testing import CliRunner

    from salesnb.cli import cli

    folder = source_with(tmp_path, "default:\n  revenue_quota: 1300000\nreps:\n  R99: {revenue_quota: 1}\n")
    result = CliRunner().invoke(cli, ["validate", str(folder)])
    assert result.exit_code == 0, result.output
    assert "problems: 0 errors, 1 warnings" in result.stdout
    assert (
        f"[warning] {folder}/expectations.yml, line 4, column 'reps.R99': the reps: entry 'R99' names no rep in the data"
        in result.stdout
    )
    strict = CliRunner().invoke(cli, ["validate", str(folder), "--strict"])
    assert strict.exit_code == 1 and "line 4, column 'reps.R99'" in strict.stderr


@pytest.mark.parametrize(
    "command", [["validate"], ["metrics", "--by", "rep", "--period", "2025"], ["diagnose", "--period", "2025"], ["quality"]]
)
def test_every_command_stops_on_an_expectations_error_with_the_same_message(tmp_path, command):
    from click.testing import CliRunner

    from salesnb.cli import cli

    folder = source_with(tmp_path, "revenue_quota: -1000000\n")
    result = CliRunner().invoke(cli, [command[0], str(folder), *command[1:]])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == (
        f"error: {folder}/expectations.yml, line 1, column 'revenue_quota': revenue_quota must not be "
        "negative: a target is 0 or more (value: '-1000000'). Fix: write the target as a positive "
        "number, e.g. 1000000\n"
    )


def test_prorate_refuses_negative_and_infinite_targets():
    with pytest.raises(InputError, match="0 or more"):
        prorate(-1_000_000, "2025")
    with pytest.raises(InputError, match="finite"):
        prorate(float("inf"), "2025")
