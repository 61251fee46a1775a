"""Wire-format events (the dicts the automation engine would POST) for one demo tenant, a day at a time.

``generate(profile, seed=…, months=…, end=…, scale=…)`` is deterministic: the same profile, seed, months,
end and scale give the same events.

Shapes worth seeing on the dashboards: growth (about +2.5 % a month) with seasonality (spring and
autumn peaks, a December dip) and weekday/business-hour arrival; the spec's source mix; score bands
hot/warm/cold ≈ 23/51/26 %, hot leads converting far more; conversion falling as time to first contact
grows; agents of different speed and skill; incidents (degradations and outages of one component:
slow calls and bursts of failures with error categories, retried); monthly costs; errors prevented;
daily agent time allocation drifting from pre-automation habits; contact attempts at the recipient's
local time with consent, including a few TCPA and CAN-SPAM violations; a few GDPR erasure requests.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from success_metrics.tools.demo.profiles import SOURCES, Profile

SEASON = (0.86, 0.92, 1.06, 1.12, 1.1, 1.0, 0.9, 0.92, 1.06, 1.1, 0.96, 0.76)  # January … December
WEEKDAY = (1.12, 1.1, 1.06, 1.04, 0.96, 0.45, 0.33)  # Monday … Sunday
# component -> (external service or None, median latency ms, normal success rate)
COMPONENTS: dict[str, tuple[str | None, float, float]] = {
    "webhook_receiver": (None, 127, 0.998),
    "sms_gateway": ("twilio", 450, 0.989),
    "email_service": ("sendgrid", 890, 0.979),
    "enrichment": ("apollo", 2100, 0.873),
    "scoring": (None, 160, 0.995),
    "routing": (None, 90, 0.996),
    "crm_sync": ("gohighlevel", 1800, 0.992),
}
SERVICE_LIMITS = {"apollo": 900, "twilio": 2400, "sendgrid": 2000, "gohighlevel": 520}  # requests per 6 h
ERROR_KINDS = {"duplicate_lead": 0.35, "invalid_phone": 0.25, "invalid_email": 0.2, "missing_field": 0.12,
               "double_booking": 0.08}
LEAD_FIRST = ("Alex", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn", "Drew", "Sam",
              "Robin", "Kim", "Lee", "Pat", "Chris")
LEAD_LAST = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Lopez", "Wilson",
             "Anderson", "Thomas", "Moore", "Martin", "Clark", "Lewis")


def demo_end(now: datetime | None = None) -> datetime:
    """The demo's data ends at the start of the current hour."""
    now = now or datetime.now(UTC)
    return now.replace(minute=0, second=0, microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class Incident:
    component: str
    start: datetime
    end: datetime
    outage: bool  # an outage fails most calls; a degradation slows them and fails some

    def covers(self, component: str, moment: datetime) -> bool:
        return component == self.component and self.start <= moment < self.end


@dataclass
class _Gen:
    p: Profile
    rng: random.Random
    start: datetime
    end: datetime
    scale: float
    out: list[dict[str, Any]] = field(default_factory=list)
    seq: int = 0
    leads: int = 0
    incidents: list[Incident] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)  # per external service, for api.usage

    def emit(self, kind: str, at: datetime, data: dict[str, Any], lead: str | None = None,
             agent: str | None = None) -> None:
        if at >= self.end or at < self.start:
            return
        self.seq += 1
        event: dict[str, Any] = {"id": f"{self.p.tenant_id}-e{self.seq:08d}", "type": kind, "occurred_at": _iso(at)}
        if lead:
            event["lead_id"] = lead
        if agent:
            event["agent_id"] = agent
        event["data"] = data
        self.out.append(event)

    # a component call, slower or failing inside an incident; failed calls are retried (bursts)
    def call(self, component: str, at: datetime, lead: str | None = None) -> tuple[bool, datetime]:
        service, median, success = COMPONENTS[component]
        rng = self.rng
        incident = next((i for i in self.incidents if i.covers(component, at)), None)
        for attempt in range(4):
            latency = median * math.exp(rng.gauss(0, 0.35))
            p_ok = success
            if incident:
                latency *= 2.5 if incident.outage else 3.2
                p_ok = 0.08 if incident.outage else 0.82
            ok = rng.random() < p_ok
            data: dict[str, Any] = {"component": component, "latency_ms": round(latency, 1), "ok": ok}
            if service:
                data["service"] = service
                self.calls[service] = self.calls.get(service, 0) + 1
            if not ok:
                if incident and incident.outage:
                    data["error_category"] = rng.choice(("timeout", "server_error", "network", "timeout"))
                    data["status_code"] = rng.choice((502, 503, 504))
                elif incident:
                    data["error_category"] = rng.choice(("rate_limit", "timeout", "rate_limit"))
                    data["status_code"] = 429 if data["error_category"] == "rate_limit" else 504
                else:
                    data["error_category"] = rng.choices(
                        ("validation", "timeout", "authentication", "rate_limit", "server_error"),
                        (0.4, 0.25, 0.1, 0.15, 0.1))[0]
            self.emit("component.call", at, data, lead=lead)
            at += timedelta(milliseconds=latency)
            if ok or (data.get("error_category") in ("validation", "authentication")):
                return ok, at
            at += timedelta(seconds=2 ** attempt)  # back off, then retry
        return False, at


