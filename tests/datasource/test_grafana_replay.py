"""Replay each committed dashboard against the service, as each role, the way Grafana would.

A small demo data set (one synthetic tenant, two months at a fifth of the demo's volume) is loaded
through ingest. Every dashboard's panel queries go to POST /query in one request (refIds made
unique), its annotations one request each (refId "Anno"), its variables to POST /variable. Nothing
may fail at the request level; a panel may only fail where the role table (docs/design.md) refuses its
metric, and masked panels must be masked as the role requires.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from success_metrics.dashboards.query import ALL_VALUE
from success_metrics.storage.pool import Database
from success_metrics.tools import demo

BOARD_DIR = Path(__file__).resolve().parents[2] / "dashboards"
BOARDS = {p.name: json.loads(p.read_text()) for p in BOARD_DIR.glob("*.json")}
ROLES = ("executive", "manager", "agent", "admin", "auditor")

# metrics each role is refused, worked out from the role table and the catalog's sensitivity classes:
# executive/manager may not see security data; agents neither financial data (ROI, costs, revenue, goals)
# nor security data; auditors only system, security, adoption and compliance metrics.
SECURITY = {"security.auth_events", "compliance.checks", "audit.access_log", "audit.failures", "audit.exports",
            "security.encryption"}
# operating the database (backups, statements, indexes, pool, growth): admins, executives and auditors
OPERATIONS = {"backup.status", "database.performance", "database.indexes", "database.pool", "database.growth"}
FINANCIAL = {"roi.monthly", "savings.monthly", "revenue.attributed", "revenue.monthly_trend", "cost.avoidance",
             "cost.benefit", "executive.kpi_summary", "agents.goals", "forecast.revenue"}
# auditors: the audit log, system health and security events (system, uptime, components, APIs, errors, the
# dashboard self-check and data quality)
AUDITOR_MAY = SECURITY | {"system.resources", "adoption.usage", "uptime.system", "components.health",
                          "components.latency", "components.success_rate", "apis.health", "errors.active",
                          "errors.by_category", "errors.mttr", "errors.rate", "dashboards.health",
                          "data.quality"} | OPERATIONS
# who may see each annotation kind: health marks are for everyone; business marks not for auditors; missed
# revenue goals are financial (not for agents); policy changes are audit data (admins and auditors)
ANNOTATION_ROLES = {
    "outages": set(ROLES), "degradations": set(ROLES), "backfills": set(ROLES),
    "alerts": {"executive", "manager", "agent", "admin"},
    "conversion_drops": {"executive", "manager", "agent", "admin"},
    "target_misses": {"executive", "manager", "admin"}, "policy_changes": {"admin", "auditor"},
    "anomalies": {"executive", "manager", "agent", "admin"},
}


def refused(role: str, metric: str) -> bool:
    match role:
        case "admin":
            return False
        case "executive":
            return metric in SECURITY
        case "manager":
            return metric in SECURITY | OPERATIONS
        case "agent":
            return metric in SECURITY | FINANCIAL | OPERATIONS
        case _:
            return metric not in AUDITOR_MAY


def substitute(payload: dict[str, str]) -> dict[str, str]:
    """What the plugin sends with every variable at "All": the variable's all value."""
    return {k: ALL_VALUE if v.startswith("$") else v for k, v in payload.items()}


def grafana_range(board: dict[str, Any], end: datetime) -> dict[str, Any]:
    days = {"now-90d": 90, "now-30d": 30, "now-7d": 7, "now-24h": 1}[board["time"]["from"]]
    start = end - timedelta(days=days)
    return {"from": start.isoformat().replace("+00:00", "Z"), "to": end.isoformat().replace("+00:00", "Z"),
            "raw": {"from": board["time"]["from"], "to": "now"}}


def failed(item: dict[str, Any]) -> bool:
    return any(n.get("severity") == "error" for n in (item.get("meta") or {}).get("notices") or [])




async def _setup(db: Database, make_client: Callable[..., Awaitable[httpx.AsyncClient]],
                 new_tenant_id: Callable[[str], str]) -> tuple[httpx.AsyncClient, demo.Profile, datetime]:
    profile = demo.profile(new_tenant_id("replay"))
    client = await make_client(profile.config())
    end = demo.demo_end()
    stats = await demo.load(db, [profile], months=2, scale=0.2, end=end, chunk=20_000)
    assert stats[0].accepted > 500 and stats[0].rejected == 0, stats[0].reasons
    return client, profile, end


