"""The words of a diagnosis, built from its facts in one place.

:mod:`salesnb.analysis.diagnosis` decides (the focus, its strength and
cause, each factor's evidence, what was not judged, the stake, the deals
behind the focus); this module says it: :func:`apply` fills a diagnosis's
``strengths``, ``summary``, ``questions``, ``notes``, each action's
``text`` and the team finding's ``text`` from those facts alone, so a page
that changes a fact (a peer median made safe to show) calls it again and
every sentence agrees. Figures go through
:func:`salesnb.analysis.labels.fmt_unit`. Rules the words keep:

* nothing is said about a factor that was not judged;
* more calls or contacts are advised only with the cause ``activity``;
* a data flag on the rep's own activity comes before any advice;
* no other rep's figure: peer medians only, never a colleague's contacts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from salesnb.analysis.labels import FACTOR_NAMES, count_of, fmt_unit
from salesnb.analysis.rates import CLEAR_SAMPLE

__all__ = [
    "ADVICE",
    "QUESTIONS",
    "NO_FOCUS_TEXT",
    "FLAG_TEXT",
    "apply",
    "strength",
    "focus_words",
    "action_text",
    "about",
    "target_rate",
    "team_finding_for_manager",
]

ADVICE = {
    ("prospecting", "activity"): (
        "You also reach fewer new prospects than your peers, so the lever is new pipeline from more first "
        "conversations: more calls and visits to the right accounts, turned into real opportunities."
    ),
    ("prospecting", "qualification"): (
        "You already reach as many new prospects as your peers or more; too few of those first conversations "
        "become opportunities. Volume is not the problem: the lever is targeting and qualifying (pick the accounts "
        "that fit, prepare each first conversation, and agree a concrete next step that makes it an opportunity)."
    ),
    ("prospecting", None): (
        "The lever is new pipeline: where your next opportunities come from, which accounts to open and how to "
        "turn first conversations into real opportunities."
    ),
    ("conversion", None): (
        "The opportunities are there; too few of them end in a win. The lever is qualification and "
        "closing, not more activity: qualify need, budget, decision maker and timeline early, drop "
        "deals that do not fit, and agree a clear next step and decision date at every meeting."
    ),
    ("deal_size", None): (
        "The lever is the size of each deal: understand the customer's full need, propose the wider solution, "
        "and hold price instead of discounting to close."
    ),
    ("velocity", None): (
        "Revenue arrives late and deals go cold. The lever is pace: a mutual close plan with dates, the "
        "decision maker involved early, and a hard look at the deals that have stalled."
    ),
}
"""(focus, cause) -> what to work on. Only ``("prospecting", "activity")`` speaks of more calls."""

QUESTIONS = {
    "prospecting": [
        "Where will your next ten new opportunities come from: which accounts, lists or referrals?",
        "How much of your week is set aside for reaching new prospects, and what usually eats into it?",
        "Think of a recent first conversation that became a real opportunity: what made it work, and how can you repeat it?",
    ],
    "conversion": [
        "Take your last two lost deals: when did you first sense they would not close, and what did you know then about need, budget and who decides?",
        "Which of your open deals would you drop today if you qualified them strictly?",
        "How do you agree the next step and the decision date with a buyer before a meeting ends?",
    ],
    "deal_size": [
        "In your last few wins, what else did the customer need that was not in the proposal?",
        "When did you last give a discount, and what would it have taken to hold the price?",
        "Which larger accounts in your territory could you open, and what would the first step be?",
    ],
    "velocity": [
        "Which of your deals are stuck, and what is the next step and date for each?",
        "At what point do you bring in the person who signs, and could it be earlier?",
        "What does a buyer need to see from you to decide sooner?",
    ],
    "none": [
        "What do you do that you think makes the difference, and could you show it to a colleague?",
        "What stretch goal would you set yourself for the next period?",
    ],
    "thin": [
        "Which deals do you expect to close next, and when?",
        "What would help you get more deals to a decision, won or lost, this period?",
    ],
}
"""Focus factor (or ``none``: nothing falls short; ``thin``: too little data) -> questions for the one-to-one."""

NO_FOCUS_TEXT = {
    "none": (
        "No part of your funnel falls meaningfully short of your peers: opportunities, win rate, deal size "
        "and cycle length are all within the usual range."
    ),
    "some": "Of what could be judged ({judged}), nothing falls meaningfully short of your peers; {left} could not be judged this time.",
    "no_data": (
        "There is no new opportunity or closed deal in this period yet, so there is nothing to judge; "
        "we will look again when there is."
    ),
    "nothing_judged": (
        "There is too little data in this period to judge any part of your funnel fairly ({why}); "
        "we will look again over a longer period."
    ),
}
"""Why no focus is named -> what the summary says instead."""

FLAG_TEXT = {
    "padded_activity": (
        "A data check first: your activity log has bursts of contacts linked to no customer and no "
        "opportunity, so its contact counts may be padded; anything below that rests on contacts is only "
        "as good as that log."
    ),
    "stale_pipeline": "",
}
"""The rep's own data flags said before any advice (empty: shown with the deals, not in the summary)."""

