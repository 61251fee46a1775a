"""Multi-touch attribution: credit per touch (source, channel × automated/manual, nurture sequence) under six
models beside the spec's class weights, and a panel comparing what each model gives the automation.

The touch paths are read and aggregated in SQL (one row per distinct path, with its leads, conversions and deal
value; time-decay shares per touch are summed there too, since they need each touch's time); the models run on
those aggregates (success_metrics/calculators/attribution.py). A touch is something that reached the lead: its source
(lead.created), a successful response, a contact attempt that did not fail or bounce, a nurture step that ran.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from success_metrics.calculators import attribution as models
from success_metrics.calculators import formulas, shapes
from success_metrics.calculators.catalog import metric
from success_metrics.calculators.frames import Frame
from success_metrics.calculators.query import ScopedQuery
from success_metrics.calculators.reads import LEAD_COLUMNS
from success_metrics.calculators.sql import Params, where_filters
from success_metrics.calculators.tenant_settings import TenantSettings
from success_metrics.calculators.vocabulary import Dimension, Kind, Unit

DIMS = (Dimension.SOURCE, Dimension.LOCATION, Dimension.AGENT, Dimension.TEAM, Dimension.SCORE_BAND)
TOUCH_TYPES = ["lead.created", "lead.responded", "contact.attempted", "lead.nurtured"]
KIND_SQL = ("CASE e.type WHEN 'lead.created' THEN 'source' WHEN 'lead.nurtured' THEN 'nurture' "
            "ELSE CASE WHEN sm_is_manual(e.payload) THEN 'manual' ELSE 'automated' END END")
LABEL_SQL = ("CASE e.type WHEN 'lead.created' THEN 'source: ' || coalesce(e.payload->>'source', 'unknown') "
             "WHEN 'lead.nurtured' THEN 'nurture: ' || coalesce(e.payload->>'sequence', 'unknown') "
             f"ELSE coalesce(e.payload->>'channel', 'unknown') || ' · ' || ({KIND_SQL}) END")
REACHED_SQL = ("CASE e.type WHEN 'contact.attempted' THEN coalesce(e.payload->>'outcome', '') NOT IN ('failed', "
               "'bounced') WHEN 'lead.created' THEN true ELSE coalesce((e.payload->>'ok')::boolean, false) END")
MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based", "markov")
CLASS_WEIGHTS = "class_weights"
COUNTED = ("leads", "lead_funnel", "contact_attempts", "automated_tasks")


@dataclass(frozen=True, slots=True)
class Touches:
    paths: list[models.Path]
    kinds: dict[str, str]  # touch → source, automated, manual or nurture
    decay: models.Credits  # time-decay credit per touch, summed in SQL
    conversions: int
    revenue: float
    weighted: models.Credit  # Σ class weight and Σ deal value × class weight over the converted leads


async def read_touches(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Touches:
    """The range's leads' touch paths up to their deal (or the range's end), aggregated in one statement."""
    q = sq.query
    p = Params()
    where = where_filters(LEAD_COLUMNS, q.filters, p, q.metric)
    tenant, lo, end = p.add(sq.tenant_id), p.add(q.start), p.add(q.end)
    w = s.attribution_weights
    weight = (f"CASE l.attribution_class WHEN 'direct' THEN {p.add(w.direct)}::float8 WHEN 'assisted' THEN "
              f"{p.add(w.assisted)}::float8 WHEN 'influenced' THEN {p.add(w.influenced)}::float8 ELSE 0 END")
    half_life = p.add(models.HALF_LIFE_DAYS * 86400)
    rows = await conn.fetch(
        f"""WITH l AS (
              SELECT l.lead_id, CASE WHEN l.closed_at < {end} THEN l.closed_at END AS won_at,
                     CASE WHEN l.closed_at < {end} THEN coalesce(l.deal_value, 0)::float8 END AS value,
                     CASE WHEN l.closed_at < {end} THEN {weight} END AS weight
              FROM leads l WHERE l.tenant_id = {tenant} AND l.created_at >= {lo} AND l.created_at < {end}
              AND {where}),
            t AS (
              SELECT e.lead_id, {LABEL_SQL} AS touch, {KIND_SQL} AS kind, l.won_at, l.value,
                     row_number() OVER (PARTITION BY e.lead_id ORDER BY e.occurred_at, e.event_id) AS i,
                     power(0.5, extract(epoch FROM l.won_at - e.occurred_at)::float8 / {half_life}) AS decay
              FROM events e JOIN l ON l.lead_id = e.lead_id
              WHERE e.tenant_id = {tenant} AND e.type = ANY({p.add(TOUCH_TYPES)}::text[])
              AND e.occurred_at >= {lo} AND e.occurred_at < {end}
              AND (l.won_at IS NULL OR e.occurred_at <= l.won_at) AND {REACHED_SQL}),
            d AS (SELECT t.*, decay / sum(decay) OVER (PARTITION BY lead_id) AS share FROM t),
            paths AS (SELECT array_agg(touch ORDER BY i) AS path, bool_or(won_at IS NOT NULL) AS won,
                             max(value) AS value FROM t GROUP BY lead_id)
            SELECT 'path' AS part, path, NULL AS kind, count(*) FILTER (WHERE won)::float8 AS n,
                   count(*) FILTER (WHERE NOT won)::float8 AS nulls, coalesce(sum(value), 0) AS value
            FROM paths GROUP BY path
            UNION ALL
            SELECT 'touch', ARRAY[touch], kind, coalesce(sum(share), 0), 0, coalesce(sum(share * value), 0)
            FROM d GROUP BY touch, kind
            UNION ALL
            SELECT 'won', NULL, NULL, count(won_at), 0, coalesce(sum(value), 0) FROM l
            UNION ALL
            SELECT 'weighted', NULL, NULL, coalesce(sum(weight), 0), 0, coalesce(sum(value * weight), 0) FROM l""",
        *p.values)
    paths, kinds, decay = [], {}, {}
    won = weighted = models.Credit(0, 0)
    for r in rows:
        if r["part"] == "path":
            paths.append(models.Path(tuple(r["path"]), int(r["n"]), int(r["nulls"]), float(r["value"])))
        elif r["part"] == "touch":
            kinds[r["path"][0]] = r["kind"]
            decay[r["path"][0]] = models.Credit(float(r["n"]), float(r["value"]))
        elif r["part"] == "won":
            won = models.Credit(float(r["n"]), float(r["value"]))
        else:
            weighted = models.Credit(float(r["n"]), float(r["value"]))
    return Touches(paths, kinds, {t: c for t, c in decay.items() if c.conversions}, int(won.conversions),
                   won.value, weighted)


def credits(touches: Touches) -> dict[str, models.Credits]:
    """Every model's credit per touch."""
    out = {name: fn(touches.paths) for name, fn in models.RULE_BASED.items()}
    out["time_decay"] = touches.decay
    out["markov"] = models.markov(touches.paths)
    return {m: out[m] for m in MODELS}


def _pct(x: float | None) -> float | None:
    return None if x is None else 100 * x


@metric("attribution.multi_touch", "Multi-touch Attribution",
        "For the leads created in the range, the deals they closed by the range's end credited to the touches "
        "before each deal (the source, each response and contact attempt that reached the lead by channel, "
        "automated or by hand, each nurture sequence step): first touch, last touch, linear, time decay (7-day "
        "half-life before the deal), position based (40/20/40) and Markov (first-order chain, each touch's "
        "removal effect as in ChannelAttribution). Per model and touch: credited deals, share of all deals (%) "
        "and credited revenue; the spec's class weights (direct/assisted/influenced) beside them as the share "
        "of deals credited to the automation.", Unit.TEXT, Kind.TABLE, dimensions=DIMS,
        inputs=(*COUNTED, "deal_revenue", "attribution_weights"),
        lineage={c: (*COUNTED, "attribution_weights") for c in ("model", "touch", "kind", "deals", "share")},
        # revenue carries its currency in the answer: a panel override would name a column agents never get
        column_units=(("deals", Unit.COUNT), ("share", Unit.PERCENT)))
async def multi_touch(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    touches = await read_touches(conn, sq, s)
    rows: list[tuple[object, ...]] = []
    for model, found in credits(touches).items():
        for touch, c in sorted(found.items(), key=lambda kv: (-kv[1].conversions, kv[0])):
            rows.append((model, touch, touches.kinds.get(touch), c.conversions,
                         _pct(formulas.ratio(c.conversions, touches.conversions)), c.value))
    if touches.conversions:
        w, n = touches.weighted, touches.conversions
        rows.append((CLASS_WEIGHTS, "automation", "automated", w.conversions, _pct(w.conversions / n), w.value))
        rows.append((CLASS_WEIGHTS, "not attributed", "other", n - w.conversions, _pct(1 - w.conversions / n),
                     touches.revenue - w.value))
    cols = [shapes.text("model"), shapes.text("touch"), shapes.text("kind"), shapes.num("deals", Unit.COUNT),
            shapes.num("share", Unit.PERCENT), shapes.money("revenue", "revenue")]
    notices = [] if touches.conversions else ["No deal closed among the range's leads: nothing to attribute."]
    return shapes.table("attribution.multi_touch", cols, rows, notices=notices)


KINDS = ("automated", "nurture", "manual", "source")


@metric("attribution.model_comparison", "Attribution Model Comparison",
        "Per attribution model (attribution.multi_touch), the share (%) of the range's deals it credits to the "
        "automation (automated responses and contacts), to nurture sequences, to agents' manual contacts and to "
        "the lead source, and the touch it credits most; the spec's class weights credit the automation with "
        "Σ class weight over the deals.", Unit.PERCENT, Kind.TABLE, dimensions=DIMS,
        inputs=(*COUNTED, "attribution_weights"),
        column_units=(*((f"{k}_share", Unit.PERCENT) for k in KINDS), ("top_share", Unit.PERCENT)))
async def model_comparison(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    touches = await read_touches(conn, sq, s)
    n = touches.conversions
    rows: list[tuple[object, ...]] = []
    for model, found in credits(touches).items():
        by_kind = {k: sum(c.conversions for t, c in found.items() if touches.kinds.get(t) == k) for k in KINDS}
        top = max(found.items(), key=lambda kv: (kv[1].conversions, kv[0]), default=None)
        rows.append((model, *(_pct(formulas.ratio(by_kind[k], n)) for k in KINDS),
                     top[0] if top else None, _pct(formulas.ratio(top[1].conversions, n)) if top else None))
    if n:
        rows.append((CLASS_WEIGHTS, _pct(touches.weighted.conversions / n), None, None, None, None, None))
    cols = [shapes.text("model"), *(shapes.num(f"{k}_share", Unit.PERCENT) for k in KINDS), shapes.text("top_touch"),
            shapes.num("top_share", Unit.PERCENT)]
    notices = [] if n else ["No deal closed among the range's leads: nothing to attribute."]
    return shapes.table("attribution.model_comparison", cols, rows, notices=notices)
