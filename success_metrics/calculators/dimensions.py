"""Values of each dimension for template variables and payload options, limited by the row scope."""

from __future__ import annotations

import asyncpg

from success_metrics.calculators.query import RowScope
from success_metrics.calculators.sql import Params, scope_condition
from success_metrics.calculators.vocabulary import Dimension

CHANNELS = ("sms", "email", "phone")
BANDS = (("hot", "Hot (80–100)"), ("warm", "Warm (40–79)"), ("cold", "Cold (0–39)"))


async def dimension_values(conn: asyncpg.Connection, tenant_id: str, dimension: Dimension, scope: RowScope
                           ) -> list[tuple[str, str]]:
    """(value, label) pairs, sorted by label. Agents and teams are limited to what the scope may see."""
    p = Params()
    tp = p.add(tenant_id)
    if dimension == Dimension.SCORE_BAND:
        return list(BANDS)
    if dimension == Dimension.AGENT:
        sql = (f"SELECT a.agent_id AS v, a.name AS l FROM agents a WHERE a.tenant_id = {tp} "
               f"AND {scope_condition('a.agent_id', 'a.team_id', scope, p)}")
    elif dimension == Dimension.TEAM:
        sql = (f"SELECT t.team_id AS v, t.name AS l FROM teams t WHERE t.tenant_id = {tp} AND "
               f"{scope_condition('NULL', 't.team_id', scope, p) if scope.kind != 'self' else 'FALSE'} "
               f"UNION SELECT t.team_id, t.name FROM teams t JOIN agents a ON a.tenant_id = t.tenant_id "
               f"AND a.team_id = t.team_id WHERE t.tenant_id = {tp} AND a.agent_id = {p.add(scope.agent_id)}")
    elif dimension == Dimension.LOCATION:
        sql = f"SELECT location_id AS v, name AS l FROM locations WHERE tenant_id = {tp}"
    elif dimension == Dimension.SOURCE:
        sql = f"SELECT DISTINCT source AS v, source AS l FROM leads WHERE tenant_id = {tp} AND source IS NOT NULL"
    elif dimension == Dimension.CHANNEL:
        sql = (f"SELECT unnest({p.add(list(CHANNELS))}::text[]) AS v, NULL AS l UNION SELECT DISTINCT channel, NULL "
               f"FROM rollup_contact_attempted WHERE tenant_id = {tp} AND grain = 'day' AND channel <> ''")
    elif dimension == Dimension.COMPONENT:
        sql = (f"SELECT DISTINCT component AS v, NULL AS l FROM rollup_component_call WHERE tenant_id = {tp} "
               f"AND grain = 'day' AND component <> ''")
    else:  # SERVICE
        sql = (f"SELECT service AS v, NULL AS l FROM rollup_component_call WHERE tenant_id = {tp} AND grain = 'day' "
               f"AND service <> '' UNION SELECT service, NULL FROM rollup_api_usage WHERE tenant_id = {tp} "
               f"AND grain = 'day' AND service <> ''")
    rows = await conn.fetch(f"SELECT v, coalesce(l, v) AS l FROM ({sql}) x WHERE v IS NOT NULL ORDER BY 2, 1",
                            *p.values)
    return [(r["v"], r["l"]) for r in rows]
