"""System Health's database figures through the real HTTP path: backup status and its alert, statements, indexes,
the connection pool, growth per partition, and encryption status; who may see them."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from success_metrics.calculators.metrics.database import NOT_INSTALLED
from success_metrics.notify.alerts.evaluate import evaluate_tenant
from success_metrics.notify.alerts.state import Transition
from success_metrics.settings import Settings, TenantConfig
from success_metrics.storage import partitions
from success_metrics.storage.pool import Database
from tests.datasource.live_server import serving
from tests.datasource.test_alert_evaluate import answers

H = timedelta(hours=1)
D0 = datetime(2020, 1, 8, tzinfo=UTC)  # backup_runs is shared by the session: these runs are years before any other


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def table(client: httpx.AsyncClient, token: str, metric: str, start: datetime, end: datetime
                ) -> tuple[list[dict[str, Any]], list[str]]:
    """(rows as dicts, notices) of a table metric over [start, end)."""
    r = await client.post("/query", headers=bearer(token), json={
        "range": {"from": start.isoformat(), "to": end.isoformat()},
        "targets": [{"target": metric, "refId": "A", "type": "table"}]})
    assert r.status_code == 200, r.text
    frame = r.json()[0]
    notices = [n["text"] for n in frame.get("meta", {}).get("notices", [])]
    names = [c["text"] for c in frame.get("columns", [])]
    return [dict(zip(names, row, strict=True)) for row in frame.get("rows", [])], notices


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - H).not_valid_after(now + 24 * H)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


@pytest.fixture
async def tenant(db: Database, new_tenant_id: Callable[[str], str]) -> AsyncIterator[str]:
    tid = new_tenant_id("dbh")
    async with db.system() as conn:
        await conn.execute("INSERT INTO tenants (tenant_id, name, created_at) VALUES ($1, $1, $2)", tid,
                           datetime(2020, 1, 1, tzinfo=UTC))
        runs = [("backup", D0, True, 1000, "b1"), ("verify", D0 + timedelta(minutes=5), True, 1000, "b1"),
                ("backup", D0 + 30 * H, True, 2048, "b2"), ("backup", D0 + 42 * H, False, None, "")]
        await conn.executemany("INSERT INTO backup_runs (kind, started_at, finished_at, ok, bytes, file) "
                               "VALUES ($1, $2, $2, $3, $4, $5)", runs)
    yield tid
    async with db.system() as conn:  # every tenant reads backup_runs: leave no run for another test's alerts
        await conn.execute("DELETE FROM backup_runs WHERE finished_at < $1", D0 + 7 * 24 * H)


async def test_backup_status_is_worked_out_from_the_runs_before_the_range_end(
        make_client: Callable[..., Awaitable[httpx.AsyncClient]], token_for: Any, tenant: str) -> None:
    client = await make_client(TenantConfig(id=tenant, name=tenant))
    admin = token_for(tenant, "admin")
    # at D0 + 48 h: the good backup b2 is 18 h old, b1's drill predates it, and one backup failed since b2
    rows, _ = await table(client, admin, "backup.status", D0, D0 + 48 * H)
    assert rows == [{"status": "failing", "last_backup": ms(D0 + 30 * H), "age_hours": 18.0, "size": 2048,
                     "file": "b2", "last_restore_drill": ms(D0 + timedelta(minutes=5)),
                     "drill_outcome": "restored and verified", "failed_since": 1}]
    # at D0 + 36 h the failure has not happened yet: b2 is 6 h old and not drilled
    rows, _ = await table(client, admin, "backup.status", D0, D0 + 36 * H)
    assert (rows[0]["status"], rows[0]["age_hours"], rows[0]["failed_since"]) == ("unverified", 6.0, 0)
    # at D0 + 1 h: b1 (1 h old) and its drill
    rows, _ = await table(client, admin, "backup.status", D0 - H, D0 + H)
    assert (rows[0]["status"], rows[0]["age_hours"], rows[0]["size"]) == ("ok", 1.0, 1000)
    rows, _ = await table(client, admin, "backup.status", D0 - 2 * H, D0 - H)
    assert rows[0]["status"] == "never" and rows[0]["last_backup"] is None


async def test_an_old_last_good_backup_raises_the_maintenance_alert(db: Database, tenant: str) -> None:
    async def at(now: datetime) -> tuple[Transition | None, Any]:
        changes = {c.rule_id: c.transition for c in await evaluate_tenant(answers(db), tenant, now,
                                                                          retention_months=24)}
        async with db.tenant(tenant) as conn:
            value = await conn.fetchval("SELECT last_value FROM alert_state WHERE rule_id = 'maintenance.backup_age'")
        return changes.get("maintenance.backup_age"), value

    # the last good backup, b2 at D0 + 30 h, is 30 h old at D0 + 60 h: over the default rule's 26 h
    assert await at(D0 + 60 * H) == (Transition.FIRING, pytest.approx(30.0))
    assert await at(D0 + 31 * H) == (Transition.RESOLVED, pytest.approx(1.0))
    # before any backup the age counts from the tenant's creation (2020-01-01): 7 days less a minute at D0 - 1 min
    assert await at(D0 - timedelta(minutes=1)) == (Transition.FIRING, pytest.approx(7 * 24 - 1 / 60))


async def test_backup_and_database_figures_are_for_admins_executives_and_auditors(
        make_client: Callable[..., Awaitable[httpx.AsyncClient]], token_for: Any, tenant: str) -> None:
    client = await make_client(TenantConfig(id=tenant, name=tenant))
    seen = {}
    for role, claims in (("admin", {}), ("executive", {}), ("auditor", {}), ("manager", {"teams": ["t1"]}),
                         ("agent", {"agent_id": "a1"})):
        token = token_for(tenant, role, **claims)
        for metric in ("backup.status", "database.pool", "security.encryption"):
            rows, _ = await table(client, token, metric, D0, D0 + H)
            seen[role, metric] = bool(rows)
    assert seen == {
        ("admin", "backup.status"): True, ("admin", "database.pool"): True, ("admin", "security.encryption"): True,
        ("executive", "backup.status"): True, ("executive", "database.pool"): True,
        ("executive", "security.encryption"): False,  # security.* is the auditors' and admins'
        ("auditor", "backup.status"): True, ("auditor", "database.pool"): True,
        ("auditor", "security.encryption"): True,
        ("manager", "backup.status"): False, ("manager", "database.pool"): False,
        ("manager", "security.encryption"): False,
        ("agent", "backup.status"): False, ("agent", "database.pool"): False, ("agent", "security.encryption"): False,
    }


async def test_slow_statements_come_from_pg_stat_statements_or_the_panel_says_why(
        make_client: Callable[..., Awaitable[httpx.AsyncClient]], token_for: Any, db: Database, tenant: str) -> None:
    client = await make_client(TenantConfig(id=tenant, name=tenant))
    admin = token_for(tenant, "admin")
    async with db.system() as conn:  # statistics from here on: other tests' slow statements (CREATE DATABASE) go
        await conn.execute("SELECT pg_stat_statements_reset()")
    async with db.tenant(tenant) as conn:  # as the service computes: role sm_app
        await conn.execute("SELECT pg_sleep($1)", 0.3)
    rows, notices = await table(client, admin, "database.performance", D0, D0 + H)
    assert not notices
    mine = [r for r in rows if r["statement"] == "SELECT pg_sleep($1)"]
    assert len(mine) == 1 and mine[0]["calls"] >= 1 and mine[0]["mean_ms"] >= 300
    assert all(r["statement"] for r in rows) and len(rows) <= 10
    async with db.system() as conn:
        await conn.execute("DROP EXTENSION pg_stat_statements")
    try:
        rows, notices = await table(client, admin, "database.performance", D0, D0 + 2 * H)
    finally:
        async with db.system() as conn:
            await conn.execute("CREATE EXTENSION pg_stat_statements")
    assert rows == [] and notices == [NOT_INSTALLED]
    assert NOT_INSTALLED.endswith("run CREATE EXTENSION pg_stat_statements in the service's database (as a superuser).")


async def test_index_usage_sums_partitions_under_their_parent_and_lists_unused_first(
        make_client: Callable[..., Awaitable[httpx.AsyncClient]], token_for: Any, db: Database, tenant: str) -> None:
    client = await make_client(TenantConfig(id=tenant, name=tenant))
    async with db.system() as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS dbh_probe (k int PRIMARY KEY, v int)")
        await conn.execute("CREATE INDEX IF NOT EXISTS dbh_probe_v ON dbh_probe (v)")
        await conn.execute("GRANT SELECT ON dbh_probe TO sm_app")
        months = len(await partitions.existing_months(conn))
        await conn.fetch("SELECT * FROM dbh_probe WHERE k = 1")  # a scan of the primary key, never of v
        await conn.execute("SELECT pg_stat_force_next_flush()")
    rows, _ = await table(client, token_for(tenant, "admin"), "database.indexes", D0, D0 + H)
    by_name = {r["index"]: r for r in rows}
    assert by_name["events_pkey"]["table"] == "events" and by_name["events_pkey"]["partitions"] == months
    assert by_name["dbh_probe_v"]["status"] == "unused" and by_name["dbh_probe_v"]["scans"] == 0
    assert by_name["dbh_probe_pkey"]["status"] == "used"
    statuses = [r["status"] for r in rows]
    assert statuses == sorted(statuses, key=lambda s: s == "used")  # unused ones first


async def test_the_pool_figures_are_the_services_own(make_client: Callable[..., Awaitable[httpx.AsyncClient]],
                                                      token_for: Any, db: Database, tenant: str) -> None:
    client = await make_client(TenantConfig(id=tenant, name=tenant))
    rows, _ = await table(client, token_for(tenant, "admin"), "database.pool", D0, D0 + H)
    figures = {r["figure"]: r["value"] for r in rows}
    # the session's pool: max_size 10 (Database.connect's default); the metric's own query holds one connection
    assert figures["pool_max"] == 10 and figures["pool_in_use"] >= 1 and figures["pool_waiting"] == 0
    assert figures["pool_open"] == figures["pool_in_use"] + figures["pool_idle"]
    assert figures["server_connections"] >= figures["pool_open"]


async def test_growth_per_partition_with_the_next_retention_drop(
        make_client: Callable[..., Awaitable[httpx.AsyncClient]], token_for: Any, db: Database, tenant: str) -> None:
    client = await make_client(TenantConfig(id=tenant, name=tenant))
    jan, feb = datetime(2025, 1, 10, tzinfo=UTC), datetime(2025, 2, 10, tzinfo=UTC)
    async with db.system() as conn:
        await partitions.ensure_months(conn, [datetime(2024, 12, 1, tzinfo=UTC), jan, feb])
        await conn.executemany(
            "INSERT INTO events (tenant_id, occurred_at, event_id, type, payload) VALUES ($1, $2, $3, 'x', '{}')",
            [(tenant, jan, f"j{i}") for i in range(3)] + [(tenant, feb, f"f{i}") for i in range(2)])
    end = datetime(2027, 1, 15, tzinfo=UTC)
    rows, _ = await table(client, token_for(tenant, "admin"), "database.growth", end - H, end)
    month = {r["month"]: r for r in rows}
    # kept 24 months: December 2024 left on 2027-01-01 (past), January 2025 leaves on 2027-02-01 (next)
    assert month[ms(datetime(2024, 12, 1, tzinfo=UTC))]["status"] == "past retention"
    assert month[ms(jan.replace(day=1))] | {"size": None} == {
        "month": ms(jan.replace(day=1)), "events": 3, "size": None,
        "leaves_retention": ms(datetime(2027, 2, 1, tzinfo=UTC)), "status": "next drop"}
    assert (month[ms(feb.replace(day=1))]["events"], month[ms(feb.replace(day=1))]["status"]) == (2, "kept")
    assert month[ms(jan.replace(day=1))]["size"] > 0


async def test_encryption_status_says_what_is_and_is_not_encrypted(
        make_client: Callable[..., Awaitable[httpx.AsyncClient]], token_for: Any, tenant: str, tls_files: Any,
        database_url: str | None) -> None:
    plain = await make_client(TenantConfig(id=tenant, name=tenant))
    rows, _ = await table(plain, token_for(tenant, "admin"), "security.encryption", D0, D0 + H)
    said = {r["what"]: r["protection"] for r in rows}
    assert said["client connections to the service"] == "no"
    assert said["service connection to PostgreSQL"] == ("local" if database_url is None else said[
        "service connection to PostgreSQL"])
    assert said["webhook signing secrets at rest"] == "yes" and said["audit log at rest"] == "no"
    assert said["backups"] == "no"
    cert, key = tls_files
    served = await make_client(TenantConfig(id=tenant, name=tenant), tls_cert=cert, tls_key=key)
    rows, _ = await table(served, token_for(tenant, "admin"), "security.encryption", D0, D0 + 2 * H)
    assert {r["what"]: r["protection"] for r in rows}["client connections to the service"] == "yes"


async def test_the_service_serves_https_itself_with_tls_cert_and_tls_key(
        base_settings: Settings, db: Database, tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    settings = base_settings.model_copy(update={"tls_cert": cert, "tls_key": key})
    trust = ssl.create_default_context(cafile=str(cert))
    async with serving(settings, db) as (_, port):
        async with httpx.AsyncClient(verify=trust) as client:
            r = await client.get(f"https://127.0.0.1:{port}/healthz")
            assert r.status_code == 200
            assert r.extensions["network_stream"].get_extra_info("ssl_object").version() in {"TLSv1.2", "TLSv1.3"}
        async with httpx.AsyncClient() as client:
            with pytest.raises(httpx.HTTPError):  # plain HTTP to a TLS port gets no HTTP answer
                await client.get(f"http://127.0.0.1:{port}/healthz")


def test_tls_cert_and_tls_key_go_together_and_must_exist(tmp_path: Path, tls_files: tuple[Path, Path]) -> None:
    cert, _ = tls_files
    with pytest.raises(ValueError, match="tls_cert and tls_key go together"):
        Settings.model_validate({"data_dir": tmp_path, "tls_cert": cert})
    with pytest.raises(ValueError, match=r"missing\.pem is not a readable file"):
        Settings.model_validate({"data_dir": tmp_path, "tls_cert": cert, "tls_key": tmp_path / "missing.pem"})
