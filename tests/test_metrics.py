"""Metrics: each with a worked example a person can check by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesnb.analysis.metrics import (
    EXTRAS,
    METRICS,
    SMALL_SAMPLE_MIN_CLOSED,
    UNKNOWN,
    contact_close_rate,
    contact_counts,
    contacts_per_opportunity,
    customer_book,
    cycle_days,
    first_contacts,
    metrics_over_time,
    metrics_table,
    new_customers,
    opportunity_counts,
    pipeline,
    pipeline_coverage,
    revenue,
    win_rate,
)
from salesnb.errors import InputError
from salesnb.io.dataset import from_frames

Q1 = "2025-Q1"


# -- small builders ------------------------------------------------------------


def reps_frame(rows=(("R1", "Ann", "North", "East"), ("R2", "Bob", "South", "East"), ("R3", "Cy", "North", "West"))):
    return pd.DataFrame(rows, columns=["rep_id", "name", "territory", "team"])


def deal(oid, rep, created, closed=None, status="open", amount=None, customer=None, method=None):
    return {
        "opportunity_id": oid,
        "rep_id": rep,
        "customer_id": customer,
        "created_date": created,
        "closed_date": closed,
        "status": status,
        "amount": amount,
        "acquisition_method": method,
    }


def deals_frame(*rows):
    frame = pd.DataFrame(
        list(rows),
        columns=[
            "opportunity_id",
            "rep_id",
            "customer_id",
            "created_date",
            "closed_date",
            "status",
            "amount",
            "acquisition_method",
        ],
    )
    for col in ("created_date", "closed_date"):
        frame[col] = pd.to_datetime(frame[col], format="ISO8601")
    frame["amount"] = frame["amount"].astype("float64")
    return frame


def activity(aid, rep, date, customer=None, kind="call", opportunity=None):
    return {"activity_id": aid, "rep_id": rep, "date": date, "type": kind, "customer_id": customer, "opportunity_id": opportunity}


def acts_frame(*rows):
    frame = pd.DataFrame(list(rows), columns=["activity_id", "rep_id", "date", "type", "customer_id", "opportunity_id"])
    frame["date"] = pd.to_datetime(frame["date"], format="ISO8601")
    return frame


def dataset(deals, acts=None, customers=None, reps=None, expectations=None, **tables):
    return from_frames(
        reps=reps_frame() if reps is None else reps,
        opportunities=deals,
        activities=acts,
        customers=customers,
        expectations=expectations,
        **tables,
    )


def row(table, key, column="rep_id"):
    return table.set_index(column).loc[key]


@pytest.fixture
def contract_example():
    """The contract's worked example for rep R1 in 2025-Q1: 15 unique
    opportunities created and closed in the quarter, 10 won and 5 lost, and
    60 contacts (15 customers contacted 4 times each)."""
    rows = [
        deal(f"O{i:02d}", "R1", "2025-01-10", "2025-02-20", "won" if i < 10 else "lost", 1000.0, f"C{i:02d}") for i in range(15)
    ]
    contacts = [activity(f"A{i:03d}", "R1", f"2025-01-{1 + i % 28:02d}", f"C{i % 15:02d}") for i in range(60)]
    return dataset(deals_frame(*rows), acts_frame(*contacts))


# -- the contract's worked example -----------------------------------------------


def test_contract_worked_example_individual_functions(contract_example):
    ds = contract_example
    rate = win_rate(ds.opportunities, period=Q1).set_index("rep_id").loc["R1"]
    # 10 won / (10 won + 5 lost) = 2/3
    assert (rate["numerator"], rate["denominator"], rate["n"]) == (10, 15, 15)
    assert rate["value"] == pytest.approx(2 / 3) and round(rate["value"], 3) == 0.667
    assert not rate["small_sample"]  # 15 closed >= 10
    close = contact_close_rate(ds.opportunities, ds.activities, period=Q1).set_index("rep_id").loc["R1"]
    # 10 won / 60 contacts = 1/6
    assert close["value"] == pytest.approx(1 / 6) and round(close["value"], 3) == 0.167
    per_opp = contacts_per_opportunity(ds.opportunities, ds.activities, period=Q1).set_index("rep_id").loc["R1"]
    # 60 contacts / 15 opportunities = 4
    assert per_opp["value"] == 4


def test_contract_worked_example_metrics_table(contract_example):
    r1 = row(metrics_table(contract_example, period=Q1), "R1")
    assert (r1["opportunities"], r1["won"], r1["lost"], r1["closed"], r1["contacts"]) == (15, 10, 5, 15, 60)
    assert round(r1["win_rate"], 3) == 0.667
    assert round(r1["contact_close_rate"], 3) == 0.167
    assert r1["contacts_per_opportunity"] == 4
    # 15 customers: the first contact with each is a new-prospect contact, the other 45 follow-ups
    assert (r1["new_prospect_contacts"], r1["follow_up_contacts"], r1["unlinked_contacts"]) == (15, 45, 0)
    assert r1["small_sample"] == False  # noqa: E712


# -- counts and period semantics ----------------------------------------------------


def test_counts_follow_the_contract_period_rules():
    deals = deals_frame(
        deal("O1", "R1", "2024-12-01", "2025-01-15", "won", 100),  # created before Q1, won in Q1: won, not an opportunity of Q1
        deal("O2", "R1", "2025-01-05", "2025-03-31 23:59", "won", 50),  # closed on the end day (late evening): in
        deal("O3", "R1", "2025-02-01", "2025-04-01", "lost", 10),  # closed the day after the end: out, and open at the end
        deal("O4", "R1", "2025-03-01", "2025-03-20", "open", 70),  # open deal with an expected close date: never won/lost
        deal("O5", "R1", "2025-04-02", None, "open", 5),  # created after the end: nowhere
    )
    counts = opportunity_counts(deals, period=Q1).set_index("rep_id").loc["R1"]
    assert counts.to_dict() == {"opportunities": 3, "won": 2, "lost": 0, "closed": 2, "open": 2}


def test_duplicate_opportunity_ids_count_once():
    deals = deals_frame(
        deal("O1", "R1", "2025-01-05", "2025-02-01", "won", 100), deal("O1", "R1", "2025-01-05", "2025-02-01", "won", 100)
    )
    counts = opportunity_counts(deals, period=Q1).set_index("rep_id").loc["R1"]
    assert (counts["opportunities"], counts["won"]) == (1, 1)
    assert revenue(deals, period=Q1).set_index("rep_id").loc["R1", "revenue_won"] == 100


def test_small_sample_flag():
    assert SMALL_SAMPLE_MIN_CLOSED == 10
    rows = [deal(f"O{i}", "R1", "2025-01-02", "2025-02-01", "won", 1) for i in range(9)]  # R1: 9 closed
    rows += [deal(f"P{i}", "R2", "2025-01-02", "2025-02-01", "lost", 1) for i in range(10)]  # R2: 10 closed
    rates = win_rate(deals_frame(*rows), period=Q1).set_index("rep_id")
    assert rates.loc["R1", "small_sample"] and not rates.loc["R2", "small_sample"]
    assert rates.loc["R1", "value"] == 1.0 and rates.loc["R2", "value"] == 0.0


def test_win_rate_with_no_closed_deals_is_nan_not_zero():
    rates = win_rate(deals_frame(deal("O1", "R1", "2025-01-05")), period=Q1).set_index("rep_id")
    assert np.isnan(rates.loc["R1", "value"]) and rates.loc["R1", "small_sample"]


def test_by_several_columns():
    deals = deals_frame(
        deal("O1", "R1", "2025-01-05", "2025-02-01", "won", 1),
        deal("O2", "R1", "2025-01-05", "2025-02-01", "lost", 1, method="referral"),
    )
    rates = win_rate(deals, by=("rep_id", "acquisition_method"), period=Q1)
    assert list(rates.columns[:2]) == ["rep_id", "acquisition_method"] and len(rates) == 2  # the blank method is its own group


def test_functions_check_their_inputs():
    with pytest.raises(InputError, match="lacks the columns"):
        win_rate(pd.DataFrame({"rep_id": ["R1"]}), period=Q1)
    with pytest.raises(InputError, match="DataFrame"):
        win_rate([1, 2], period=Q1)
    with pytest.raises(InputError, match="by must be"):
        metrics_table(dataset(deals_frame(deal("O1", "R1", "2025-01-05"))), by="region", period=Q1)


# -- revenue, cycle ---------------------------------------------------------------


def test_revenue_and_average_deal():
    deals = deals_frame(
        deal("O1", "R1", "2025-01-05", "2025-02-01", "won", 100),
        deal("O2", "R1", "2025-01-05", "2025-03-01", "won", 300),
        deal("O3", "R1", "2025-01-05", "2025-03-01", "lost", 999),  # lost: not revenue
    )
    got = revenue(deals, period=Q1).set_index("rep_id").loc["R1"]
    # 100 + 300 = 400 over 2 wins = 200
    assert (got["revenue_won"], got["avg_deal_size"], got["won"]) == (400, 200, 2)


def test_cycle_days_median_and_spread():
    deals = deals_frame(
        deal("O1", "R1", "2025-01-01", "2025-01-11", "won", 1),  # 10 days
        deal("O2", "R1", "2025-01-01", "2025-01-21", "won", 1),  # 20
        deal("O3", "R1", "2025-01-01", "2025-01-31 18:00", "won", 1),  # 30 (calendar days)
        deal("O4", "R1", "2024-12-01", "2025-03-11", "won", 1),  # 100
        deal("O5", "R1", "2025-01-01", "2025-01-02", "lost", 1),  # lost: not in the cycle
    )
    got = cycle_days(deals, period=Q1).set_index("rep_id").loc["R1"]
    # sorted 10, 20, 30, 100: median (20+30)/2 = 25; p25 = 10 + 0.75*10 = 17.5; p75 = 30 + 0.25*70 = 47.5
    assert (got["n"], got["cycle_days_median"], got["cycle_days_p25"], got["cycle_days_p75"]) == (4, 25, 17.5, 47.5)


# -- pipeline ---------------------------------------------------------------------


def test_pipeline_counts_blank_amounts_as_unknown():
    deals = deals_frame(
        deal("O1", "R1", "2025-01-05", None, "open", 100),
        deal("O2", "R1", "2025-02-05", None, "open", 300),
        deal("O3", "R1", "2025-03-05", None, "open", None),  # blank: unknown, never 0
        deal("O4", "R1", "2024-06-01", "2024-07-01", "won", 10),  # history: 3 won of 4 closed
        deal("O5", "R1", "2024-06-01", "2024-07-01", "won", 10),
        deal("O6", "R1", "2024-06-01", "2025-02-01", "won", 10),
        deal("O7", "R1", "2024-06-01", "2024-07-01", "lost", 10),
        deal("O8", "R2", "2025-01-05", None, "open", None),  # R2: only a blank amount
    )
    got = pipeline(deals, period=Q1).set_index("rep_id")
    r1 = got.loc["R1"]
    # open at 2025-03-31: 100 + 300 + unknown; weighted = 400 x 3/4 = 300
    assert (r1["open"], r1["pipeline_open_amount"], r1["pipeline_unknown_amounts"]) == (3, 400, 1)
    assert r1["history_win_rate"] == 0.75 and r1["weighted_pipeline"] == 300
    r2 = got.loc["R2"]
    assert r2["open"] == 1 and r2["pipeline_unknown_amounts"] == 1 and np.isnan(r2["pipeline_open_amount"])


def test_pipeline_is_taken_at_the_period_end():
    deals = deals_frame(
        deal("O1", "R1", "2025-01-05", "2025-04-01", "won", 100),  # won the day after the end: still open at the end
        deal("O2", "R1", "2025-03-31 17:00", None, "open", 50),  # created on the end day: open at the end
        deal("O3", "R1", "2025-04-01", None, "open", 1000),  # created after: not in the pipeline
        deal("O4", "R1", "2025-01-05", "2025-03-31", "lost", 7),  # lost on the end day: closed
    )
    r1 = pipeline(deals, period=Q1).set_index("rep_id").loc["R1"]
    assert (r1["open"], r1["pipeline_open_amount"]) == (2, 150)


def test_pipeline_coverage_against_prorated_quota():
    deals = deals_frame(
        deal("O1", "R1", "2025-01-05", None, "open", 400_000), deal("O2", "R1", "2025-01-05", None, "open", 200_000)
    )
    # yearly quota 800,000 -> 200,000 for a quarter; 600,000 open / 200,000 = 3.0
    got = pipeline_coverage(deals, period=Q1, quota=200_000).set_index("rep_id").loc["R1"]
    assert (got["numerator"], got["denominator"], got["value"]) == (600_000, 200_000, 3.0)
    ds = dataset(deals, expectations={"revenue_quota": 800_000})
    r1 = row(metrics_table(ds, period=Q1), "R1")
    assert (r1["quota"], r1["pipeline_coverage"]) == (200_000, 3.0)
    by_frame = pipeline_coverage(deals, period=Q1, quota=pd.DataFrame({"rep_id": ["R1"], "quota": [300_000.0]}))
    assert by_frame["value"].tolist() == [2.0]


def test_finished_period_coverage_is_against_the_next_periods_quota():
    """600,000 open at Q2's end is what Q3 will close from: against Q3's quota of 200,000 -> 3.0,
    though Q2's own quota was 300,000 (which attainment keeps using). The quotas table sets them per quarter."""
    from salesnb.analysis.deals import coverage_period

    deals = deals_frame(
        deal("O1", "R1", "2025-04-05", None, "open", 400_000),
        deal("O2", "R1", "2025-05-05", None, "open", 200_000),
        deal("O3", "R1", "2025-04-10", "2025-06-10", "won", 150_000),
    )
    quotas = pd.DataFrame(
        [
            (rep, quarter, amount)
            for rep in reps_frame()["rep_id"]
            for quarter, amount in (("2025-Q2", 300_000.0), ("2025-Q3", 200_000.0))
        ],
        columns=["rep_id", "period", "quota_amount"],
    )
    ds = dataset(deals, expectations={"revenue_quota": 1}, quotas=quotas)
    finished = row(metrics_table(ds, period="2025-Q2", as_of="2025-07-15"), "R1")
    assert (finished["quota"], finished["attainment"]) == (300_000, 0.5)  # 150,000 won of Q2's 300,000
    assert finished["pipeline_coverage"] == 3.0  # 600,000 / Q3's 200,000
    current = row(metrics_table(ds, period="2025-Q2", as_of="2025-06-15"), "R1")
    assert current["pipeline_coverage"] == 2.0  # the quarter still running: 600,000 / its own 300,000
    assert row(metrics_table(ds, by="team", period="2025-Q2", as_of="2025-07-15"), "East", "team")["pipeline_coverage"] == 1.5
    # team East = R1 + R2: 600,000 open / (200,000 + 200,000) of Q3
    assert coverage_period("2025-Q2", as_of="2025-07-01").label == "2025-Q3"
    assert coverage_period("2025-Q2", as_of="2025-06-30").label == "2025-Q2"  # the last day is still the period
    assert coverage_period("2025", as_of="2026-01-05").label == "2026"
    assert coverage_period("2025-12", as_of="2026-01-05").label == "2026-01"
    assert coverage_period("2025-01-01..2025-01-10", as_of="2026-01-05").label == "2025-01-11..2025-01-20"


