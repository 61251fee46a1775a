"""A dimension's values (teams, agents, locations, sources, channels …) per tenant and row scope, kept briefly.

Every dashboard load asks for its template variables' options (POST /variable, on load and on every refresh), each
a tenant transaction and a DISTINCT over a table, while the values change only when ingest brings a new agent,
team or source. They are kept as long as a live frame (``cache_ttl_live_s``), so a new value shows as soon as the
operational panels' figures that count it. Unmasked, like the result cache: the key names a tenant and a row scope
(what the values depend on), never a principal, and the caller masks them per principal after every hit. One read
per key however many ask at once; at most ``max_entries`` keys, least recently used going first, expired ones at
every insertion (cachetools' TLRUCache). A read that fails is not kept.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from cachetools import TLRUCache

from success_metrics.calculators import Dimension, RowScope, dimension_values
from success_metrics.query.cache import settle
from success_metrics.storage import Database

MAX_ENTRIES = 4096
Values = tuple[tuple[str, str], ...]  # (value, label) pairs, sorted by label
Key = tuple[str, Dimension, RowScope]


class DimensionValues:
    def __init__(self, db: Database, ttl_s: float, *, max_entries: int = MAX_ENTRIES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self._entries: TLRUCache[Key, tuple[float, Values]] = TLRUCache(
            max_entries, ttu=lambda _key, entry, _now: entry[0], timer=clock)
        self._inflight: dict[Key, asyncio.Task[Values]] = {}
        self._clock = clock
        self._invalidated: dict[str, int] = {}  # tenant -> invalidate_tenant calls, so a stale read is not kept

    async def get(self, tenant_id: str, dimension: Dimension, scope: RowScope) -> Values:
        """The dimension's values within ``scope``, from memory when read less than ``ttl_s`` ago."""
        key = (tenant_id, dimension, scope)
        entry = self._entries.get(key)  # an expired entry reads as missing
        if entry is not None:
            return entry[1]
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._read(key, self._invalidated.get(tenant_id, 0)))
            self._inflight[key] = task
            task.add_done_callback(lambda done: settle(self._inflight, key, done))
        return await asyncio.shield(task)  # one caller going away does not cancel the others' read

    async def _read(self, key: Key, invalidated: int) -> Values:
        tenant_id, dimension, scope = key
        async with self.db.tenant(tenant_id) as conn:
            found = tuple(await dimension_values(conn, tenant_id, dimension, scope))
        if self.ttl_s > 0 and invalidated == self._invalidated.get(tenant_id, 0):
            self._entries[key] = (self._clock() + self.ttl_s, found)
        return found

    def invalidate_tenant(self, tenant_id: str) -> None:
        """Forget the tenant's values (its past changed); a read already running is served but not kept."""
        self._invalidated[tenant_id] = self._invalidated.get(tenant_id, 0) + 1
        for key in [k for k in self._inflight if k[0] == tenant_id]:
            del self._inflight[key]
        for key in [k for k in self._entries if k[0] == tenant_id]:
            del self._entries[key]

    def invalidate_all(self) -> None:
        """Forget every tenant's values (notices may have been missed: the listener reconnected)."""
        for tenant_id in {k[0] for k in (*self._entries, *self._inflight)}:
            self.invalidate_tenant(tenant_id)
