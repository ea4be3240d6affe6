"""What each notebook shows, assembled on the bundled sample (data/sample).

The rep report is checked for what it must never hold (another rep's name,
id or figure) and for agreeing with the metric functions; segments are
checked against metrics_table's own grouping (the customer-type segments
partition the deals, so their counts add up to the by-customer-type table).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import salesnb
from salesnb.analysis.diagnosis import MIN_PEERS, diagnose
from salesnb.analysis.metrics import metrics_over_time, metrics_table
from salesnb.errors import InputError
from salesnb.io.sample import FOCUS
from salesnb.present import pages

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
PERIOD, AS_OF = "2025", "2026-01-05"


@pytest.fixture(scope="module")
def ds():
    return salesnb.load(SAMPLE)


@pytest.fixture(scope="module")
def r03(ds):
    return pages.rep_report(ds, "R03", period=PERIOD, as_of=AS_OF)


def strings(value):
    """Every piece of text in a report: dict keys and values, list items, frame cells and columns."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from strings(v)
    elif isinstance(value, pd.DataFrame):
        yield from (str(c) for c in value.columns)
        for column in value.columns:
            yield from (str(v) for v in value[column].tolist())
    elif value is not None:
        yield str(value)


def test_rep_report_names_no_other_rep(ds, r03):
    text = "\n".join(strings({f: getattr(r03, f) for f in r03.__dataclass_fields__}))
    assert "R03" in text and "Chloe Patel" in text
    for rep_id, name in zip(ds.reps["rep_id"], ds.reps["name"]):
        if rep_id != "R03":
            assert rep_id not in text, f"{rep_id} leaks into R03's report"
            assert name not in text, f"{name} leaks into R03's report"


def test_rep_report_agrees_with_the_metrics_and_the_diagnosis(ds, r03):
    row = metrics_table(ds, by="rep", period=PERIOD).set_index("rep_id").loc["R03"]
    assert r03.figures["win_rate"] == pytest.approx(row["win_rate"])  # 21 won of 79 closed = 0.266
    assert r03.figures["won"] == 21 and r03.figures["closed"] == 79
    assert r03.figures["revenue_won"] == pytest.approx(row["revenue_won"])
    assert r03.diagnosis["focus"] == FOCUS["R03"] == "conversion"
    conversion = r03.factors.set_index("factor").loc["conversion"]
    evidence = next(e for e in diagnose(ds, period=PERIOD, rep="R03")[0]["evidence"] if e["factor"] == "conversion")
    # Alpha without R03 wins 53.6% (R07), 54.5% (R05), 68.1% (R11), 74.5% (R09), 78.3% (R01): the usual
    # median and quartiles are R11's, R05's and R09's own, so the page shows (salesnb.analysis.privacy)
    # the nearest means of neighbours free of a colleague's whole percent: median (R05+R11+R09+R01)/4
    # = 68.87% ("69%"), middle half (R07+R05+R11)/3 = 58.77% (54.08% is "54%", R07's) to
    # (R11+R09+R01)/3 = 73.65%
    assert evidence["peer_median"] == pytest.approx(0.6813187)  # the diagnosis itself is unchanged
    assert conversion["is_focus"] and conversion["peer_median"] == pytest.approx(0.6887091)
    assert [conversion["peer_low"], conversion["peer_high"]] == pytest.approx([0.5876687, 0.7364611])
    assert r03.peer_group == "team" and r03.peer_label == "team"
    assert list(r03.scorecard.columns) == ["expectation", "target", "actual", "met", "unit", "note"]