# -- contacts ---------------------------------------------------------------------


def test_contacts_split_new_prospect_follow_up_and_unlinked():
    acts = acts_frame(
        activity("A1", "R1", "2024-12-15", "C1"),  # before Q1: C1's first contact ever
        activity("A2", "R1", "2025-01-10", "C1"),  # so this is a follow-up
        activity("A10", "R2", "2025-02-01 09:00", "C2"),  # same day as A9: tie broken by the lowest ID,
        activity("A9", "R1", "2025-02-01", "C2"),  # A9 (before A10), so A9 is C2's new-prospect contact
        activity("A11", "R1", "2025-03-31 23:30", None),  # no customer: unlinked, counted in contacts only
        activity("A12", "R2", "2025-04-01", "C3"),  # after Q1: not counted
    )
    got = contact_counts(acts, period=Q1).set_index("rep_id")
    assert got.loc["R1"].to_dict() == {"contacts": 3, "new_prospect_contacts": 1, "follow_up_contacts": 1, "unlinked_contacts": 1}
    assert got.loc["R2"].to_dict() == {"contacts": 1, "new_prospect_contacts": 0, "follow_up_contacts": 1, "unlinked_contacts": 0}
    assert sorted(first_contacts(acts)["activity_id"]) == ["A1", "A12", "A9"]


