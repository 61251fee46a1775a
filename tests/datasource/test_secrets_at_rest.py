"""Webhook signing secrets at rest: sealed in the database, still signing after a restart and a key rotation,
and a wrong or missing key a clear error (in the delivery log, at start, in the CLI), never a 500."""

from __future__ import annotations

import hashlib
import hmac
import stat
from collections.abc import Callable
from pathlib import Path

import asyncpg
import httpx
import pytest
import respx
from pydantic import SecretStr
from typer.testing import CliRunner

from success_metrics.tools import cli
from success_metrics.notify import keyring
from success_metrics.notify.alerts import channels
from success_metrics.notify.alerts.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER, parse_config
from success_metrics.notify.alerts.delivery import Outcome, deliver_pending
from success_metrics.notify.alerts.evaluate import evaluate_tenant
from success_metrics.notify.mailer import Mailer
from success_metrics.server.services import Services
from success_metrics.settings import Settings
from success_metrics.storage import migrate
from success_metrics.storage.pool import Database
from tests.datasource.test_alert_delivery import FAST
from tests.datasource.test_alert_evaluate import MIN, T, add_auth_failures, answers, make_tenant

SECRET = "whsec-0123456789-abcdef"
URL = "https://hooks.example.com/sealed"
K1, K2 = keyring.new_key(), keyring.new_key()


def keys_of(*kek: str, data_dir: Path = Path("/nonexistent")) -> keyring.Keyring:
    return keyring.load(Settings(data_dir=data_dir, secret_key=SecretStr(",".join(kek))))


async def webhook_tenant(db: Database, new_tenant_id: Callable[[str], str], keys: keyring.Keyring) -> str:
    tid = new_tenant_id("sealed")
    await make_tenant(db, tid)
    await add_auth_failures(db, tid, T - MIN, 25)
    async with db.tenant(tid) as conn:
        await channels.put(conn, tid, "ops", parse_config({"kind": "webhook", "url": URL, "secret": SECRET}), keys)
    await evaluate_tenant(answers(db), tid, T, retention_months=24)
    return tid


async def deliver(db: Database, tid: str, keys: keyring.Keyring) -> tuple[list[Outcome], list[httpx.Request]]:
    with respx.mock:
        route = respx.post(URL).mock(return_value=httpx.Response(200))
        async with httpx.AsyncClient() as http:
            outcomes = await deliver_pending(db, tid, FAST, http, Mailer(FAST), keys)
        return outcomes, [c.request for c in route.calls]


def signed_with(request: httpx.Request, secret: str) -> bool:
    stamp = request.headers[TIMESTAMP_HEADER].encode()
    mac = hmac.new(secret.encode(), stamp + b"." + request.content, hashlib.sha256).hexdigest()
    return request.headers[SIGNATURE_HEADER] == f"sha256={mac}"


async def stored(db: Database, tid: str) -> asyncpg.Record:
    async with db.system() as conn:
        return await conn.fetchrow("SELECT secret, config::text AS config FROM alert_channels WHERE tenant_id = $1",
                                   tid)


async def test_the_stored_secret_is_sealed_and_signs_after_a_restart(
        db: Database, new_tenant_id: Callable[[str], str], tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)  # nothing set: a key file is made under the data dir
    first = await Services.start(settings, db)
    tid = await webhook_tenant(db, new_tenant_id, first.keys)
    await first.stop()
    key_file = tmp_path / "keys" / "secret-kek"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    row = await stored(db, tid)
    assert row["secret"].startswith("sm-sealed-v1:")
    for text in (row["secret"], row["config"]):
        assert SECRET not in text and SECRET.encode().hex() not in text
    restarted = await Services.start(settings, db)  # reads the same file
    outcomes, requests = await deliver(db, tid, restarted.keys)
    await restarted.stop()
    assert [(o.ok, o.attempts) for o in outcomes] == [(True, 1)]
    assert signed_with(requests[0], SECRET)


async def test_rotation_rewraps_every_secret_and_the_old_key_can_go(
        db: Database, new_tenant_id: Callable[[str], str]) -> None:
    tid = await webhook_tenant(db, new_tenant_id, keys_of(K1))
    before = (await stored(db, tid))["secret"]
    outcomes, _ = await deliver(db, tid, keys_of(K2))  # the new key alone does not open it yet
    assert not outcomes[0].ok and "does not open with the 1 key(s) from SM_SECRET_KEY" in (outcomes[0].error or "")
    async with db.system() as conn:
        count, unreadable = await channels.rewrap_secrets(conn, keys_of(K2, K1))
    assert count >= 1 and f"{tid}/ops" not in unreadable  # (other tests' channels, sealed with other keys, are)
    after = (await stored(db, tid))["secret"]
    assert after != before and after.rsplit(":", 1)[1] == before.rsplit(":", 1)[1]  # only the data key re-wrapped
    async with db.system() as conn:  # put the delivery back in the queue, then send with the new key only
        await conn.execute("UPDATE alert_deliveries SET status = 'pending', next_attempt_at = now() "
                           "WHERE tenant_id = $1", tid)
    outcomes, requests = await deliver(db, tid, keys_of(K2))
    assert [o.ok for o in outcomes] == [True] and signed_with(requests[0], SECRET)


