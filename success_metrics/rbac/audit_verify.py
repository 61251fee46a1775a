"""Checking the audit chains, and the signed checkpoints of their heads kept outside the database.

``verify`` walks each tenant's rows in order and reports the first broken link: a row whose content no
longer matches its hash (edited), a gap in ``seq`` or a ``prev_hash`` that does not match (deleted), or a
chain that ends before the last checkpoint says it reached (truncated). ``checkpoint`` writes each chain
head (seq, hash) to a JSON file signed with an HMAC key derived from the service secret; it never moves a
head backwards, so a truncation cannot be blessed by the next checkpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from success_metrics.rbac.audit import GENESIS, chain_hash
from success_metrics.rbac.local_keys import derive_key

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "audit-checkpoints.json"
BATCH = 5000


@dataclass(frozen=True, slots=True)
class Break:
    tenant_id: str
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"tenant {self.tenant_id}: row {self.seq}: {self.problem}"


@dataclass(slots=True)
class VerifyReport:
    rows: dict[str, int] = field(default_factory=dict)  # tenant → rows checked
    breaks: list[Break] = field(default_factory=list)  # the first break of each broken tenant

    @property
    def intact(self) -> bool:
        return not self.breaks

    def summary(self) -> str:
        if self.intact:
            return f"intact: {sum(self.rows.values())} row(s) in {len(self.rows)} chain(s)"
        return "BROKEN: " + "; ".join(str(b) for b in self.breaks)


def checkpoint_key(service_secret: bytes) -> bytes:
    return derive_key(service_secret, "audit-checkpoint")


def _sign(key: bytes, heads: dict[str, Any]) -> str:
    return hmac.new(key, json.dumps(heads, sort_keys=True).encode(), hashlib.sha256).hexdigest()


def read_checkpoints(path: Path, key: bytes) -> dict[str, dict[str, Any]]:
    """tenant → {seq, hash}. A file whose signature does not verify is an error, not an empty set."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    heads = doc.get("heads", {})
    if not hmac.compare_digest(str(doc.get("signature", "")), _sign(key, heads)):
        raise ValueError(f"the audit checkpoint file {path} has an invalid signature")
    return heads


def _write_checkpoints(path: Path, key: bytes, heads: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"heads": heads, "signature": _sign(key, heads)}, f, sort_keys=True)
    os.replace(tmp, path)


async def _tenants(conn: asyncpg.Connection, tenant: str | None, heads: dict[str, Any]) -> list[str]:
    if tenant is not None:
        return [tenant]
    # a skip scan over the primary key: one index probe per tenant, not a pass over every row
    rows = await conn.fetch("""WITH RECURSIVE t AS (
                                   SELECT min(tenant_id) AS id FROM audit_log
                                   UNION ALL
                                   SELECT (SELECT min(tenant_id) FROM audit_log WHERE tenant_id > t.id)
                                   FROM t WHERE t.id IS NOT NULL)
                               SELECT id FROM t WHERE id IS NOT NULL""")
    found = {r["id"] for r in rows}
    return sorted(found | set(heads))


@dataclass(frozen=True, slots=True)
class _Walk:
    last_seq: int  # the last row that checked out (0: none)
    last_hash: str
    broken: Break | None


async def _walk(conn: asyncpg.Connection, tenant: str, after_seq: int = 0, prev: str = GENESIS) -> _Walk:
    """Check the chain from row ``after_seq + 1`` on, given the hash of row ``after_seq``."""
    expected = after_seq + 1
    while True:
        rows = await conn.fetch("SELECT * FROM audit_log WHERE tenant_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
                                tenant, expected, BATCH)
        for r in rows:
            row = dict(r)
            problem = None
            if row["seq"] != expected:
                problem = f"missing (rows {expected}..{row['seq'] - 1} were deleted)"
            elif row["prev_hash"] != prev:
                problem = "its link to the previous row is broken"
            elif chain_hash(prev, row) != row["hash"]:
                problem = "its content was changed after it was written"
            if problem:
                return _Walk(expected - 1, prev, Break(tenant, expected, problem))
            prev, expected = row["hash"], expected + 1
        if len(rows) < BATCH:
            return _Walk(expected - 1, prev, None)


async def _check(conn: asyncpg.Connection, tenant: str, head: dict[str, Any] | None, *, from_head: bool) -> _Walk:
    """One tenant's chain against its checkpointed head; ``from_head`` trusts the rows up to the head."""
    if head is None:
        return await _walk(conn, tenant)
    seq, want = int(head["seq"]), str(head["hash"])
    if from_head:
        at = await conn.fetchval("SELECT hash FROM audit_log WHERE tenant_id = $1 AND seq = $2", tenant, seq)
        if at != want:
            return _Walk(seq - 1, "", Break(tenant, seq, "differs from the checkpointed chain head"))
        return await _walk(conn, tenant, seq, want)
    walked = await _walk(conn, tenant)
    if walked.broken is None:
        if seq > walked.last_seq:
            return _Walk(walked.last_seq, walked.last_hash, Break(
                tenant, walked.last_seq + 1, f"missing: the chain ends at row {walked.last_seq} but a checkpoint "
                                             f"recorded row {seq} (the tail was truncated)"))
        at = await conn.fetchval("SELECT hash FROM audit_log WHERE tenant_id = $1 AND seq = $2", tenant, seq)
        if at != want:
            return _Walk(walked.last_seq, walked.last_hash,
                         Break(tenant, seq, "differs from the checkpointed chain head"))
    return walked


async def verify(conn: asyncpg.Connection, tenant: str | None = None, *, checkpoints: Path | None = None,
                 key: bytes | None = None) -> VerifyReport:
    """Walk every chain (or one tenant's) from its first row, then hold it against the signed checkpoint."""
    heads = read_checkpoints(checkpoints, key) if checkpoints and key else {}
    report = VerifyReport()
    for t in await _tenants(conn, tenant, heads):
        walked = await _check(conn, t, heads.get(t), from_head=False)
        report.rows[t] = walked.last_seq
        if walked.broken:
            report.breaks.append(walked.broken)
    return report


async def checkpoint(conn: asyncpg.Connection, path: Path, key: bytes) -> dict[str, Any]:
    """Advance each intact chain's checkpointed head, checking only the rows written since the last one.

    A chain that fails keeps its previous head (and the failure is logged), so a later checkpoint never
    blesses an edit, a deletion or a truncation.
    """
    heads = read_checkpoints(path, key)
    for t in await _tenants(conn, None, heads):
        walked = await _check(conn, t, heads.get(t), from_head=True)
        if walked.broken:
            log.error("audit chain broken, checkpoint not advanced: %s", walked.broken)
        elif walked.last_seq:
            heads[t] = {"seq": walked.last_seq, "hash": walked.last_hash}
    _write_checkpoints(path, key, heads)
    return heads
