"""The words of a diagnosis, built from its facts in one place.

:mod:`salesnb.analysis.diagnosis` decides (the focus, each factor's
evidence, the peers); this module says it: the strengths, the summary read
aloud, the advice, the questions for the next one-to-one and the notes.
Figures go through :func:`salesnb.analysis.labels.fmt_unit`. A report shows
a part of the summary on its own through :func:`focus_words`, never by
searching the summary's text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from salesnb.analysis.labels import fmt_unit

__all__ = ["ADVICE", "QUESTIONS", "NO_FOCUS_TEXT", "strength", "focus_words", "summary", "questions", "notes"]

ADVICE = {
    "prospecting": (
        "The biggest gap is the number of deals you start, not how you work them. "
        "The lever is new pipeline: more first conversations with new prospects, which does mean "
        "making more calls and visits to the right accounts, and turning them into real opportunities."
    ),
    "conversion": (
        "The opportunities are there; too few of them end in a win. The lever is qualification and "
        "closing, not more activity: qualify need, budget, decision maker and timeline early, drop "
        "deals that do not fit, and agree a clear next step and decision date at every meeting."
    ),
    "deal_size": (
        "The biggest gap is the size of the deals you win. The lever is the size of each deal: "
        "understand the customer's full need, propose the wider solution, and hold price instead of "
        "discounting to close."
    ),
    "velocity": (
        "Your deals take much longer to close than your peers', so revenue arrives late and deals "
        "go cold. The lever is pace: a mutual close plan with dates, the decision maker involved "
        "early, and a hard look at deals that have stalled."
    ),
}
"""Focus factor -> what to work on, in a sentence or three."""

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
        "and cycle length are all within the usual range. Keep doing what works; the next step is a "
        "stretch goal you choose."
    ),
    "no_data": (
        "There is no new opportunity or closed deal in this period yet, so there is nothing to judge; "
        "we will look again when there is."
    ),
    "thin_sample": (
        "With {closed} closed deals in this period the numbers are too few to say fairly which part of "
        "your funnel to work on; we will look again over a longer period."
    ),
    "thin_peers": (
        "There are too few other reps with data in this period to compare with fairly, so no single focus is named this time."
    ),
}
"""Why no focus is named -> what the summary says instead."""


def _count(value) -> str:
    return fmt_unit("count", value)


def _share(value) -> str:
    return fmt_unit("share", value)


def _days(value) -> str:
    return fmt_unit("days", value)


def _gap(value) -> str:
    return fmt_unit("pct", value, signed=False)


def _peer_phrase(group: str) -> str:
    return "the team median" if group == "team" else "the median across all reps"


def strength(e: Mapping, group: str, *, you: bool = False) -> str:
    """One strength in words from its evidence ``e``: "Wins 62% of closed deals,
    above the team median of 55%" (``you=True``: "you win 62% of your closed deals, ...")."""
    rep, med, peer = e["rep_value"], e["peer_median"], _peer_phrase(group)
    level = "in line with" if e["score"] == 0 else ("faster than" if e["factor"] == "velocity" else "above")
    if e["factor"] == "prospecting":
        what = f"{'you opened' if you else 'Opened'} {_count(rep)} new opportunities"
        if "raw_value" in e:
            what = (
                f"{'you opened' if you else 'Opened'} {_count(e['raw_value'])} new opportunities in "
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
        what = f"{'you close' if you else 'Closes'} deals in a median {_count(rep)} days"
        bench = _days(med)
    return f"{what}, {level} {peer} of {bench}"


def _focus_sentence(e: Mapping, group: str, period) -> str:
    rep, med, peer = e["rep_value"], e["peer_median"], _peer_phrase(group)
    gap = _gap(abs(e["gap_pct"]))
    when = f" in {period}" if period else ""
    if e["factor"] == "prospecting":
        if "raw_value" in e:
            return (
                f"You opened {_count(e['raw_value'])} new opportunities{when} in {_share(e['active_share'])} of it, "
                f"a pace of {_count(rep)} for the whole period, {gap} fewer than {peer} of {_count(med)}."
            )
        return f"You opened {_count(rep)} new opportunities{when}, {gap} fewer than {peer} of {_count(med)}."
    if e["factor"] == "conversion":
        return f"You won {_share(rep)} of your closed deals{when}, against {peer} of {_share(med)}."
    if e["factor"] == "deal_size":
        return f"Your average won deal{when} was {_count(rep)}, {gap} below {peer} of {_count(med)}."
    return f"Your deals took a median {_count(rep)} days to close{when}, {gap} longer than {peer} of {_days(med)}."


def focus_words(diagnosis: Mapping) -> str:
    """The focus in words, from a diagnosis's facts (``focus``, ``evidence``,
    ``peer_group``, ``period``): the focus factor against the peers, then
    the advice. Empty when no focus is named. The summary says the same
    words after the strengths."""
    focus = diagnosis.get("focus")
    if not focus:
        return ""
    e = next(e for e in diagnosis["evidence"] if e["factor"] == focus)
    return f"{_focus_sentence(e, diagnosis.get('peer_group', 'team'), diagnosis.get('period'))} {ADVICE[focus]}"


def summary(
    *,
    name,
    strengths: Sequence[Mapping],
    focus: str | None,
    reason: str | None,
    evidence: Sequence[Mapping],
    group: str,
    period,
    closed: int,
) -> str:
    """The diagnosis read aloud: strengths first (their evidence), then the
    focus and its advice (:func:`focus_words`), or why no focus is named
    (``reason``, a key of :data:`NO_FOCUS_TEXT`)."""
    opener = f"{name}, " if isinstance(name, str) and name else ""
    parts = []
    if strengths:
        said = "; ".join(strength(e, group, you=True) for e in strengths)
        parts.append(f"{opener}first what is working: {said}.")
    elif opener:
        parts.append(f"{opener}here is how your period looks.")
    if focus is not None:
        parts.append(focus_words({"focus": focus, "evidence": evidence, "peer_group": group, "period": period}))
    else:
        parts.append(NO_FOCUS_TEXT[reason].format(closed=closed))
    text = " ".join(parts)
    return text[0].upper() + text[1:]


def questions(focus: str | None, reason: str | None) -> list[str]:
    """Questions for the next one-to-one: the focus's, else by why none is named."""
    return list(QUESTIONS[focus or ("none" if reason == "none" else "thin")])


def notes(*, peer_count: int, group: str, active_share: float, opened, pace, reason: str | None, closed: int) -> list[str]:
    """What qualifies a diagnosis: the benchmark, a pro-rated pace, and why
    no focus is named when the data is too thin (``reason``)."""
    where = "the rep's team" if group == "team" else "all reps"
    said = [f"Benchmark: the median of {peer_count} other reps with data ({where})."]
    if 0 < active_share < 1:
        said.append(
            f"Employed for {_share(active_share)} of the period: opportunities are compared as a full-period pace "
            f"({_count(opened or 0)} opened, {_count(pace or 0)} at that pace)."
        )
    if reason == "no_data":
        said.append("No opportunities created or deals closed in this period: nothing to diagnose yet.")
    elif reason == "thin_sample":
        said.append(
            f"Only {closed} closed deal{'' if closed == 1 else 's'} in this period: too few for win rate, deal size "
            "and cycle length to say which factor holds revenue back. Try a longer period."
        )
    elif reason == "thin_peers":
        said.append(f"Only {peer_count} other reps with data to compare with: too few for a fair benchmark.")
    return said