def _growth(months_before_end: float) -> float:
    return 1.025 ** (-months_before_end)


def _in_contact_hours(rng: random.Random, moment: datetime, zone: ZoneInfo) -> datetime:
    """Move a manual contact into 08:30–20:30 at the recipient, as a careful agent would."""
    local = moment.astimezone(zone)
    if local.hour < 8 or (local.hour == 8 and local.minute < 30):
        local = local.replace(hour=8, minute=30) + timedelta(minutes=rng.uniform(0, 90))
    elif local.hour >= 20:
        local = (local + timedelta(days=1)).replace(hour=8, minute=30) + timedelta(minutes=rng.uniform(0, 120))
    return local.astimezone(UTC)


def _score(rng: random.Random, source: str) -> int:
    hot, warm = {"referral": (0.42, 0.45), "website_form": (0.24, 0.52), "social_media": (0.17, 0.52),
                 "paid_ads": (0.18, 0.53)}[source]
    band = rng.random()
    if band < hot:
        return rng.randint(80, 100)
    if band < hot + warm:
        return rng.randint(40, 79)
    return rng.randint(0, 39)


def _speed_factor(hours: float) -> float:
    """Conversion multiplier by time to first contact: minutes matter."""
    if hours < 0.1:
        return 1.3
    if hours < 1:
        return 1.15
    if hours < 4:
        return 1.0
    if hours < 24:
        return 0.78
    return 0.55


