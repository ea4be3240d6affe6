"""salesnb.io.sample: deterministic, shaped like the contract, and every planted
profile visible in the raw tables with plain pandas (no salesnb analytics),
over the whole span and over the last twelve months."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from salesnb.errors import InputError
from salesnb.io.sample import (
    FORECAST_BIAS,
    NEW_HIRE,
    PLANTED,
    SAMPLE_TABLES,
    TRAINED,
    TRAINING_EFFECT,
    TRAINING_PROGRAM,
    generate,
    planted_profiles,
)
from salesnb.io.schema import TABLES as CONTRACT_TABLES

TABLES = {name: CONTRACT_TABLES[name] for name in SAMPLE_TABLES}  # the sample has no quotas table

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "sample"
END = pd.Timestamp("2025-12-31")
LAST_YEAR = pd.Timestamp("2025-01-01")
FILES = sorted([f"{name}.csv" for name in TABLES] + ["expectations.yml"])
ESTABLISHED = [rep for rep in PLANTED if rep != NEW_HIRE]


def read_raw(folder: Path, fmt: str = "csv") -> dict[str, pd.DataFrame]:
    """Every table as plain pandas reads it: text IDs, parsed dates, float amounts."""
    frames = {}
    for name, table in TABLES.items():
        if fmt == "csv":
            frame = pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False, na_values=[""])
        else:
            frame = pd.read_parquet(folder / f"{name}.parquet")
        for col in table.columns:
            if col.name not in frame:  # a column the sample does not fill (the reps' email addresses)
                continue
            if col.kind == "date":
                frame[col.name] = pd.to_datetime(frame[col.name]).astype("datetime64[ns]")
            elif col.kind == "amount":
                frame[col.name] = frame[col.name].astype("float64")
            else:
                frame[col.name] = frame[col.name].astype("str")
        frames[name] = frame
    return frames


@pytest.fixture(scope="module")
def sample() -> dict[str, pd.DataFrame]:
    return read_raw(SAMPLE_DIR)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("small")
    generate(folder, reps=12, months=12)
    return folder


# --- Determinism -------------------------------------------------------------


def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_seed_gives_byte_identical_files(tmp_path, small_run):
    generate(tmp_path, reps=12, months=12)
    assert _bytes(tmp_path) == _bytes(small_run)


def test_different_seed_gives_different_data(tmp_path, small_run):
    generate(tmp_path, seed=8, reps=12, months=12)
    first, second = _bytes(small_run), _bytes(tmp_path)
    assert first["opportunities.csv"] != second["opportunities.csv"]
    assert first["activities.csv"] != second["activities.csv"]


def test_committed_sample_equals_a_fresh_default_run(tmp_path):
    rows = generate(tmp_path)
    assert sorted(p.name for p in SAMPLE_DIR.iterdir()) == FILES, "data/sample holds exactly the generated files"
    assert _bytes(tmp_path) == _bytes(SAMPLE_DIR), "regenerate data/sample (see data/README.md)"
    assert rows == {name: len(pd.read_csv(SAMPLE_DIR / f"{name}.csv")) for name in TABLES}


def test_parquet_holds_the_same_frames_as_csv_and_is_deterministic(tmp_path, small_run):
    first, second = tmp_path / "first", tmp_path / "second"
    generate(first, reps=12, months=12, fmt="parquet")
    generate(second, reps=12, months=12, fmt="parquet")
    assert _bytes(first) == _bytes(second)
    assert sorted(p.name for p in first.iterdir()) == sorted([f"{n}.parquet" for n in TABLES] + ["expectations.yml"])
    as_csv, as_parquet = read_raw(small_run), read_raw(first, "parquet")
    for name in TABLES:
        pd.testing.assert_frame_equal(as_parquet[name], as_csv[name], obj=name)


def test_writing_one_format_replaces_the_other(tmp_path):
    generate(tmp_path, reps=2, months=3, fmt="parquet")
    generate(tmp_path, reps=2, months=3, fmt="csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == FILES  # no temp files, no stale parquet


def test_a_failed_run_leaves_the_old_files_and_no_temporary_ones(tmp_path, monkeypatch):
    generate(tmp_path, reps=2, months=3)
    before = _bytes(tmp_path)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("salesnb.io.sample._simulate_block", broken)
    with pytest.raises(RuntimeError):
        generate(tmp_path, reps=2, months=3, seed=99)
    assert _bytes(tmp_path) == before


@pytest.mark.parametrize(
    "kwargs", [{"reps": 0}, {"months": -1}, {"seed": "x"}, {"fmt": "xlsx"}, {"end": "31/12/2025"}, {"activity_scale": 0}]
)
def test_bad_arguments_say_what_to_pass(tmp_path, kwargs):
    with pytest.raises(InputError):
        generate(tmp_path, **kwargs)


# --- Contract shape ----------------------------------------------------------


def test_every_table_has_exactly_the_contract_columns(sample):
    no_mailboxes = ("email", "manager_email")  # the reps' delivery addresses: a sample has none
    for name, table in TABLES.items():
        assert list(sample[name].columns) == [c for c in table.column_names if c not in no_mailboxes], name


@pytest.mark.parametrize(
    "table, column, pattern",
    [
        ("reps", "rep_id", r"R\d{2}"),
        ("customers", "customer_id", r"C\d{5}"),
        ("opportunities", "opportunity_id", r"O\d{6}"),
        ("activities", "activity_id", r"A\d{7}"),
        ("orders", "order_id", r"S\d{6}"),
    ],
)
def test_ids_are_unique_prefixed_and_zero_padded(sample, table, column, pattern):
    ids = sample[table][column]
    assert ids.is_unique
    assert ids.str.fullmatch(pattern).all()


def test_references_point_at_existing_rows(sample):
    reps = set(sample["reps"].rep_id)
    customers = set(sample["customers"].customer_id)
    for name in ("customers", "opportunities", "activities", "orders", "training", "forecasts"):
        assert set(sample[name].rep_id) <= reps, name
    for name in ("opportunities", "activities", "orders"):
        linked = sample[name].customer_id.dropna()
        assert set(linked) <= customers, name
    assert set(sample["activities"].opportunity_id.dropna()) <= set(sample["opportunities"].opportunity_id)


def test_dates_are_iso_and_in_order(sample):
    opp = sample["opportunities"]
    assert (opp.closed_date.dropna() >= opp.loc[opp.closed_date.notna(), "created_date"]).all()
    assert opp.closed_date.isna().eq(opp.status == "open").all()
    for name, col in [
        ("opportunities", "created_date"),
        ("opportunities", "closed_date"),
        ("activities", "date"),
        ("orders", "date"),
        ("customers", "acquired_date"),
    ]:
        assert sample[name][col].max() <= END, (name, col)
    for name, table in TABLES.items():  # written as YYYY-MM-DD, blank when unknown
        text = pd.read_csv(SAMPLE_DIR / f"{name}.csv", dtype=str, keep_default_na=False)
        for col in (c.name for c in table.columns if c.kind == "date"):
            timed = (name, col) == ("opportunity_history", "changed_at")  # a change's time of day matters (bulk updates)
            pattern = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}" if timed else r"(\d{4}-\d{2}-\d{2})?"
            assert text[col].str.fullmatch(pattern).all(), (name, col)


def test_amounts_are_non_negative_cents(sample):
    for name, col in [
        ("opportunities", "amount"),
        ("orders", "amount"),
        ("forecasts", "forecast_amount"),
        ("reps", "annual_cost"),
    ]:
        values = sample[name][col]
        assert values.notna().all() and (values >= 0).all(), (name, col)
        assert np.allclose(values, values.round(2)), (name, col)


def test_realistic_mix(sample):
    opp, customers = sample["opportunities"], sample["customers"]
    assert set(opp.status) == {"open", "won", "lost"}
    assert sorted(sample["reps"].territory.unique()) == ["East", "North", "South", "West"]
    assert sample["reps"].team.nunique() == 2
    assert customers.customer_type.nunique() == 5
    assert 0.5 < (customers.market_tier == "primary").mean() < 0.7
    assert set(customers.acquisition_method) == {
        "cold_call_phone",
        "cold_call_visit",
        "referral",
        "inbound",
        "event",
        "house_account",
    }
    assert set(sample["activities"].type) == {"call", "email", "meeting", "visit"}
    cost = sample["reps"].annual_cost
    assert cost.between(80_000, 140_000).all()
    # Deals created in the last weeks are still open.
    assert (opp[opp.created_date > END - pd.Timedelta(days=14)].status == "open").mean() > 0.95


def test_first_contact_comes_at_or_before_the_first_opportunity(sample):
    contacts = sample["activities"].dropna(subset=["customer_id"])
    first_contact = contacts.groupby("customer_id").date.min()
    first_deal = sample["opportunities"].groupby("customer_id").created_date.min()
    assert (first_contact.reindex(first_deal.index) <= first_deal).all()
    never = set(sample["customers"].customer_id) - set(first_deal.index)
    assert len(never) > 100, "some prospects are contacted but never become an opportunity"
    assert never <= set(first_contact.index)


def test_orders_are_recurring_revenue_after_acquisition(sample):
    orders = sample["orders"].merge(sample["customers"][["customer_id", "acquired_date"]], on="customer_id")
    assert (orders.date > orders.acquired_date).all()
    assert orders.groupby("customer_id").size().median() >= 3


def test_expectations_file(sample):
    goals = yaml.safe_load((SAMPLE_DIR / "expectations.yml").read_text())
    default = goals["default"]
    assert default["revenue_quota"] == 1_000_000
    for key in (
        "new_customers",
        "visits_per_customer",
        "prospecting_methods",
        "max_travel_share",
        "pipeline_coverage",
        "win_rate",
    ):
        assert key in default
    assert list(goals["teams"]) == ["Beta"] and set(sample["reps"].team) == {"Alpha", "Beta"}
    assert goals["reps"][NEW_HIRE]["revenue_quota"] < default["revenue_quota"]
    # The quota fits a typical rep: untrained reps of typical performance win about that much in a year.
    opp = sample["opportunities"]
    won = opp[(opp.status == "won") & opp.rep_id.isin(["R06", "R07"]) & (opp.closed_date >= LAST_YEAR)]
    assert 0.8 * default["revenue_quota"] < won.amount.sum() / 2 < 1.4 * default["revenue_quota"]


# --- Planted profiles, with plain pandas -------------------------------------


def factors(sample: dict, since: pd.Timestamp) -> pd.DataFrame:
    """Per rep: opportunities created since ``since``; win rate, mean won
    amount and median cycle of deals closed since then; contacts per opportunity."""
    opp, act = sample["opportunities"], sample["activities"]
    created = opp[opp.created_date >= since]
    closed = opp[opp.closed_date >= since]
    won = closed[closed.status == "won"]
    contacts = act[(act.date >= since) & act.customer_id.notna()]
    table = pd.DataFrame(
        {
            "opportunities": created.groupby("rep_id").size(),
            "win_rate": (closed.status == "won").groupby(closed.rep_id).mean(),
            "avg_deal_size": won.groupby("rep_id").amount.mean(),
            "cycle_days_median": (closed.closed_date - closed.created_date).dt.days.groupby(closed.rep_id).median(),
            "contacts": contacts.groupby("rep_id").size(),
            "revenue_won": won.groupby("rep_id").amount.sum(),
        }
    )
    table["contacts_per_opportunity"] = table.contacts / table.opportunities
    return table


WINDOWS = {"full": pd.Timestamp("2000-01-01"), "last_year": LAST_YEAR}


@pytest.mark.parametrize("window", WINDOWS)
def test_prospecting_rep_opens_the_fewest_opportunities(sample, window):
    f = factors(sample, WINDOWS[window]).loc[ESTABLISHED]
    assert f.opportunities.idxmin() == "R02"
    assert f.opportunities["R02"] < 0.65 * f.opportunities.median()
    assert f.win_rate["R02"] >= f.win_rate.median() - 0.1  # the deals it has, it wins


@pytest.mark.parametrize("window", WINDOWS)
def test_conversion_rep_wins_the_least_despite_many_contacts(sample, window):
    f = factors(sample, WINDOWS[window]).loc[ESTABLISHED]
    assert f.win_rate.idxmin() == "R03"
    assert f.win_rate["R03"] < f.win_rate.median() - 0.2
    assert f.opportunities["R03"] >= 0.85 * f.opportunities.median()
    assert f.contacts_per_opportunity["R03"] > 1.6 * f.contacts_per_opportunity.median()


@pytest.mark.parametrize("window", WINDOWS)
def test_deal_size_rep_wins_the_smallest_deals(sample, window):
    f = factors(sample, WINDOWS[window])
    assert f.avg_deal_size.idxmin() == "R04"
    assert f.avg_deal_size["R04"] < 0.6 * f.avg_deal_size.median()


@pytest.mark.parametrize("window", WINDOWS)
def test_velocity_rep_has_the_longest_cycle(sample, window):
    f = factors(sample, WINDOWS[window])
    assert f.cycle_days_median.idxmax() == "R05"
    assert f.cycle_days_median["R05"] > 1.8 * f.cycle_days_median.median()


def test_velocity_rep_has_stale_open_deals(sample):
    opp, act = sample["opportunities"], sample["activities"]
    last_touch = act.dropna(subset=["opportunity_id"]).groupby("opportunity_id").date.max()
    open_deals = opp[opp.status == "open"].set_index("opportunity_id")
    idle_days = (END - last_touch.reindex(open_deals.index).fillna(open_deals.created_date)).dt.days
    stale = open_deals[idle_days >= 120].rep_id.value_counts()
    assert list(stale.index) == ["R05"] and stale["R05"] >= 3


@pytest.mark.parametrize("window", WINDOWS)
def test_star_is_above_median_on_every_factor(sample, window):
    f = factors(sample, WINDOWS[window])
    median = f.median()
    assert f.opportunities["R01"] > median.opportunities
    assert f.win_rate["R01"] > median.win_rate
    assert f.avg_deal_size["R01"] > median.avg_deal_size
    assert f.cycle_days_median["R01"] < median.cycle_days_median
    assert f.revenue_won["R01"] > 1.3 * median.revenue_won


def test_value_for_cost_star_highest_deal_size_rep_lowest(sample):
    clv = sample["orders"].groupby("rep_id").amount.sum()
    ratio = clv / sample["reps"].set_index("rep_id").annual_cost
    assert ratio.idxmax() == "R01"
    assert ratio[ESTABLISHED].idxmin() == "R04"


@pytest.mark.parametrize("window", WINDOWS)
def test_padded_activity_is_unlinked_and_on_month_ends(sample, window):
    act = sample["activities"]
    act = act[act.date >= WINDOWS[window]]
    unlinked = act[act.customer_id.isna() & act.opportunity_id.isna()]
    per_rep = unlinked.rep_id.value_counts()
    assert per_rep.idxmax() == "R06"
    padded = unlinked[unlinked.rep_id == "R06"]
    assert padded.date.dt.is_month_end.mean() > 0.95
    assert (padded.type[padded.date.dt.is_month_end] == "call").all()
    monthly = padded[padded.date.dt.is_month_end].groupby(padded.date.dt.to_period("M")).size()
    assert monthly.between(30, 62).all() and len(monthly) == act.date.dt.to_period("M").nunique()
    others = act[act.rep_id != "R06"]
    assert others.customer_id.notna().mean() > 0.98, "everyone else links (nearly) every contact to a customer"


def _forecast_vs_actual(sample, since="2000-01-01") -> pd.DataFrame:
    since = pd.Timestamp(since)
    opp, forecasts = sample["opportunities"], sample["forecasts"]
    won = opp[opp.status == "won"]
    quarter = won.closed_date.dt.year.astype(str) + "-Q" + won.closed_date.dt.quarter.astype(str)
    actual = won.groupby([won.rep_id, quarter]).amount.sum().rename("actual")
    joined = forecasts[forecasts.submitted_date >= since].join(actual, on=["rep_id", "period"])
    return joined.groupby("rep_id")[["forecast_amount", "actual"]].sum()


@pytest.mark.parametrize("window", WINDOWS)
def test_forecasters_are_biased_as_planted(sample, window):
    f = _forecast_vs_actual(sample, WINDOWS[window])
    ratio = f.forecast_amount / f.actual
    assert ratio["R07"] > 1.2
    assert ratio["R08"] < 0.85
    assert ratio.drop(list(FORECAST_BIAS)).between(0.9, 1.1).all()


def test_forecasts_are_quarterly_and_submitted_at_quarter_start(sample):
    forecasts = sample["forecasts"]
    assert forecasts.period.str.fullmatch(r"\d{4}-Q[1-4]").all()
    start = pd.PeriodIndex(forecasts.period.str.replace("-", ""), freq="Q").start_time
    assert (forecasts.submitted_date.to_numpy() == start.to_numpy()).all()
    assert forecasts.groupby("rep_id").size().drop(NEW_HIRE).eq(8).all()


def test_training_and_its_effect_on_win_rate(sample):
    training = sample["training"]
    assert sorted(training.rep_id) == list(TRAINED) == ["R08", "R09", "R10", "R11"]
    assert (training.program == TRAINING_PROGRAM).all()
    assert (training.start_date == pd.Timestamp("2025-01-01")).all()  # first day of the span's middle month
    assert ((training.end_date - training.start_date).dt.days.between(1, 7)).all()
    # Difference in differences of win rate, deals split by close date.
    opp = sample["opportunities"]
    closed = opp[opp.status != "open"]
    closed = closed[closed.rep_id.isin(ESTABLISHED)]
    after = closed.closed_date > training.start_date.iloc[0]
    trained = closed.rep_id.isin(TRAINED)
    rate = (closed.status == "won").groupby([trained, after]).mean()
    effect = (rate[True, True] - rate[True, False]) - (rate[False, True] - rate[False, False])
    assert abs(effect - TRAINING_EFFECT) < 0.07


def test_new_hire_has_no_data_before_hiring_and_ramps_up(sample):
    hire = sample["reps"].set_index("rep_id").hire_date
    assert hire[NEW_HIRE] == pd.Timestamp("2025-07-01")
    assert (hire.drop(NEW_HIRE) < pd.Timestamp("2024-01-01")).all()
    for name, col in [("opportunities", "created_date"), ("activities", "date"), ("forecasts", "submitted_date")]:
        rows = sample[name][sample[name].rep_id == NEW_HIRE]
        assert len(rows) and (rows[col] >= hire[NEW_HIRE]).all(), name
    created = sample["opportunities"].query("rep_id == @NEW_HIRE").created_date.dt.month.value_counts()
    assert created[7] < created[[9, 10, 11, 12]].mean()


def test_planted_profiles_repeat_for_more_reps():
    facts = planted_profiles(120)
    assert list(facts)[:3] == ["R001", "R002", "R003"] and len(facts) == 120
    profiles = pd.Series({rep: f["profile"] for rep, f in facts.items()})
    assert (profiles == "typical").mean() >= 0.6
    for profile in set(PLANTED.values()):
        assert (profiles == profile).sum() >= 3, profile
    assert sum(f["trained"] for f in facts.values()) == 4 * profiles.eq("new_hire").sum()
    assert {rep: facts[f"R0{rep[1:]}"]["profile"] for rep in PLANTED} == PLANTED