def test_contact_rates_with_no_opportunities_or_contacts_are_nan():
    deals = deals_frame(deal("O1", "R1", "2024-01-05", "2025-02-01", "won", 1))  # won in Q1, created long before
    acts = acts_frame(activity("A1", "R2", "2025-01-10", "C1"))
    per_opp = contacts_per_opportunity(deals, acts, period=Q1).set_index("rep_id")
    assert np.isnan(per_opp.loc["R1", "value"]) and np.isnan(per_opp.loc["R2", "value"])  # 0 opportunities created
    close = contact_close_rate(deals, acts, period=Q1).set_index("rep_id")
    assert np.isnan(close.loc["R1", "value"])  # 1 won, 0 contacts
    assert close.loc["R2", "value"] == 0.0  # 0 won, 1 contact


# -- customers --------------------------------------------------------------------


def test_new_customers_by_tier_and_owner():
    deals = deals_frame(
        deal("O1", "R1", "2024-11-01", "2025-01-20", "won", 10, "C1"),  # C1's first win: in Q1
        deal("O2", "R2", "2025-01-01", "2025-02-20", "won", 10, "C2"),  # C2 first won by R2 ...
        deal("O3", "R1", "2024-01-01", "2024-05-01", "won", 10, "C3"),  # C3 won in 2024: not new in Q1
        deal("O4", "R1", "2025-01-01", "2025-03-01", "won", 10, "C3"),
        deal("O5", "R1", "2025-01-01", "2025-03-01", "won", 10, "C9"),  # C9 is not in the customers table: tier unknown
    )
    customers = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4"],
            "market_tier": ["primary", "secondary", "primary", "primary"],
            "rep_id": [None, "R1", None, "R2"],  # ... but C2 is owned by R1
            "acquired_date": pd.to_datetime([None, None, None, "2025-03-05"]),  # C4 acquired in Q1 per the table
        }
    )
    got = new_customers(
        deals, from_frames(reps=reps_frame(), opportunities=deals, customers=customers).customers, period=Q1
    ).set_index("rep_id")
    # R1: C1 (primary), C2 (secondary, owned), C9 (no tier); R2: C4 (primary)
    assert got.loc["R1"].to_dict() == {"new_customers": 3, "new_customers_primary": 1, "new_customers_secondary": 1}
    assert got.loc["R2"].to_dict() == {"new_customers": 1, "new_customers_primary": 1, "new_customers_secondary": 0}
    without = new_customers(deals, None, period=Q1).set_index("rep_id")
    # without the customers table C2 belongs to R2, who won it first, and tiers are unknown
    assert without.loc["R1", "new_customers"] == 2 and without.loc["R2", "new_customers"] == 1
    assert np.isnan(without.loc["R1", "new_customers_primary"])


