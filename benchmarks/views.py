"""What a simulated Grafana user looks at: a view is one shipped dashboard over one time range with its template
variables set, kept open for a while and refreshed at the dashboard's own ``refresh`` interval.

Ranges are those people pick: the dashboard's default, Grafana's relative quick ranges, absolute closed ranges (a
past calendar quarter, a custom 45 days between two past midnights) and drag-zooms to an odd sub-range of what
was on screen. Variables: managers mostly pick their own team, agents themselves, executives and admins now and
then one value of any variable, from the values the service offers them (``POST /variable``, asked as Grafana
asks: on load and on every refresh, the dashboards' variables refreshing on time range change). The shipped
dashboards have no ad-hoc filter variable, so no view sends ad-hoc filters. Used by benchmarks/load.py.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = ROOT / "dashboards"
MAX_POINTS = 1000  # a panel that does not fix its maxDataPoints: a typical width in pixels
ALL = "*"  # the dashboards' allValue: what Grafana sends for a variable left at "All"
QUICK = {"now-6h": timedelta(hours=6), "now-24h": timedelta(hours=24), "now-7d": timedelta(days=7),
         "now-30d": timedelta(days=30), "now-90d": timedelta(days=90), "now-6M": timedelta(days=182),
         "now-1y": timedelta(days=365), "now-2y": timedelta(days=730)}
AUDITOR_DASHBOARDS = ("access-audit", "system-health")
HOME = {"executive": "executive-summary", "manager": "agent-performance", "agent": "agent-performance",
        "admin": "operations-monitor", "auditor": "access-audit"}
_DURATION = re.compile(r"^(\d+)([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Dashboard:
    name: str
    panels: tuple[tuple[tuple[dict[str, Any], ...], int], ...]  # each panel's targets (``$var`` kept) and maxDataPoints
    annotations: tuple[dict[str, Any], ...]
    variables: tuple[str, ...] = ()  # template variable names, in the dashboard's order
    refresh_s: float = 60.0  # the dashboard's own auto-refresh interval
    default: str = "now-30d"  # the dashboard's own default time range (``time.from``)


def seconds_of(text: str) -> float:
    """Grafana's refresh text (``30s``, ``1m``, ``5m``) in seconds."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"refresh {text!r} is not like 30s, 1m or 5m")
    return int(match[1]) * _SECONDS[match[2]]


