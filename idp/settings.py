"""The provider's settings, each declared once: its default, its type, what it is for, its
range, whether it is a secret and, for a retention period (in days), which data it limits.
Start-up's check (``idp.config``), ``vhskoop-idp
settings`` and the documentation's configuration page are all made from ``SETTINGS``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    """One configuration key, declared once: its default, its type, what it is for, the
    range start-up enforces, whether it is a secret (``vhskoop-idp settings`` shows only
    "set"/"not set"), and the default as the configuration page writes it when it is not the
    value itself."""

    default: object
    kind: type
    doc: str
    low: float | None = None
    high: float | None = None
    secret: bool = False
    written: str | None = None
    kept: str | None = None  # a retention period: the data it limits (``idp.retention``)

    @property
    def written_default(self) -> str:
        """The default as the documentation's configuration page shows it."""
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
    "MOVE_TTL": Setting(14 * 86400, int, "How long the link that confirms a mover's new "
                        "address is valid; the next lifecycle pass after it sends a new one.",
                        low=1),
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
    "AUDIT_DAYS": Setting(180, int, "Audit events older than this are removed by `purge`.",
                          low=1, kept="audit events"),
    "AUDIT_IP_DAYS": Setting(7, int, "After this, `purge` shortens the IP addresses in audit "
                             "events (to /24, /48).", low=1,
                             kept="full IP addresses in audit events"),
    "SESSIONS_DAYS": Setting(
        7, int, "`purge` removes sessions, tokens and codes this long after they ended or "
        "expired, and the Verwaltungsprogramm's cached answers this long after the last one "
        "(codes stay that long on purpose: a late replay still revokes what one produced).",
        low=1, kept="ended sessions, tokens and codes; the program's cached answers"),
    "MAIL_DAYS": Setting(7, int, "`purge` removes a mail this long after it was delivered or "
                         "given up (what was sent, to whom, whether it arrived).", low=1,
                         kept="mails delivered or given up"),
    "LOGOUT_NOTICE_DAYS": Setting(7, int, "`purge` removes a back-channel logout notice this "
                                  "long after it was delivered or given up.", low=1,
                                  kept="back-channel logout notices delivered or given up"),
    "SSF_EVENT_DAYS": Setting(7, int, "`purge` removes a Shared Signals event (a security "
                              "event token for a service) this long after it was written; "
                              "push deliveries are retried until then.", low=1,
                              kept="security events for the services"),
    "HELP_REQUEST_DAYS": Setting(90, int, "`purge` removes help requests closed longer ago "
                                 "than this.", low=1, kept="closed help requests"),
    "PENDING_DAYS": Setting(7, int, "`purge` removes an account that asked for access "
                            "(\"Neuer Zugang\") and never followed its activation link this "
                            "long after it was made; never while a link still works.", low=1,
                            kept="accounts never activated"),
    "INACTIVE_DAYS": Setting(395, int, "An account nobody signed in to for this long (about 13 "
                             "months) is closed by `purge`, and deleted IDP_LEAVER_DELETE_DAYS "
                             "later; its person gets one mail 30 days before (a sign-in keeps "
                             "it). 0: never.", low=0, kept="accounts nobody signs in to"),
    "LIFECYCLE_CHECK_HOURS": Setting(
        24, float, "Every account whose eligibility a Verwaltungsprogramm decides is asked "
        "about again at least this often by the lifecycle pass (`lifecycle run`, the worker; "
        "the demo: 0.002, about 7 s).", low=0.001, high=24 * 30),
    "LIFECYCLE_CHECKS_PER_MINUTE": Setting(
        600, int, "At most this many addresses a minute are put to one VHS's program by the "
        "lifecycle pass (a batch counts each address).", low=1),
    "LEAVER_GRACE_DAYS": Setting(
        7, int, "A person whom the program has answered \"no\" for this long (at least twice, "
        "every answer \"no\") is closed as \"ausgeschieden\"; 0: at the next pass.", low=0),
    "LEAVER_DELETE_DAYS": Setting(
        90, int, "A closed leaver's account is deleted (as \"Zugang löschen\" does) this long "
        "after it was closed; 0: at the next pass.", low=0,
        kept="accounts of leavers, after they were closed"),
    "LEAVER_BRAKE_PERCENT": Setting(
        20, int, "When more than this share (in percent, and at least 5) of the accounts a "
        "VHS's program answered for within IDP_LIFECYCLE_CHECK_HOURS would be leavers, the "
        "lifecycle ends no access and closes nobody there, and tells its administrators and "
        "ITEM.", low=1, high=100),
    "PRIVACY_CONTROLLER": Setting(
        "", str, "Who is responsible for the data (GDPR Art. 4(7)): name, postal address and "
        "contact, for the record of processing and the privacy notice. A VHS may enter its "
        "own (`vhs set-privacy`, the console).", written="none"),
    "PRIVACY_DPO": Setting(
        "", str, "How to reach the data protection officer, for the record of processing and "
        "the privacy notice. A VHS may enter its own.", written="none"),
    "HELP_RECHECK_SECONDS": Setting(
        0, int, "How often the worker asks the program again about an open help request. 0: "
        "every 10 minutes on the request's first day, hourly after that (the demo: 5).",
        low=0, high=3600),
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