_FACTOR_WORDS = {
    "prospecting": "new opportunities",
    "conversion": "win rate",
    "deal_size": "deal size",
    "velocity": "cycle length",
}


def _count(value) -> str:
    return fmt_unit("count", value)


def _share(value) -> str:
    return fmt_unit("share", value)


def _days(value) -> str:
    return fmt_unit("days", value)


def _gap(value) -> str:
    return fmt_unit("pct", value, signed=False)


def _plural(n, word: str, words: str | None = None) -> str:
    """ "1 deal", "2 deals" ("1 new opportunity", "3 new opportunities" with ``words``)."""
    return count_of(n, word, words)


def _opps(n) -> str:
    return _plural(n, "new opportunity", "new opportunities")


def _peer_phrase(benchmark: str) -> str:
    return "the team median" if benchmark == "team" else "the median across all reps"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def strength(e: Mapping, group: str | None = None, *, you: bool = False) -> str:
    """One strength in words from its evidence ``e``: "Wins 62% of closed deals,
    above the team median of 50%" (``you=True``: "you win 62% of your closed deals, ...")."""
    rep, med = e["rep_value"], e["peer_median"]
    peer = _peer_phrase(e.get("benchmark") or group or "team")
    level = "faster than" if e["factor"] == "velocity" else "above"
    if med is None:  # a median left out (too near a colleague's own figure): said without it
        peer = peer.replace("the team median", "the team's median").replace(
            "the median across all reps", "the median across reps"
        )
    if e["factor"] == "prospecting":
        what = f"{'you opened' if you else 'Opened'} {_opps(rep)}"
        if "raw_value" in e:
            what = (
                f"{'you opened' if you else 'Opened'} {_opps(e['raw_value'])} in "
                f"{_share(e['active_share'])} of the period, a full-period pace of {_count(rep)}"
            )
        bench = _count(med)
    elif e["factor"] == "conversion":
        what = f"{'you win' if you else 'Wins'} {_share(rep)} of {'your ' if you else ''}closed deals"
        bench = _share(med)
    elif e["factor"] == "deal_size":
        what = f"{'your average won deal is' if you else 'Average won deal of'} {_count(rep)}"
        bench = _count(med)
    else:
        what = f"{'you close' if you else 'Closes'} deals in a median {_plural(rep, 'day')}"
        bench = _days(med)
    return f"{what}, {level} {peer}" + (f" of {bench}" if med is not None else "")


def _focus_sentence(e: Mapping, period) -> str:
    rep, med, peer = e["rep_value"], e["peer_median"], _peer_phrase(e.get("benchmark", "team"))
    gap = _gap(abs(e["gap_pct"] or 0))
    when = f" in {period}" if period else ""
    if med is None or e.get("gap_pct") is None:  # the median is not shown: the gap is said without figures
        return _focus_without_median(e, when, peer)
    if e["factor"] == "prospecting":
        if "raw_value" in e:
            return (
                f"You opened {_opps(e['raw_value'])}{when} in {_share(e['active_share'])} of it, "
                f"a pace of {_count(rep)} for the whole period, {gap} fewer than {peer} of {_count(med)}."
            )
        return f"You opened {_opps(rep)}{when}, {gap} fewer than {peer} of {_count(med)}."
    if e["factor"] == "conversion":
        deals = _plural(e["n"], "closed deal") if e.get("n") is not None else "closed deals"
        return f"You won {_share(rep)} of your {deals}{when}, against {peer} of {_share(med)}."
    if e["factor"] == "deal_size":
        return f"Your average won deal{when} was {_count(rep)}, {gap} below {peer} of {_count(med)}."
    return f"Your deals took a median {_plural(rep, 'day')} to close{when}, {gap} longer than {peer} of {_days(med)}."