def test_new_customers_by_tier_are_blank_with_a_note_when_no_customer_has_a_market_tier():
    """Customers without market_tier: 2 new customers for R1, by tier unknown (blank, never 0)."""
    deals = deals_frame(
        deal("O1", "R1", "2025-01-01", "2025-02-01", "won", 10, "C1"),
        deal("O2", "R1", "2025-01-01", "2025-02-01", "won", 10, "C2"),
    )
    customers = pd.DataFrame({"customer_id": ["C1", "C2"], "customer_type": ["Retail", "Retail"]})
    ds = dataset(deals, customers=customers)
    table = metrics_table(ds, period=Q1).set_index("rep_id")
    assert np.isnan(table.loc["R1", "new_customers_primary"]) and np.isnan(table.loc["R1", "new_customers_secondary"])
    assert any("No customer has a market_tier" in note for note in table.attrs["notes"])
    got = new_customers(deals, ds.customers, period=Q1).set_index("rep_id")
    assert got.loc["R1", "new_customers"] == 2 and np.isnan(got.loc["R1", "new_customers_primary"])


def test_customer_book_ownership():
    deals = deals_frame(
        deal("O1", "R2", "2024-01-01", "2024-02-01", "won", 5, "C1"),
        deal("O2", "R1", "2024-01-01", "2024-01-15", "won", 5, "C2"),
        deal("O3", "R2", "2024-01-01", "2024-03-15", "won", 5, "C2"),
    )
    customers = pd.DataFrame({"customer_id": ["C1", "C2", "C3"], "rep_id": ["R3", None, None]})
    ds = dataset(deals, customers=customers)
    book = customer_book(ds.opportunities, ds.customers).set_index("customer_id")
    assert book.loc["C1", "rep_id"] == "R3"  # customers.rep_id wins
    assert book.loc["C2", "rep_id"] == "R1"  # else the rep of the first won deal
    assert book.loc["C2", "acquired_date"] == pd.Timestamp("2024-01-15")
    assert pd.isna(book.loc["C3", "rep_id"]) and pd.isna(book.loc["C3", "acquired_date"])  # a prospect


