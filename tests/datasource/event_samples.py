"""One valid event of every type, for ingest tests (ids prefixed, times relative to ``at``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def one_of_each(prefix: str = "s", at: datetime | None = None, lead: str = "lead-1") -> list[dict[str, Any]]:
    at = at or datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)

    def t(minutes: float) -> str:
        return iso(at + timedelta(minutes=minutes))

    events: list[dict[str, Any]] = [
        {"type": "lead.created", "occurred_at": t(0), "lead_id": lead,
         "data": {"source": "website_form", "location_id": "loc-1", "location_name": "Austin",
                  "contact": {"name": "Jo Doe", "email": "jo@example.com", "phone": "+1 555 010 2030"},
                  "consent": {"sms": True, "email": True}, "priority": "high"}},
        {"type": "lead.responded", "occurred_at": t(0.5), "lead_id": lead, "data": {"channel": "sms", "ok": True}},
        {"type": "lead.enriched", "occurred_at": t(1), "lead_id": lead, "data": {"ok": True, "provider": "apollo"}},
        {"type": "lead.scored", "occurred_at": t(2), "lead_id": lead, "data": {"score": 86}},
        {"type": "lead.routed", "occurred_at": t(3), "lead_id": lead, "agent_id": "agent-1",
         "data": {"agent_name": "Sarah M.", "team_id": "team-1", "team_name": "North"}},
        {"type": "lead.nurtured", "occurred_at": t(60), "lead_id": lead,
         "data": {"sequence": "warm", "step": 1, "channel": "email", "ok": True}},
        {"type": "contact.attempted", "occurred_at": t(30), "lead_id": lead, "agent_id": "agent-1",
         "data": {"channel": "phone", "outcome": "answered", "automated": False, "consent": True,
                  "recipient_local_time": "10:30", "recipient_timezone": "America/Chicago"}},
        {"type": "appointment.scheduled", "occurred_at": t(40), "lead_id": lead, "agent_id": "agent-1",
         "data": {"scheduled_for": t(2000), "automated": False}},
        {"type": "deal.closed", "occurred_at": t(3000), "lead_id": lead, "agent_id": "agent-1",
         "data": {"value": 8950.5, "attribution_class": "assisted"}},
        {"type": "agent.activity", "occurred_at": t(600), "agent_id": "agent-1",
         "data": {"selling_minutes": 350, "admin_minutes": 60, "followup_minutes": 50, "agent_name": "Sarah M."}},
        {"type": "component.call", "occurred_at": t(0.1),
         "data": {"component": "sms_gateway", "service": "twilio", "latency_ms": 450.5, "ok": False,
                  "error_category": "timeout", "status_code": 504}},
        {"type": "api.usage", "occurred_at": t(360),
         "data": {"service": "apollo", "requests": 600, "rate_limit": 900, "rate_limit_used": 0.67}},
        {"type": "cost.recorded", "occurred_at": t(5),
         "data": {"category": "api", "amount": 89.0, "month": (at).strftime("%Y-%m"), "service": "apollo"}},
        {"type": "error.prevented", "occurred_at": t(7), "data": {"kind": "duplicate_lead", "count": 2}},
        {"type": "erasure.requested", "occurred_at": t(5000), "lead_id": "lead-erase", "data": {"request_id": "r1"}},
        {"type": "erasure.completed", "occurred_at": t(5100), "lead_id": "lead-erase", "data": {"request_id": "r1"}},
    ]
    for n, e in enumerate(events):
        e["id"] = f"{prefix}-{n}"
    return events