def _lead(g: _Gen, created: datetime, violations: dict[str, int]) -> None:
    p, rng = g.p, g.rng
    g.leads += 1
    lead = f"{p.tenant_id}-lead-{g.leads:06d}"
    source = rng.choices(SOURCES, p.source_mix)[0]
    loc_id, loc_name, zone_name = rng.choice(p.locations)
    zone = ZoneInfo(zone_name)
    sms_ok = rng.random() > 0.06
    first, last = rng.choice(LEAD_FIRST), rng.choice(LEAD_LAST)
    contact = {"name": f"{first} {last}", "email": f"{first.lower()}.{last.lower()}{g.leads}@example.com",
               "phone": f"+1 555 {rng.randrange(1000):03d} {rng.randrange(10000):04d}"}
    g.emit("lead.created", created,
           {"source": source, "location_id": loc_id, "location_name": loc_name, "contact": contact,
            "consent": {"sms": sms_ok, "email": True, "phone": True},
            "priority": "high" if source == "referral" else "normal"}, lead=lead)
    _, t = g.call("webhook_receiver", created, lead)
    g.call("crm_sync", t + timedelta(seconds=rng.uniform(1, 5)), lead)

    # automated first response (the spec's 60 s target)
    channel = "sms" if sms_ok else "email"
    sent_ok, t = g.call("sms_gateway" if channel == "sms" else "email_service",
                        t + timedelta(seconds=max(3.0, rng.lognormvariate(math.log(22), 0.5))), lead)
    g.emit("lead.responded", t, {"channel": channel, "ok": sent_ok, "automated": True}, lead=lead)
    enriched, t = g.call("enrichment", t + timedelta(seconds=rng.uniform(1, 4)), lead)
    g.emit("lead.enriched", t, {"ok": enriched, "provider": "apollo", "fields_added": rng.randint(4, 18) if enriched else 0},
           lead=lead)
    _, t = g.call("scoring", t + timedelta(seconds=rng.uniform(0.5, 2)), lead)
    score = _score(rng, source)
    g.emit("lead.scored", t, {"score": score, "model": "v3"}, lead=lead)
    routed, t = g.call("routing", t + timedelta(seconds=rng.uniform(0.5, 2)), lead)
    agent = rng.choices(p.agents, [a.weight for a in p.agents])[0]
    team_name = dict(p.teams)[agent.team_id]
    g.emit("lead.routed", t, {"team_id": agent.team_id, "team_name": team_name, "agent_name": agent.name,
                              "rule": "round_robin_weighted", "ok": routed}, lead=lead, agent=agent.id)

    # the agent's first contact: faster for hot leads, slower off hours, each agent at their own pace
    band_speed = 0.5 if score >= 80 else (1.0 if score >= 40 else 1.8)
    delay_h = rng.lognormvariate(math.log(1.6), 0.9) * agent.speed * band_speed
    first_contact = _in_contact_hours(rng, t + timedelta(hours=delay_h), zone)
    hours_to_contact = (first_contact - created).total_seconds() / 3600
    base = 0.72 if score >= 80 else (0.42 if score >= 40 else 0.14)
    source_factor = {"referral": 1.35, "website_form": 1.0, "social_media": 0.9, "paid_ads": 0.85}[source]
    p_appointment = min(0.95, base * _speed_factor(hours_to_contact) * source_factor * agent.skill)
    will_meet = rng.random() < p_appointment
    touches = rng.randint(1, 3) if will_meet else rng.randint(1, 6)
    at = first_contact
    unsubscribed = False
    manual = False
    for touch in range(touches):
        manual_touch = touch == 0 or rng.random() < 0.55
        manual = manual or manual_touch
        ch = rng.choices(("phone", "sms", "email"), (0.55, 0.25, 0.2) if manual_touch else (0, 0.5, 0.5))[0]
        consent = sms_ok if ch == "sms" else True
        if ch == "sms" and not sms_ok:
            if rng.random() < 0.04 and violations["tcpa_consent"] < 3:  # a rare send without consent
                violations["tcpa_consent"] += 1
            else:
                ch, consent = "email", True
        moment = at
        if ch == "sms" and rng.random() < 0.003 and violations["tcpa_hours"] < 6:  # a late-night text
            violations["tcpa_hours"] += 1
            local = moment.astimezone(zone)
            moment = local.replace(hour=rng.choice((21, 22, 7)), minute=rng.randrange(60)).astimezone(UTC)
        if ch == "email" and unsubscribed:
            if violations["canspam"] >= 3 or rng.random() > 0.2:
                break
            violations["canspam"] += 1  # an email after the unsubscribe
        outcome = rng.choices(
            ("answered", "no_answer", "voicemail") if ch == "phone" else ("delivered", "replied", "failed"),
            (0.45, 0.35, 0.2) if ch == "phone" else (0.6, 0.36, 0.04))[0]
        if ch == "email" and not unsubscribed and rng.random() < 0.02:
            outcome, unsubscribed = "unsubscribed", True
        data: dict[str, Any] = {"channel": ch, "outcome": outcome, "automated": not manual_touch, "consent": consent,
                                "recipient_local_time": moment.astimezone(zone).strftime("%H:%M"),
                                "recipient_timezone": zone_name}
        if ch == "email":
            data["unsubscribe_link"] = True
        if ch == "phone" and outcome == "answered":
            data["duration_s"] = round(rng.uniform(60, 900))
        g.emit("contact.attempted", moment, data, lead=lead, agent=agent.id if manual_touch else None)
        at = _in_contact_hours(rng, at + timedelta(hours=rng.lognormvariate(math.log(20), 0.6)), zone)

    if not will_meet:
        step_at = created + timedelta(days=rng.uniform(1, 3))
        for step in range(1, rng.randint(1, 4)):
            ch = rng.choice(("sms", "email")) if sms_ok else "email"
            g.emit("lead.nurtured", step_at, {"sequence": "cold-drip" if score < 40 else "warm-nurture",
                                               "step": step, "channel": ch, "ok": rng.random() < 0.962}, lead=lead)
            step_at += timedelta(days=rng.uniform(3, 8))
    else:
        booked = at + timedelta(hours=rng.uniform(0.1, 30))
        g.emit("appointment.scheduled", booked,
               {"scheduled_for": _iso(booked + timedelta(days=rng.uniform(1, 7))), "automated": rng.random() < 0.4,
                "channel": rng.choice(("phone", "sms", "email"))}, lead=lead, agent=agent.id)
        p_close = min(0.95, (0.78 if score >= 80 else 0.42 if score >= 40 else 0.25) * agent.skill * source_factor * 0.85)
        if rng.random() < p_close:
            closed = booked + timedelta(days=rng.lognormvariate(math.log(12), 0.5))
            value = p.deal_values[SOURCES.index(source)] * rng.lognormvariate(0, 0.3)
            roll = rng.random()
            attribution = "influenced" if roll < 0.1 else ("direct" if not manual or roll < 0.45 else "assisted")
            g.emit("deal.closed", closed, {"value": round(value, 2), "attribution_class": attribution, "currency": "USD"},
                   lead=lead, agent=agent.id)
            g.call("crm_sync", closed + timedelta(seconds=2), lead)
    if rng.random() < 0.0025:  # GDPR erasure: usually completed within days, one overdue
        asked = created + timedelta(days=rng.uniform(20, 120))
        g.emit("erasure.requested", asked, {"request_id": f"gdpr-{g.leads}", "channel": "email"}, lead=lead)
        late = violations["gdpr_late"] < 1 and rng.random() < 0.3
        violations["gdpr_late"] += int(late)
        g.emit("erasure.completed", asked + timedelta(days=rng.uniform(35, 45) if late else rng.uniform(1, 12)),
               {"request_id": f"gdpr-{g.leads}"}, lead=lead)


