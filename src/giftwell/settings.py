"""Settings, read from the environment (prefix `GIFTWELL_`) and an optional `.env` file.

Built at start-up by the entry points (`create_app`, the CLI, the worker), never at import.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from giftwell.domain.ratelimit import Network, Rate, parse_networks

log = logging.getLogger(__name__)

MIN_SECRET_LENGTH = 32
MAX_AUTH_CODE_TTL = 600
PLACEHOLDER_SECRETS = {"change-me", "changeme", "secret", "x" * 32}


class SettingsError(Exception):
    """Settings that cannot work; the message says which variable to fix."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GIFTWELL_", env_file=".env", extra="ignore")

    data_dir: Path = Path("./var")
    database_url: str | None = None
    secret_key: SecretStr | None = None
    # Earlier secrets, still read during and after a key rotation (comma-separated, newest first).
    secret_key_previous: SecretStr | None = None
    # A key file instead: one `VERSION SECRET` a line (`#` comments); the highest version is
    # current, the others are previous. Exclusive with GIFTWELL_SECRET_KEY.
    secret_key_file: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    log_level: str = "info"
    # "json" (one object a line) or "text"; unset: text on a terminal, JSON otherwise.
    log_format: str | None = None
    # Serve /metrics without authentication on this port too (a private network's scraper).
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # Where that port listens; unset: GIFTWELL_HOST.
    metrics_host: str | None = None
    # /readyz also wants a live `giftwell worker` (a heartbeat within one job lease) when this
    # process runs none itself; a process that runs one in-process always checks its own.
    ready_requires_worker: bool = False
    # Holds (pending transfers) expire after this long unless the request sets its own TTL.
    hold_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=1)
    # An order's funds stay reserved this long at most: fulfilment must end before (a background
    # order stuck longer fails its remaining cards rather than issue them unpaid).
    order_hold_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=3600)
    idempotency_ttl_hours: int = Field(default=24, ge=24)
    # How long an in-flight idempotent request keeps its key before a retry may take it over.
    idempotency_lease_seconds: int = Field(default=60, ge=1)
    sweep_interval_seconds: float = Field(default=30.0, gt=0)
    # FULL: a committed transfer survives power loss, not only a process crash.
    sqlite_synchronous: str = "FULL"
    # PostgreSQL connections per process (SQLite always uses one).
    db_pool_size: int = Field(default=20, ge=1)
    # GIFTWELL_DATABASE_URL points at PgBouncer in transaction mode (or another pooler that hands
    # a server connection to a client per transaction): no statement is prepared by name, so none
    # is looked for on a server connection it was not prepared on. See docs/scaling.md.
    database_pgbouncer: bool = False
    # Access: lifetimes of what the OAuth server issues, web sessions and the sign-in lockout.
    access_token_ttl_seconds: int = Field(default=3600, ge=60)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=60)
    # RFC 6749 section 4.1.2 recommends at most 10 minutes; larger values are capped to it.
    auth_code_ttl_seconds: int = Field(default=600, ge=10)
    session_ttl_seconds: int = Field(default=12 * 3600, ge=60)
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_seconds: int = Field(default=15 * 60, ge=1)

    @field_validator("auth_code_ttl_seconds")
    @classmethod
    def _cap_code_ttl(cls, v: int) -> int:
        return min(v, MAX_AUTH_CODE_TTL)

    # Background jobs. A claimed job belongs to its worker until `job_lease_seconds` pass without
    # a heartbeat (the worker renews it every third of that while the handler runs).
    job_lease_seconds: float = Field(default=60.0, gt=0)
    job_max_attempts: int = Field(default=10, ge=1)
    # Retry delay after failed attempt n: uniform in [1s, min(cap, base * 2^(n-1))] (full jitter).
    job_backoff_base_seconds: float = Field(default=5.0, gt=0)
    job_backoff_cap_seconds: float = Field(default=3600.0, gt=0)
    # A handler running longer than this is cancelled and the attempt counts as failed.
    job_timeout_seconds: float = Field(default=300.0, gt=0)
    # Days a finished (done) job is kept before the periodic purge deletes it.
    job_retention_days: int = Field(default=14, ge=1)
    # Webhook attempt logs older than this are purged (hourly, in batches).
    webhook_attempt_retention_days: int = Field(default=30, ge=1)
    # Events (with their webhook deliveries, once all have ended) older than this are purged;
    # unset: kept for ever.
    event_retention_days: int | None = Field(default=None, ge=1)
    worker_concurrency: int = Field(default=4, ge=1)
    worker_poll_interval_seconds: float = Field(default=1.0, gt=0)
    # On SIGTERM a worker waits this long for in-flight jobs, then releases them to other workers.
    worker_shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    # Run a worker inside `giftwell serve`. Unset: yes for the embedded SQLite default, no for
    # PostgreSQL (where `giftwell worker` processes do the work).
    run_worker_in_process: bool | None = None
    # Request rate limits, in the `limits` notation ("300000/minute", "100 per second",
    # "10/5 minutes"); "0" turns one off. Generous on purpose: a single process on two cores
    # serves a few thousand requests a second, so the defaults only stop a runaway client and
    # never a benchmark; tighten them per deployment.
    rate_limit_per_token: str = "300000/minute"  # noqa: S105 - a rate, not a secret
    rate_limit_per_ip: str = "600000/minute"
    # How long a process trusts a token it verified without asking the database again. A token
    # revoked in another process stops working within this time (at once in the revoking one);
    # 0 turns the cache off (every request reads its token). See docs/security.md.
    token_cache_seconds: float = Field(default=1.0, ge=0, le=60)
    # Where counters live: "memory" (one process), "database" (shared by every process on the
    # same database), or a URL the `limits` library knows ("redis://host:6379"). None picks
    # memory for the embedded SQLite default and the database otherwise.
    rate_limit_storage: str | None = None
    # Comma-separated proxy addresses or networks whose X-Forwarded-For is believed.
    trusted_proxies: str = ""
    # The guessing guard: failed code lookups allowed per client and per IP in each window.
    guess_max_failures: int = Field(default=10, ge=1)
    guess_window_seconds: int = Field(default=3600, ge=1)
    # Webhooks. Private, loopback and link-local destinations (and plain http) are refused unless
    # allowed; unset: allowed in the embedded SQLite default only (a developer's own machine).
    webhooks_allow_private: bool | None = None
    # One attempt's whole budget: connecting, sending, and reading the answer.
    webhook_timeout_seconds: float = Field(default=15.0, gt=0, le=60)
    # An endpoint whose attempts have all failed for this long is disabled (and the account told).
    webhook_disable_after_days: float = Field(default=5.0, gt=0)
    # After a secret rotation, deliveries are signed with both secrets for this long by default.
    webhook_rotation_overlap_seconds: int = Field(default=24 * 3600, ge=0, le=7 * 24 * 3600)

    # Upstream suppliers. One call's whole budget; how long to wait between polls of an order
    # the upstream is still making (doubling from the first to the cap).
    supplier_timeout_seconds: float = Field(default=15.0, gt=0, le=120)
    supplier_poll_seconds: float = Field(default=10.0, gt=0)
    supplier_poll_max_seconds: float = Field(default=600.0, gt=0)

    # Delivery. Email through SMTP: smtp://user:pass@host:587?starttls=true (smtps:// for TLS from
    # the first byte). SMS through an HTTP gateway speaking Twilio's Messages API. A channel left
    # unset writes its messages to the mail folder instead (the embedded default: nothing to set up),
    # `GIFTWELL_OUTBOX_DIR` (default `var/outbox/`, the name `giftwell outbox list` shows).
    smtp_url: SecretStr | None = None
    mail_from: str = "Giftwell <giftwell@localhost>"
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    sms_url: str | None = None
    sms_account_sid: str | None = None
    sms_auth_token: SecretStr | None = None
    sms_from: str | None = None
    sms_timeout_seconds: float = Field(default=15.0, gt=0)
    outbox_dir: Path | None = None
    # Amounts and dates in messages and on reward pages, unless a notification names its locale.
    default_locale: str = "en"

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, v: str | None) -> str | None:
        # Refused here, at start-up, rather than as a traceback when the engine is built.
        if v is None or v.strip() == "":
            return None
        v = v.strip()
        scheme = v.partition("://")[0].partition("+")[0].lower()
        if "://" not in v or scheme not in {"sqlite", "postgresql", "postgres"}:
            raise ValueError("must be sqlite:///path or postgresql://user@host:port/db")
        return v

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        v = v.strip().lower()
        if v not in {"json", "text"}:
            raise ValueError("must be json or text")
        return v

    @field_validator("sqlite_synchronous")
    @classmethod
    def _sync_mode(cls, v: str) -> str:
        v = v.upper()
        if v not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError("must be OFF, NORMAL, FULL or EXTRA")
        return v

    @field_validator("smtp_url")
    @classmethod
    def _smtp(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value().strip():
            return None
        if not v.get_secret_value().strip().lower().startswith(("smtp://", "smtps://")):
            raise ValueError("must start with smtp:// or smtps://")
        return v

    @field_validator("sms_url")
    @classmethod
    def _sms(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        if not v.strip().lower().startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return v.strip()

    @field_validator("rate_limit_per_token", "rate_limit_per_ip")
    @classmethod
    def _rate(cls, v: str) -> str:
        parse_rate(v)
        return v.strip()

    @field_validator("rate_limit_storage")
    @classmethod
    def _storage(cls, v: str | None) -> str | None:
        if v is None or v.strip() == "":
            return None
        v = v.strip()
        if v not in {"memory", "database"} and "://" not in v:
            raise ValueError('must be "memory", "database" or a storage URL such as redis://host:6379')
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, v: str) -> str:
        parse_networks(v)
        return v

    @property
    def token_rate(self) -> Rate | None:
        return parse_rate(self.rate_limit_per_token)

    @property
    def ip_rate(self) -> Rate | None:
        return parse_rate(self.rate_limit_per_ip)

    @property
    def trusted_proxy_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies)

    @property
    def resolved_rate_limit_storage(self) -> str:
        return self.rate_limit_storage or ("memory" if self.embedded else "database")

    @property
    def embedded(self) -> bool:
        """The embedded default: SQLite under the data dir (one process, nothing to install)."""
        return self.resolved_database_url.startswith("sqlite")

    @property
    def webhooks_private_allowed(self) -> bool:
        if self.webhooks_allow_private is None:
            return self.embedded
        return self.webhooks_allow_private

    @property
    def worker_in_process(self) -> bool:
        if self.run_worker_in_process is None:
            return self.embedded
        return self.run_worker_in_process

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'giftwell.db').as_posix()}"

    @property
    def secret(self) -> str:
        if self.secret_key is None:  # pragma: no cover - load_settings always fills it
            raise SettingsError("GIFTWELL_SECRET_KEY is not set")
        return self.secret_key.get_secret_value()

    @property
    def previous_secrets(self) -> tuple[str, ...]:
        """Earlier secrets, newest first (read, never written with)."""
        if self.secret_key_previous is None:
            return ()
        return tuple(p.strip() for p in self.secret_key_previous.get_secret_value().split(",") if p.strip())

    @property
    def mail_dir(self) -> Path:
        return self.outbox_dir or self.data_dir / "outbox"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