def _walk(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for p in panels:
        out.append(p)
        out.extend(_walk(p.get("panels", [])))
    return out


def load_dashboards() -> dict[str, Dashboard]:
    """The shipped dashboards (dashboards/*.json) as Grafana would send their queries."""
    found = {}
    for path in sorted(DASHBOARDS.glob("*.json")):
        doc = json.loads(path.read_text())
        panels = []
        for panel in _walk(doc.get("panels", [])):
            targets = [t for t in panel.get("targets", []) if t.get("target")]
            if targets:
                panels.append((tuple(targets), int(panel.get("maxDataPoints") or MAX_POINTS)))
        annotations = tuple(a["target"] for a in doc.get("annotations", {}).get("list", [])
                            if isinstance(a.get("target"), dict) and a["target"].get("target"))
        variables = tuple(v["name"] for v in doc.get("templating", {}).get("list", []) if v.get("type") == "query")
        found[path.stem] = Dashboard(path.stem, tuple(panels), annotations, variables,
                                     seconds_of(doc.get("refresh") or "1m"), doc.get("time", {}).get("from", "now-30d"))
    return found


# --- ranges ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Range:
    """A relative range (``span`` ending now) or an absolute one (``start``/``end``)."""

    kind: str  # "relative", "quarter", "45 days", "zoom"
    span: timedelta | None = None
    start: datetime | None = None
    end: datetime | None = None
    raw: str = ""  # how Grafana shows it: now-30d, or empty for absolute ranges

    def bounds(self, now: datetime) -> tuple[datetime, datetime]:
        if self.span is not None:
            return now - self.span, now
        assert self.start is not None and self.end is not None
        return self.start, self.end

    def closed(self, now: datetime) -> bool:
        """A range wholly in the past (nothing in it can change but late events)."""
        return self.end is not None and self.end <= now - timedelta(hours=1)

    @property
    def label(self) -> str:
        return self.raw or self.kind


def relative(raw: str) -> Range:
    return Range("relative", span=QUICK.get(raw, timedelta(days=30)), raw=raw)


def quarter(now: datetime, back: int) -> Range:
    """The calendar quarter ``back`` quarters before the current one (1: the last complete quarter), in UTC."""
    index = now.year * 4 + (now.month - 1) // 3 - back
    start = datetime(index // 4, index % 4 * 3 + 1, 1, tzinfo=UTC)
    nxt = index + 1
    return Range("quarter", start=start, end=datetime(nxt // 4, nxt % 4 * 3 + 1, 1, tzinfo=UTC))


def custom_days(now: datetime, rng: random.Random, days: int = 45) -> Range:
    """``days`` days between two past midnights, ending 1 … 300 days ago (a date picker's custom range)."""
    end = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=rng.randint(1, 300))
    return Range("45 days", start=end - timedelta(days=days), end=end)


def zoom(of: Range, now: datetime, rng: random.Random) -> Range:
    """A drag-zoom: an odd sub-range (a fifth to a half of it, anywhere in it, to the millisecond) of ``of``."""
    start, end = of.bounds(now)
    span = end - start
    width = span * rng.uniform(0.2, 0.5)
    left = start + (span - width) * rng.random()
    left = left.replace(microsecond=left.microsecond // 1000 * 1000)
    return Range("zoom", start=left, end=left + width)


# --- users' views ---------------------------------------------------------------------------------------

@dataclass
class View:
    dashboard: Dashboard
    rng: Range
    wants: dict[str, str] = field(default_factory=dict)  # variable -> "own" or "any": set away from "All"
    values: dict[str, str] = field(default_factory=dict)  # the values picked once the options were listed

    def payload(self, raw: Any) -> Any:
        """A target's payload with its ``$variables`` replaced as Grafana would (All: "*")."""
        if not isinstance(raw, dict):
            return raw
        return {k: self.values.get(v[1:], ALL) if isinstance(v, str) and v.startswith("$") else v
                for k, v in raw.items()}


def allowed(role: str, dashboards: dict[str, Dashboard]) -> list[str]:
    names = [n for n in dashboards if (n in AUDITOR_DASHBOARDS) == (role == "auditor")]
    if role == "admin":
        names = list(dashboards)
    return names or list(dashboards)


def wants_for(role: str, dashboard: Dashboard, rng: random.Random) -> dict[str, str]:
    """Which variables a person of ``role`` sets away from "All" on this view."""
    names = set(dashboard.variables)
    if role == "manager" and "team" in names and rng.random() < 0.7:
        return {"team": "own"}
    if role == "agent" and "agent" in names and rng.random() < 0.6:
        return {"agent": "own"}
    if role in ("executive", "admin", "manager") and names and rng.random() < 0.4:
        return {rng.choice(sorted(names)): "any"}
    return {}


def home_view(role: str, dashboards: dict[str, Dashboard], rng: random.Random) -> View:
    """The view a person opens first: their role's dashboard at its default range."""
    name = HOME[role] if HOME.get(role) in dashboards else rng.choice(allowed(role, dashboards))
    board = dashboards[name]
    return View(board, relative(board.default), wants_for(role, board, rng))


def next_view(role: str, current: View, dashboards: dict[str, Dashboard], now: datetime, rng: random.Random,
              closed_only: bool = False) -> View:
    """What a person does next: another dashboard or the same one, over another range or with other variables."""
    board = current.dashboard
    if rng.random() < 0.5:
        board = dashboards[rng.choice(allowed(role, dashboards))]
    pick = rng.random()
    if closed_only:
        span = quarter(now, rng.choice((1, 1, 2, 3, 4))) if pick < 0.6 else custom_days(now, rng)
    elif pick < 0.3:
        span = relative(board.default)
    elif pick < 0.5:
        span = relative(rng.choice(list(QUICK)))
    elif pick < 0.6:
        span = quarter(now, rng.choice((1, 1, 2, 3, 4)))
    elif pick < 0.7:
        span = custom_days(now, rng)
    else:
        span = zoom(current.rng, now, rng)
    return View(board, span, wants_for(role, board, rng))


def pick_value(want: str, options: list[dict[str, Any]], own: tuple[str | None, str | None], var: str,
               rng: random.Random) -> str:
    """The value a person picks among a variable's options: their own team or id when asked and offered."""
    values = [str(o.get("__value")) for o in options if o.get("__value") not in (None, "")]
    if not values:
        return ALL
    mine = own[0] if var == "agent" else own[1] if var == "team" else None
    if want == "own" and mine in values:
        return str(mine)
    return rng.choice(values)
