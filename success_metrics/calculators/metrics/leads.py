"""Lead Analytics: source performance, quality bands, behaviour, attribution.

Lead figures follow the cohort of leads created in the range (lead state in ``leads``), counting what became
of them up to the range's end; contact-attempt figures come from the event rollups, deals from lead state
(one deal per lead).
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from success_metrics.calculators import formulas, shapes
from success_metrics.calculators.buckets import Source
from success_metrics.calculators.catalog import metric, origins_of
from success_metrics.calculators.frames import Frame
from success_metrics.calculators.query import ScopedQuery
from success_metrics.calculators.reads import LEAD_COLUMNS, Funnel, deals_sql, event_rows, funnel_select
from success_metrics.calculators.sql import Params, fetch_one, where_filters
from success_metrics.calculators.tenant_settings import TenantSettings
from success_metrics.calculators.vocabulary import Dimension, Kind, Unit

LEAD_DIMS = (Dimension.SOURCE, Dimension.LOCATION, Dimension.AGENT, Dimension.TEAM, Dimension.SCORE_BAND)
RESPONDED = ("connected", "answered", "replied")  # ingest schema: answered; event contract: connected


def _pct(x: float | None) -> float | None:
    return None if x is None else 100 * x


async def _grouped_funnel(conn: asyncpg.Connection, sq: ScopedQuery, group: Callable[[str], str]
                          ) -> list[tuple[str | int, Funnel]]:
    """funnel_select per group of the range's leads; ``group`` makes the group's SQL from the range's end."""
    q = sq.query
    p = Params()
    where = where_filters(LEAD_COLUMNS, q.filters, p, q.metric)
    end = p.add(q.end)
    rows = await conn.fetch(
        f"SELECT {group(end)} AS g, {funnel_select(end)} FROM leads l WHERE l.tenant_id = {p.add(sq.tenant_id)} "
        f"AND l.created_at >= {p.add(q.start)} AND l.created_at < {end} AND {where} GROUP BY 1 ORDER BY 1",
        *p.values)
    return [(r["g"], Funnel.of(r)) for r in rows]


@metric("sources.performance", "Lead Source Performance",
        "Per source, for leads created in the range: volume, response rate (answered successfully by the "
        "automation), appointment rate, close rate (%), average deal value and total revenue of the closed ones; "
        "each counted up to the range's end.",
        Unit.TEXT, Kind.TABLE, dimensions=LEAD_DIMS,
        inputs=("leads", "lead_funnel", "deal_revenue"),
        lineage={c: ("leads", "lead_funnel") for c in ("source", "volume", "response_rate", "appointment_rate",
            "close_rate")},
        column_units=(("volume", Unit.COUNT), ("response_rate", Unit.PERCENT), ("appointment_rate", Unit.PERCENT),
                      ("close_rate", Unit.PERCENT), ("avg_deal_value", Unit.CURRENCY),
                      ("total_revenue", Unit.CURRENCY)))
