"""PolicyStore.recent: the data path's in-memory policy, dropped on a change here, expiring for other replicas."""

from __future__ import annotations

from typing import Any

from success_metrics.calculators.vocabulary import TenantId
from success_metrics.storage.pool import Database
from success_metrics.rbac import AuthMethod, Principal, Role, policy
from success_metrics.rbac.policy_store import PolicyStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def narrowed() -> dict[str, Any]:
    doc = {**policy.default_document(), "description": "no agents"}
    doc["roles"] = {k: v for k, v in doc["roles"].items() if k != "agent"}
    return doc


async def test_recent_is_remembered_forgotten_on_change_and_expires(db: Database, new_tenant_id: Any) -> None:
    tid = new_tenant_id("polrecent")
    admin = Principal(TenantId(tid), "admin-1", Role.ADMIN, AuthMethod.JWT)
    clock = Clock()
    here, other = PolicyStore(current_ttl_s=5.0, clock=clock), PolicyStore()
    assert here.recent(tid) is None  # never read
    async with db.tenant(tid) as conn:
        await here.current(conn, tid)  # not remembered unless asked
        assert here.recent(tid) is None
        assert (await here.current(conn, tid, remember=True))[0] == 0
    assert here.recent(tid)[0] == 0  # type: ignore[index]
    async with db.tenant(tid) as conn:  # a change through this store: forgotten at once
        await here.replace(conn, tid, narrowed(), admin)
    assert here.recent(tid) is None
    async with db.tenant(tid) as conn:
        version, found = await here.current(conn, tid, remember=True)
    assert version == 1 and found.role(Role.AGENT) is None
    async with db.tenant(tid) as conn:  # another replica's change: unseen until the 5 s have passed
        await other.rollback(conn, tid, 0, admin)
    clock.now += 4.9  # 1000 + 4.9 < 1000 + 5
    assert here.recent(tid)[0] == 1  # type: ignore[index]
    clock.now += 0.1  # 1005.0: expired (an entry lives while now < read time + 5)
    assert here.recent(tid) is None
    async with db.tenant(tid) as conn:
        version, found = await here.current(conn, tid, remember=True)
    assert version == 2 and found.role(Role.AGENT) is not None