async def test_every_dashboard_answers_every_role_as_the_role_table_says(
    db: Database, make_client: Callable[..., Awaitable[httpx.AsyncClient]], new_tenant_id: Callable[[str], str],
    token_for: Callable[..., str],
) -> None:
    client, profile, end = await _setup(db, make_client, new_tenant_id)
    me = profile.agents[0]
    claims: dict[str, dict[str, Any]] = {"agent": {"agent_id": me.id}, "manager": {"teams": [me.team_id]}}
    names = {a.name for a in profile.agents}
    team_name = dict(profile.teams)
    seen = dict.fromkeys(ROLES, "")
    problems: list[str] = []  # every panel that answers other than the role table says, all listed at once
    for role in ROLES:
        headers = {"Authorization": f"Bearer {token_for(profile.tenant_id, role, **claims.get(role, {}))}"}
        for name, board in sorted(BOARDS.items()):
            panels = [p for p in board["panels"] if p.get("targets")]
            targets = [{**t, "refId": f"p{p['id']}", "payload": substitute(t["payload"])}
                       for p in panels for t in p["targets"]]
            by_id = {f"p{p['id']}": p for p in panels}
            body = {"range": grafana_range(board, end), "interval": "1h", "intervalMs": 3_600_000,
                    "maxDataPoints": 500, "targets": targets, "filters": []}
            got = await client.post("/query", json=body, headers=headers)
            assert got.status_code == 200, f"{role} {name}: {got.status_code} {got.text[:300]}"
            by_ref: dict[str, list[dict[str, Any]]] = {}
            for item in got.json():
                by_ref.setdefault(item["refId"], []).append(item)
            for t in targets:
                items = by_ref.get(t["refId"])
                assert items, f"{role} {name}: no answer for {t['target']}"
                errors = [n["text"] for i in items if failed(i) for n in i["meta"]["notices"]]
                if refused(role, t["target"]) and not errors:
                    problems.append(f"{role} must be refused {t['target']} on {name}")
                elif not refused(role, t["target"]) and errors:
                    problems.append(f"{role} {name} {t['target']}: {errors}")
                pivot = [tr["options"] for tr in by_id[t["refId"]].get("transformations", [])
                         if tr["id"] == "groupingToMatrix"]
                if pivot and not errors:  # the heatmap's pivot names columns the answer has
                    [table] = items
                    columns = {c["text"] for c in table["columns"]}
                    wanted = {pivot[0]["rowField"], pivot[0]["columnField"], pivot[0]["valueField"]}
                    if not wanted <= columns:
                        problems.append(f"{name} {t['target']}: pivot needs {sorted(wanted)}, answer has {columns}")
                renamed = {o["matcher"]["options"] for o in by_id[t["refId"]]["fieldConfig"]["overrides"]
                           if o["matcher"]["id"] == "byName" and any(p["id"] == "displayName" for p in o["properties"])}
                if renamed and not errors:  # the stat panel's labels name columns the answer has
                    columns = {c["text"] for i in items for c in i.get("columns", [])}
                    if not renamed <= columns:
                        problems.append(f"{name} {t['target']}: labels for {sorted(renamed)}, answer has {columns}")
                if t["target"] == "agents.scorecard" and not errors:
                    [table] = items
                    col = {c["text"]: i for i, c in enumerate(table["columns"])}
                    # the panel hides the id columns the answer carries for masking (regex /_id$/)
                    hidden = [o["matcher"]["options"] for o in by_id[t["refId"]]["fieldConfig"]["overrides"]
                              if o["properties"] == [{"id": "custom.hidden", "value": True}]]
                    assert hidden == ["/_id$/"] and {"agent_id", "team_id"} <= set(col)
                    rows = [(r[col["agent_id"]], r[col["agent"]], r[col["team"]]) for r in table["rows"]]
                    assert rows, f"{role}: empty scorecard"
                    if role in ("executive", "admin"):  # whole tenant, real names
                        expected = {(a.id, a.name, team_name[a.team_id]) for a in profile.agents}
                        if not set(rows) <= expected or len(rows) < 2:
                            problems.append(f"{role} scorecard: {rows}")
                    elif role == "manager":  # own team only, real names
                        expected = {(a.id, a.name, team_name[a.team_id]) for a in profile.agents
                                    if a.team_id == me.team_id}
                        if not set(rows) <= expected or not rows:
                            problems.append(f"manager of {me.team_id} scorecard: {rows}")
                    elif rows != [(me.id, me.name, team_name[me.team_id])]:  # an agent: own row only
                        problems.append(f"agent {me.id} scorecard: {rows}")
            seen[role] += got.text
            for ann in board["annotations"]["list"]:
                got = await client.post("/query", headers=headers, json={
                    "range": grafana_range(board, end), "targets": [ann["target"]]})
                assert got.status_code == 200, f"{role} {name} {ann['name']}: {got.text[:300]}"
                errors = [i for i in got.json() if failed(i)]
                may = role in ANNOTATION_ROLES[ann["target"]["target"]]
                if may and errors:
                    problems.append(f"{role} {name} annotation {ann['name']}: {errors}")
                elif not may and not errors:
                    problems.append(f"{role} must be refused the {ann['name']} annotation on {name}")
            for var in board["templating"]["list"]:
                got = await client.post("/variable", headers=headers, json={
                    "payload": json.loads(var["query"]["query"]), "range": grafana_range(board, end)})
                assert got.status_code == 200, f"{role} {name} ${var['name']}: {got.text[:300]}"
                assert all({"__text", "__value"} <= set(v) for v in got.json())
                seen[role] += got.text  # variable lists are masked like panels
    assert not problems, "\n".join(problems)
    # masking across every panel and variable list: no other agent's real name reaches an agent, and no
    # agent of another team reaches a manager; executives do see them (so the check can fail)
    others = names - {me.name}
    assert not [n for n in others if n in seen["agent"]]
    assert not [a.name for a in profile.agents if a.team_id != me.team_id and a.name in seen["manager"]]
    assert [n for n in others if n in seen["executive"]]