def _focus_without_median(e: Mapping, when: str, peer: str) -> str:
    rep = e["rep_value"]
    if e["factor"] == "prospecting":
        return f"You opened {_opps(e.get('raw_value', rep))}{when}, well below {peer}."
    if e["factor"] == "conversion":
        return f"You won {_share(rep)} of your closed deals{when}, well below {peer}."
    if e["factor"] == "deal_size":
        return f"Your average won deal{when} was {_count(rep)}, well below {peer}."
    return f"Your deals took a median {_plural(rep, 'day')} to close{when}, well above {peer}."


def _cause_sentence(diagnosis: Mapping, e: Mapping) -> str:
    contacts = e.get("contacts") or {}
    cause = diagnosis.get("cause")
    if not contacts or cause is None:
        return ""
    logged = _plural(contacts.get("raw_value") or 0, "new-prospect contact")
    if cause == "qualification":
        return f"You logged {logged}, as many as your peers' median or more, yet fewer of them became opportunities."
    return f"You logged {logged}, fewer than your peers' median."


def _tentative_sentence(diagnosis: Mapping, e: Mapping) -> str:
    if diagnosis.get("focus_strength") != "tentative":
        return ""
    against = e.get("against") or {}
    reasons = []
    if not against.get("team"):
        reasons.append("it shows against all reps but not against your team")
    elif not against.get("all"):
        reasons.append("it shows against your team but not against all reps")
    need = CLEAR_SAMPLE.get(e["factor"], 0)
    if need and (e.get("n") or 0) < need:
        kind = "closed" if e["factor"] == "conversion" else "won"
        reasons.append(f"it rests on {_plural(e.get('n') or 0, kind + ' deal')} ({need} for a clear call)")
    why = f": {_and(reasons)}" if reasons else ""
    return f"This is a tentative focus{why}; talk it through before acting on it."


def focus_words(diagnosis: Mapping) -> str:
    """The focus in words, from a diagnosis's facts: the focus factor against
    the peers, its cause, how sure it is, the advice and the stake. Empty
    when no focus is named. The summary says the same words after the strengths."""
    focus = diagnosis.get("focus")
    if not focus:
        return ""
    e = next(e for e in diagnosis["evidence"] if e["factor"] == focus)
    cause = diagnosis.get("cause") if focus == "prospecting" else None
    parts = [_focus_sentence(e, diagnosis.get("period")), _cause_sentence(diagnosis, e), ADVICE[(focus, cause)]]
    parts.append(_tentative_sentence(diagnosis, e))
    if diagnosis.get("stake"):
        when = f" in {diagnosis['period']}" if diagnosis.get("period") else ""
        parts.append(
            f"Closing that gap to the peer median would have brought in about {_count(about(diagnosis['stake']))}{when}."
        )
    return " ".join(p for p in parts if p)


def about(amount: float | None) -> float | None:
    """``amount`` to two significant figures: a stake is an estimate, said as
    one. None (or NaN: a missing stake in a table) stays None."""
    if amount is None or amount != amount:
        return None
    if not amount:
        return 0.0
    digits = 1 - int(math.floor(math.log10(abs(amount))))
    return float(round(amount, digits))


def action_text(action: Mapping) -> str:
    """One action in words: a named deal, or the weekly target."""
    kind = action.get("kind")
    if kind == "weekly_target":
        rate = target_rate(action)
        if not rate:
            return ""
        total = action.get("more") or round(action["per_week"] * action["weeks"])
        return f"{rate[0].upper()}{rate[1:]} (about {_count(total)} over the period) would reach the peer median pace."
    deal = str(action.get("opportunity_id"))
    customer = action.get("customer_id")
    amount = action.get("amount")
    said = [f"customer {customer}"] if customer else []
    said += [_count(amount)] if amount is not None else []
    head = f"{deal} ({', '.join(said)})" if said else deal
    days = action.get("days")
    if kind == "stalled_deal":
        pushes = action.get("pushes")
        pushed = (
            f"; its close date was pushed {_times(pushes)}, {_plural(action.get('pushed_days') or 0, 'day')} in all"
            if pushes
            else ""
        )
        return f"{head}: open, no activity for {_plural(days or 0, 'day')}{pushed}."
    if kind == "lost_deal":
        return f"{head}: lost after {_plural(days or 0, 'day')}." if days is not None else f"{head}: lost."
    if kind == "small_win":
        return (
            f"{head}: won, below the typical deal."
            if days is None
            else f"{head}: won in {_plural(days, 'day')}, below the typical deal."
        )
    return head