def _incidents(g: _Gen) -> list[Incident]:
    rng, out = g.rng, []
    total_days = (g.end - g.start).days
    count = max(1, round(g.p.incidents_per_month * total_days / 30.4))
    flaky = ("email_service", "enrichment", "crm_sync", "sms_gateway", "enrichment", "crm_sync", "webhook_receiver")
    for _ in range(count):
        start = g.start + timedelta(seconds=rng.uniform(0, total_days * 86400))
        outage = rng.random() < 0.3
        minutes = rng.uniform(15, 90) if outage else rng.uniform(45, 360)
        out.append(Incident(rng.choice(flaky), start, start + timedelta(minutes=minutes), outage))
    # one recent degradation so "now" has something to show
    recent = g.end - timedelta(hours=rng.uniform(2, 20))
    out.append(Incident("email_service", recent, recent + timedelta(hours=3), False))
    return out


def generate(p: Profile, *, seed: int = 7, months: int = 24, end: datetime | None = None,
             scale: float = 1.0) -> Iterator[list[dict[str, Any]]]:
    """One tenant's events, a day at a time (a list per day); deterministic for (profile, seed, months, end, scale)."""
    end = demo_end(end)
    start = (end - timedelta(days=round(months * 30.44))).replace(hour=0)
    rng = random.Random(seed * 1_000_003 + zlib.crc32(p.tenant_id.encode()))
    g = _Gen(p, rng, start, end, scale)
    g.incidents = _incidents(g)
    zone = p.settings.zone
    violations = {"tcpa_consent": 0, "tcpa_hours": 0, "canspam": 0, "gdpr_late": 0}
    day = start
    months_seen: set[str] = set()
    while day < end:
        local_day = day.astimezone(zone)
        months_before_end = (end - day).days / 30.44
        month_key = local_day.strftime("%Y-%m")
        if month_key not in months_seen:
            months_seen.add(month_key)
            _costs(g, day, month_key, months_before_end)
        expected = (p.leads_per_month * scale / 30.44 * SEASON[local_day.month - 1] * WEEKDAY[local_day.weekday()]
                    * _growth(months_before_end))
        for _ in range(_poisson(rng, expected)):
            hour = rng.choices(range(24), _HOURS)[0]
            local = datetime(local_day.year, local_day.month, local_day.day, hour, rng.randrange(60),
                             rng.randrange(60), tzinfo=zone)
            _lead(g, local.astimezone(UTC), violations)
        _day_of_work(g, local_day, months_before_end)
        yield g.out
        g.out = []
        day += timedelta(days=1)


