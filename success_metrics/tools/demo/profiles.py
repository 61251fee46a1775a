"""Who the demo tenants are: ``acme`` and ``globex`` by hand, any other id a synthesised partner.

``profile(tenant_id)`` is deterministic for the id (its random generator is seeded from it), so a benchmark
can ask for twenty tenants and get the same twenty every time.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from success_metrics.calculators import TenantSettings
from success_metrics.settings import TenantConfig

DEMO_TENANTS = ("acme", "globex")
SOURCES = ("website_form", "social_media", "referral", "paid_ads")
FIRST_NAMES = ("Sarah", "Mike", "Lisa", "David", "Ana", "James", "Priya", "Tom", "Grace", "Omar", "Nina", "Luis",
               "Chen", "Rachel", "Ben", "Fatima", "Ethan", "Maya", "Kofi", "Elena")
LAST_INITIALS = "MRKLTBSNGPDWHC"


@dataclass(frozen=True, slots=True)
class Agent:
    id: str
    name: str
    team_id: str
    location_id: str
    speed: float  # multiplies time to first contact (lower is faster)
    skill: float  # multiplies appointment and close probability
    weight: float  # share of routed leads


@dataclass(frozen=True, slots=True)
class Profile:
    """One demo tenant: who it is, its people and places, and how busy it is."""

    tenant_id: str
    name: str
    settings: TenantSettings
    teams: tuple[tuple[str, str], ...]  # (id, name)
    locations: tuple[tuple[str, str, str], ...]  # (id, name, IANA zone)
    agents: tuple[Agent, ...]
    leads_per_month: float  # at the end of the period, before seasonality
    source_mix: tuple[float, float, float, float]  # SOURCES order
    deal_values: tuple[float, float, float, float]  # mean deal value per source
    incidents_per_month: float = 1.6

    def config(self) -> TenantConfig:
        return TenantConfig(id=self.tenant_id, name=self.name, settings=self.settings)


# in each metric's own unit: percent metrics are 0-100 (ROI 4,000 % as in the spec's example)
_TARGETS = {"roi.monthly": 4000.0, "savings.monthly": 35000.0, "revenue.attributed": 100000.0,
            "time_savings.hours": 120.0, "conversion.lead_to_appointment": 45.0, "conversion.lead_to_close": 20.0,
            "uptime.system": 99.5}


def _people(rng: random.Random, prefix: str, teams: Sequence[tuple[str, str]],
            locations: Sequence[tuple[str, str, str]], count: int) -> tuple[Agent, ...]:
    names = rng.sample(FIRST_NAMES, count)
    agents = []
    for i, first in enumerate(names):
        team = teams[i % len(teams)][0]
        agents.append(Agent(
            id=f"{prefix}-agent-{i + 1:02d}", name=f"{first} {rng.choice(LAST_INITIALS)}.", team_id=team,
            location_id=locations[i % len(locations)][0], speed=rng.uniform(0.55, 1.6), skill=rng.uniform(0.8, 1.2),
            weight=rng.uniform(0.7, 1.3),
        ))
    return tuple(agents)


def profile(tenant_id: str) -> Profile:
    """The demo profile of a tenant: acme and globex are hand-made, any other id is synthesised from it."""
    rng = random.Random(zlib.crc32(tenant_id.encode()))
    if tenant_id == "acme":
        teams = (("acme-north", "North Team"), ("acme-south", "South Team"), ("acme-inside", "Inside Sales"))
        locations = (("acme-austin", "Austin", "America/Chicago"), ("acme-dallas", "Dallas", "America/Chicago"),
                     ("acme-denver", "Denver", "America/Denver"))
        settings = TenantSettings(
            timezone="America/Chicago", currency="USD", hourly_rate=45.0, hours_saved_per_task=0.25, error_cost=75.0,
            monthly_costs={"infrastructure": 12.0, "api": 89.0, "support": 0.0}, targets=_TARGETS,
            branding={"name": "Acme LeadPulse", "logo_url": "https://assets.acme.example/leadpulse-logo.svg",
                      "primary_color": "#d9480f", "secondary_color": "#2b8a3e", "custom_domain": "metrics.acme.example"},
        )
        return Profile("acme", "Acme Realty Group", settings, teams, locations, _people(rng, "acme", teams, locations, 11),
                       leads_per_month=300, source_mix=(0.42, 0.16, 0.11, 0.31),
                       deal_values=(8950, 7200, 12300, 6800))
    if tenant_id == "globex":
        teams = (("globex-east", "East Coast"), ("globex-west", "West Coast"))
        locations = (("globex-nyc", "New York", "America/New_York"), ("globex-boston", "Boston", "America/New_York"),
                     ("globex-la", "Los Angeles", "America/Los_Angeles"))
        settings = TenantSettings(
            timezone="America/New_York", currency="USD", hourly_rate=52.0, hours_saved_per_task=0.3, error_cost=60.0,
            monthly_costs={"infrastructure": 25.0, "api": 140.0, "support": 49.0},
            targets={**_TARGETS, "revenue.attributed": 80000.0, "savings.monthly": 30000.0},
            branding={"name": "Globex Insight", "logo_url": "https://cdn.globex.example/brand/insight.png",
                      "primary_color": "#5f3dc4", "secondary_color": "#f59f00", "custom_domain": "insight.globex.example"},
        )
        return Profile("globex", "Globex Home Services", settings, teams, locations,
                       _people(rng, "globex", teams, locations, 9), leads_per_month=210,
                       source_mix=(0.36, 0.24, 0.14, 0.26), deal_values=(6400, 5100, 9800, 4700),
                       incidents_per_month=2.2)
    zones = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Phoenix")
    zone = rng.choice(zones)
    teams = tuple((f"{tenant_id}-team-{i + 1}", f"Team {chr(65 + i)}") for i in range(rng.randint(2, 3)))
    locations = tuple((f"{tenant_id}-loc-{i + 1}", f"Office {i + 1}", rng.choice(zones)) for i in range(rng.randint(1, 3)))
    settings = TenantSettings(
        timezone=zone, hourly_rate=round(rng.uniform(35, 60), 2), error_cost=round(rng.uniform(50, 90), 2),
        monthly_costs={"infrastructure": round(rng.uniform(10, 40), 2), "api": round(rng.uniform(60, 160), 2),
                       "support": round(rng.choice((0.0, 25.0, 50.0)), 2)},
        targets=_TARGETS,
        branding={"name": f"{tenant_id.title()} Metrics", "primary_color": f"#{rng.randrange(0x1000000):06x}",
                  "secondary_color": f"#{rng.randrange(0x1000000):06x}"},
    )
    mix = [rng.uniform(0.5, 1.5) * base for base in (0.42, 0.16, 0.11, 0.31)]
    total = sum(mix)
    return Profile(tenant_id, f"{tenant_id.title()} Partners", settings, teams, locations,
                   _people(rng, tenant_id, teams, locations, rng.randint(8, 12)),
                   leads_per_month=rng.uniform(180, 320), source_mix=tuple(m / total for m in mix),  # type: ignore[arg-type]
                   deal_values=tuple(round(v * rng.uniform(0.7, 1.3)) for v in (8950, 7200, 12300, 6800)))  # type: ignore[arg-type]