def stage_text(finding: Mapping) -> str:
    """The stage where a rep's deals stall or die, against the peers (a ``stage_finding``)."""
    stage = finding["stage"]
    if finding["kind"] == "stall":
        return (
            f"Your deals stall in {stage}: a median stay of {fmt_unit('days', finding['rep_value'])} there, "
            f"against a peer median of {fmt_unit('days', finding['peer_median'])}."
        )
    return (
        f"Your deals die in {stage}: {fmt_unit('share', finding['rep_value'])} of your stays there ended with the deal "
        f"lost, against a peer median of {fmt_unit('share', finding['peer_median'])}."
    )


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(int(n), f"{int(n)} times")


def target_rate(action: Mapping) -> str:
    """A weekly target as a rate people say: "2 more new opportunities a
    week", or a month when under one a week ("1.5 more ... a month")."""
    per_week, weeks = action.get("per_week"), action.get("weeks")
    if not per_week or not weeks:
        return ""
    if per_week >= 1:
        shown, unit = f"{per_week:.0f}", "week"
    else:
        per_month = per_week * 52 / 12
        shown, unit = (f"{per_month:.0f}" if per_month >= 1.5 else f"{per_month:.1f}".rstrip("0").rstrip(".")), "month"
    return f"{shown} more new opportunit{'y' if shown == '1' else 'ies'} a {unit}"


def _weekly_target(diagnosis: Mapping, action: dict) -> None:
    e = next((e for e in diagnosis["evidence"] if e["factor"] == "prospecting"), None)
    weeks = action.get("weeks")
    if e is None or not weeks or e.get("peer_median") is None or e.get("rep_value") is None:
        action["per_week"] = None
        return
    gap = max(e["peer_median"] - e["rep_value"], 0.0)  # a full-period pace
    action["more"] = round(gap * float(e.get("active_share") or 1.0)) if gap else None  # in the time worked
    action["per_week"] = round(gap / weeks, 2) if gap else None


def _questions(diagnosis: Mapping) -> list[str]:
    focus = diagnosis.get("focus")
    judged = [e for e in diagnosis.get("evidence", []) if e.get("judged")]
    if focus is None:
        return list(QUESTIONS["none" if judged else "thin"])
    asked = list(QUESTIONS[focus])
    deals = [a for a in diagnosis.get("actions") or [] if a.get("opportunity_id")]
    named = _and([str(a["opportunity_id"]) for a in deals[:3]]) if deals else ""
    if focus == "velocity" and named:
        asked[0] = f"Take {named}: what is the next step and its date for each, and who has to say yes?"
    elif focus == "conversion" and named:
        asked[0] = (
            f"Take {named}, your latest lost deals: when did you first sense they would not close, and what did "
            "you know then about need, budget and who decides?"
        )
    elif focus == "deal_size" and named:
        asked[0] = f"In {named}, your smallest recent wins, what else did the customer need that was not in the proposal?"
    elif focus == "prospecting":
        target = next((a for a in diagnosis.get("actions") or [] if a.get("kind") == "weekly_target" and a.get("per_week")), None)
        if target:
            asked[1] = f"Where in your week is the time to open {target_rate(target)}, and what usually eats into it?"
    return asked


def _notes(diagnosis: Mapping) -> list[str]:
    group = diagnosis.get("peer_group", "team")
    where = "your team" if group == "team" else "all reps"
    other = "all reps" if group == "team" else "your team (its median shrunk toward all reps' by team size)"
    said = [f"Benchmark: the median of the other reps with data ({where}); every factor is also checked against {other}."]
    share = diagnosis.get("active_share")
    pros = next((e for e in diagnosis.get("evidence", []) if e["factor"] == "prospecting"), None)
    if share is not None and 0 < share < 1 and pros is not None and pros.get("rep_value") is not None:
        said.append(
            f"Employed for {_share(share)} of the period: opportunities are compared as a full-period pace "
            f"({_count(pros.get('raw_value') or 0)} opened, {_count(pros['rep_value'])} at that pace)."
        )
    left = diagnosis.get("not_judged") or []
    if left and len(left) == len(diagnosis.get("evidence") or left) and all(i.get("code") == "no_data" for i in left):
        said.append("No opportunities created or deals closed in this period: nothing to diagnose yet.")
        left = []
    for item in left:
        said.append(f"Not judged: {FACTOR_NAMES.get(item['factor'], item['factor']).lower()} ({item['reason']}).")
    if diagnosis.get("cause") is None and diagnosis.get("focus") == "prospecting":
        said.append("No comparison of new-prospect contacts was possible, so nothing is said about call volume.")
    return said


def _team_finding_text(finding: Mapping) -> str:
    factor = _FACTOR_WORDS.get(finding["factor"], finding["factor"])
    return (
        f"Your team as a whole is behind the other teams on {factor}: that is a question about the team's "
        "market, mix or ways of working for your manager, not a personal focus."
    )


