"""The operators' CLI: alerts evaluate / test-channel and report send on the real database, a running embedded
server reused and left running, one line for a database that cannot be reached, and typos that get a guess."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import respx
from typer.testing import CliRunner, Result

from success_metrics.notify import keyring
from success_metrics.notify.alerts import channels
from success_metrics.notify.alerts.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER, parse_config
from success_metrics.notify.reports.content import Recipient
from success_metrics.notify.reports.delivery import ScheduleConfig, put_schedule
from success_metrics.notify.reports.schedule import ReportKind
from success_metrics.rbac import Role
from success_metrics.server.services import open_database
from success_metrics.settings import Settings
from success_metrics.storage import EmbeddedPostgres, partitions
from success_metrics.storage.pool import Database
from success_metrics.tools.cli import app
from tests.datasource.smtp_sink import Sink, smtp_sink  # noqa: F401 (fixture)
from tests.datasource.test_alert_evaluate import add_auth_failures, make_tenant

URL = "https://hooks.example.com/ops"
SECRET = "whsec-0123456789-abcdef"
runner = CliRunner()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


@pytest.fixture
def env(db: Database, data_dir: Path, tmp_path: Path) -> dict[str, str]:
    """The CLI on the session database; one delivery attempt, no back-off; the session's key file."""
    assert db.dsn is not None
    config = tmp_path / "sm.yaml"
    config.write_text("notifications: {max_attempts: 1, backoff_s: 0, channel_timeout_s: 5}\n")
    return {"DATABASE_URL": db.dsn, "SM_DATA_DIR": str(data_dir), "SM_CONFIG": str(config)}


async def invoke(args: list[str], env: dict[str, str]) -> Result:
    return await asyncio.to_thread(runner.invoke, app, args, env=env)


async def webhook_tenant(db: Database, new_tenant_id: Callable[[str], str], data_dir: Path) -> str:
    tid = new_tenant_id("opcli")
    await make_tenant(db, tid)
    now = datetime.now(UTC)
    async with db.system() as conn:
        await partitions.ensure_months(conn, [now - timedelta(days=40), now])
    keys = keyring.load(Settings(data_dir=data_dir))
    async with db.tenant(tid) as conn:
        await channels.put(conn, tid, "ops", parse_config({"kind": "webhook", "url": URL, "secret": SECRET}), keys)
    return tid


async def test_alerts_evaluate_prints_the_firing_of_one_rule_and_delivers_it(
        db: Database, new_tenant_id: Callable[[str], str], data_dir: Path, env: dict[str, str]) -> None:
    tid = await webhook_tenant(db, new_tenant_id, data_dir)
    await add_auth_failures(db, tid, datetime.now(UTC) - timedelta(minutes=1), 25)  # the rule: >= 20 in 5 min
    with respx.mock:
        route = respx.post(URL).mock(return_value=httpx.Response(200))
        result = await invoke(["alerts", "evaluate", "--tenant", tid, "--rule", "critical.auth_failures"], env)
        assert result.exit_code == 0, result.output
        event_id = json.loads(route.calls[0].request.content)["event_id"]
        assert result.stdout.splitlines()[:3] == [
            f"{tid}: 1 transition(s), 1 notification(s)",
            f"  firing critical.auth_failures (value 25, alert {event_id})",
            "  sent to ops after 1 attempt(s)"]
        again = await invoke(["alerts", "evaluate", "--tenant", tid, "--rule", "critical.auth_failures"], env)
        assert again.stdout.splitlines()[0] == f"{tid}: 0 transition(s), 0 notification(s)"  # still firing
        assert route.call_count == 1
    async with db.tenant(tid) as conn:  # only the rule named was evaluated
        assert [r["rule_id"] for r in await conn.fetch("SELECT rule_id FROM alert_state")] == [
            "critical.auth_failures"]
    unknown = await invoke(["alerts", "evaluate", "--tenant", tid, "--rule", "no.such"], env)
    assert unknown.exit_code == 2 and "No alert rule 'no.such'" in unknown.stderr
    assert "critical.auth_failures" in unknown.stderr


async def test_test_channel_sends_a_signed_test_and_says_when_it_failed(
        db: Database, new_tenant_id: Callable[[str], str], data_dir: Path, env: dict[str, str]) -> None:
    tid = await webhook_tenant(db, new_tenant_id, data_dir)
    with respx.mock:
        route = respx.post(URL).mock(side_effect=[httpx.Response(204), httpx.Response(500)])
        ok = await invoke(["alerts", "test-channel", "ops", "--tenant", tid], env)
        assert ok.exit_code == 0, ok.output
        assert ok.stdout.strip() == f"ops (webhook {URL}): delivered after 1 attempt(s)"
        sent = route.calls[0].request
        assert json.loads(sent.content)["state"] == "test" and json.loads(sent.content)["tenant"] == tid
        assert sent.headers[SIGNATURE_HEADER] == channels.sign(SECRET, sent.headers[TIMESTAMP_HEADER], sent.content)
        failed = await invoke(["alerts", "test-channel", "ops", "--tenant", tid], env)
    assert failed.exit_code == 1
    assert failed.stderr.strip() == (f"ops (webhook {URL}): not delivered after 1 attempt(s): "
                                     "HTTP 500 from the receiver")
    missing = await invoke(["alerts", "test-channel", "pager", "--tenant", tid], env)
    assert missing.exit_code == 2 and "No alert channel 'pager'" in missing.stderr and "ops" in missing.stderr


