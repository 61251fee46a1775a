"""A tenant's business settings: the inputs of the spec's formulas that are not events.

Stored per tenant in the ``tenants.settings`` column (seeded from SM_CONFIG) and read by computations
through their connection. Every field has a sensible default so a new tenant computes at once.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator


class MonthlyCosts(BaseModel):
    """System costs per month by the spec's categories, in the tenant's currency."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    infrastructure: float = Field(12.0, ge=0)
    api: float = Field(89.0, ge=0)
    support: float = Field(0.0, ge=0)


class AttributionWeights(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    direct: float = Field(0.90, ge=0, le=1)
    assisted: float = Field(0.50, ge=0, le=1)
    influenced: float = Field(0.25, ge=0, le=1)


class Baseline(BaseModel):
    """Pre-automation figures the 'before vs after' panels compare against."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    lead_to_appointment: float = Field(0.30, ge=0, le=1)
    lead_to_close: float = Field(0.12, ge=0, le=1)
    response_time_hours: float = Field(4.0, ge=0)
    selling_share: float = Field(0.45, ge=0, le=1)
    admin_share: float = Field(0.35, ge=0, le=1)
    followup_share: float = Field(0.20, ge=0, le=1)
    manual_minutes_per_lead: float = Field(15.0, ge=0)


class EfficiencyWeights(BaseModel):
    """Weights of the agent efficiency score's inputs (normalised when used)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    response_time: float = Field(0.25, ge=0)
    appointment_rate: float = Field(0.25, ge=0)
    close_rate: float = Field(0.30, ge=0)
    revenue: float = Field(0.20, ge=0)


class Branding(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = "Success Metrics"
    logo_url: str | None = None
    primary_color: str = Field("#1f60c4", pattern=r"^#[0-9a-fA-F]{6}$")
    secondary_color: str = Field("#73bf69", pattern=r"^#[0-9a-fA-F]{6}$")
    custom_domain: str | None = None


class TenantSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    timezone: str = "UTC"
    currency: str = Field("USD", min_length=3, max_length=3)
    hourly_rate: float = Field(45.0, ge=0)
    hours_saved_per_task: float = Field(0.25, ge=0, description="manual hours one automated task replaces")
    error_cost: float = Field(75.0, ge=0, description="average cost of one manual-process error")
    monthly_costs: MonthlyCosts = MonthlyCosts()
    attribution_weights: AttributionWeights = AttributionWeights()
    baseline: Baseline = Baseline()
    efficiency_weights: EfficiencyWeights = EfficiencyWeights()
    # metric name -> target for the period (monthly unless the metric says otherwise), in the metric's own
    # unit: percent metrics are 0-100, so a 4,000 % ROI target is 4000
    targets: dict[str, float] = Field(default_factory=dict)
    # agent id -> monthly revenue goal; team id -> monthly revenue goal
    agent_goals: dict[str, float] = Field(default_factory=dict)
    team_goals: dict[str, float] = Field(default_factory=dict)
    sla_success_rate: float = Field(0.99, ge=0, le=1)
    branding: Branding = Branding()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as 'America/New_York'") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