def team_finding_for_manager(finding: Mapping) -> str:
    """A team finding as its manager reads it, with the team's and the other
    teams' medians: "Team Beta is behind the other teams' reps on new
    opportunities: its median 14 against 25 (-44%). ..." (never on a rep's page)."""
    from salesnb.analysis.labels import fmt

    factor = _FACTOR_WORDS.get(finding["factor"], finding["factor"])
    team = finding.get("team") or "the team"
    team = team if team.casefold().startswith("team") else f"Team {team}"
    metric = finding.get("metric")
    figures = ""
    if metric and finding.get("team_median") is not None and finding.get("all_median") is not None:
        gap = f" ({fmt_unit('pct', finding['gap_pct'])})" if finding.get("gap_pct") is not None else ""
        figures = f": its median {fmt(metric, finding['team_median'])} against {fmt(metric, finding['all_median'])}{gap}"
    return (
        f"{team} is behind the other teams' reps on {factor}{figures}. A question of the team's market, mix or "
        "ways of working, not of one rep: no rep at the team's level is given it as a focus."
    )


def apply(diagnosis: dict) -> dict:
    """Fill ``diagnosis``'s words from its facts (in place; also returned):
    ``strengths``, ``summary``, ``questions``, ``notes``, each action's
    ``text`` and ``team_finding["text"]``. Safe to call again after a fact
    changed."""
    for action in diagnosis.get("actions") or []:
        if action.get("kind") == "weekly_target":
            _weekly_target(diagnosis, action)
        action["text"] = action_text(action)
    if diagnosis.get("team_finding"):
        diagnosis["team_finding"]["text"] = _team_finding_text(diagnosis["team_finding"])
        diagnosis["team_finding"]["manager_text"] = team_finding_for_manager(diagnosis["team_finding"])
    shown = [e for e in diagnosis.get("evidence", []) if e.get("strength")]
    diagnosis["strengths"] = [strength(e) for e in shown]

    name = diagnosis.get("name")
    opener = f"{name}, " if isinstance(name, str) and name else ""
    parts = [FLAG_TEXT[f] for f in diagnosis.get("flags") or [] if FLAG_TEXT.get(f)]
    if parts and opener:
        parts[0] = opener + parts[0][0].lower() + parts[0][1:]
        opener = ""
    if shown:
        parts.append(
            f"{opener}{'first ' if opener else 'First '}what is working: {'; '.join(strength(e, you=True) for e in shown)}."
        )
    elif opener:
        parts.append(f"{opener}here is how your period looks.")
    if diagnosis.get("focus"):
        parts.append(focus_words(diagnosis))
        if diagnosis.get("stage_finding"):
            diagnosis["stage_finding"]["text"] = stage_text(diagnosis["stage_finding"])
            parts.append(diagnosis["stage_finding"]["text"])
    else:
        parts.append(_no_focus(diagnosis))
    if diagnosis.get("team_finding"):
        parts.append(diagnosis["team_finding"]["text"])
    text = " ".join(p for p in parts if p)
    diagnosis["summary"] = text[0].upper() + text[1:] if text else ""
    diagnosis["questions"] = _questions(diagnosis)
    diagnosis["notes"] = _notes(diagnosis)
    return diagnosis


def _no_focus(diagnosis: Mapping) -> str:
    evidence = diagnosis.get("evidence", [])
    left = diagnosis.get("not_judged") or []
    if left and all(item.get("code") == "no_data" for item in left) and len(left) == len(evidence):
        return NO_FOCUS_TEXT["no_data"]
    judged = [e["factor"] for e in evidence if e.get("judged")]
    if not judged:
        why = "; ".join(f"{FACTOR_NAMES[i['factor']].lower()}: {i['reason']}" for i in left)
        return NO_FOCUS_TEXT["nothing_judged"].format(why=why)
    if left:
        return NO_FOCUS_TEXT["some"].format(
            judged=_and([_FACTOR_WORDS[f] for f in judged]), left=_and([_FACTOR_WORDS[i["factor"]] for i in left])
        )
    text = NO_FOCUS_TEXT["none"]
    if diagnosis.get("team_finding"):  # the rep is at the team's level; the team is behind: said next
        text = text.replace("short of your peers", "short of the rest of your team").replace(
            " are all within the usual range", " are all in your team's usual range"
        )
    if not diagnosis.get("flags"):
        text += " Keep doing what works; the next step is a stretch goal you choose."
    else:
        text += " The next step is a stretch goal you choose, once the data check above is settled."
    return text