# -- the metrics table ---------------------------------------------------------------


def full_dataset():
    deals = deals_frame(
        deal("O1", "R1", "2025-01-05", "2025-02-01", "won", 100, "C1"),
        deal("O2", "R1", "2025-01-06", "2025-03-01", "lost", 50, "C2", "referral"),
        deal("O3", "R2", "2025-02-01", None, "open", None, "C3"),
        deal("O4", "R9", "2025-02-01", "2025-02-10", "won", 70),  # a rep missing from reps
        deal("O5", "R2", "2025-01-10", None, "open", 200),
    )
    acts = acts_frame(
        activity("A1", "R1", "2025-01-02", "C1", "visit"),
        activity("A2", "R1", "2025-01-03", "C1", "call", "O1"),
        activity("A3", "R2", "2025-01-04", "C3"),
        activity("A4", "R2", "2025-01-05"),
        activity("A5", "R1", "2025-01-05", "C2", "call", "O2"),
    )
    customers = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3"],
            "customer_type": ["Retail", "Retail", None],
            "market_tier": ["primary", "secondary", "primary"],
            "acquisition_method": ["inbound", "inbound", None],
        }
    )
    return dataset(deals, acts, customers, expectations={"revenue_quota": 1200})


def test_metrics_table_columns_in_contract_order():
    ds = full_dataset()
    table = metrics_table(ds, period=Q1)
    assert list(table.columns) == ["rep_id", "name", "team", "territory", *METRICS, *EXTRAS]
    assert list(METRICS) == [
        "opportunities",
        "won",
        "lost",
        "open",
        "win_rate",
        "contacts",
        "new_prospect_contacts",
        "follow_up_contacts",
        "contact_close_rate",
        "contacts_per_opportunity",
        "revenue_won",
        "avg_deal_size",
        "cycle_days_median",
        "pipeline_open_amount",
        "pipeline_coverage",
        "quota",
        "attainment",
        "new_customers_primary",
        "new_customers_secondary",
        "clv",
        "value_cost_ratio",
        "forecast_amount",
        "forecast_error_pct",
        "quota_source",
        "pushed_deals",
        "close_date_pushes",
    ]
    for by, column in (
        ("team", "team"),
        ("territory", "territory"),
        ("customer_type", "customer_type"),
        ("acquisition_method", "acquisition_method"),
        ("market_tier", "market_tier"),
    ):
        assert list(metrics_table(ds, by=by, period=Q1).columns) == [column, *METRICS, *EXTRAS]


