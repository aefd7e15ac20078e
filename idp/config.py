"""The provider's configuration: one documented defaults mapping, IDP_* overrides, checks.

Every setting can be overridden by an environment variable of the same name with the
prefix ``IDP_`` (``IDP_ISSUER``, ``IDP_ACCESS_TOKEN_TTL``, ...). The README's
configuration reference is this table. ``check(config)`` runs once at start-up and names
the variable at fault.
"""

from __future__ import annotations

import math
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from limits import parse_many

from .connectors.portal import PortalSettings


@dataclass(frozen=True)
class Setting:
    """One configuration key, declared once: its default, its type, what it is for, the
    range start-up enforces, whether it is a secret (``vhskoop-idp settings`` shows only
    "set"/"not set"), and the default as the README's table writes it when it is not the
    value itself."""

    default: object
    kind: type
    doc: str
    low: float | None = None
    high: float | None = None
    secret: bool = False
    written: str | None = None

    @property
    def written_default(self) -> str:
        """The default as the README's configuration table shows it."""
        if self.written is not None:
            return self.written
        return "empty" if self.default == "" else f"`{self.default}`"


SETTINGS: dict[str, Setting] = {
    "ENV": Setting(
        "production",
        str,
        "`production` or `development`. Development generates a secret key, upgrades the "
        "database by itself and allows http issuers on any host.",
    ),
    "ISSUER": Setting(
        "http://127.0.0.1:5000",
        str,
        "The exact issuer URL (scheme, host, port, optional path; no trailing slash). "
        "Every link and every token is built from it, never from the Host header.",
    ),
    "DATABASE_URL": Setting(
        "",
        str,
        "SQLAlchemy URL. Empty: a SQLite file `idp.sqlite3` in the instance folder. "
        "PostgreSQL: `postgresql+psycopg://user@host/db`.",
        secret=True, written="SQLite file `idp.sqlite3` in the instance folder"
    ),
    "KEYS_DIR": Setting(
        "", str, "Signing-key folder. Empty: `signing-keys` in the instance folder.",
        written="`signing-keys` in the instance folder"
    ),
    "KEYS_PASSPHRASE": Setting(
        "", str, "When set, private signing keys are stored encrypted with it.",
        secret=True
    ),
    "KEYS_RELOAD_SECONDS": Setting(
        30, int, "How often a running instance looks for rotated keys on disk.",
        low=1, high=60
    ),
    "SECRET_KEY": Setting(
        "",
        str,
        "Signs the browser session and CSRF tokens. Required outside development "
        "(at least 32 characters).",
        secret=True, written="none"
    ),
    "ACCESS_TOKEN_TTL": Setting(600, int, "Access-token lifetime in seconds.", low=1),
    "ID_TOKEN_TTL": Setting(600, int, "ID-token lifetime in seconds.", low=1),
    "REFRESH_TOKEN_TTL": Setting(
        30 * 86400, int, "Lifetime of each refresh token in seconds (renewed at rotation).",
        low=1
    ),
    "CODE_TTL": Setting(60, int, "Authorization-code lifetime in seconds.", low=1, high=600),
    "SESSION_TTL": Setting(
        12 * 3600, int, "Lifetime of a single sign-on session without 'Angemeldet bleiben'.",
        low=1
    ),
    "REMEMBER_TTL": Setting(
        30 * 86400, int, "Lifetime of a single sign-on session with 'Angemeldet bleiben'.",
        low=1
    ),
    "SESSION_IDLE_SECONDS": Setting(
        2 * 3600, int, "A session without 'Angemeldet bleiben' ends after this idle time.",
        low=1
    ),
    "REMEMBER_IDLE_SECONDS": Setting(
        14 * 86400, int, "A session with 'Angemeldet bleiben' ends after this idle time.",
        low=1
    ),
    "REFRESH_REUSE_GRACE_SECONDS": Setting(
        30,
        int,
        "A rotated refresh token used again by the same client within this time gets a new "
        "token set (two tabs, a retry after a timeout); later reuse revokes the whole "
        "grant (RFC 9700 4.14.2). 0: any reuse revokes.",
        low=0, high=300
    ),
    "THROTTLE_IP": Setting(
        "30 per minute; 200 per hour",
        str,
        "Failed sign-ins allowed per client IP address, whatever the account (limits syntax).",
    ),
    "THROTTLE_ADDRESS_IP": Setting(
        "5 per minute; 10 per 15 minutes; 20 per hour",
        str,
        "Failed sign-ins allowed per VHS, typed address and client IP: growing waits.",
    ),
    "THROTTLE_ACCOUNT": Setting(
        "100 per day",
        str,
        "Failed sign-ins per VHS and typed address from all IPs together (NIST SP 800-63B "
        "5.2.2); past it, browsers that never signed in to that account wait "
        "IDP_THROTTLE_SLOWED. A successful sign-in starts the count anew.",
    ),
    "THROTTLE_SLOWED": Setting(
        "1 per minute", str, "Sign-in attempts to an account past its ceiling, from new browsers."
    ),
    "THROTTLE_CODE_ATTEMPT": Setting(
        "5 per 15 minutes",
        str,
        "Wrong second-factor codes (TOTP, recovery code) per login attempt; then the "
        "attempt ends and the password is asked again.",
    ),
    "THROTTLE_CODE_ACCOUNT": Setting(
        "20 per hour; 100 per day",
        str,
        "Wrong second-factor codes per account from browsers that never signed in to it; "
        "past it, their second step waits (the day's ceiling is NIST SP 800-63B's 100).",
    ),
    "THROTTLE_CLIENT_IP": Setting(
        "30 per minute; 300 per hour",
        str,
        "Failed client authentications at /token, /revoke and /introspect per client IP.",
    ),
    "RATELIMIT_SELFSERVICE_IP": Setting(
        "20 per 10 minutes; 60 per hour",
        str,
        '"Neuer Zugang" and "Passwort vergessen" requests per client IP (each counted apart).',
    ),
    "RATELIMIT_SELFSERVICE_ADDRESS": Setting(
        "3 per 10 minutes; 10 per day",
        str,
        "The same per VHS and typed address, known or not (mail flooding).",
    ),
    "REDIS_URL": Setting(
        "",
        str,
        "Throttle and rate-limit counters in this Redis (shared by all instances); empty: "
        "in memory. While Redis cannot be reached, each instance counts in memory.",
        secret=True
    ),
    "PROXIES": Setting(
        0, int, "How many reverse proxies in front set X-Forwarded-For/-Proto (0: none).",
        low=0, high=5
    ),
    "ELIGIBILITY_CACHE_SECONDS": Setting(
        60, int, "How long an adapter's answer for an address is reused at logins.",
        low=0
    ),
    "ELIGIBILITY_GRACE_SECONDS": Setting(
        86400,
        int,
        "While the Verwaltungsprogramm is unreachable, a person found eligible within this "
        "time may still log in (0: nobody).",
        low=0
    ),
    "ACTIVATION_TTL": Setting(72 * 3600, int, "How long an activation link is valid.", low=1),
    "RESET_TTL": Setting(3600, int, "How long a password-reset link is valid.", low=1),
    "PASSWORD_MIN_LENGTH": Setting(12, int, "The shortest password a person may set.",
                                   low=8, high=64),
    "SELFSERVICE_ANSWER_SECONDS": Setting(
        0.4,
        float,
        '"Neuer Zugang" and "Passwort vergessen" answer no earlier than this after the '
        "request arrived, so known and unknown addresses take the same time.",
        low=0, high=5
    ),
    "MAIL_INTERVAL_SECONDS": Setting(
        900, int, "At most one mail of each kind per address and VHS within this time.",
        low=0
    ),
    "MAIL_GIVE_UP_SECONDS": Setting(
        2 * 86400, int, "After this time an undeliverable mail is given up (and logged).",
        low=1
    ),
    "MAIL_TIMEOUT_SECONDS": Setting(20, int, "SMTP connect and read timeout.", low=1),
    "PORTAL_GRACE_SECONDS": Setting(
        86400,
        int,
        "While the VHS's itm:PORTAL is unreachable, a local account whose address the portal "
        "said it did not know within this time signs in with its local password (0: nobody; "
        "portal users never).",
        low=0
    ),
    "LEGACY_LOGIN_URL": Setting("", str, "The old login, asked once to confirm the password "
                                "of an imported account that came without a hash (its "
                                "itm:PORTAL-style `/api/idp/v1/verify`); https, http only on "
                                "loopback. A VHS's own (`vhs set-legacy-login`) comes first."),
    "LEGACY_LOGIN_CREDENTIAL": Setting("", str, "The bearer credential for "
                                       "`IDP_LEGACY_LOGIN_URL` (16 characters or more).",
                                       secret=True),
    "AUDIT_DAYS": Setting(180, int, "Audit events older than this are removed by `purge`.", low=1),
    "AUDIT_IP_DAYS": Setting(7, int, "After this, `purge` shortens the IP addresses in audit "
                             "events (to /24, /48).", low=1),
    "HELP_REQUEST_DAYS": Setting(90, int, "`purge` removes help requests closed longer ago "
                                 "than this.", low=1),
    "DB_TIMEOUT_SECONDS": Setting(
        5,
        int,
        "PostgreSQL: connect timeout, statement timeout, and the longest time one request "
        "waits for the database in all (its turn, a connection, every answer); a "
        "database that does not answer in time is a 503.",
        low=1
    ),
    "DB_CONCURRENT_REQUESTS": Setting(
        3,
        int,
        "How many requests of one worker may use the database at once; the others wait "
        "for a turn, or get a 503 at once while the database hangs. Keep it below the "
        "server's threads per worker, so that a hung database leaves a thread for "
        "discovery, JWKS and /healthz.",
        low=1, high=50
    ),
    "CLIENTS_RELOAD_SECONDS": Setting(
        10,
        int,
        "How long an instance reuses a relying party's registration before reading it again "
        "(a change made on another instance or by a command takes effect within this time).",
        low=0, high=300
    ),
    "METRICS_TOKEN": Setting(
        "",
        str,
        "Bearer token for GET /metrics (Prometheus). Empty: /metrics answers loopback only.",
        secret=True
    ),
    "LOG_FORMAT": Setting(
        "", str, "`json` (one object a line) or `text`. Empty: json, text in development.",
        written="`json` (`text` in development)"
    ),
    "ARGON2_TIME_COST": Setting(3, int, "Argon2id iterations for password hashes.", low=1),
    "ARGON2_MEMORY_COST": Setting(65536, int, "Argon2id memory in KiB for password hashes.",
                                  low=8),
    "ARGON2_PARALLELISM": Setting(1, int, "Argon2id lanes for password hashes.", low=1),
}

