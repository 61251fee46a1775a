"""Every event type, as data: its fields (the JSON Schema is generated from them), the entity it updates, and
its rollup dimensions and named measures (the rollup function and views are generated from them).

To add an event type: one ``EventModel`` below (``success_metrics.calculators.events.EventType`` follows it); then run
``success-metrics model generate`` (schema file and the next migration). See docs/semantic-model.md.
"""

from __future__ import annotations

from success_metrics.calculators.measures import Agg
from success_metrics.calculators.semantic.model import Entity, EventModel, Field, RollupDimension, RollupMeasure, Slot
from success_metrics.calculators.vocabulary import Unit

L, A, T, C, S, TN = Entity.LEAD, Entity.AGENT, Entity.TEAM, Entity.COMPONENT, Entity.SERVICE, Entity.TENANT
OK = "((d->>'ok')::boolean)::integer::numeric"
MANUAL = "CASE WHEN sm_is_manual(d) THEN 'manual' ELSE 'auto' END"


def ref(name: str, definition: str, required: bool = False) -> Field:
    """A field whose constraints are a shared definition of envelope.json."""
    return Field(name, ref=definition, required=required)


def count(name: str, measure: str, what: str) -> RollupMeasure:
    """The n slot: how many events of the type fell in the bucket and key."""
    return RollupMeasure(name, Slot.N, Agg.COUNT, Unit.COUNT, measure, what)


def dim(name: str, slot: Slot, sql: str, what: str) -> RollupDimension:
    return RollupDimension(name, slot, sql, what)


