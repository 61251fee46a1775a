"""Deterministic demo data: months of realistic events for white-label tenants, through the real ingest.

``profiles``: who each demo tenant is (branding, settings, teams, locations, agents, volume).
``generator``: a tenant's events, a day at a time, the same for the same seed, end and scale.
``loader``: those events stored through ``ingest.intake`` (source "demo"), chunk by chunk.
``success_metrics.tools.demo_setup`` is the ``success-metrics demo`` command built on them.
"""

from success_metrics.tools.demo.generator import demo_end, generate
from success_metrics.tools.demo.loader import LoadStats, load
from success_metrics.tools.demo.profiles import DEMO_TENANTS, SOURCES, Agent, Profile, profile

__all__ = ["DEMO_TENANTS", "SOURCES", "Agent", "LoadStats", "Profile", "demo_end", "generate", "load", "profile"]
