"""The --rep batch's tables with less CPU (issue #16, session 11): each faster function
against the version it replaced, kept here verbatim (``_old_*``), on hand-made data with
the edges (a rep with no deals, a group with no pushes, a missing rep, a stage entered
twice, deals out of order), and the figures worked out by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesnb.analysis import derived, expectations, history
from salesnb.analysis.deals import deal_flags
from salesnb.analysis.metrics import _MetricsContext
from salesnb.analysis.periods import parse_period
from salesnb.io.loading import load
from tests.sources import write_source

# -- the replaced versions, verbatim --------------------------------------------


def _old_push_groups(pushes, deals, *, by, period, flags, at):
    until = pd.Timestamp(period.end).normalize() + pd.Timedelta(days=1)
    made = (pushes["changed_at"] < until).to_numpy() & (at >= 0)
    per_deal = np.bincount(at[made], minlength=len(deals))
    counted = flags["won"] | flags["lost"] | flags["open"]
    frame = pd.DataFrame({by: deals[by].to_numpy(), "pushed": (per_deal > 0) & counted, "pushes": per_deal * counted})
    out = frame.groupby(by, sort=False, observed=True, dropna=False).agg(
        pushed_deals=("pushed", "sum"), close_date_pushes=("pushes", "sum")
    )
    return out.astype("int64").reset_index()


def _old_order(deal, stage, step, closes, names) -> list[int]:
    firsts = pd.DataFrame({"deal": deal, "stage": stage, "step": step}).drop_duplicates(["deal", "stage"])
    mean_step = firsts.groupby("stage", sort=True)["step"].mean()
    closing = pd.Series(closes).groupby(stage, sort=True).mean() >= 0.5
    ranked = pd.DataFrame(
        {
            "closing": closing.reindex(mean_step.index).to_numpy(),
            "step": mean_step.to_numpy(),
            "name": [str(names[c]) for c in mean_step.index],
        },
        index=mean_step.index,
    )
    return [int(c) for c in ranked.sort_values(["closing", "step", "name"], kind="stable").index]


def _old_rep_groups(reps: pd.DataFrame, parts: list[pd.DataFrame]) -> pd.Index:
    seen: set = set()
    for part in parts:
        seen.update(part["rep_id"].dropna().unique())
    known = pd.Index(reps["rep_id"])
    extra = sorted(set(seen) - set(known))
    return known.append(pd.Index(extra))


# -- a hand-made source ------------------------------------------------------------

REPS = "rep_id,name,team,territory\nR1,Ann,Alpha,North\nR2,Bob,Alpha,South\nR3,Cy,Beta,North\n"
# R3 has no deal; O5's rep R9 is in no reps row; O6 has no rep
OPPORTUNITIES = (
    "opportunity_id,rep_id,customer_id,created_date,status,closed_date,amount\n"
    "O1,R1,C1,2025-01-05,won,2025-02-20,100\n"
    "O2,R1,C2,2025-01-10,open,,200\n"
    "O3,R2,C3,2025-02-01,lost,2025-05-03,300\n"
    "O4,R2,C4,2025-04-01,open,,50\n"
    "O5,R9,C5,2025-03-01,won,2025-03-30,70\n"
    "O6,,C6,2025-03-02,open,,10\n"
)
# rows out of order; O1 re-enters Qualify; O4 has no history; O3 pushed twice, O1 once, O5 once
HISTORY = (
    "opportunity_id,changed_at,stage,expected_close_date\n"
    "O3,2025-02-01,Qualify,2025-03-01\n"
    "O1,2025-01-05,Qualify,2025-02-01\n"
    "O1,2025-01-20,Propose,2025-02-15\n"
    "O1,2025-02-01,Qualify,\n"
    "O1,2025-02-10,Propose,2025-02-10\n"
    "O1,2025-02-20,Closed Won,\n"
    "O3,2025-03-01,Propose,2025-04-01\n"
    "O3,2025-04-10,Propose,2025-05-01\n"
    "O3,2025-05-03,Closed Lost,\n"
    "O2,2025-01-10,Qualify,\n"
    "O5,2025-03-01,Qualify,2025-03-10\n"
    "O5,2025-03-05,Propose,2025-03-20\n"
    "O5,2025-03-30,Closed Won,\n"
    "O6,2025-03-02,Qualify,2025-04-01\n"
)


def _source(tmp_path, **extra):
    ds = load(
        write_source(tmp_path / "src", {"reps": REPS, "opportunities": OPPORTUNITIES, "opportunity_history": HISTORY, **extra})
    )
    ds.snapshot = True
    return ds


# -- the pushes by group's codes ------------------------------------------------------


def test_pushes_counted_by_codes_equal_the_groupby_in_every_quarter(tmp_path):
    ds = _source(tmp_path)
    context = _MetricsContext(ds, "rep")
    pushes, deals = context.pushes, context.deals
    at = history.push_positions(pushes, deals)
    for label in ("2025-Q1", "2025-Q2", "2025-Q3"):  # Q3: no push made in it, every deal still counted
        period = parse_period(label)
        flags = deal_flags(deals, period)
        old = _old_push_groups(pushes, deals, by="rep_id", period=period, flags=flags, at=at).set_index("rep_id")
        new = history.push_metrics(pushes, deals, by="rep_id", period=period, flags=flags, at=at, codes=context.deal_codes)
        new = new.set_index("rep_id").loc[old.index]
        pd.testing.assert_frame_equal(new, old, check_exact=True)
    # by hand, Q2: O1 won in Q1 (not counted); O3 lost in Q2 with pushes on 03-01 and 04-10; O5 won in Q1
    q2 = history.push_metrics(
        pushes, deals, by="rep_id", period=parse_period("2025-Q2"), flags=deal_flags(deals, parse_period("2025-Q2")),
        at=at, codes=context.deal_codes,
    )  # fmt: skip
    assert q2.set_index("rep_id").loc["R2"].tolist() == [1, 2]
    assert q2.set_index("rep_id").loc["R1"].tolist() == [0, 0]  # O2 open, never pushed
    from salesnb.analysis.metrics import metrics_over_time

    over = metrics_over_time(ds, by="rep", freq="quarter", start="2025-Q1", end="2025-Q2").set_index(["period", "rep_id"])
    # Q1: R1's O1 (won, pushed 01-20 +14) and O2 (open, never); R2's O3 (open at Q1's end, pushed 03-01 +31)
    assert over.loc[("2025-Q1", "R1"), ["pushed_deals", "close_date_pushes"]].tolist() == [1, 1]
    assert over.loc[("2025-Q1", "R2"), ["pushed_deals", "close_date_pushes"]].tolist() == [1, 1]
    assert over.loc[("2025-Q1", "R3"), ["pushed_deals", "close_date_pushes"]].tolist() == [0, 0]  # no deals
    assert list(over.loc["2025-Q1"].index) == ["R1", "R2", "R3"]  # O5 (rep R9, not in reps) and O6 (no rep) quarantined
    assert over.loc[("2025-Q2", "R2"), ["pushed_deals", "close_date_pushes"]].tolist() == [1, 2]  # O3 lost in Q2


def test_pushes_by_codes_with_a_missing_group_and_a_group_without_pushes():
    deals = pd.DataFrame({"opportunity_id": ["A", "B", "C", "D", "E"], "team": ["x", None, "y", "x", None]})
    flags = {
        "won": np.array([True, False, False, False, False]),
        "lost": np.array([False, False, False, False, True]),
        "open": np.array([False, True, True, False, False]),
    }
    pushes = pd.DataFrame(
        {
            "changed_at": pd.to_datetime(
                ["2025-01-02", "2025-01-03", "2025-03-31 18:00", "2025-04-01", "2025-02-01", "2025-02-02"], format="ISO8601"
            )
        }
    )
    at = np.array([0, 0, 1, 1, 3, -1])  # D is pushed but neither closed nor open; the last push has no deal
    period = parse_period("2025-Q1")
    old = _old_push_groups(pushes, deals, by="team", period=period, flags=flags, at=at)
    new = history.push_metrics(
        pushes, deals, by="team", period=period, flags=flags, at=at, codes=pd.factorize(deals["team"], use_na_sentinel=False)
    )
    pd.testing.assert_frame_equal(new.astype({"team": object}), old.astype({"team": object}), check_exact=True)
    # x: A (won, 2 pushes) and D (not counted); no team: B (open, 1 push by 03-31), E (no push); y: C (none)
    assert new.to_dict("list") == {"team": ["x", np.nan, "y"], "pushed_deals": [1, 1, 0], "close_date_pushes": [2, 1, 0]}


# -- the rep groups of a period ---------------------------------------------------------


def test_the_rep_groups_equal_the_set_version(tmp_path, monkeypatch):
    ds = _source(tmp_path)
    context = _MetricsContext(ds, "rep")
    parts = [
        pd.DataFrame({"rep_id": pd.array(["R2", "R9", None, "R1"], dtype="str"), "x": range(4)}),
        pd.DataFrame({"rep_id": pd.Series(["R8", "R9"], dtype="category"), "x": range(2)}),
        pd.DataFrame({"rep_id": pd.Series([], dtype=object), "x": []}),
        pd.DataFrame({"rep_id": ["R07", "R3"], "x": range(2)}),
    ]
    old = _old_rep_groups(context.reps, parts)

    def no_iteration(self):  # the old version made a Python str of every rep of every part, one at a time
        raise AssertionError("iterated over the text values one by one")

    monkeypatch.setattr(type(parts[0]["rep_id"].array), "__iter__", no_iteration)
    new = context._groups(parts)
    monkeypatch.undo()
    assert new.equals(old)
    assert list(new) == ["R1", "R2", "R3", "R07", "R8", "R9"]
    assert list(context._groups([parts[2]])) == ["R1", "R2", "R3"]


# -- the stage order -----------------------------------------------------------------


def test_the_stage_order_equals_the_drop_duplicates_version(tmp_path, monkeypatch):
    ds = _source(tmp_path)
    e = history._entries(ds)
    args = (e["deal"], e["stage"], e["step"], e["closes"], e["stage_names"])
    old = _old_order(*args)
    monkeypatch.setattr(pd.DataFrame, "drop_duplicates", lambda *a, **k: pytest.fail("a frame of every entry deduplicated"))
    order = history._order(*args)
    assert order == old
    # first entries' steps: Qualify 0 (all), Propose 1 (O1, O3, O5), the closes last
    assert [str(e["stage_names"][c]) for c in order] == ["Qualify", "Propose", "Closed Lost", "Closed Won"]


def test_first_entries_equal_drop_duplicates_sorted_unsorted_and_long(tmp_path):
    rng = np.random.default_rng(7)
    deal = np.sort(rng.integers(0, 50, 400))
    stage = rng.integers(-1, 5, 400)
    cases = [
        (deal, stage),  # sorted by deal: compared lag by lag
        (rng.permutation(deal), stage),  # a deal's rows apart: hashed
        (np.zeros(200, dtype=np.int64), rng.integers(0, 4, 200)),  # one deal of 200 entries (> _MAX_LAGS): hashed
        (np.array([3, 3, 3, 4, 4]), np.array([-1, 2, -1, -1, -1])),
        (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)),
    ]
    for d, s in cases:
        want = ~pd.DataFrame({"deal": d, "stage": s}).duplicated(["deal", "stage"]).to_numpy()
        assert np.array_equal(history._first_entries(d, s), want)
    for d, s in cases[:4]:
        closes = rng.random(len(d)) < 0.3
        names = np.array([f"S{i}" for i in range(6)], dtype=object)
        steps = rng.integers(0, 3, len(d))
        assert history._order(d, s, steps, closes, names) == _old_order(d, s, steps, closes, names)


def test_sorted_codes_equal_factorize_sorted():
    values = pd.Series(["R3", "R10", None, "R1", "R3", "R2"], dtype="category")
    values = values.cat.add_categories(["R0"])  # a category no row uses
    codes, names = history._sorted_codes(values)
    want_codes, want_names = pd.factorize(values.astype("object"), sort=True)
    assert codes.tolist() == want_codes.tolist() == [3, 1, -1, 0, 3, 2]
    assert list(names) == list(want_names) == ["R1", "R10", "R2", "R3"]
    plain_codes, plain_names = history._sorted_codes(pd.Series(["b", "a", "b"]))
    assert plain_codes.tolist() == [1, 0, 1] and list(plain_names) == ["a", "b"]


def test_stage_figures_by_hand_without_an_object_per_deal(tmp_path, monkeypatch):
    ds = _source(tmp_path)
    factorize = pd.factorize

    def no_sorted_factorize(values, *args, sort=False, **kwargs):  # the old: every deal's rep_id as an object, sorted
        assert not sort, "the deals' rep IDs factorized as objects"
        return factorize(values, *args, sort=sort, **kwargs)

    monkeypatch.setattr(pd, "factorize", no_sorted_factorize)
    figures = history.stage_figures(ds, period=parse_period("2025"))
    monkeypatch.undo()
    days = figures[figures["figure"] == "days"].set_index(["rep_id", "stage"])
    # R1 (O1): Qualify 01-05..01-20 (15) and 02-01..02-10 (9), Propose 01-20..02-01 (12) and 02-10..02-20 (10)
    assert days.loc[("R1", "Qualify"), ["value", "n"]].tolist() == [12.0, 2]
    assert days.loc[("R1", "Propose"), ["value", "n"]].tolist() == [11.0, 2]
    # R2 (O3): Qualify 02-01..03-01 (28), Propose 03-01..05-03 (63, lost from it)
    assert days.loc[("R2", "Propose"), ["value", "n"]].tolist() == [63.0, 1]
    moved = figures[figures["figure"] == "moved_on"].set_index(["rep_id", "stage"])
    assert moved.loc[("R2", "Propose"), "value"] == 0.0
    assert "R3" not in set(figures["rep_id"])  # no deals
    assert figures.attrs["stages"] == ["Qualify", "Propose"]


# -- the yearly quotas, looked up once per snapshot ------------------------------------


def _old_expected_quotas(ds, period) -> pd.Series:
    from salesnb.io.expectations_file import SECTIONS

    reps = ds.reps.drop_duplicates("rep_id")
    expectations_ = ds.expectations
    own = set()
    if isinstance(expectations_, dict) and set(SECTIONS) & set(expectations_):
        own = {str(key).strip() for key in expectations._section(expectations_, "reps")}
    known: dict = {}
    values = []
    for rep, team in zip(reps["rep_id"], reps["team"]):
        no_team = team is None or (isinstance(team, float) and np.isnan(team))
        key = (
            ("rep", str(rep).strip()) if str(rep).strip() in own else ("team", None if no_team else str(team).strip().casefold())
        )
        if key not in known:
            known[key] = expectations.prorate(expectations.for_rep(expectations_, rep, team).get("revenue_quota"), period)
        values.append(known[key])
    return pd.Series(values, index=pd.Index(reps["rep_id"], name="rep_id"), name="quota", dtype="float64")


def test_yearly_quotas_are_looked_up_once_and_prorated_per_period(tmp_path, monkeypatch):
    reps = REPS + "R4,Di,,South\n"  # no team: the default's quota
    yml = "default:\n  revenue_quota: 1200000\nteams:\n  alpha:\n    revenue_quota: 2400000\nreps:\n  R3:\n    revenue_quota: 365000\n"
    ds = load(write_source(tmp_path / "src", {"reps": reps, "opportunities": OPPORTUNITIES, "expectations.yml": yml}))
    ds.snapshot = True
    periods = [parse_period(label) for label in ("2025", "2025-Q1", "2025-02")]
    old = [_old_expected_quotas(ds, period) for period in periods]
    calls = []
    original = expectations.for_rep
    monkeypatch.setattr(expectations, "for_rep", lambda *a, **k: calls.append(1) or original(*a, **k))
    for period, want in zip(periods, old):
        pd.testing.assert_series_equal(expectations._expected_quotas(ds, period), want, check_exact=True)
    assert len(calls) == 3  # Alpha's, R3's own and the default (R4, no team): once for the three periods
    q1 = expectations.quota_table(ds, period="2025-Q1")
    assert q1["quota"].tolist() == [600000.0, 600000.0, 91250.0, 300000.0]  # a quarter: a quarter of the year
    derived._KEPT.clear()


# -- each push's deal, read off the history ------------------------------------------


def test_push_deals_equal_push_positions_and_the_metrics_look_up_no_id(tmp_path, monkeypatch):
    ds = _source(tmp_path)
    pushes = history.close_date_pushes(ds)
    want = history.push_positions(pushes, ds.opportunities)
    assert history.push_deals(ds).tolist() == want.tolist() == [0, 2, 2]  # O1's 01-20 push, O3's 03-01 and 04-10
    looked_up = []
    monkeypatch.setattr(history, "push_positions", lambda *a, **k: looked_up.append(1))
    monkeypatch.setattr("salesnb.analysis.metrics.push_positions", lambda *a, **k: looked_up.append(1))
    from salesnb.analysis.metrics import metrics_table

    q1 = metrics_table(ds, by="rep", period="2025-Q1").set_index("rep_id")
    assert looked_up == []
    assert q1.loc["R1", ["pushed_deals", "close_date_pushes"]].tolist() == [1, 1]


# -- the customer book, once per snapshot ---------------------------------------------


def test_value_and_scorecard_read_the_snapshots_customer_book(tmp_path, monkeypatch):
    from salesnb.analysis import customers
    from salesnb.analysis.metrics import metrics_table
    from salesnb.analysis.scorecard import scorecard
    from salesnb.analysis.value import value_cost

    ds = _source(tmp_path, customers="customer_id,rep_id,acquired_date,acquisition_method\nC1,R1,2025-02-20,referral\n")
    made = []
    original = customers.customer_book
    counted = lambda *a, **k: made.append(1) or original(*a, **k)  # noqa: E731
    for module in ("customers", "metrics", "value", "scorecard"):  # wherever a module holds it by name
        monkeypatch.setattr(f"salesnb.analysis.{module}.customer_book", counted, raising=False)
    metrics_table(ds, by="rep", period="2025")
    value = value_cost(ds, period="2025").set_index("rep_id")
    scorecard(ds, period="2025")
    assert len(made) == 1  # was made again by value against cost and by the scorecard's prospecting
    # R1: C1's won O1 (100); R2: C3 lost, C4 open (0)
    assert value.loc[["R1", "R2"], "clv"].tolist() == [100.0, 0.0]