_HOURS = (0.2, 0.1, 0.1, 0.1, 0.2, 0.4, 0.9, 1.8, 3.2, 4.4, 4.8, 4.6, 4.2, 4.4, 4.5, 4.2, 3.8, 3.2, 2.8, 2.4, 1.9,
          1.3, 0.8, 0.4)


def _poisson(rng: random.Random, mean: float) -> int:
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, prod = math.exp(-mean), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


def _costs(g: _Gen, day: datetime, month_key: str, months_before_end: float) -> None:
    costs = g.p.settings.monthly_costs
    growth = _growth(months_before_end)
    at = day + timedelta(hours=6)
    g.emit("cost.recorded", at, {"category": "infrastructure", "amount": costs.infrastructure, "month": month_key})
    shares = {"apollo": 0.45, "twilio": 0.25, "sendgrid": 0.12, "gohighlevel": 0.18}
    for service, share in shares.items():
        amount = round(costs.api * share * (0.75 + 0.25 * growth / 1.0) * g.rng.uniform(0.92, 1.08), 2)
        g.emit("cost.recorded", at, {"category": "api", "amount": amount, "month": month_key, "service": service})
    if costs.support:
        g.emit("cost.recorded", at, {"category": "support", "amount": costs.support, "month": month_key})


def _day_of_work(g: _Gen, local_day: datetime, months_before_end: float) -> None:
    p, rng = g.p, g.rng
    zone = p.settings.zone
    noon = datetime(local_day.year, local_day.month, local_day.day, 12, tzinfo=zone).astimezone(UTC)
    # agents' day: selling share grows from pre-automation habits to ~78 % over the first months
    months_in = (noon - g.start).days / 30.44
    ramp = min(1.0, max(0.0, months_in / 6))
    if local_day.weekday() < 5:
        for a in p.agents:
            if rng.random() < 0.04:  # a day off
                continue
            total = rng.uniform(400, 500)
            selling = (0.6 + 0.18 * ramp) * rng.uniform(0.92, 1.08)
            admin = (0.24 - 0.12 * ramp) * rng.uniform(0.85, 1.15)
            follow = max(0.02, 1 - selling - admin)
            g.emit("agent.activity", datetime(local_day.year, local_day.month, local_day.day, 18, 30, tzinfo=zone)
                   .astimezone(UTC) + timedelta(seconds=rng.randrange(600)),
                   {"selling_minutes": round(total * selling, 1), "admin_minutes": round(total * admin, 1),
                    "followup_minutes": round(total * follow, 1), "agent_name": a.name, "team_id": a.team_id,
                    "team_name": dict(p.teams)[a.team_id], "location_id": a.location_id}, agent=a.id)
    # errors the automation caught today
    expected = p.leads_per_month * g.scale * _growth(months_before_end) * 0.4 / 30.44
    for kind, share in ERROR_KINDS.items():
        n = _poisson(rng, expected * share)
        if n:
            g.emit("error.prevented", noon + timedelta(minutes=rng.randrange(600)), {"kind": kind, "count": n})
    # external API rate-limit use, every 6 hours
    growth = _growth(months_before_end)
    for quarter in range(4):
        at = datetime(local_day.year, local_day.month, local_day.day, tzinfo=zone).astimezone(UTC) + timedelta(
            hours=6 * quarter + 6)
        for service, limit in SERVICE_LIMITS.items():
            share = {"apollo": 0.67, "twilio": 0.34, "sendgrid": 0.45, "gohighlevel": 0.78}[service]
            busy = 1.25 if quarter in (1, 2) else 0.6
            used = min(1.0, share * busy * (0.7 + 0.3 * growth) * rng.uniform(0.85, 1.15) * min(1.5, g.scale ** 0.2))
            requests = int(limit * used)
            g.emit("api.usage", at, {"service": service, "requests": requests, "errors": int(requests * rng.uniform(0, 0.03)),
                                     "rate_limit": limit, "rate_limit_used": round(used, 4), "period_minutes": 360})
