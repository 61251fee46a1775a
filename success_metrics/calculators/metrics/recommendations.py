"""Optimization suggestions, each with the evidence behind it computed from the range's leads; a suggestion whose
evidence is not significant (success_metrics/calculators/evidence.py: p < 0.05, at least 30 leads a group) is not made.

- Speed to first contact: leads an agent contacted fast against those contacted late; the action names the
  source whose leads wait longest and the team that contacts fastest.
- Lead sources: a source that closes significantly better (or worse) than the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from success_metrics.calculators import evidence, shapes
from success_metrics.calculators.catalog import metric, origins_of
from success_metrics.calculators.frames import Frame, Lineage
from success_metrics.calculators.query import ScopedQuery
from success_metrics.calculators.reads import LEAD_COLUMNS
from success_metrics.calculators.sql import Params, where_filters
from success_metrics.calculators.tenant_settings import TenantSettings
from success_metrics.calculators.vocabulary import Dimension, Kind, Unit

SPEED_INPUTS = ("leads", "lead_funnel", "first_contact_seconds", "teams")
SOURCE_INPUTS = ("leads", "lead_funnel")
# (fast under, slow from, in minutes, and how each reads): the first pair with significant evidence is used
SPEEDS = ((5, 60, "within 5 minutes", "after 1 hour"), (60, 240, "within 1 hour", "after 4 hours"))


@dataclass(frozen=True, slots=True)
class Group:
    key: str
    leads: int
    closes: int
    hours: float | None  # median hours to first contact


@dataclass(frozen=True, slots=True)
class Suggestion:
    kind: str
    action: str
    reason: str  # the evidence in words
    found: evidence.Comparison
    lineage: Lineage


async def _groups(conn: asyncpg.Connection, sq: ScopedQuery) -> dict[str, list[Group]]:
    """The range's leads by minutes to first contact ('minutes': key = lower bound), by source and by team."""
    q = sq.query
    p = Params()
    where = where_filters(LEAD_COLUMNS, q.filters, p, q.metric)
    end = p.add(q.end)
    minutes = "extract(epoch FROM l.first_contact_at - l.created_at) / 60"
    contacted = f"l.first_contact_at >= l.created_at AND l.first_contact_at < {end}"
    hours = f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {minutes} / 60) FILTER (WHERE {contacted})"
    bounds = p.add(sorted({b for pair in SPEEDS for b in pair[:2]}))
    rows = await conn.fetch(
        f"""WITH c AS (SELECT l.*, l.closed_at < {end} AS won FROM leads l WHERE l.tenant_id = {p.add(sq.tenant_id)}
                       AND l.created_at >= {p.add(q.start)} AND l.created_at < {end} AND {where})
            SELECT 'minutes' AS part, b::text AS key, count(*) AS n, count(*) FILTER (WHERE won) AS closes,
                   NULL::float8 AS hours
            FROM c l CROSS JOIN unnest({bounds}::int[]) b WHERE {contacted} AND {minutes} >= b GROUP BY b
            UNION ALL
            SELECT 'under', b::text, count(*), count(*) FILTER (WHERE won), NULL
            FROM c l CROSS JOIN unnest({bounds}::int[]) b WHERE {contacted} AND {minutes} < b GROUP BY b
            UNION ALL
            SELECT 'source', coalesce(l.source, 'unknown'), count(*), count(*) FILTER (WHERE won), {hours}
            FROM c l GROUP BY 2
            UNION ALL
            SELECT 'team', coalesce(t.name, l.team_id), count(*) FILTER (WHERE {contacted}), 0, {hours}
            FROM c l LEFT JOIN teams t ON t.tenant_id = l.tenant_id AND t.team_id = l.team_id
            WHERE l.team_id IS NOT NULL GROUP BY 2""", *p.values)
    out: dict[str, list[Group]] = {}
    for r in rows:
        out.setdefault(r["part"], []).append(
            Group(r["key"], int(r["n"]), int(r["closes"]), None if r["hours"] is None else float(r["hours"])))
    return out


def _took(g: Group) -> str:
    hours = g.hours or 0.0
    return f"{60 * hours:.0f} min" if hours < 1 else f"{hours:.1f} h"