def test_metrics_table_every_rep_appears_with_zero_counts_and_nan_rates():
    table = metrics_table(full_dataset(), period=Q1)
    assert table["rep_id"].tolist() == ["R1", "R2", "R3", "R9"]  # reps in order, then the unknown rep seen in the data
    r3 = row(table, "R3")  # no deals, no contacts
    assert (r3["opportunities"], r3["won"], r3["contacts"], r3["revenue_won"], r3["pipeline_open_amount"]) == (0, 0, 0, 0, 0)
    assert np.isnan(r3["win_rate"]) and np.isnan(r3["avg_deal_size"]) and np.isnan(r3["cycle_days_median"])
    assert r3["small_sample"] == True  # noqa: E712
    r1 = row(table, "R1")
    # quota 1200 a year -> 300 a quarter; revenue 100 -> attainment 1/3
    assert (r1["quota"], r1["revenue_won"]) == (300, 100) and r1["attainment"] == pytest.approx(1 / 3)
    assert (r1["contacts"], r1["new_prospect_contacts"], r1["follow_up_contacts"]) == (3, 2, 1)
    r2 = row(table, "R2")
    # O3 (blank) and O5 (200) open: 200 known + 1 unknown
    assert (r2["open"], r2["pipeline_open_amount"], r2["pipeline_unknown_amounts"], r2["unlinked_contacts"]) == (2, 200, 1, 1)
    assert table["opportunities"].dtype == "int64" and table["small_sample"].dtype == bool


