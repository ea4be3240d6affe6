"""Customer lifetime value and value / cost, with the contract's worked examples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesnb.analysis.metrics import UNKNOWN, metrics_table
from salesnb.analysis.value import clv, customer_values, value_cost
from salesnb.errors import InputError
from salesnb.io.dataset import from_frames

REPS = pd.DataFrame(
    {
        "rep_id": ["RA", "RB", "RC"],
        "name": ["Ann", "Bob", "Cy"],
        "territory": ["North", "North", "South"],
        "team": ["East", "East", "West"],
        "annual_cost": [100_000.0, 40_000.0, np.nan],
    }
)


def won(oid, rep, customer, closed, amount):
    return {
        "opportunity_id": oid,
        "rep_id": rep,
        "customer_id": customer,
        "created_date": pd.Timestamp("2024-01-01"),
        "closed_date": pd.Timestamp(closed),
        "status": "won",
        "amount": amount,
    }


def example(with_orders=False, customers=None):
    """RA's customers bring in 500,000 (C1 300k + C2 200k), RB's 80,000 (C3)."""
    deals = pd.DataFrame(
        [
            won("O1", "RA", "C1", "2024-03-01", 300_000.0),
            won("O2", "RA", "C2", "2024-06-01", 200_000.0),
            won("O3", "RB", "C3", "2024-09-01", 80_000.0),
        ]
    )
    orders = None
    if with_orders:
        orders = pd.DataFrame(
            {
                "order_id": ["X1", "X2", "X3", "X4", "X5"],
                "customer_id": ["C1", "C1", "C2", "C3", "C3"],
                "date": pd.to_datetime(
                    ["2024-03-05", "2024-12-31 16:00", "2024-07-01", "2024-10-01", "2025-01-01"], format="ISO8601"
                ),
                # C1: 250k + 250k (the second on the end day: in); C2 0 here; C3 80k, then 999 after the end: out
                "amount": [250_000.0, 250_000.0, 0.0, 80_000.0, 999.0],
            }
        )
    return from_frames(reps=REPS, opportunities=deals, orders=orders, customers=customers)


@pytest.mark.parametrize("with_orders, source", [(False, "won_opportunities"), (True, "orders")])
def test_contract_worked_examples(with_orders, source):
    table = value_cost(example(with_orders), period="2024").set_index("rep_id")
    # RA: 500,000 / 100,000 = 5; RB: 80,000 / 40,000 = 2
    assert (table.loc["RA", "clv"], table.loc["RA", "annual_cost"], table.loc["RA", "value_cost_ratio"]) == (500_000, 100_000, 5)
    assert (table.loc["RB", "clv"], table.loc["RB", "annual_cost"], table.loc["RB", "value_cost_ratio"]) == (80_000, 40_000, 2)
    assert (table["clv_source"] == source).all()


def test_missing_or_zero_cost_gives_nan():
    reps = REPS.assign(annual_cost=[0.0, 40_000.0, np.nan])
    ds = from_frames(
        reps=reps,
        opportunities=pd.DataFrame([won("O1", "RA", "C1", "2024-03-01", 10.0), won("O2", "RC", "C2", "2024-03-01", 10.0)]),
    )
    table = value_cost(ds, period="2024").set_index("rep_id")
    assert np.isnan(table.loc["RA", "value_cost_ratio"]) and np.isnan(table.loc["RC", "value_cost_ratio"])
    assert table.loc["RB", "value_cost_ratio"] == 0  # cost known, no customers: a true 0


def test_clv_counts_revenue_up_to_the_period_end():
    ds = example()
    by_rep = clv(ds, as_of_end="2024-06-01").set_index("rep_id")
    # to 2024-06-01 (inclusive): RA 300k + 200k (won that day); RB's deal is later
    assert by_rep.loc["RA", "clv"] == 500_000 and by_rep.loc["RA", "customers"] == 2
    assert by_rep.loc["RB", "clv"] == 0
    assert clv(ds, as_of_end="2024-05-31").set_index("rep_id").loc["RA", "clv"] == 300_000


def test_clv_ownership_customers_table_beats_first_won_deal():
    customers = pd.DataFrame(
        {"customer_id": ["C1", "C2", "C3"], "rep_id": ["RB", None, None], "customer_type": ["Bank", "Retail", "Retail"]}
    )
    ds = example(customers=customers)
    by_rep = clv(ds, as_of_end="2024-12-31").set_index("rep_id")
    # C1 (300k) is owned by RB per the customers table; C2 stays with RA, who won it first
    assert (by_rep.loc["RA", "clv"], by_rep.loc["RB", "clv"]) == (200_000, 380_000)
    by_type = clv(ds, by=("customer_type",), as_of_end="2024-12-31").set_index("customer_type")
    assert (by_type.loc["Bank", "clv"], by_type.loc["Retail", "clv"]) == (300_000, 280_000)


def test_won_deal_without_customer_is_a_one_off_customer():
    deals = pd.DataFrame([won("O1", "RA", None, "2024-03-01", 1_000.0), won("O2", "RA", None, "2024-04-01", 500.0)])
    ds = from_frames(reps=REPS, opportunities=deals)
    row = clv(ds, as_of_end="2024-12-31").set_index("rep_id").loc["RA"]
    assert (row["clv"], row["customers"]) == (1_500, 2)


def test_orders_of_a_customer_nobody_owns_go_to_the_rep_on_its_first_order():
    deals = pd.DataFrame([won("O1", "RA", "C1", "2024-03-01", 10.0)])
    orders = pd.DataFrame(
        {
            "order_id": ["X1", "X2"],
            "customer_id": ["C7", "C7"],
            "rep_id": ["RB", "RA"],
            "date": pd.to_datetime(["2024-02-01", "2024-05-01"]),
            "amount": [30.0, 20.0],
        }
    )
    values = customer_values(from_frames(reps=REPS, opportunities=deals, orders=orders), as_of_end="2024-12-31")
    assert values.set_index("customer_id").loc["C7", ["rep_id", "revenue"]].tolist() == ["RB", 50.0]


def test_customer_values_book_rows_then_customers_only_on_orders():
    # C1 is in the book (won by RA) and has orders; C2 is in the book with none (0);
    # C8 then C7 only appear on orders: added after the book in order of their first
    # order row, owned by the rep on their first order; C9's only order is after the end.
    deals = pd.DataFrame([won("O1", "RA", "C1", "2024-03-01", 10.0), won("O2", "RB", "C2", "2024-03-01", 5.0)])
    orders = pd.DataFrame(
        {
            "order_id": ["X1", "X2", "X3", "X4", "X5"],
            "customer_id": ["C8", "C1", "C7", "C8", "C9"],
            "rep_id": ["RC", "RA", "RB", "RA", "RA"],
            "date": pd.to_datetime(["2024-04-01", "2024-02-01", "2024-05-01", "2024-03-01", "2025-02-01"]),
            "amount": [7.0, 40.0, 3.0, 1.0, 99.0],
        }
    )
    values = customer_values(from_frames(reps=REPS, opportunities=deals, orders=orders), as_of_end="2024-12-31")
    assert values["customer_id"].tolist() == ["C1", "C2", "C8", "C7"]
    # C8's first order is X4 (2024-03-01, RA), not the first row X1
    assert values["rep_id"].tolist() == ["RA", "RB", "RA", "RB"]
    assert values["revenue"].tolist() == [40.0, 0.0, 8.0, 3.0]


def test_value_cost_by_team_sums_value_and_cost():
    table = value_cost(example(), period="2024", by="team").set_index("team")
    # East (RA + RB): (500,000 + 80,000) / (100,000 + 40,000) = 4.142857...
    assert table.loc["East", "value_cost_ratio"] == pytest.approx(580_000 / 140_000)
    # West: RC has no cost -> NaN (a partial cost would overstate it)
    assert np.isnan(table.loc["West", "value_cost_ratio"])


def test_value_cost_by_customer_type_splits_each_reps_cost_over_its_customers():
    customers = pd.DataFrame({"customer_id": ["C1", "C2", "C3"], "customer_type": ["Bank", "Retail", "Retail"]})
    table = value_cost(example(customers=customers), period="2024", by="customer_type").set_index("customer_type")
    # RA's 100,000 over its 2 customers: 50,000 to C1 (Bank), 50,000 to C2 (Retail); RB's 40,000 all to C3 (Retail)
    assert (table.loc["Bank", "clv"], table.loc["Bank", "annual_cost"], table.loc["Bank", "value_cost_ratio"]) == (
        300_000,
        50_000,
        6,
    )
    # Retail: (200,000 + 80,000) / (50,000 + 40,000) = 3.111...
    assert table.loc["Retail", "value_cost_ratio"] == pytest.approx(280_000 / 90_000)


def test_value_cost_rejects_unknown_grouping():
    with pytest.raises(InputError, match="by must be"):
        value_cost(example(), period="2024", by="region")


def test_metrics_table_carries_clv_and_ratio():
    table = metrics_table(example(with_orders=True), period="2024").set_index("rep_id")
    assert (table.loc["RA", "clv"], table.loc["RA", "value_cost_ratio"], table.loc["RA", "clv_source"]) == (500_000, 5, "orders")
    assert np.isnan(table.loc["RC", "value_cost_ratio"]) and table.loc["RC", "clv"] == 0
    by_type = metrics_table(example(), by="customer_type", period="2024")
    assert by_type["customer_type"].tolist() == [UNKNOWN] and by_type.loc[0, "clv"] == 580_000


def test_cost_of_a_rep_hired_during_the_period_is_pro_rated():
    """RA hired 2025-07-01 has cost 184 of 2025's 365 days: 100,000 x 184 / 365 = 50,410.96, so
    500,000 of value is 9.918 times the cost, not 5. RB (hired 2019) keeps the contract's 80,000 / 40,000 = 2."""
    deals = pd.DataFrame(
        [
            won("O1", "RA", "C1", "2025-08-01", 300_000.0),
            won("O2", "RA", "C2", "2025-09-01", 200_000.0),
            won("O3", "RB", "C3", "2025-09-01", 80_000.0),
        ]
    )
    reps = REPS.assign(hire_date=pd.to_datetime(["2025-07-01", "2019-03-01", None]))
    ds = from_frames(reps=reps, opportunities=deals)
    table = value_cost(ds, period="2025").set_index("rep_id")
    assert table.loc["RA", "annual_cost"] == 100_000  # the yearly figure stays as the reps table has it
    assert table.loc["RA", "cost"] == pytest.approx(100_000 * 184 / 365)
    assert table.loc["RA", "value_cost_ratio"] == pytest.approx(500_000 / (100_000 * 184 / 365))
    assert round(table.loc["RA", "value_cost_ratio"], 2) == 9.92
    assert (table.loc["RB", "cost"], table.loc["RB", "value_cost_ratio"]) == (40_000, 2)
    # a quarter: the year up to its end (2025-01-01..2025-12-31) is the same 184 days
    q4 = value_cost(ds, period="2025-Q4").set_index("rep_id")
    assert q4.loc["RA", "cost"] == pytest.approx(100_000 * 184 / 365)
    # the team: (500,000 + 80,000) / (50,410.96 + 40,000)
    team = value_cost(ds, period="2025", by="team").set_index("team")
    assert team.loc["East", "value_cost_ratio"] == pytest.approx(580_000 / (100_000 * 184 / 365 + 40_000))
    assert metrics_table(ds, period="2025").set_index("rep_id").loc["RA", "value_cost_ratio"] == pytest.approx(9.918, abs=1e-3)
    # hired after the period: no cost yet, no ratio
    assert np.isnan(value_cost(ds, period="2025-Q1").set_index("rep_id").loc["RA", "value_cost_ratio"])


def test_employed_share_counts_days_inclusively():
    from salesnb.analysis.value import employed_share

    reps = pd.DataFrame(
        {"rep_id": ["A", "B", "C", "D"], "hire_date": pd.to_datetime(["2025-07-01", "2020-01-01", None, "2026-02-01"])}
    )
    got = employed_share(reps, "2025").to_dict()
    assert got == {"A": 184 / 365, "B": 1.0, "C": 1.0, "D": 0.0}
    # 2024 is a leap year: 2024-07-01..2024-12-31 is 184 of 366 days
    assert employed_share(reps.assign(hire_date=pd.to_datetime(["2024-07-01"] * 4)), "2024")["A"] == 184 / 366