def speed_suggestion(groups: dict[str, list[Group]]) -> Suggestion | None:
    """Fast against late first contact, at the first pair of thresholds whose difference is significant."""
    under = {g.key: g for g in groups.get("under", [])}
    from_ = {g.key: g for g in groups.get("minutes", [])}
    for fast, slow, fast_words, slow_words in SPEEDS:
        a, b = under.get(str(fast)), from_.get(str(slow))
        if a is None or b is None:
            continue
        found = evidence.Comparison(a.closes, a.leads, b.closes, b.leads)
        if not found.significant() or found.rate_a <= found.rate_b:
            continue
        timed = [g for g in groups.get("source", []) if g.hours is not None and g.leads >= evidence.MIN_LEADS]
        teams = [g for g in groups.get("team", []) if g.hours is not None and g.leads >= evidence.MIN_LEADS]
        waiting = max(timed, key=lambda g: (g.hours or 0, g.key), default=None)
        fastest = min(teams, key=lambda g: (g.hours or 0, g.key), default=None)
        if waiting is None:
            action = f"contact every lead {fast_words}"
        elif fastest is None or len(teams) < 2:
            action = f"contact {waiting.key} leads {fast_words} (their median first contact is {_took(waiting)})"
        else:
            action = (f"route {waiting.key} leads (median first contact {_took(waiting)}) to {fastest.key}, "
                      f"the fastest team ({_took(fastest)})")
        return Suggestion("response_time", action, found.says(f"leads first contacted {fast_words}", slow_words),
                          found, origins_of(SPEED_INPUTS))
    return None


def source_suggestions(groups: dict[str, list[Group]]) -> list[Suggestion]:
    """The source closing most significantly better than the others, and the one closing most significantly worse."""
    sources = groups.get("source", [])
    leads, closes = sum(g.leads for g in sources), sum(g.closes for g in sources)
    compared = [(g, evidence.Comparison(g.closes, g.leads, closes - g.closes, leads - g.leads)) for g in sources]
    found = sorted(((g, c) for g, c in compared if c.significant()), key=lambda gc: gc[1].p_value)
    out = []
    better = next(((g, c) for g, c in found if c.rate_a > c.rate_b), None)
    worse = next(((g, c) for g, c in found if c.rate_a < c.rate_b), None)
    if better:
        g, c = better
        out.append(Suggestion("source", f"put more of the lead budget into {g.key}",
                              c.says(f"{g.key} leads", "from the other sources"), c, origins_of(SOURCE_INPUTS)))
    if worse:
        g, c = worse
        out.append(Suggestion("source", f"review how {g.key} leads are qualified before paying for more of them",
                              c.says(f"{g.key} leads", "from the other sources"), c, origins_of(SOURCE_INPUTS)))
    return out


@metric("recommendations.list", "Recommendations",
        "Suggestions derived from the range's leads, each with its evidence: close rates (%) of two groups of leads "
        "(fast against late first contact by an agent; one source against the others), their sizes and the "
        "two-sided two-proportion z-test's p-value. Made only when p < 0.05 and each group has at least 30 leads; "
        "otherwise none.", Unit.TEXT, Kind.TABLE,
        dimensions=(Dimension.SOURCE, Dimension.LOCATION, Dimension.TEAM, Dimension.SCORE_BAND),
        inputs=SPEED_INPUTS, row_lineage=True,
        column_units=(("rate_a", Unit.PERCENT), ("rate_b", Unit.PERCENT), ("leads", Unit.COUNT),
                      ("p_value", Unit.RATIO)))
async def recommendations(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    groups = await _groups(conn, sq)
    found = [x for x in (speed_suggestion(groups), *source_suggestions(groups)) if x is not None]
    rows = [(f"{x.reason}: {x.action}", x.action, x.reason, x.kind, 100 * x.found.rate_a, 100 * x.found.rate_b,
             x.found.leads_a + x.found.leads_b, x.found.p_value) for x in found]
    cols = [shapes.text("text"), shapes.text("recommendation"), shapes.text("evidence"), shapes.text("kind"),
            shapes.num("rate_a", Unit.PERCENT), shapes.num("rate_b", Unit.PERCENT), shapes.num("leads", Unit.COUNT),
            shapes.num("p_value", Unit.RATIO)]
    none = ("No recommendation: no difference between groups of the range's leads is significant "
            f"(p < {evidence.ALPHA}, at least {evidence.MIN_LEADS} leads a group).")
    notices = [] if rows else [none]
    return shapes.table("recommendations.list", cols, rows, notices=notices, row_lineage=[x.lineage for x in found])