async def test_a_wrong_key_fails_the_delivery_clearly_and_the_admin_api_still_answers(
        db: Database, new_tenant_id: Callable[[str], str], make_client: Callable, token_for: Callable) -> None:
    tid = await webhook_tenant(db, new_tenant_id, keys_of(K1))
    outcomes, requests = await deliver(db, tid, keys_of(K2))
    assert requests == []  # nothing unsigned or wrongly signed went out
    [outcome] = outcomes
    assert (outcome.ok, outcome.attempts) == (False, 1)  # not retried: another try cannot help
    assert "cannot sign: a stored secret does not open" in (outcome.error or "")
    assert SECRET not in (outcome.error or "")
    client = await make_client(secret_key=SecretStr(K2))
    admin = {"Authorization": f"Bearer {token_for(tid, 'admin')}"}
    listed = await client.get("/api/admin/alert-channels", headers=admin)
    assert listed.status_code == 200 and listed.json()["ops"]["has_secret"] is True
    log = await client.get("/api/admin/alert-deliveries", headers=admin)
    assert log.status_code == 200 and "cannot sign" in log.text and SECRET not in log.text


async def test_a_sealed_secret_copied_to_another_channel_does_not_open(
        db: Database, new_tenant_id: Callable[[str], str]) -> None:
    keys = keys_of(K1)
    tid = await webhook_tenant(db, new_tenant_id, keys)
    sealed = (await stored(db, tid))["secret"]
    assert keys.unseal(sealed, channels.secret_context(tid, "ops")) == SECRET
    with pytest.raises(keyring.SecretUnreadable):
        keys.unseal(sealed, channels.secret_context(tid, "other"))


async def test_the_migration_seals_the_secrets_stored_in_clear(
        db: Database, new_tenant_id: Callable[[str], str]) -> None:
    tid = await webhook_tenant(db, new_tenant_id, keys_of(K1))
    [sealing] = [m for m in migrate.available() if m.name == "alert_channel_secrets_sealed"]
    async with db.system() as conn:  # the table as it was before the migration: a secret in clear
        await conn.execute("ALTER TABLE alert_channels DROP CONSTRAINT alert_channels_secret_sealed")
        await conn.execute("UPDATE alert_channels SET secret = $2 WHERE tenant_id = $1", tid, SECRET)
        await conn.execute(sealing.sql)
        assert await channels.seal_clear_secrets(conn, keys_of(K1)) == 1
        with pytest.raises(asyncpg.CheckViolationError):  # from now on the database refuses a clear secret
            await conn.execute("UPDATE alert_channels SET secret = 'in clear again' WHERE tenant_id = $1", tid)
    assert SECRET not in (await stored(db, tid))["secret"]
    outcomes, requests = await deliver(db, tid, keys_of(K1))
    assert [o.ok for o in outcomes] == [True] and signed_with(requests[0], SECRET)


async def test_a_key_that_is_not_one_or_a_missing_key_file_stops_the_start(db: Database, tmp_path: Path) -> None:
    with pytest.raises(keyring.SecretKeyError, match="SM_SECRET_KEY: key 2 is not a key"):
        await Services.start(Settings(data_dir=tmp_path, secret_key=SecretStr(f"{K1},hunter2")), db)
    with pytest.raises(keyring.SecretKeyError, match=r"secret_key_file=.*missing.*cannot read it"):
        await Services.start(Settings(data_dir=tmp_path, secret_key_file=tmp_path / "missing"), db)
    file = tmp_path / "keys.txt"
    file.write_text(f"# rotated 2026-12\n{K2}\n{K1}\n")
    assert len(keyring.load(Settings(data_dir=tmp_path, secret_key_file=file)).keys) == 2


def test_the_cli_prints_new_keys_and_refuses_a_bad_key_before_touching_the_database(tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(cli.app, ["secrets", "new-key"])
    assert made.exit_code == 0 and len(keys_of(made.stdout.strip()).keys) == 1
    refused = runner.invoke(cli.app, ["secrets", "rotate"], env={"SM_DATA_DIR": str(tmp_path), "SM_CONFIG": "",
                                                                 "SM_SECRET_KEY": "not-a-key"})
    assert refused.exit_code == 2 and "SM_SECRET_KEY: key 1 is not a key" in refused.stderr
    assert "not-a-key" not in refused.stderr  # never echo a key, even a broken one
