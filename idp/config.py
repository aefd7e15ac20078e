"""The provider's configuration: the declared defaults (``idp.settings``), IDP_* overrides,
checks.

Every setting can be overridden by an environment variable of the same name with the
prefix ``IDP_`` (``IDP_ISSUER``, ``IDP_ACCESS_TOKEN_TTL``, ...). ``check(config)`` runs once
at start-up and names the variable at fault.
"""

from __future__ import annotations

import math
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from limits import parse_many

from .connectors.portal import PortalSettings
from .settings import SETTINGS, Setting

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
