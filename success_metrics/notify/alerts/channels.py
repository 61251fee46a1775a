"""Where alert notifications go: HMAC-signed JSON webhooks, Slack-compatible webhooks, and email.

A send either succeeds or raises ``SendFailed`` saying whether trying again could help; retries, time-outs
and the delivery log are delivery.py's business, so every channel kind differs only in how it sends.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Any, Literal
from urllib.parse import urlsplit

import aiosmtplib
import asyncpg
import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, model_validator

from success_metrics.notify.errors import validated
from success_metrics.notify.mailer import Mailer
from success_metrics.notify.alerts.rules import Severity
from success_metrics.notify.keyring import Keyring, SecretUnreadable
from success_metrics.rbac import Role

SIGNATURE_HEADER = "X-SM-Signature"
TIMESTAMP_HEADER = "X-SM-Timestamp"
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


# PUT /api/admin/alert-channels/{id} bodies, one per kind (shown in /docs; a test PUTs each)
EXAMPLES: dict[str, dict[str, Any]] = {
    "webhook": {"summary": "Signed webhook (X-SM-Signature: HMAC-SHA256 with the secret)", "value": {
        "kind": "webhook", "url": "https://hooks.acme.example/success-metrics",
        "secret": "a-long-random-secret-of-32-chars", "min_severity": "warning"}},
    "slack": {"summary": "Slack incoming webhook, critical alerts, for managers' eyes", "value": {
        "kind": "slack", "url": "https://hooks.slack.com/services/T000/B000/XXXXXXXX", "min_severity": "critical",
        "audience": "manager"}},
    "email": {"summary": "Email to the operations team (needs notifications.smtp_host)", "value": {
        "kind": "email", "to": ["ops@acme.example", "cto@acme.example"], "min_severity": "info"}},
}


class ChannelConfig(BaseModel):
    """A channel as an admin writes it. ``secret`` is the webhook's HMAC key; it is never read back.

    Stored channels are validated with ``context={"stored": True}``: their secret is kept sealed apart
    (``Channel.sealed_secret``) and opened only to sign a delivery.
    """

    model_config = ConfigDict(extra="forbid", frozen=True,
                              json_schema_extra={"examples": [e["value"] for e in EXAMPLES.values()]})
    kind: Literal["webhook", "slack", "email"]
    url: str | None = Field(None, pattern=r"^https?://\S+$")
    to: tuple[str, ...] = Field((), max_length=50)
    min_severity: Severity = Severity.INFO
    secret: SecretStr | None = Field(None, min_length=16)
    # whose view the channel's readers have: an alert derived from what this role may not see (a revenue
    # projection for agents) is not sent here. Admin (everything) unless the channel reaches others.
    audience: Role = Role.ADMIN

    @model_validator(mode="after")
    def _complete(self, info: ValidationInfo) -> ChannelConfig:
        if self.kind in ("webhook", "slack") and not self.url:
            raise ValueError(f"a {self.kind} channel needs a url")
        stored = bool(info.context and info.context.get("stored"))
        if self.kind == "webhook" and self.secret is None and not stored:
            raise ValueError("a webhook channel needs a secret (at least 16 characters) to sign its payloads")
        if self.kind == "email" and not self.to:
            raise ValueError("an email channel needs at least one address in 'to'")
        bad = [a for a in self.to if not re.match(_EMAIL, a)]
        if bad:
            raise ValueError(f"not email addresses: {', '.join(bad)}")
        return self

    def public(self) -> dict[str, Any]:
        """What admin answers and the audit log may show: no secret, and no URL that works as one."""
        shown = self.model_dump(mode="json", exclude={"secret"}) | {"has_secret": self.secret is not None}
        if self.url:
            shown["url"] = _shown_url(self.url, whole=self.kind != "slack")
        return shown


def _shown_url(url: str, *, whole: bool) -> str:
    # user:password@ never shows; a Slack incoming-webhook URL's path is its token, so only its host shows
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    if not whole:
        return f"{parts.scheme}://{host}/…"
    return parts._replace(netloc=host).geturl()


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    tenant_id: str
    config: ChannelConfig  # without its secret
    sealed_secret: str | None = field(default=None, repr=False)

    def wants(self, severity: Severity) -> bool:
        return _SEVERITY_RANK[severity] >= _SEVERITY_RANK[self.config.min_severity]

    def public(self) -> dict[str, Any]:
        return self.config.public() | {"has_secret": self.sealed_secret is not None}

    def secret(self, keyring: Keyring) -> str:
        """The signing secret, opened for one delivery; SendFailed (not retryable) when no key opens it."""
        assert self.sealed_secret is not None
        try:
            return keyring.unseal(self.sealed_secret, secret_context(self.tenant_id, self.id))
        except SecretUnreadable as exc:
            raise SendFailed(f"cannot sign: {exc}", retryable=False) from None


def secret_context(tenant_id: str, channel_id: str) -> str:
    """What a sealed secret is bound to: it opens only as this tenant's this channel's secret."""
    return f"alert_channels\x00{tenant_id}\x00{channel_id}"


@dataclass(frozen=True, slots=True)
class Notice:
    """One transition of one alert, as every channel tells it."""

    tenant_id: str
    event_id: int
    rule_id: str
    transition: str  # firing | resolved
    family: str
    severity: str
    title: str
    summary: str
    value: float | None
    threshold: float | None
    started_at: datetime
    resolved_at: datetime | None

    def payload(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant_id, "event_id": self.event_id, "rule_id": self.rule_id, "state": self.transition,
            "family": self.family, "severity": self.severity, "title": self.title, "summary": self.summary,
            "value": self.value, "threshold": self.threshold, "started_at": self.started_at.isoformat(),
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
        }

    def headline(self) -> str:
        word = "FIRING" if self.transition == "firing" else "RESOLVED"
        return f"[{word}] [{self.severity}] {self.title} ({self.tenant_id})"


class SendFailed(Exception):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def parse_config(document: Any) -> ChannelConfig:
    return validated(ChannelConfig, document, "channel")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``timestamp + "." + body``; receivers recompute and compare."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _check(response: httpx.Response) -> None:
    if response.is_success:
        return
    retryable = response.status_code >= 500 or response.status_code in (408, 429)
    raise SendFailed(f"HTTP {response.status_code} from the receiver", retryable=retryable)


async def send(channel: Channel, notice: Notice, http: httpx.AsyncClient, mailer: Mailer, keyring: Keyring) -> None:
    config = channel.config
    try:
        match config.kind:
            case "webhook":
                assert config.url
                body = json.dumps(notice.payload(), separators=(",", ":"), sort_keys=True).encode()
                stamp = str(int(time.time()))
                headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: stamp,
                           SIGNATURE_HEADER: sign(channel.secret(keyring), stamp, body)}
                _check(await http.post(config.url, content=body, headers=headers))
            case "slack":
                assert config.url
                text = f"*{notice.headline()}*\n{notice.summary}"
                _check(await http.post(config.url, json={"text": text}))
            case "email":
                message = EmailMessage()
                message["Subject"] = notice.headline()
                message["To"] = ", ".join(config.to)
                message.set_content(f"{notice.summary}\n\nStarted: {notice.started_at.isoformat()}\n"
                                    f"Rule: {notice.rule_id}\nEvent: {notice.event_id}\n")
                await mailer.send(message)
    except (httpx.HTTPError, aiosmtplib.SMTPException, OSError) as exc:
        raise SendFailed(f"{exc.__class__.__name__} talking to the receiver", retryable=True) from exc


async def load(conn: asyncpg.Connection) -> dict[str, Channel]:
    rows = await conn.fetch("SELECT tenant_id, channel_id, config, secret FROM alert_channels ORDER BY channel_id")
    return {r["channel_id"]: Channel(r["channel_id"], r["tenant_id"],
                                     ChannelConfig.model_validate(r["config"], context={"stored": True}), r["secret"])
            for r in rows}


async def put(conn: asyncpg.Connection, tenant_id: str, channel_id: str, config: ChannelConfig,
              keyring: Keyring) -> None:
    secret = config.secret.get_secret_value() if config.secret else None
    await conn.execute(
        """INSERT INTO alert_channels (tenant_id, channel_id, kind, config, secret) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (tenant_id, channel_id) DO UPDATE SET kind = EXCLUDED.kind, config = EXCLUDED.config,
               secret = EXCLUDED.secret, updated_at = now()""",
        tenant_id, channel_id, config.kind, config.model_dump(mode="json", exclude={"secret"}),
        None if secret is None else keyring.seal(secret, secret_context(tenant_id, channel_id)),
    )


async def seal_clear_secrets(conn: asyncpg.Connection, keyring: Keyring) -> int:
    """Seal the secrets stored in clear before migration 0010, then let the database check every row; returns
    how many were sealed. Runs as the owner role (every tenant), in one transaction."""
    async with conn.transaction():
        rows = await conn.fetch(
            """SELECT tenant_id, channel_id, secret FROM alert_channels
               WHERE secret IS NOT NULL AND secret NOT LIKE 'sm-sealed-v1:%' FOR UPDATE""")
        sealed = [(r["tenant_id"], r["channel_id"], keyring.seal(r["secret"], secret_context(r["tenant_id"],
                                                                                               r["channel_id"])))
                  for r in rows]
        await conn.executemany("UPDATE alert_channels SET secret = $3 WHERE tenant_id = $1 AND channel_id = $2", sealed)
        if not await conn.fetchval(
                "SELECT convalidated FROM pg_constraint WHERE conname = 'alert_channels_secret_sealed'"):
            await conn.execute("ALTER TABLE alert_channels VALIDATE CONSTRAINT alert_channels_secret_sealed")
    return len(rows)


async def rewrap_secrets(conn: asyncpg.Connection, keyring: Keyring) -> tuple[int, list[str]]:
    """Re-wrap every stored secret's data key with the writing key (rotation); returns how many were, and the
    ``tenant/channel`` of those no configured key opens (left as they are). Owner role, one transaction."""
    done, unreadable = [], []
    async with conn.transaction():
        for r in await conn.fetch("SELECT tenant_id, channel_id, secret FROM alert_channels "
                                  "WHERE secret IS NOT NULL FOR UPDATE"):
            try:
                done.append((r["tenant_id"], r["channel_id"], keyring.rewrap(r["secret"])))
            except SecretUnreadable:
                unreadable.append(f"{r['tenant_id']}/{r['channel_id']}")
        await conn.executemany("UPDATE alert_channels SET secret = $3 WHERE tenant_id = $1 AND channel_id = $2", done)
    return len(done), unreadable