def test_trend_peer_median_is_the_team_mates_median_per_quarter(ds, r03):
    # Alpha without R03: R01, R05, R07, R09, R11; win rate only where a peer closed >= 10 deals.
    table = metrics_over_time(ds, by="rep", freq="quarter", start="2025-Q2", end="2025-Q2")
    peers = table[table["rep_id"].isin(["R01", "R05", "R07", "R09", "R11"]) & ~table["small_sample"]]
    trend = r03.trend("win_rate").set_index("quarter")
    # 52.4%, 54.5%, 68.0% (R11), 79.3%, 80.0%: the median is R11's own; the nearest mean of
    # neighbours is (54.5% + 68.0% + 79.3%) / 3 = 67.29% ("67%", nobody's)
    assert np.median(peers["win_rate"]) == pytest.approx(0.68)
    assert trend.loc["2025-Q2", "peer_median"] == pytest.approx((0.5454545 + 0.68 + 0.7931034) / 3)
    mine = table.set_index("rep_id").loc["R03"]
    assert trend.loc["2025-Q2", "rep_value"] == pytest.approx(mine["win_rate"])
    assert list(trend.index) == [f"{y}-Q{q}" for y in (2024, 2025) for q in (1, 2, 3, 4)]
    # 2024-Q1: only two team-mates closed ten deals: no median is drawn from two colleagues
    assert trend.loc["2024-Q1", "peers"] < MIN_PEERS and np.isnan(trend.loc["2024-Q1", "peer_median"])
    assert any("2024-Q1" in n for n in r03.notes_for("trends"))


def test_value_and_forecasts(ds, r03):
    # clv 1,322,880.31 / annual_cost 100,000 = 13.2; the team-mates' median ratio would be R11's
    # own 19.04 ("19.0x"): shown instead is the mean of R11's and R09's 19.83, 19.43 ("19.4x")
    assert r03.value["value_cost_ratio"] == pytest.approx(13.2288031)
    assert r03.value["peer_median_ratio"] == pytest.approx((19.03999725 + 19.82821347) / 2)
    frame = r03.value_frame()
    assert list(frame["label"]) == ["You", "Team median"]
    assert list(r03.forecasts["period"]) == [f"{y}-Q{q}" for y in (2024, 2025) for q in (1, 2, 3, 4)]


def test_quality_notes_go_next_to_the_figures_they_affect(ds):
    r06 = pages.rep_report(ds, "R06", period=PERIOD, as_of=AS_OF, quarters=1)
    assert any("padded activity" in n for n in r06.notes_for("scorecard"))
    r05 = pages.rep_report(ds, "R05", period=PERIOD, as_of=AS_OF, quarters=1)
    assert any("stale pipeline" in n and "What to do" in n for n in r05.notes_for("scorecard"))
    assert set(r05.quality["flag"]) == {"stale_pipeline"}


def test_new_hire_quarters_before_the_hire_are_blank(ds):
    r12 = pages.rep_report(ds, "R12", period=PERIOD, as_of=AS_OF, quarters=4)
    opportunities = r12.trend("opportunities").set_index("quarter")["rep_value"]
    assert opportunities[:"2025-Q2"].isna().all() and opportunities["2025-Q3"] > 0


def test_too_few_peers_gives_no_peer_figures(ds):
    # North alone holds three reps (R01, R05, R09): two peers each, fewer than MIN_PEERS
    north = pages.segment(ds, territory="North")
    r01 = pages.rep_report(north, "R01", period=PERIOD, as_of=AS_OF, quarters=2)
    assert r01.factors["peer_median"].isna().all()
    assert r01.trends["peer_median"].isna().all()
    assert r01.value["peer_median_ratio"] is None and list(r01.value_frame()["label"]) == ["You"]


def test_with_three_or_four_peers_only_the_median_is_shown(ds):
    # 2025-Q1, team Beta without R04: R12 not yet hired, R02 closed fewer than 10 deals, so the
    # win rate rests on 3 peers (R06, R08, R10) and the other factors on 4: median and 25th/75th
    # percentile together would give away their figures, so only the median is shown.
    r04 = pages.rep_report(ds, "R04", period="2025-Q1", as_of=AS_OF, quarters=1)
    assert r04.peer_group == "team" and r04.diagnosis["peer_count"] == 4
    assert r04.factors["peer_median"].notna().all()
    assert r04.factors["peer_low"].isna().all() and r04.factors["peer_high"].isna().all()
    trend = r04.trend("win_rate").iloc[0]
    assert trend["peers"] == 3 and not np.isnan(trend["peer_median"]) and np.isnan(trend["peer_low"])
    assert pages.BAND_MIN_PEERS == 5 and MIN_PEERS == 3