def test_metrics_table_missing_optional_tables_give_nan_and_notes():
    deals = deals_frame(deal("O1", "R1", "2025-01-05", "2025-02-01", "won", 100, "C1"))
    table = metrics_table(dataset(deals), period=Q1)
    r1 = row(table, "R1")
    for name in (
        "contacts",
        "new_prospect_contacts",
        "follow_up_contacts",
        "contact_close_rate",
        "contacts_per_opportunity",
        "unlinked_contacts",
        "quota",
        "attainment",
        "pipeline_coverage",
        "new_customers_primary",
        "new_customers_secondary",
        "forecast_amount",
        "forecast_error_pct",
    ):
        assert np.isnan(r1[name]), name
    # clv is still known from won opportunities, and says so
    assert (r1["clv"], r1["clv_source"]) == (100, "won_opportunities")
    notes = " ".join(table.attrs["notes"])
    for table_name in ("activities", "customers", "forecasts", "expectations"):
        assert table_name in notes


def test_metrics_table_by_team_and_territory_roll_up():
    ds = full_dataset()
    by_rep = metrics_table(ds, period=Q1)
    by_team = metrics_table(ds, by="team", period=Q1)
    assert by_team["team"].tolist() == ["East", "West", UNKNOWN]  # R9 is in no team
    east = row(by_team, "East", "team")
    # R1 + R2: opportunities 2 + 2, contacts 3 + 2, quota 300 + 300
    assert (east["opportunities"], east["contacts"], east["quota"]) == (4, 5, 600)
    assert east["win_rate"] == 0.5  # 1 won, 1 lost
    for column in ("opportunities", "won", "lost", "open", "contacts", "unlinked_contacts", "revenue_won"):
        assert by_team[column].sum() == by_rep[column].sum(), column
    by_territory = metrics_table(ds, by="territory", period=Q1)
    assert row(by_territory, "North", "territory")["opportunities"] == 2  # R1 and R3 (none)


def test_metrics_table_by_customer_groups_keeps_unknowns():
    ds = full_dataset()
    by_type = metrics_table(ds, by="customer_type", period=Q1).set_index("customer_type")
    assert by_type.index.tolist() == ["Retail", UNKNOWN]
    # Retail: O1, O2; unknown: O3 (C3 has no type), O4 and O5 (no customer)
    assert (by_type.loc["Retail", "opportunities"], by_type.loc[UNKNOWN, "opportunities"]) == (2, 3)
    # contacts: A1, A2, A5 are Retail; A3 (C3) and A4 (no customer) unknown
    assert (by_type.loc["Retail", "contacts"], by_type.loc[UNKNOWN, "contacts"]) == (3, 2)
    assert np.isnan(by_type.loc["Retail", "quota"])  # quotas are per rep
    by_method = metrics_table(ds, by="acquisition_method", period=Q1).set_index("acquisition_method")
    # O2's own "referral" beats its customer's "inbound"; O1 falls back to C1's "inbound"
    assert by_method.loc["referral", "opportunities"] == 1 and by_method.loc["inbound", "opportunities"] == 1
    assert by_method.loc[UNKNOWN, "opportunities"] == 3
    # contacts follow their opportunity (A5 -> O2 referral), else their customer (A1 -> inbound)
    assert (by_method.loc["referral", "contacts"], by_method.loc["inbound", "contacts"], by_method.loc[UNKNOWN, "contacts"]) == (
        1,
        2,
        2,
    )
    by_tier = metrics_table(ds, by="market_tier", period=Q1).set_index("market_tier")
    assert by_tier["opportunities"].sum() == 5 and by_tier["contacts"].sum() == 5
    assert by_tier.loc["primary", "new_customers_primary"] == 1  # C1 first won in Q1


