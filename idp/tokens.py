"""Issued tokens and codes in the database: save, find, claim once, revoke.

"Claim once" is an UPDATE ... WHERE used_at IS NULL whose row count says who won, so two
concurrent requests with the same code or refresh token cannot both succeed, on SQLite
and on PostgreSQL alike.

A refresh token's successor is derived from it (``successor``): every use of one refresh
token names the same next one, so repeated and parallel uses within the grace window
leave one live refresh token per grant, not one per use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import and_, bindparam, false, func, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from . import audit, db, sealing
from .claims import Holder
from .models import (
    Account,
    AuthorizationCode,
    Client,
    EligibilityCheck,
    SsoSession,
    Status,
    Token,
    Vhs,
    digest,
    new_secret,
    now,
)


@dataclass
class PresentedToken:
    """A token string as a client presented it: the row and which of its two secrets.

    Implements what Authlib's revocation, introspection and bearer validation ask of a
    token (its TokenMixin), for the access or the refresh token of one row.
    """

    row: Token
    kind: str  # "access_token" or "refresh_token"

    @property
    def scope(self) -> str:
        return self.row.scope

    def check_client(self, client: Client) -> bool:
        return self.row.client_id == client.client_id

    def get_scope(self) -> str:
        return self.row.scope

    def get_client(self) -> Client:
        return self.row.client

    def get_user(self) -> Account | None:
        return self.row.account

    @property
    def expires_at(self) -> int:
        if self.kind == "refresh_token":
            return self.row.refresh_expires_at
        return self.row.access_expires_at

    def get_expires_in(self) -> int:
        return self.expires_at - self.row.issued_at

    def is_expired(self) -> bool:
        return self.expires_at <= now()

    def is_revoked(self) -> bool:
        if self.row.account is not None and self.row.account.status != Status.ACTIVE:
            return True  # a disabled person's tokens stop working at once
        if self.kind == "refresh_token":
            return bool(self.row.refresh_revoked_at or self.row.refresh_used_at)
        return bool(self.row.access_revoked_at)


INSERT_TOKEN = Token.__table__.insert()


def save(token: dict, client: Client, account: Account | None, *, family_id: str | None,
         code: AuthorizationCode | None, sid: str | None) -> None:
    """Store a freshly generated token response (digests only), by one INSERT on the
    request's connection: the ORM's unit of work would cost more than the statement."""
    issued = now()
    refresh = token.get("refresh_token")
    db.session().connection().execute(INSERT_TOKEN, {
        "client_id": client.client_id,
        "account_id": account.id if account else None,
        "access_token_hash": digest(token["access_token"]),
        "refresh_token_hash": digest(refresh) if refresh else None,
        "scope": token.get("scope", ""),
        "issued_at": issued,
        "access_expires_at": issued + token["expires_in"],
        "refresh_expires_at": issued + current_app.config["REFRESH_TOKEN_TTL"] if refresh
        else None,
        "family_id": family_id or new_secret(),
        "code_id": code.id if code else None,
        "sid": sid,
    })


FIND = {kind: select(Token).where(column == bindparam("hashed")) for kind, column in (
    ("access_token", Token.access_token_hash), ("refresh_token", Token.refresh_token_hash))}


def find(value: str, hint: str | None = None) -> PresentedToken | None:
    """The token a client presented, as access or refresh token (hint first)."""
    if not value or len(value) > 512:
        return None
    hashed = digest(value)
    kinds = ["refresh_token", "access_token"] if hint == "refresh_token" else [
        "access_token", "refresh_token"]
    for kind in kinds:
        row = db.session().scalar(FIND[kind], {"hashed": hashed})
        if row is not None:
            return PresentedToken(row, kind)
    return None


@dataclass(frozen=True)
class Bearer:
    """An access token presented at userinfo, with what its answer needs (one query)."""

    scope: str
    usable: bool  # neither expired nor revoked, and its person (if any) is active
    holder: Holder | None


BEARER = (
    select(Token.scope, Token.access_expires_at, Token.access_revoked_at, Token.account_id,
           Account.status, Account.sub, Vhs.slug, Account.address, Account.email_verified,
           Account.display_name, Account.legacy_id, Client.release_legacy_id, Vhs.name)
    .outerjoin(Account, Account.id == Token.account_id)
    .outerjoin(Vhs, Vhs.id == Account.vhs_id)
    .outerjoin(Client, Client.client_id == Token.client_id)
    .where(Token.access_token_hash == bindparam("hashed")))


def bearer(value: str, driver: db.Driver | None = None) -> Bearer | None:
    """The access token ``value`` and its holder, read by one prepared statement without
    the ORM (userinfo is the most frequent reader): on ``driver``, else on the request's
    session's connection."""
    if not value or len(value) > 512:
        return None
    params = {"hashed": digest(value)}
    found = driver.first(BEARER, params) if driver is not None else \
        db.session().connection().execute(BEARER, params).first()
    if found is None:
        return None
    (scope, expires_at, revoked_at, account_id, status, sub, vhs, address, verified,
     name, legacy_id, release_legacy_id, vhs_name) = found
    usable = (expires_at > now() and revoked_at is None
              and (account_id is None or status == Status.ACTIVE))
    holder = Holder(sub, vhs, address, bool(verified), name,
                    legacy_id if release_legacy_id else None, vhs_name) if account_id else None
    return Bearer(scope, usable, holder)