async def test_report_send_mails_the_due_report_to_the_recipients_of_a_role(
        db: Database, new_tenant_id: Callable[[str], str], env: dict[str, str], smtp_sink: Sink,
        tmp_path: Path) -> None:
    tid = new_tenant_id("opcli")
    await make_tenant(db, tid)
    await put_schedule(db, tid, ReportKind.DAILY, ScheduleConfig(recipients=(
        Recipient(email="ceo@example.com", role=Role.EXECUTIVE),
        Recipient(email="alice@example.com", role=Role.AGENT, agent_id="a1"))))
    await asyncio.to_thread(Path(env["SM_CONFIG"]).write_text, f"notifications: {{smtp_port: {smtp_sink.port}}}\n")
    result = await invoke(["report", "send", "--tenant", tid, "--kind", "daily", "--as-role", "agent"], env)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("sent: daily report to alice@example.com as agent, ")
    assert [m.recipients for m in smtp_sink.received] == [["alice@example.com"]]
    async with db.tenant(tid) as conn:
        assert await conn.fetchval("SELECT recipient FROM report_deliveries WHERE status = 'sent'") == \
            "alice@example.com"
    nobody = await invoke(["report", "send", "--tenant", tid, "--kind", "weekly"], env)
    assert nobody.exit_code == 2 and "The weekly report of" in nobody.stderr and "has no recipients" in nobody.stderr


@pytest.mark.parametrize(("args", "names"), [
    (["--as-role", "agent"], "'--agent-id'"),
    (["--as-role", "manager"], "'--team'"),
])
def test_a_role_copy_without_whose_it_is_names_the_missing_option(args: list[str], names: str,
                                                                   tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", "--tenant", "acme", "--kind", "daily", "--out", str(tmp_path), *args],
                           env={"SM_DATA_DIR": str(tmp_path), "SM_CONFIG": ""})
    assert result.exit_code == 2
    assert names in result.output and "missing" in result.output


@pytest.mark.parametrize("command", [["migrate"], ["audit", "verify"], ["secrets", "rotate"],
                                     ["alerts", "evaluate"], ["report", "send", "--tenant", "a", "--kind", "daily"],
                                     ["check", "dashboards"]])
def test_an_unreachable_database_is_one_line(command: list[str], tmp_path: Path) -> None:
    result = runner.invoke(app, command, env={"DATABASE_URL": f"postgresql://sm:pw@127.0.0.1:{closed_port()}/x",
                                              "SM_DATA_DIR": str(tmp_path), "SM_CONFIG": ""})
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Cannot connect to PostgreSQL: ConnectionRefusedError")
    assert "pw" not in result.stderr


async def test_a_database_that_refuses_the_login_is_one_line(db: Database, tmp_path: Path) -> None:
    assert db.dsn is not None
    wrong = db.dsn.replace("/success_metrics", "/no_such_db") if "/success_metrics" in db.dsn else \
        db.dsn.rsplit("/", 1)[0] + "/no_such_db"
    result = await asyncio.to_thread(runner.invoke, app, ["migrate"], env={
        "DATABASE_URL": wrong, "SM_DATA_DIR": str(tmp_path), "SM_CONFIG": ""})
    assert result.exit_code == 1
    assert result.stderr.strip() == ('Cannot connect to PostgreSQL: InvalidCatalogNameError: database "no_such_db" '
                                     'does not exist')


def test_a_misspelt_setting_gets_a_guess(tmp_path: Path) -> None:
    config = tmp_path / "sm.yaml"
    config.write_text("tenats: []\nlimits: {max_body_byts: 5}\ntenants: [{id: acme, name: A, settings: "
                      "{timezon: UTC}}]\n")
    result = runner.invoke(app, ["migrate"], env={"SM_CONFIG": str(config), "SM_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert "  - tenats: Extra inputs are not permitted; did you mean `tenants`?" in result.stderr
    assert "  - limits.max_body_byts: Extra inputs are not permitted; did you mean `max_body_bytes`?" in result.stderr
    assert "  - tenants.0.settings.timezon: Extra inputs are not permitted; did you mean `timezone`?" in result.stderr
    env = {"SM_DATADIR": str(tmp_path), "SM_UPDATE_SNAPSHOTS": "1", "SM_CONFIG": "", "SM_DATA_DIR": str(tmp_path)}
    token = runner.invoke(app, ["token", "--tenant", "acme", "--role", "agent"], env=env)
    assert token.exit_code == 0
    assert "warning: SM_DATADIR is not read by success-metrics; did you mean SM_DATA_DIR?" in token.stderr
    assert "SM_UPDATE_SNAPSHOTS" not in token.stderr  # not close to any setting: not a typo


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="the session's database is not embedded")
async def test_a_running_embedded_server_is_used_and_left_running(db: Database, base_settings: Settings,
                                                                  tmp_path: Path) -> None:
    """The session's embedded server stands in for a running ``serve``: a CLI command's database is it, nothing
    is returned to stop, and the server still answers afterwards. An empty data directory has no server."""
    server = EmbeddedPostgres(base_settings.data_dir)
    assert server.running_dsn() == db.dsn
    assert EmbeddedPostgres(tmp_path).running_dsn() is None
    cli_db, embedded = await open_database(base_settings, reuse=True)
    assert embedded is None and cli_db.dsn == db.dsn
    await cli_db.close()
    assert await db.ping()
    result = await asyncio.to_thread(runner.invoke, app, ["migrate"], env={
        "SM_DATA_DIR": str(base_settings.data_dir), "SM_CONFIG": ""})
    assert result.exit_code == 0 and result.stdout.strip().endswith("migrations current")
    assert await db.ping()