_LIMITS = ("THROTTLE_IP", "THROTTLE_ADDRESS_IP", "THROTTLE_ACCOUNT", "THROTTLE_SLOWED",
           "THROTTLE_CODE_ATTEMPT", "THROTTLE_CODE_ACCOUNT", "THROTTLE_CLIENT_IP",
           "RATELIMIT_SELFSERVICE_IP", "RATELIMIT_SELFSERVICE_ADDRESS")


class ConfigError(Exception):
    """The configuration cannot work; the message names the variable."""


def load(instance_path: str, overrides: dict | None = None) -> dict:
    """Return the effective settings: defaults, then IDP_* environment, then overrides."""
    values: dict[str, object] = {}
    for name, setting in SETTINGS.items():
        raw = os.environ.get(f"IDP_{name}")
        if raw is None:
            values[name] = setting.default
        elif setting.kind in (int, float):
            try:
                values[name] = setting.kind(raw)
            except ValueError:
                kind = "a whole number" if setting.kind is int else "a number"
                raise ConfigError(f"IDP_{name} must be {kind}, not {raw!r}.") from None
        else:
            values[name] = raw
    values.update(overrides or {})
    if not values["DATABASE_URL"]:
        values["DATABASE_URL"] = "sqlite:///" + str(Path(instance_path) / "idp.sqlite3")
    if not values["KEYS_DIR"]:
        values["KEYS_DIR"] = str(Path(instance_path) / "signing-keys")
    values["ISSUER"] = str(values["ISSUER"])
    return values