def test_unknown_rep_is_an_input_error(ds):
    with pytest.raises(InputError, match="no rep 'R99'"):
        pages.rep_report(ds, "R99", period=PERIOD)


# -- segments ------------------------------------------------------------------------


def test_territory_segment_keeps_those_reps_figures_unchanged(ds):
    north = pages.segment(ds, territory="north")  # case-insensitive
    assert sorted(north.reps["rep_id"]) == ["R01", "R05", "R09"]
    full = metrics_table(ds, by="rep", period=PERIOD).set_index("rep_id").loc[["R01", "R05", "R09"]].reset_index()
    pd.testing.assert_frame_equal(metrics_table(north, by="rep", period=PERIOD), full)


@pytest.mark.parametrize("by", ["customer_type", "acquisition_method"])
def test_customer_segments_partition_the_deals_as_metrics_table_groups_them(ds, by):
    grouped = metrics_table(ds, by=by, period=PERIOD).set_index(by)
    for value in pages.segment_options(ds)[by]:
        part = metrics_table(pages.segment(ds, **{by: value}), by="rep", period=PERIOD)
        for metric in ("opportunities", "won", "lost", "revenue_won"):
            assert part[metric].sum() == pytest.approx(grouped.loc[value, metric]), (value, metric)


def test_customer_segment_drops_quotas_and_forecasts_and_says_so(ds):
    retail = pages.segment(ds, customer_type="Retail")
    assert retail.expectations is None and len(retail.forecasts) == 0
    assert any("quotas and forecasts" in n for n in retail.notes)
    assert pages.segment(ds) is ds


# -- the manager's views ------------------------------------------------------------


@pytest.fixture(scope="module")
def alpha(ds):
    """Team Alpha's page, asked for in lower case; the tests only read it."""
    return pages.team_report(ds, "alpha", period=PERIOD, as_of=AS_OF)


def test_team_report(ds, alpha):
    assert alpha.title == "Team Alpha" and list(alpha.members["rep_id"]) == ["R01", "R03", "R05", "R07", "R09", "R11"]
    focus = alpha.focus.set_index("rep_id")["focus"]
    assert focus["R03"] == "conversion" and focus["R05"] == "velocity"
    band = alpha.band("conversion")
    assert band["band_median"].iloc[0] == pytest.approx(np.median(band["value"]))
    assert list(alpha.teams["team"]) == ["Alpha"]
    assert set(alpha.breakdowns) == {"territory", "customer_type", "acquisition_method"}
    assert set(alpha.breakdowns["territory"]["territory"]) == {"North", "East"}
    everyone = pages.team_report(ds, "", period=PERIOD, as_of=AS_OF)
    assert everyone.title == "All reps" and len(everyone.members) == 12
    with pytest.raises(InputError, match="known teams: Alpha, Beta"):
        pages.team_report(ds, "Gamma", period=PERIOD)


def test_team_report_carries_its_own_reps_data_checks_only(ds, alpha):
    from salesnb.analysis.quality import quality_flags
    from salesnb.present import html

    everyone = quality_flags(ds, period=PERIOD, as_of=AS_OF)
    alpha_ids = set(alpha.members["rep_id"])
    expected = everyone[everyone["rep_id"].isin(alpha_ids)]
    assert len(alpha.quality) == len(expected) > 0
    # R05's stale deals are there, named; Beta's padder (R06) is not
    assert "Emma Dubois (R05)" in set(alpha.quality["label"])
    assert not alpha.quality["label"].str.contains("R06").any()
    page = html.quality(alpha.quality).data
    assert "<strong>Stale pipeline, Emma Dubois (R05):</strong>" in page and "Felix Novak" not in page