def successor(refresh_token: str) -> str:
    """The refresh token that replaces ``refresh_token`` when it is rotated: an HMAC of it
    under a key derived from IDP_SECRET_KEY (256 bits, URL-safe like every secret here).
    Only its digest is stored, as of every token; without the key nobody can derive it."""
    mac = hmac.new(sealing.key_for("refresh-successor"), refresh_token.encode(),
                   hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def successor_state(following: str) -> str | None:
    """What became of the successor refresh token ``following``: None when it was not
    issued, "live" while it is unused, "spent" once it was rotated or revoked."""
    row = db.session().execute(
        select(Token.refresh_used_at, Token.refresh_revoked_at)
        .where(Token.refresh_token_hash == digest(following))).first()
    if row is None:
        return None
    return "live" if row.refresh_used_at is None and row.refresh_revoked_at is None else "spent"


CLAIM_REFRESH = (
    update(Token.__table__)
    .where(Token.id == bindparam("token_id"), Token.refresh_used_at.is_(None),
           Token.refresh_revoked_at.is_(None))
    .values(refresh_used_at=bindparam("moment")))


def claim_refresh(row: Token) -> bool:
    """Mark a refresh token as used, exactly once; False when someone else did already."""
    moment = now()
    claimed = db.session().connection().execute(
        CLAIM_REFRESH, {"token_id": row.id, "moment": moment}).rowcount == 1
    if claimed:
        set_committed_value(row, "refresh_used_at", moment)  # as stored; nothing to flush
    return claimed


def revoke_family(family_id: str) -> None:
    """Revoke every access and refresh token of one grant (refresh reuse, revocation)."""
    revoke_families(Token.family_id == family_id)


def revoke_families(*where) -> None:
    """Revoke every grant (whole family) of which some token matches ``where``.

    The rows are locked first, in id order, then changed in one statement: concurrent
    revocations of one family (fifty reuses of one refresh token at once) then queue up
    behind each other instead of locking the rows in whatever order each one's scan finds
    them, which deadlocked on PostgreSQL. (SQLite has one writer; FOR UPDATE is dropped.)
    """
    moment = now()
    families = select(Token.family_id).where(*where).scalar_subquery()
    session = db.session()
    session.execute(select(Token.id).where(Token.family_id.in_(families))
                    .order_by(Token.id).with_for_update())
    session.execute(
        update(Token)
        .where(Token.family_id.in_(families),
               or_(Token.access_revoked_at.is_(None), Token.refresh_revoked_at.is_(None)))
        .values(access_revoked_at=func.coalesce(Token.access_revoked_at, moment),
                refresh_revoked_at=func.coalesce(Token.refresh_revoked_at, moment)),
        execution_options={"synchronize_session": False})


def revoke_account(account_id: int, client_id: str | None = None) -> None:
    """Revoke every grant of an account (of one client only, when given)."""
    where = [Token.account_id == account_id]
    if client_id is not None:
        where.append(Token.client_id == client_id)
    revoke_families(*where)


def connected_clients(account_id: int, live_sids: list[str]) -> set[Client]:
    """The clients an account is connected to: a token that still works, or one issued in
    a session that still lives (the client can get new ones without asking)."""
    moment = now()
    working = or_(
        and_(Token.access_revoked_at.is_(None), Token.access_expires_at > moment),
        and_(Token.refresh_revoked_at.is_(None), Token.refresh_used_at.is_(None),
             Token.refresh_expires_at > moment))
    live = Token.sid.in_(live_sids) if live_sids else false()
    return set(db.session().scalars(select(Client).where(Client.client_id.in_(
        select(Token.client_id).where(Token.account_id == account_id, or_(working, live))))))


def revoke_access(row: Token) -> None:
    """Revoke one access token; its refresh token stays valid (RFC 7009 2.1)."""
    db.session().execute(
        update(Token).where(Token.id == row.id, Token.access_revoked_at.is_(None))
        .values(access_revoked_at=now())
    )


def save_code(code: str, client: Client, account: Account, *, redirect_uri: str, scope: str,
              nonce: str | None, challenge: str | None, challenge_method: str | None,
              auth_time: int, amr: list[str], sid: str | None,
              acr: str | None = None) -> AuthorizationCode:
    """Store a new authorization code (its digest) with everything it is bound to."""
    issued = now()
    row = AuthorizationCode(
        code_hash=digest(code),
        client_id=client.client_id,
        account_id=account.id,
        redirect_uri=redirect_uri,
        scope=scope,
        nonce=nonce,
        code_challenge=challenge,
        code_challenge_method=challenge_method,
        auth_time=auth_time,
        amr=amr,
        acr=acr,
        sid=sid,
        created_at=issued,
        expires_at=issued + current_app.config["CODE_TTL"],
    )
    db.session().add(row)
    return row


FIND_CODE = select(AuthorizationCode).where(
    AuthorizationCode.code_hash == bindparam("hashed"),
    AuthorizationCode.client_id == bindparam("client_id"))
CLAIM_CODE = (
    update(AuthorizationCode.__table__)
    .where(AuthorizationCode.id == bindparam("code_id"), AuthorizationCode.used_at.is_(None))
    .values(used_at=bindparam("moment")))


def redeem_code(code: str, client: Client) -> AuthorizationCode | None:
    """Use a code once. A second use revokes every token the first use produced.

    A code that reached the token endpoint is spent, whatever happens after (a wrong PKCE
    verifier included): the claim is part of the request's transaction, which the token
    endpoint commits for refusals too.
    """
    if not code or len(code) > 512:
        return None
    session = db.session()
    row = session.scalar(FIND_CODE, {"hashed": digest(code), "client_id": client.client_id})
    if row is None:
        return None
    moment = now()
    claimed = session.connection().execute(
        CLAIM_CODE, {"code_id": row.id, "moment": moment}).rowcount == 1
    if claimed:
        set_committed_value(row, "used_at", moment)  # as stored; nothing to flush
    else:
        revoke_families(Token.code_id == row.id)
        account = db.session().get(Account, row.account_id)
        audit.record("code_replay", vhs=account.vhs.slug if account else None,
                     sub=account.sub if account else None, client=client.client_id,
                     detail="the tokens it gave were revoked")
    if not claimed or row.expires_at <= moment:
        return None
    return row


NONCE_SEEN = select(AuthorizationCode.id).where(
    AuthorizationCode.client_id == bindparam("client_id"),
    AuthorizationCode.nonce == bindparam("nonce")).limit(1)


def nonce_seen(client_id: str, nonce: str) -> bool:
    """Whether a code was already issued to this client with this nonce (replay)."""
    return db.session().scalar(NONCE_SEEN, {"client_id": client_id, "nonce": nonce}) is not None


def purge_expired(older_than: int) -> dict[str, int]:
    """Delete tokens, codes, SSO sessions and eligibility answers over before ``older_than``
    (a token whose refresh token was revoked then, too: a revoked family is refused anyway).

    Codes are kept that long after expiry on purpose: they remember nonces (replay checks)
    and let a late replay still revoke what the code produced.
    """
    session = db.session()
    removed = {
        "tokens": session.execute(
            Token.__table__.delete().where(
                Token.access_expires_at < older_than,
                or_(Token.refresh_expires_at.is_(None), Token.refresh_expires_at < older_than,
                    Token.refresh_revoked_at < older_than),
            )
        ).rowcount,
        "codes": session.execute(
            AuthorizationCode.__table__.delete().where(AuthorizationCode.expires_at < older_than)
        ).rowcount,
        "sessions": session.execute(
            SsoSession.__table__.delete().where(
                or_(SsoSession.expires_at < older_than, SsoSession.ended_at < older_than)
            )
        ).rowcount,
        # Answers of the Verwaltungsprogramm: no longer a cache, nor a grace-period basis.
        "eligibility answers": session.execute(
            EligibilityCheck.__table__.delete().where(
                EligibilityCheck.checked_at < older_than,
                or_(EligibilityCheck.last_eligible_at.is_(None),
                    EligibilityCheck.last_eligible_at < older_than),
            )
        ).rowcount,
    }
    return removed