def parse_rate(text: str) -> Rate | None:
    """A rate in the `limits` notation, or None for "0" (no limit)."""
    text = text.strip()
    if text in {"", "0"}:
        return None
    import limits

    item = limits.parse(text)  # ValueError names the string when it cannot be read
    if item.amount == 0:
        return None
    return Rate(item.amount, int(item.get_expiry()))


def load_settings(**overrides: object) -> Settings:
    """Build and check settings; in the embedded default, generate a secret key if none is set."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None
    if settings.secret_key_file is not None:
        if settings.secret_key is not None:
            raise SettingsError("set GIFTWELL_SECRET_KEY or GIFTWELL_SECRET_KEY_FILE, not both")
        current, previous = read_key_file(settings.secret_key_file)
        settings.secret_key = SecretStr(current)
        if previous:
            settings.secret_key_previous = SecretStr(",".join(previous))
    if settings.secret_key is None:
        if not settings.embedded:
            raise SettingsError(
                "GIFTWELL_SECRET_KEY must be set (32+ characters) when not using the embedded SQLite default"
            )
        settings.secret_key = SecretStr(_embedded_secret(settings.data_dir))
    key = settings.secret
    if len(key) < MIN_SECRET_LENGTH:
        raise SettingsError(f"GIFTWELL_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters")
    if key.lower() in PLACEHOLDER_SECRETS and not settings.embedded:
        raise SettingsError("GIFTWELL_SECRET_KEY is a placeholder; set a real random secret")
    if any(len(p) < MIN_SECRET_LENGTH for p in settings.previous_secrets):
        raise SettingsError(f"each GIFTWELL_SECRET_KEY_PREVIOUS must be at least {MIN_SECRET_LENGTH} characters")
    if settings.sms_url is not None and not settings.sms_from:
        raise SettingsError("GIFTWELL_SMS_FROM must be set (the sender number) when GIFTWELL_SMS_URL is")
    return settings


def read_key_file(path: Path) -> tuple[str, tuple[str, ...]]:
    """(current, previous newest first) from a key file: `VERSION SECRET` a line, `#` comments.
    The file should be readable by Giftwell's user only."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise SettingsError(f"GIFTWELL_SECRET_KEY_FILE: cannot read {path}: {exc.strerror}") from None
    versions: dict[int, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        number, _, secret = line.partition(" ")
        if not number.isdigit() or not secret.strip():
            raise SettingsError(f"GIFTWELL_SECRET_KEY_FILE: line {n} is not `VERSION SECRET`")
        if int(number) in versions:
            raise SettingsError(f"GIFTWELL_SECRET_KEY_FILE: version {number} appears twice")
        if len(secret.strip()) < MIN_SECRET_LENGTH:
            raise SettingsError(
                f"GIFTWELL_SECRET_KEY_FILE: version {number} is shorter than {MIN_SECRET_LENGTH} characters"
            )
        versions[int(number)] = secret.strip()
    if not versions:
        raise SettingsError(f"GIFTWELL_SECRET_KEY_FILE: {path} holds no key")
    ordered = [versions[v] for v in sorted(versions, reverse=True)]
    return ordered[0], tuple(ordered[1:])


def _describe(exc: ValidationError) -> str:
    """One line per bad variable, named as it is set: `GIFTWELL_PORT: Input should be ...`.
    The value itself is left out (it may be the secret key)."""
    lines = []
    for err in exc.errors():
        name = "_".join(str(part) for part in err["loc"] if isinstance(part, str))
        msg = str(err["msg"]).removeprefix("Value error, ")
        lines.append(f"GIFTWELL_{name.upper()}: {msg}")
    return "; ".join(lines) or str(exc)


def _embedded_secret(data_dir: Path) -> str:
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    log.warning(
        "GIFTWELL_SECRET_KEY is not set: generated one into %s (keep this file; codes are encrypted with it)", path
    )
    return value
