"""Notifications: signed webhooks with retry, Slack, email to a real loopback SMTP server, a slow channel that
does not hold the others up, and a restart while firing that sends nothing twice."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import respx
from pydantic import SecretStr

from success_metrics.notify import keyring
from success_metrics.notify.alerts import channels
from success_metrics.notify.alerts.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER, parse_config
from success_metrics.notify.alerts.delivery import deliver_pending
from success_metrics.notify.errors import ChannelInvalid
from success_metrics.notify.alerts.evaluate import evaluate_tenant
from success_metrics.notify.mailer import Mailer
from success_metrics.notify.scheduler import Scheduler
from success_metrics.notify.reports.delivery import Reporter
from success_metrics.server.services import Services
from success_metrics.settings import Notifications, Settings
from success_metrics.storage.pool import Database
from success_metrics.rbac.policy_store import PolicyStore
from tests.datasource.smtp_sink import Sink, smtp_sink  # noqa: F401 (fixture)
from tests.datasource.test_alert_evaluate import MIN, T, add_auth_failures, answers, make_tenant

SECRET = "s3cret-key-for-hmac-0123"
FAST = Notifications(channel_timeout_s=0.5, max_attempts=3, backoff_s=0.01)
KEYS = keyring.load(Settings(data_dir=Path("/nonexistent"), secret_key=SecretStr(keyring.new_key())))


async def firing_tenant(db: Database, new_tenant_id: Callable[[str], str], **channel_docs: dict) -> str:
    """A tenant whose only firing rule is the auth-failure burst, with the given channels."""
    tid = new_tenant_id("notify")
    await make_tenant(db, tid)
    await add_auth_failures(db, tid, T - MIN, 25)
    async with db.tenant(tid) as conn:
        for cid, doc in channel_docs.items():
            await channels.put(conn, tid, cid, parse_config(doc), KEYS)
    return tid


async def log_rows(db: Database, tid: str) -> dict[str, tuple[str, int, str | None]]:
    async with db.tenant(tid) as conn:
        rows = await conn.fetch("SELECT channel_id, status, attempts, last_error FROM alert_deliveries")
    return {r["channel_id"]: (r["status"], r["attempts"], r["last_error"]) for r in rows}


def webhook(url: str) -> dict:
    return {"kind": "webhook", "url": url, "secret": SECRET}


@respx.mock
async def test_webhook_is_signed_and_retried_after_a_server_error(db: Database,
                                                                  new_tenant_id: Callable[[str], str]) -> None:
    tid = await firing_tenant(db, new_tenant_id, ops=webhook("https://hooks.example.com/alerts"))
    route = respx.post("https://hooks.example.com/alerts").mock(
        side_effect=[httpx.Response(503), httpx.Response(200)])
    await evaluate_tenant(answers(db), tid, T, retention_months=24)
    async with httpx.AsyncClient() as http:
        outcomes = await deliver_pending(db, tid, FAST, http, Mailer(FAST), KEYS)
    assert [(o.channel_id, o.ok, o.attempts) for o in outcomes] == [("ops", True, 2)]
    assert route.call_count == 2
    request = route.calls.last.request
    stamp = request.headers[TIMESTAMP_HEADER]
    expected = "sha256=" + hmac.new(SECRET.encode(), stamp.encode() + b"." + request.content, hashlib.sha256).hexdigest()
    assert request.headers[SIGNATURE_HEADER] == expected
    assert abs(int(stamp) - time.time()) < 60
    body = json.loads(request.content)
    assert (body["tenant"], body["rule_id"], body["state"], body["severity"], body["value"]) == (
        tid, "critical.auth_failures", "firing", "critical", 25.0)
    assert await log_rows(db, tid) == {"ops": ("sent", 2, None)}
    # a second delivery run finds nothing due
    async with httpx.AsyncClient() as http:
        assert await deliver_pending(db, tid, FAST, http, Mailer(FAST), KEYS) == []
    assert route.call_count == 2


@respx.mock
async def test_client_error_is_not_retried_and_is_logged(db: Database, new_tenant_id: Callable[[str], str]) -> None:
    tid = await firing_tenant(db, new_tenant_id, ops=webhook("https://hooks.example.com/gone"))
    route = respx.post("https://hooks.example.com/gone").mock(return_value=httpx.Response(404))
    await evaluate_tenant(answers(db), tid, T, retention_months=24)
    async with httpx.AsyncClient() as http:
        await deliver_pending(db, tid, FAST, http, Mailer(FAST), KEYS)
    assert route.call_count == 1
    assert await log_rows(db, tid) == {"ops": ("failed", 1, "HTTP 404 from the receiver")}


@respx.mock
async def test_slack_and_email_and_a_slow_webhook(db: Database, new_tenant_id: Callable[[str], str],
                                                  smtp_sink: Sink) -> None:
    tid = await firing_tenant(
        db, new_tenant_id,
        slow=webhook("https://slow.example.com/hook"),
        chat={"kind": "slack", "url": "https://hooks.slack.example.com/services/T/B/X"},
        mail={"kind": "email", "to": ["oncall@example.com", "cto@example.com"]},
        quiet={"kind": "slack", "url": "https://hooks.slack.example.com/quiet", "min_severity": "critical"},
    )
    seen: list[str] = []  # what reached the receivers, in order

    async def hang(request: httpx.Request) -> httpx.Response:
        seen.append("slow attempt")
        await asyncio.sleep(5)  # longer than channel_timeout_s: every attempt times out
        return httpx.Response(200)

    def chat(request: httpx.Request) -> httpx.Response:
        seen.append("chat")
        return httpx.Response(200, text="ok")

    respx.post("https://slow.example.com/hook").mock(side_effect=hang)
    slack = respx.post("https://hooks.slack.example.com/services/T/B/X").mock(side_effect=chat)
    quiet = respx.post("https://hooks.slack.example.com/quiet").mock(return_value=httpx.Response(200))
    settings = Notifications(smtp_port=smtp_sink.port, channel_timeout_s=0.4, max_attempts=2, backoff_s=0.05)
    await evaluate_tenant(answers(db), tid, T, retention_months=24)
    async with httpx.AsyncClient() as http:
        await deliver_pending(db, tid, settings, http, Mailer(settings), KEYS)
    # the slow hook used both tries, each ended by the channel timeout; the Slack post did not wait for them
    assert seen.count("slow attempt") == 2
    assert seen.index("chat") < len(seen) - 1 - seen[::-1].index("slow attempt")
    assert "FIRING" in json.loads(slack.calls.last.request.content)["text"]
    assert quiet.call_count == 1  # critical alert >= min_severity critical
    mails = smtp_sink.received
    assert len(mails) == 1 and sorted(mails[0].recipients) == ["cto@example.com", "oncall@example.com"]
    assert mails[0].message["Subject"].startswith("[FIRING] [critical] Burst of authentication failures")
    log = await log_rows(db, tid)
    assert log["slow"] == ("failed", 2, "no answer within 0.4 s")
    assert {k: v[0] for k, v in log.items()} == {"slow": "failed", "chat": "sent", "mail": "sent", "quiet": "sent"}


@respx.mock
async def test_restart_while_firing_sends_each_transition_once(db: Database,
                                                               new_tenant_id: Callable[[str], str]) -> None:
    tid = await firing_tenant(db, new_tenant_id, ops=webhook("https://hooks.example.com/once"))
    route = respx.post("https://hooks.example.com/once").mock(return_value=httpx.Response(204))
    await evaluate_tenant(answers(db), tid, T, retention_months=24)
    # the process "dies" here: the transition is queued but not sent. After the restart (nothing is held in
    # memory: a new evaluation and delivery run) it is sent once, and evaluating again queues nothing new.
    await evaluate_tenant(answers(db), tid, T + MIN, retention_months=24)
    async with httpx.AsyncClient() as http:
        await deliver_pending(db, tid, FAST, http, Mailer(FAST), KEYS)
        await evaluate_tenant(answers(db), tid, T + 2 * MIN, retention_months=24)
        await deliver_pending(db, tid, FAST, http, Mailer(FAST), KEYS)
    assert route.call_count == 1
    # the burst at T-1m leaves the 5-minute window at T+5m: one resolved notice
    async with httpx.AsyncClient() as http:
        await evaluate_tenant(answers(db), tid, T + 4 * MIN, retention_months=24)
        await evaluate_tenant(answers(db), tid, T + 5 * MIN, retention_months=24)
        await deliver_pending(db, tid, FAST, http, Mailer(FAST), KEYS)
    assert [json.loads(c.request.content)["state"] for c in route.calls] == ["firing", "resolved"]


@pytest.mark.parametrize(("doc", "says"), [
    ({"kind": "webhook", "url": "https://x.example.com"}, "needs a secret"),
    ({"kind": "webhook", "url": "ftp://x", "secret": SECRET}, "url"),
    ({"kind": "email", "to": ["not-an-address"]}, "not email addresses: not-an-address"),
    ({"kind": "pager"}, "kind"),
])
def test_bad_channels_say_what_to_fix(doc: dict, says: str) -> None:
    with pytest.raises(ChannelInvalid, match=says):
        parse_config(doc)


def test_secret_never_shows() -> None:
    config = parse_config(webhook("https://hooks.example.com/a"))
    assert SECRET not in repr(config) and SECRET not in json.dumps(config.public())
    assert config.public()["has_secret"] is True
    assert config.public()["url"] == "https://hooks.example.com/a"


def test_urls_that_carry_credentials_show_without_them() -> None:
    slack = parse_config({"kind": "slack", "url": "https://hooks.slack.com/services/T000/B000/XXXXSECRET"})
    assert slack.public()["url"] == "https://hooks.slack.com/…"
    basic = parse_config(webhook("https://bot:pa55word@hooks.example.com/a?x=1"))
    assert basic.public()["url"] == "https://hooks.example.com/a?x=1"


@respx.mock
async def test_scheduler_tick_evaluates_and_delivers(db: Database, new_tenant_id: Callable[[str], str],
                                                     base_settings: Settings) -> None:
    tid = await firing_tenant(db, new_tenant_id, ops=webhook("https://hooks.example.com/tick"))
    route = respx.post("https://hooks.example.com/tick").mock(return_value=httpx.Response(200))
    settings = base_settings.model_copy(update={"notifications": FAST})
    async with httpx.AsyncClient() as http:
        scheduler = Scheduler(db, settings, http, Mailer(FAST), Reporter(db, PolicyStore(), answers(db), Mailer(FAST)),
                              answers(db), KEYS)
        await scheduler.alerts_tick(T)
        await scheduler.alerts_tick(T + MIN)
    assert [json.loads(c.request.content)["tenant"] for c in route.calls] == [tid]


async def test_services_start_the_loops_only_when_enabled(db: Database, base_settings: Settings) -> None:
    off = await Services.start(base_settings, db)
    assert off.scheduler is None
    await off.stop()
    enabled = base_settings.model_copy(update={"notifications": Notifications(scheduler_enabled=True,
                                                                              tick_seconds=3600)})
    on = await Services.start(enabled, db)
    assert on.scheduler is not None and {t.get_name() for t in on.scheduler._tasks} == {"alerts", "reports"}
    await on.stop()
    assert on.scheduler._tasks == []
