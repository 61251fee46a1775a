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

from rbac.audit import GENESIS, chain_hash
from rbac.local_keys import derive_key

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
    found = {r["tenant_id"] for r in await conn.fetch("SELECT DISTINCT tenant_id FROM audit_log")}
    return sorted(found | set(heads))


async def _walk(conn: asyncpg.Connection, tenant: str) -> tuple[int, str, Break | None, dict[int, str]]:
    """(rows, head hash, first break, hashes by seq) of one tenant's chain."""
    expected_seq, prev, count = 1, GENESIS, 0
    hashes: dict[int, str] = {}
    while True:
        rows = await conn.fetch("SELECT * FROM audit_log WHERE tenant_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
                                tenant, expected_seq, BATCH)
        for r in rows:
            row = dict(r)
            if row["seq"] != expected_seq:
                return count, prev, Break(tenant, expected_seq, f"missing (rows {expected_seq}..{row['seq'] - 1} "
                                                                "were deleted)"), hashes
            if row["prev_hash"] != prev:
                return count, prev, Break(tenant, row["seq"], "its link to the previous row is broken"), hashes
            if chain_hash(prev, row) != row["hash"]:
                return count, prev, Break(tenant, row["seq"], "its content was changed after it was written"), hashes
            prev, expected_seq, count = row["hash"], expected_seq + 1, count + 1
            hashes[row["seq"]] = row["hash"]
        if len(rows) < BATCH:
            return count, prev, None, hashes


async def verify(conn: asyncpg.Connection, tenant: str | None = None, *, checkpoints: Path | None = None,
                 key: bytes | None = None) -> VerifyReport:
    heads = read_checkpoints(checkpoints, key) if checkpoints and key else {}
    report = VerifyReport()
    for t in await _tenants(conn, tenant, heads):
        count, _, broken, hashes = await _walk(conn, t)
        report.rows[t] = count
        if broken is None and t in heads:
            seq, want = int(heads[t]["seq"]), heads[t]["hash"]
            if seq > count:
                broken = Break(t, count + 1, f"missing: the chain ends at row {count} but a checkpoint "
                                             f"recorded row {seq} (the tail was truncated)")
            elif hashes.get(seq) != want:
                broken = Break(t, seq, "differs from the checkpointed chain head")
        if broken:
            report.breaks.append(broken)
    return report


async def checkpoint(conn: asyncpg.Connection, path: Path, key: bytes) -> dict[str, Any]:
    """Record every intact chain's head; a chain that fails verification keeps its previous checkpoint."""
    heads = read_checkpoints(path, key)
    report = await verify(conn, checkpoints=path, key=key)
    broken = {b.tenant_id for b in report.breaks}
    for b in report.breaks:
        log.error("audit chain broken, checkpoint not advanced: %s", b)
    for t in report.rows:
        if t in broken or report.rows[t] == 0:
            continue
        head = await conn.fetchrow("SELECT seq, hash FROM audit_log WHERE tenant_id = $1 AND seq = $2",
                                   t, report.rows[t])
        heads[t] = {"seq": head["seq"], "hash": head["hash"]}
    _write_checkpoints(path, key, heads)
    return heads
