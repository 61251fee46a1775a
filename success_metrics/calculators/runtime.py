"""Facts about the running service that only the service knows, published by it at start for System Health.

The database metrics read the pool's occupancy, whether the service itself serves TLS and the retention it
applies from here, as system.resources reads the process through psutil: calculators cannot import the
service (imports point datasource → rbac → calculators), so the service hands these over instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PoolStats:
    """The connection pool now: connections open (in use + idle), its cap, and callers waiting for one."""

    size: int
    max_size: int
    in_use: int
    idle: int
    waiting: int


@dataclass(frozen=True, slots=True)
class ServiceFacts:
    pool: Callable[[], PoolStats] | None = None  # None: no service pool (a one-shot command)
    tls: bool = False  # the service serves HTTPS itself (tls_cert and tls_key set)
    retention_months: int = 24
    # how the service's connections reach PostgreSQL: (yes | local | no, in words), as its own session sees it
    database_link: tuple[str, str] | None = None


_published: list[ServiceFacts] = [ServiceFacts()]


def publish(facts: ServiceFacts) -> None:
    _published[0] = facts


def facts() -> ServiceFacts:
    return _published[0]