EVENT_MODELS: tuple[EventModel, ...] = (
    EventModel(
        "lead.created",
        "A lead arrived. Carries its source, location and contact details (scrubbed on erasure). lead_id required.",
        (L,), (
            ref("source", "source", True), ref("location_id", "id"), ref("location_name", "name"),
            Field("contact", "object", description="Personal data: masked for most roles, erased on request.",
                  properties=(Field("name", "string", max_length=200),
                              Field("email", "string", format="email", max_length=254),
                              Field("phone", "string", pattern=r"^\+?[0-9 ().-]{4,32}$"))),
            Field("consent", "object", description="What the lead agreed to be contacted by.",
                  properties=(Field("sms", "boolean"), Field("email", "boolean"), Field("phone", "boolean"))),
            Field("priority", enum=("high", "normal", "low")),
            Field("campaign", "string", max_length=200),
        ),
        dimensions=(dim("source", Slot.K1, "d->>'source'", "Where the lead came from."),
                    dim("location_id", Slot.K2, "coalesce(d->>'location_id', d->>'location')", "The lead's location.")),
        measures=(count("leads", "leads", "Leads created."),
                  RollupMeasure("high_priority_leads", Slot.S1, Agg.SUM, Unit.COUNT, "leads",
                                "Leads created with priority high.", "(d->>'priority' = 'high')::integer::numeric")),
        envelope_requires=("lead_id",),
    ),
    EventModel(
        "lead.responded",
        "The automation sent its first response to the lead. Response time is occurred_at minus the lead's "
        "creation; the spec's target is 60 s. lead_id required.",
        (L,), (
            ref("channel", "channel", True),
            Field("ok", "boolean", True, description="false when sending failed."),
            Field("automated", "boolean", default=True),
        ),
        dimensions=(dim("channel", Slot.K1, "d->>'channel'", "Channel of the response."),
                    dim("automation", Slot.K3, MANUAL, "'auto' (the automation sent it) or 'manual' (by hand).")),
        measures=(count("responses", "automated_tasks", "Responses, sent or failed."),
                  RollupMeasure("ok_responses", Slot.S1, Agg.SUM, Unit.COUNT, "automated_tasks",
                                "Responses sent successfully.", OK)),
        envelope_requires=("lead_id",),
    ),
    EventModel(
        "lead.enriched", "Enrichment (e.g. Apollo) ran for the lead. lead_id required.", (L,), (
            Field("ok", "boolean", True), ref("provider", "service"),
            Field("fields_added", "integer", minimum=0, maximum=1000),
        ),
        dimensions=(dim("provider", Slot.K1, "d->>'provider'", "The enrichment provider."),),
        measures=(count("enrichments", "automated_tasks", "Enrichment runs."),
                  RollupMeasure("ok_enrichments", Slot.S1, Agg.SUM, Unit.COUNT, "automated_tasks",
                                "Enrichment runs that succeeded.", OK)),
        envelope_requires=("lead_id",),
    ),
    EventModel(
        "lead.scored",
        "The lead was scored 0-100 (hot 80-100, warm 40-79, cold 0-39). The latest score by occurred_at is the "
        "lead's score. lead_id required.",
        (L,), (Field("score", "integer", True, minimum=0, maximum=100), Field("model", "string", max_length=100)),
        dimensions=(dim("score_band", Slot.K1, "sm_score_band((d->>'score')::integer)", "hot, warm or cold."),),
        measures=(count("scorings", "automated_tasks", "Scorings (each one an automated task)."),
                  RollupMeasure("score_sum", Slot.S1, Agg.SUM, Unit.SCORE, "lead_scores", "Sum of the scores.",
                                "(d->>'score')::numeric")),
        envelope_requires=("lead_id",),
    ),
    EventModel(
        "lead.routed",
        "The lead was assigned to an agent (agent_id required, and lead_id). The latest routing by occurred_at "
        "owns the lead. agent_name, team_id and team_name register the agent and team.",
        (L, A, T), (
            ref("team_id", "id"), ref("team_name", "name"), ref("agent_name", "name"),
            Field("rule", "string", max_length=100), Field("ok", "boolean", default=True),
        ),
        dimensions=(dim("team_id", Slot.K1, "coalesce(d->>'team_id', d->>'team')", "The team routed to."),),
        measures=(count("routings", "automated_tasks", "Routings."),
                  RollupMeasure("ok_routings", Slot.S1, Agg.SUM, Unit.COUNT, "automated_tasks",
                                "Routings that succeeded (ok defaults to true).",
                                "(coalesce((d->>'ok')::boolean, true))::integer::numeric")),
        envelope_requires=("lead_id", "agent_id"),
    ),
    EventModel(
        "lead.nurtured", "A nurture sequence step ran for the lead. lead_id required.", (L,), (
            Field("sequence", "string", True, min_length=1, max_length=100),
            Field("step", "integer", minimum=1, maximum=1000), ref("channel", "channel"), Field("ok", "boolean", True),
        ),
        dimensions=(dim("sequence", Slot.K1, "d->>'sequence'", "The nurture sequence."),),
        measures=(count("steps", "automated_tasks", "Nurture steps run."),
                  RollupMeasure("ok_steps", Slot.S1, Agg.SUM, Unit.COUNT, "automated_tasks",
                                "Nurture steps that succeeded.", OK)),
        envelope_requires=("lead_id",),
    ),
    EventModel(
        "contact.attempted",
        "Someone or something tried to reach the lead. channel, outcome, whether it was automated and whether "
        "the lead had consented to this channel at that time; recipient_local_time is the wall clock at the "
        "recipient (TCPA quiet hours are 21:00-08:00). outcome 'unsubscribed' records an opt-out (CAN-SPAM). "
        "agent_id for a manual attempt. lead_id required.",
        (L, A), (
            ref("channel", "channel", True),
            Field("outcome", required=True, enum=("delivered", "opened", "replied", "answered", "no_answer",
                                                  "voicemail", "bounced", "failed", "unsubscribed")),
            Field("automated", "boolean", True), Field("consent", "boolean", True),
            ref("recipient_local_time", "local_time"),
            Field("recipient_timezone", "string", max_length=64,
                  description="IANA zone of the recipient, e.g. America/Chicago."),
            Field("unsubscribe_link", "boolean", description="email only: the message carried an unsubscribe link."),
            Field("duration_s", "number", minimum=0, maximum=86400),
        ),
        dimensions=(dim("channel", Slot.K1, "d->>'channel'", "Channel of the attempt."),
                    dim("outcome", Slot.K2, "d->>'outcome'", "What came of it."),
                    dim("automation", Slot.K3, MANUAL, "'auto' or 'manual' (an agent's attempt).")),
        measures=(count("attempts", "contact_attempts", "Contact attempts."),
                  RollupMeasure("consented_attempts", Slot.S1, Agg.SUM, Unit.COUNT, "contact_attempts",
                                "Attempts the lead had consented to.",
                                "(coalesce((d->>'consent')::boolean, false))::integer::numeric")),
        envelope_requires=("lead_id",),
    ),
    EventModel(
        "appointment.scheduled",
        "An appointment was booked with the lead. occurred_at is when it was booked; scheduled_for when it takes "
        "place. lead_id required, agent_id optional.",
        (L, A), (
            Field("scheduled_for", "string", True, format="date-time"), Field("automated", "boolean"),
            ref("channel", "channel"),
        ),
        dimensions=(dim("agent_id", Slot.K1, "agent", "The agent, if any."),),
        measures=(count("appointments", "lead_funnel", "Appointments booked."),),
        envelope_requires=("lead_id",),
    ),
    EventModel(
        "deal.closed",
        "A deal with the lead was won. value in the tenant's currency; attribution_class says how much the "
        "automation contributed. lead_id required.",
        (L, A), (
            ref("value", "money", True), ref("attribution_class", "attribution_class", True),
            Field("currency", "string", pattern="^[A-Z]{3}$"),
        ),
        dimensions=(dim("attribution_class", Slot.K1, "coalesce(d->>'attribution_class', d->>'attribution')",
                        "direct, assisted or influenced."),
                    dim("agent_id", Slot.K2, "agent", "The agent who closed it, if any.")),
        measures=(count("deals", "lead_funnel", "deal.closed events (lead state keeps one deal per lead)."),
                  RollupMeasure("deal_revenue", Slot.S1, Agg.SUM, Unit.CURRENCY, "deal_revenue",
                                "Value of the deals.", "(d->>'value')::numeric")),
        envelope_requires=("lead_id",),
    ),
    EventModel(
        "agent.activity",
        "How an agent spent one day (agent_id required). Minutes of selling, administrative and follow-up work "
        "for the day that contains occurred_at; agent_name, team_id, team_name and location_id register the agent.",
        (A, T), (
            ref("selling_minutes", "minutes", True), ref("admin_minutes", "minutes", True),
            ref("followup_minutes", "minutes", True), ref("agent_name", "name"), ref("team_id", "id"),
            ref("team_name", "name"), ref("location_id", "id"),
        ),
        dimensions=(dim("agent_id", Slot.K1, "agent", "The agent."),),
        measures=(count("reports", "agent_activity", "Activity reports (agent days)."),
                  *(RollupMeasure(f"{kind}_minutes", slot, Agg.SUM, Unit.COUNT, "agent_activity",
                                  f"Minutes of {kind} work.", f"(d->>'{kind}_minutes')::numeric")
                    for kind, slot in (("selling", Slot.S1), ("admin", Slot.S2), ("followup", Slot.S3)))),
        envelope_requires=("agent_id",),
    ),
    EventModel(
        "component.call",
        "One call of a pipeline component or an external API. error_category is required when ok is false. "
        "lead_id optional.",
        (C, S), (
            ref("component", "component", True), ref("service", "service"),
            Field("latency_ms", "number", True, minimum=0, maximum=3600000), Field("ok", "boolean", True),
            ref("error_category", "error_category"), Field("status_code", "integer", minimum=100, maximum=599),
        ),
        dimensions=(dim("component", Slot.K1, "d->>'component'", "The pipeline component."),
                    dim("service", Slot.K2, "d->>'service'", "The external API called, if any."),
                    dim("error_category", Slot.K3,
                        "CASE WHEN (d->>'ok')::boolean THEN '' ELSE coalesce(d->>'error_category', 'other') END",
                        "'' for a success, else the error category ('other' when none was given).")),
        measures=(count("calls", "component_calls", "Calls."),
                  RollupMeasure("ok_calls", Slot.S1, Agg.SUM, Unit.COUNT, "component_calls", "Calls that succeeded.",
                                OK),
                  RollupMeasure("latency_ms_sum", Slot.S2, Agg.SUM, Unit.MS, "component_latency_ms",
                                "Sum of latencies (for the average).", "(d->>'latency_ms')::numeric"),
                  RollupMeasure("latency_ms_max", Slot.MX, Agg.MAX, Unit.MS, "component_latency_ms",
                                "Slowest call.", "(d->>'latency_ms')::numeric"),
                  RollupMeasure("latency_ms_bins", Slot.H, Agg.PERCENTILE, Unit.MS, "component_latency_ms",
                                "Log-histogram of latencies {bin: count} (success_metrics.calculators.sketches).",
                                "sm_hist_index((d->>'latency_ms')::double precision)")),
        required_if=("ok", False, "error_category"),
    ),
    EventModel(
        "api.usage",
        "Use of an external API's rate limit over a period ending at occurred_at. rate_limit_used is the "
        "fraction of the limit used (0-1).",
        (S,), (
            ref("service", "service", True), Field("requests", "integer", minimum=0),
            Field("errors", "integer", minimum=0), Field("rate_limit", "integer", minimum=1),
            Field("rate_limit_used", "number", True, minimum=0, maximum=1),
            Field("period_minutes", "integer", minimum=1, maximum=44640),
        ),
        dimensions=(dim("service", Slot.K1, "d->>'service'", "The external API."),),
        measures=(count("reports", "api_usage", "Usage reports."),
                  RollupMeasure("requests", Slot.S1, Agg.SUM, Unit.COUNT, "api_usage", "Requests made.",
                                "(d->>'requests')::numeric"),
                  RollupMeasure("rate_limit_used_sum", Slot.S2, Agg.SUM, Unit.RATIO, "api_usage",
                                "Sum of the fractions of the limit used.", "(d->>'rate_limit_used')::numeric"),
                  RollupMeasure("rate_limit_used_max", Slot.MX, Agg.MAX, Unit.RATIO, "api_usage",
                                "Highest fraction of the limit used.", "(d->>'rate_limit_used')::numeric")),
    ),
    EventModel(
        "cost.recorded",
        "A system cost for a month (infrastructure, API or support). month is YYYY-MM; several records of one "
        "category and month add up. service names the API for api costs.",
        (TN,), (
            Field("category", required=True, enum=("infrastructure", "api", "support")),
            ref("amount", "money", True), Field("month", "string", True, pattern="^[0-9]{4}-(0[1-9]|1[0-2])$"),
            ref("service", "service"), Field("currency", "string", pattern="^[A-Z]{3}$"),
        ),
        dimensions=(dim("category", Slot.K1, "d->>'category'", "infrastructure, api or support."),),
        measures=(count("records", "system_costs", "Cost records."),
                  RollupMeasure("amount", Slot.S1, Agg.SUM, Unit.CURRENCY, "system_costs", "Costs recorded.",
                                "(d->>'amount')::numeric")),
    ),
    EventModel(
        "error.prevented",
        "The automation caught errors a manual process would have made. count errors of this kind (cost "
        "avoidance = errors prevented x the tenant's error cost). lead_id optional.",
        (TN,), (
            Field("kind", "string", True, pattern="^[a-z][a-z0-9_]{0,63}$",
                  description="e.g. duplicate_lead, invalid_phone, invalid_email, missing_field, double_booking"),
            Field("count", "integer", True, minimum=1, maximum=1000000),
        ),
        dimensions=(dim("kind", Slot.K1, "coalesce(d->>'kind', d->>'category')", "What kind of error."),),
        measures=(count("records", "errors_prevented", "error.prevented events."),
                  RollupMeasure("errors_prevented", Slot.S1, Agg.SUM, Unit.COUNT, "errors_prevented",
                                "Errors prevented.", "(d->>'count')::numeric")),
    ),
    EventModel(
        "erasure.requested",
        "The lead asked for their personal data to be erased (GDPR). On arrival, contact data of the lead is "
        "scrubbed from lead state and from stored events. lead_id required.",
        (L,), (ref("request_id", "id"), Field("channel", "string", max_length=50)),
        measures=(count("requests", "compliance_facts", "Erasure requests."),),
        envelope_requires=("lead_id",),
    ),
    EventModel(
        "erasure.completed",
        "Every downstream system confirmed the erasure of the lead. Compliance checks that it follows the "
        "request within 30 days. lead_id required.",
        (L,), (ref("request_id", "id"),),
        measures=(count("completions", "compliance_facts", "Erasures confirmed."),),
        envelope_requires=("lead_id",),
    ),
)

MODELS: dict[str, EventModel] = {m.type: m for m in EVENT_MODELS}