async def sources_performance(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    groups = await _grouped_funnel(conn, sq, lambda _: "coalesce(l.source, 'unknown')")
    rows = [(src, f.leads, _pct(formulas.ratio(f.responded, f.leads)), _pct(f.appointment_rate), _pct(f.close_rate),
             formulas.ratio(f.revenue, f.closes), f.revenue) for src, f in groups]
    cols = [shapes.text("source"), shapes.num("volume", Unit.COUNT), shapes.num("response_rate", Unit.PERCENT),
            shapes.num("appointment_rate", Unit.PERCENT), shapes.num("close_rate", Unit.PERCENT),
            shapes.money("avg_deal_value", "deal_value"), shapes.money("total_revenue", "revenue")]
    return shapes.table("sources.performance", cols, rows)


@metric("leads.quality_distribution", "Lead Quality Distribution",
        "Leads created in the range by score band (hot 80–100, warm 40–79, cold 0–39, unscored): count, share of "
        "volume and conversion (close) rate, in %.", Unit.PERCENT, Kind.TABLE, dimensions=LEAD_DIMS,
        inputs=("leads", "lead_funnel", "lead_scores"))
async def quality_distribution(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    groups = dict(await _grouped_funnel(conn, sq, lambda _: "coalesce(sm_score_band(l.score), 'unscored')"))
    total = sum(f.leads for f in groups.values())
    rows = [(band, f.leads, _pct(formulas.ratio(f.leads, total)), _pct(f.close_rate))
            for band in ("hot", "warm", "cold", "unscored") if (f := groups.get(band))]
    cols = [shapes.text("band"), shapes.num("leads", Unit.COUNT), shapes.num("share", Unit.PERCENT),
            shapes.num("conversion_rate", Unit.PERCENT)]
    return shapes.table("leads.quality_distribution", cols, rows)


RESPONSE_BUCKETS = (("< 5 min", 5), ("5–30 min", 30), ("30–60 min", 60), ("1–4 h", 240), ("4–24 h", 1440))


@metric("behavior.response_time_impact", "Response Time Impact",
        "Close rate (%) of the range's leads by the time from creation to an agent's first contact (made by hand, "
        "as response_time.first_contact: < 5 min, 5–30 min, 30–60 min, 1–4 h, 4–24 h, > 24 h, never: not by the "
        "range's end).", Unit.PERCENT, Kind.TABLE, dimensions=LEAD_DIMS,
        inputs=("leads", "lead_funnel", "first_contact_seconds"))
async def response_time_impact(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    # interval comparisons, not a numeric division of the epoch per bucket and row (same order: both count a day
    # as 86,400 s)
    case = " ".join(f"WHEN l.first_contact_at - l.created_at < interval '{limit} minutes' THEN {i}"
                    for i, (_, limit) in enumerate(RESPONSE_BUCKETS))
    n = len(RESPONSE_BUCKETS)
    groups = dict(await _grouped_funnel(
        conn, sq, lambda end: f"CASE WHEN l.first_contact_at IS NULL OR l.first_contact_at >= {end} "
                              f"THEN {n + 1} {case} ELSE {n} END"))
    labels = [b for b, _ in RESPONSE_BUCKETS] + ["> 24 h", "never"]
    rows = [(label, f.leads, _pct(f.appointment_rate), _pct(f.close_rate))
            for i, label in enumerate(labels) if (f := groups.get(i))]
    cols = [shapes.text("time_to_first_contact"), shapes.num("leads", Unit.COUNT),
            shapes.num("appointment_rate", Unit.PERCENT), shapes.num("conversion_rate", Unit.PERCENT)]
    return shapes.table("behavior.response_time_impact", cols, rows)


@metric("behavior.followup_effectiveness", "Follow-up Effectiveness",
        "Close rate (%) of the range's leads by the number of contact attempts (0, 1, 2, 3, 4, 5+).",
        Unit.PERCENT, Kind.TABLE, dimensions=LEAD_DIMS,
        inputs=("leads", "lead_funnel", "contact_attempts"))
async def followup_effectiveness(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    groups = await _grouped_funnel(conn, sq, lambda _: "least(l.touches, 5)")
    rows = [("5+" if k == 5 else str(k), f.leads, _pct(f.appointment_rate), _pct(f.close_rate)) for k, f in groups]
    cols = [shapes.text("touches"), shapes.num("leads", Unit.COUNT), shapes.num("appointment_rate", Unit.PERCENT),
            shapes.num("conversion_rate", Unit.PERCENT)]
    return shapes.table("behavior.followup_effectiveness", cols, rows)


@metric("behavior.channel_performance", "Channel Performance",
        "Contact attempts per channel (sms, email, phone) in the range and their response rate (%): attempts whose "
        "outcome was answered (connected) or replied.", Unit.PERCENT, Kind.TABLE, dimensions=(Dimension.CHANNEL,),
        inputs=("contact_attempts",))
async def channel_performance(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    p = Params()
    src = event_rows(sq, s, "contact.attempted", {Dimension.CHANNEL: "channel"}, p)
    rows = await conn.fetch(
        f"SELECT channel, sum(attempts) AS n, sum(attempts) FILTER (WHERE outcome = "
        f"ANY({p.add(list(RESPONDED))}::text[])) AS responded FROM {src} x GROUP BY channel ORDER BY channel",
        *p.values)
    cols = [shapes.text("channel"), shapes.num("attempts", Unit.COUNT), shapes.num("responses", Unit.COUNT),
            shapes.num("response_rate", Unit.PERCENT)]
    return shapes.table("behavior.channel_performance", cols, [
        (r["channel"], r["n"], r["responded"] or 0, _pct(formulas.ratio(r["responded"] or 0, r["n"]))) for r in rows])


@metric("behavior.best_contact_times", "Best Contact Times",
        "Contact attempts by tenant-local weekday (1 = Monday) and hour, with response rate (%).",
        Unit.PERCENT, Kind.TABLE, dimensions=(Dimension.CHANNEL,),
        inputs=("contact_attempts",))
async def best_contact_times(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    p = Params()
    tz = p.add(s.timezone)
    src = event_rows(sq, s, "contact.attempted", {Dimension.CHANNEL: "channel"}, p, finest=Source.HOUR)
    rows = await conn.fetch(
        f"SELECT extract(isodow FROM t AT TIME ZONE {tz})::int AS dow, extract(hour FROM t AT TIME ZONE {tz})::int "
        f"AS hour, sum(attempts) AS n, sum(attempts) FILTER (WHERE outcome = ANY({p.add(list(RESPONDED))}::text[])) "
        f"AS responded "
        f"FROM {src} x GROUP BY 1, 2 ORDER BY 1, 2", *p.values)
    cols = [shapes.num("weekday"), shapes.num("hour"), shapes.num("attempts", Unit.COUNT),
            shapes.num("response_rate", Unit.PERCENT)]
    return shapes.table("behavior.best_contact_times", cols, [
        (r["dow"], r["hour"], r["n"], _pct(formulas.ratio(r["responded"] or 0, r["n"]))) for r in rows])


@metric("attribution.tree", "Attribution & ROI by Lead Source",
        "For leads created in the range: leads, those the automation answered (responses sent by hand are not "
        "automated), appointments, deals (one per lead), revenue and the automation-attributed revenue (Σ deal "
        "value × class weight), each with its share of its parent; counted up to the range's end.",
        Unit.TEXT, Kind.TABLE, dimensions=LEAD_DIMS,
        inputs=("leads", "lead_funnel", "deal_revenue", "attribution_weights"), row_lineage=True,
        column_units=(("count", Unit.COUNT), ("amount", Unit.CURRENCY), ("share", Unit.PERCENT)))
async def attribution_tree(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    p = Params()
    where = where_filters(LEAD_COLUMNS, q.filters, p, q.metric)
    end = p.add(q.end)
    w = s.attribution_weights
    r = await fetch_one(conn,
        f"""SELECT {funnel_select(end)},
                   coalesce(sum(l.deal_value * CASE l.attribution_class WHEN 'direct' THEN {p.add(w.direct)}::numeric
                       WHEN 'assisted' THEN {p.add(w.assisted)}::numeric
                       WHEN 'influenced' THEN {p.add(w.influenced)}::numeric ELSE 0 END)
                       FILTER (WHERE l.closed_at < {end}), 0) AS attributed
            FROM leads l WHERE l.tenant_id = {p.add(sq.tenant_id)} AND l.created_at >= {p.add(q.start)}
            AND l.created_at < {end} AND {where}""", *p.values)
    leads, revenue = r["leads"], float(r["revenue"])
    rows = [
        ("leads", None, leads, None, None),
        ("automated_response", "leads", r["responded"], None, _pct(formulas.ratio(r["responded"], leads))),
        ("appointments", "leads", r["appointments"], None, _pct(formulas.ratio(r["appointments"], leads))),
        ("deals", "leads", r["closes"], None, _pct(formulas.ratio(r["closes"], leads))),
        ("revenue", "deals", None, revenue, None),
        ("automation_attribution", "revenue", None, float(r["attributed"]),
         _pct(formulas.ratio(float(r["attributed"]), revenue))),
    ]
    cols = [shapes.text("node"), shapes.text("parent"), shapes.num("count", Unit.COUNT),
            shapes.money("amount", "revenue"), shapes.num("share", Unit.PERCENT)]
    counted, money = origins_of(("leads", "lead_funnel")), origins_of(("deal_revenue", "attribution_weights"))
    return shapes.table("attribution.tree", cols, rows,
                        row_lineage=[counted] * 4 + [counted | money] * 2)  # the revenue rows are money


@metric("attribution.weighted", "Weighted Attribution",
        "Deals closed in the range per attribution class: deals, revenue, the tenant's class weight and attributed "
        "revenue (revenue × weight), with a total row. One deal per lead (the earliest deal.closed; a second one "
        "with another id is not counted again); the agent filter is the lead's agent. Each deal has one class and "
        "weights are ≤ 1, so the attributed total never exceeds total revenue.", Unit.CURRENCY, Kind.TABLE,
        dimensions=(Dimension.AGENT,),
        inputs=("lead_funnel", "deal_revenue", "attribution_weights"),
        lineage={"class": ("attribution_weights",), "deals": ("lead_funnel",), "weight": ("attribution_weights",)})
async def attribution_weighted(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    p = Params()
    where = where_filters({Dimension.AGENT: "l.agent_id"}, q.filters, p, q.metric)
    found = {r["key"]: (int(r["n"]), float(r["value"])) for r in await conn.fetch(
        deals_sql(p, sq.tenant_id, q.start, q.end, where=where), *p.values)}
    rows: list[tuple[str, int, float, float | None, float]] = []
    for cls in ("direct", "assisted", "influenced"):
        count, revenue = found.get(cls, (0, 0.0))
        weight = formulas.attribution_weight(cls, s.attribution_weights)
        rows.append((cls, count, revenue, weight, revenue * weight))
    rows.append(("total", sum(r[1] for r in rows), sum(r[2] for r in rows), None, sum(r[4] for r in rows)))
    cols = [shapes.text("class"), shapes.num("deals", Unit.COUNT), shapes.money("revenue", "deal_value"),
            shapes.num("weight", Unit.RATIO), shapes.money("attributed_revenue", "revenue")]
    return shapes.table("attribution.weighted", cols, rows)