def test_metrics_table_by_customer_groups_without_customers_table():
    deals = deals_frame(deal("O1", "R1", "2025-01-05", "2025-02-01", "won", 100, "C1"))
    table = metrics_table(dataset(deals, acts_frame(activity("A1", "R1", "2025-01-02", "C1"))), by="market_tier", period=Q1)
    assert table["market_tier"].tolist() == [UNKNOWN]
    assert (table.loc[0, "opportunities"], table.loc[0, "contacts"]) == (1, 1)


def test_metrics_table_default_period_is_the_data_span():
    ds = full_dataset()
    table = metrics_table(ds)
    assert table.attrs["period"].label == "2025-01-02..2025-03-01"
    assert table["opportunities"].sum() == 5


def test_metrics_table_relative_period_uses_as_of():
    table = metrics_table(full_dataset(), period="last-quarter", as_of="2025-05-15")
    assert table.attrs["period"].label == Q1 and table["opportunities"].sum() == 5


def test_metrics_over_time():
    out = metrics_over_time(full_dataset(), by="team", freq="month", start="2025-01", end="2025-03")
    assert list(out.columns[:3]) == ["period", "period_start", "team"]
    assert out["period"].unique().tolist() == ["2025-01", "2025-02", "2025-03"]
    east = out[out["team"] == "East"].set_index("period")
    # created: January O1, O2, O5; February O3
    assert east["opportunities"].to_dict() == {"2025-01": 3, "2025-02": 1, "2025-03": 0}
    assert out["opportunities"].sum() == 5
    yearly = metrics_over_time(full_dataset(), freq="year")
    assert yearly["period"].unique().tolist() == ["2025"]


def test_contact_counts_by_codes_match_the_duckdb_query():
    """A categorical rep_id (a loaded Dataset's) is counted with bincount;
    the same rows as text go through DuckDB: the two tables are equal,
    including a missing rep_id's group, unlinked contacts and blank dates."""
    from salesnb.analysis.contacts import count_contacts as _contact_counts
    from salesnb.analysis.contacts import first_contact_positions as _first_contact_positions
    from salesnb.analysis.periods import parse_period

    rng = np.random.default_rng(3)
    n = 400
    acts = pd.DataFrame(
        {
            "activity_id": pd.Series([f"A{i}" for i in range(n)], dtype="str"),
            "rep_id": pd.Series(rng.choice(["R1", "R2", "R3", None], n), dtype="str").astype("category"),
            "date": pd.Series(pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")),
            "customer_id": pd.Series(rng.choice(["C1", "C2", "C3", "C4", None], n), dtype="str").astype("category"),
        }
    )
    acts.loc[rng.choice(n, 10, replace=False), "date"] = pd.NaT
    first = _first_contact_positions(acts)
    for text in ("2024", "2025-Q1", "2023"):
        period = parse_period(text)
        fast = _contact_counts(acts, ("rep_id",), period, first)
        duckdb_side = _contact_counts(acts.assign(rep_id=acts["rep_id"].astype("str")), ("rep_id",), period, first)
        pd.testing.assert_frame_equal(fast, duckdb_side)
    assert fast["rep_id"].isna().iloc[-1]  # the missing rep_id is a group, last


def test_sum_by_customer_on_codes_matches_groupby():
    from salesnb.analysis.value import _sum_by_customer

    rng = np.random.default_rng(5)
    customers = pd.Series(rng.choice(["C9", "C1", "C5", None], 300), dtype="str", name="customer_id")
    amounts = pd.Series(np.where(rng.random(300) < 0.1, np.nan, rng.random(300)), name="amount")
    got = _sum_by_customer(amounts, customers.astype("category"))
    expected = amounts.groupby(customers, sort=False).sum()
    assert got.index.tolist() == expected.index.tolist()  # in order of first appearance
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy())