def test_forecast_quality_and_training_reports(ds):
    forecasts = pages.forecast_report(ds, period=PERIOD, as_of=AS_OF)
    bias = forecasts.bias.set_index("rep_id")["bias"]
    assert bias["R07"] == "over" and bias["R08"] == "under"
    quality = pages.quality_report(ds, period=PERIOD, as_of=AS_OF)
    flagged = quality.flags.set_index("flag")["rep_id"]
    assert flagged["padded_activity"] == "R06" and flagged["stale_pipeline"] == "R05"
    assert quality.quarantine.empty and quality.problems.empty
    assert dict(zip(quality.kept["table"], quality.kept["rows"]))["reps"] == 12
    effect = pages.training_report(ds, program="consultative selling", period=PERIOD)
    assert effect["treated"] == ["R08", "R09", "R10", "R11"] and effect["effect"] > 0
    assert effect["treated_labels"][0] == "Hugo Tanaka (R08)"


def test_the_quality_reports_problems_name_the_users_column(tmp_path):
    (tmp_path / "deals.csv").write_text(
        "Deal,Owner,Opened,Stage\nD1,Ann,2025-01-02,Open\nD2,Ann,2025-01-03,Negotiation\n", encoding="utf-8"
    )
    (tmp_path / "mapping.yml").write_text(
        "tables:\n"
        "  opportunities:\n"
        "    file: deals.csv\n"
        "    columns: {opportunity_id: Deal, rep_id: Owner, created_date: Opened, status: Stage}\n"
        "    values: {status: {Open: open}}\n"
        "  reps: {from: opportunities, columns: {rep_id: Owner, name: Owner, territory: {const: All}}}\n",
        encoding="utf-8",
    )
    quality = pages.quality_report(salesnb.load(tmp_path), period="2025", as_of="2026-01-05")
    [row] = quality.problems.to_dict("records")
    assert (row["line"], row["column"], row["source_column"], row["file_column"]) == (3, "status", "Stage", "Stage")


def test_trend_notes_say_where_the_peer_median_or_band_is_missing():
    order = ["2024-Q4", "2025-Q1", "2025-Q2", "2025-Q3"]
    peers = {"win_rate": [2, 4, 4, 4], "revenue_won": [6, 4, 6, 6], "opportunities": [6, 4, 6, 6]}
    trends = pd.DataFrame([{"metric": m, "quarter": q, "peers": n} for m, counts in peers.items() for q, n in zip(order, counts)])
    assert pages._thin_peer_notes(trends, order, 3, 10) == [
        "Fewer than 3 peers have enough data (10 or more deals closed) for the win rate in 2024-Q4: "
        "no peer median is drawn there.",
        "Fewer than 5 peers have enough data (10 or more deals closed) for the win rate in 2025-Q1 to 2025-Q3: "
        "only their median is drawn there, not their middle half.",
        "Fewer than 5 peers have enough data for the revenue won and new opportunities in 2025-Q1: "
        "only their median is drawn there, not their middle half.",
    ]
    assert pages._thin_peer_notes(trends.assign(peers=5), order, 3, 10) == []
    assert pages._quarters(["2025-Q3", "2024-Q4", "2025-Q1"], order) == "2024-Q4, 2025-Q1 and 2025-Q3"


def test_rep_report_evidence_carries_the_reps_own_contacts(r03):
    rows = r03.factors.set_index("factor")
    for factor in ("prospecting", "conversion"):
        assert rows.loc[factor, "new_prospect_contacts"] == r03.figures["new_prospect_contacts"] > 0
        assert rows.loc[factor, "follow_up_contacts"] == r03.figures["follow_up_contacts"] > 0
    assert rows.loc[["deal_size", "velocity"], ["new_prospect_contacts", "follow_up_contacts"]].isna().all().all()