def check(values: dict, instance_path: str) -> dict:
    """Validate the settings once; fill in a development secret. Raises ConfigError."""
    env = values["ENV"]
    if env not in ("production", "development"):
        raise ConfigError(f"IDP_ENV must be 'production' or 'development', not {env!r}.")
    _check_issuer(values["ISSUER"], development=env == "development")
    for name, setting in SETTINGS.items():
        _check_range(name, setting, values[name])
    for name in _LIMITS:
        try:
            if not parse_many(str(values[name])):
                raise ValueError("empty")
        except ValueError:
            raise ConfigError(f"IDP_{name} must be rate limits like '5 per minute; 20 per "
                              f"hour', not {values[name]!r}.") from None
    if not values["LOG_FORMAT"]:
        values["LOG_FORMAT"] = "text" if env == "development" else "json"
    if values["LOG_FORMAT"] not in ("json", "text"):
        raise ConfigError("IDP_LOG_FORMAT must be 'json' or 'text'.")
    if values["LEGACY_LOGIN_URL"]:
        try:
            PortalSettings(values["LEGACY_LOGIN_URL"], values["LEGACY_LOGIN_CREDENTIAL"]).check()
        except ValueError as error:
            raise ConfigError(f"IDP_LEGACY_LOGIN_URL: {error}") from None
    if values["METRICS_TOKEN"] and len(values["METRICS_TOKEN"]) < 16:
        raise ConfigError("IDP_METRICS_TOKEN must be at least 16 characters long.")
    if values["REDIS_URL"] and not str(values["REDIS_URL"]).startswith(("redis://", "rediss://")):
        raise ConfigError("IDP_REDIS_URL must be a redis:// or rediss:// URL.")
    secret = values["SECRET_KEY"]
    if not secret:
        if env != "development":
            raise ConfigError(
                "IDP_SECRET_KEY is required outside development: set it to a random value "
                "of at least 32 characters, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
            )
        values["SECRET_KEY"] = _development_secret(instance_path)
    elif len(secret) < 32:
        raise ConfigError("IDP_SECRET_KEY must be at least 32 characters long.")
    if not str(values["DATABASE_URL"]).startswith(("sqlite", "postgresql")):
        raise ConfigError("IDP_DATABASE_URL must be a sqlite:// or postgresql+psycopg:// URL.")
    return values


def _check_range(name: str, setting: Setting, value) -> None:
    """A number within the declared range (a lifetime is at least 1 second, a code lives
    at most 600, RFC 6749 4.1.2)."""
    if setting.low is None and setting.high is None:
        return
    low = -math.inf if setting.low is None else setting.low
    high = math.inf if setting.high is None else setting.high
    if low <= value <= high:
        return
    if setting.high is None:
        raise ConfigError(f"IDP_{name} must be at least {setting.low}, not {value!r}.")
    raise ConfigError(f"IDP_{name} must be between {setting.low} and {setting.high}, "
                      f"not {value!r}.")


def _check_issuer(issuer: str, development: bool) -> None:
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"IDP_ISSUER must be an http(s) URL with a host, not {issuer!r}.")
    if parts.query or parts.fragment or issuer.endswith("/"):
        raise ConfigError("IDP_ISSUER must have no query, no fragment and no trailing slash.")
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme == "http" and not (loopback or development):
        raise ConfigError("IDP_ISSUER must use https outside development (OIDC Core 3.1.2.1).")


def _development_secret(instance_path: str) -> str:
    """Keep one random secret per instance folder so dev sessions survive a restart."""
    path = Path(instance_path) / "dev-secret-key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def init_app(app, overrides: dict | None = None) -> None:
    """Load, check and apply the settings, plus the Flask settings that follow from them."""
    os.makedirs(app.instance_path, mode=0o700, exist_ok=True)
    values = check(load(app.instance_path, overrides), app.instance_path)
    secure = values["ISSUER"].startswith("https://")
    app.config.update(values)
    app.config.update(
        SESSION_COOKIE_NAME="__Host-idp_session" if secure else "idp_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        PREFERRED_URL_SCHEME="https" if secure else "http",
        MAX_CONTENT_LENGTH=64 * 1024,
        MAX_FORM_MEMORY_SIZE=64 * 1024,
        MAX_FORM_PARTS=200,
        WTF_CSRF_TIME_LIMIT=3600,
        # The pages show our own German and English messages, never WTForms' own; its
        # catalogue would be read from disk anew for every request (0.3 ms a page).
        WTF_I18N_ENABLED=False,
        JSON_SORT_KEYS=False,
    )
