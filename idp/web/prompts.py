"""What a person must do before /authorize answers: its prompts, decided in one place.

An authorization request meets ``PROMPTS`` in order; the first that is needed answers
(node-oidc-provider's interaction policy has the same shape: prompts made of checks):
1. ``login``: no session; else, unless the person signed in a moment ago for exactly
   this request, ``prompt=login`` or a ``max_age`` older than the session's login; and
   always a ``vhs`` parameter naming another VHS than the session's;
2. ``second_factor``: the VHS, the client or ``acr_values`` ask for multi-factor and the
   session used none (the second step, or setting a factor up first);
3. ``consent``: ``prompt=consent``, or a client that is not first-party without a consent
   that covers the scopes.
Each prompt carries its answer to ``prompt=none`` (OIDC Core 3.1.2.6): the client hears
``login_required`` or ``consent_required`` instead of the person being asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError
from flask import Response, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import SubmitField

from .. import consents, factors
from ..models import SsoSession, now
from . import signin
from .grants import SignedIn


class ConsentForm(FlaskForm):
    """Allow or deny a relying party the requested scopes."""

    allow = SubmitField("Zulassen")
    deny = SubmitField("Ablehnen")


def authorize_url(endpoint: str = "protocol.authorize") -> str:
    """This authorization request as a GET URL on ``endpoint`` (to resume it later)."""
    params = [(k, v) for k, v in request.values.items(multi=True)
              if k not in ("csrf_token", "allow", "deny")]
    return url_for(endpoint) + "?" + urlencode(params)


@dataclass(frozen=True)
class Interaction:
    """One authorization request as its prompts see it: Authlib's validated grant, the
    browser's session, and whether its login was settled for exactly this request (just
    signed in to resume it, or answering the consent page shown after the checks)."""

    grant: object
    sso: SsoSession | None
    login_settled: bool = False

    @cached_property
    def asked(self) -> frozenset[str]:
        """The request's ``prompt`` values."""
        return frozenset((self.grant.request.payload.data.get("prompt") or "").split())

    @cached_property
    def acr(self) -> str | None:
        """The multi-factor ``acr`` when the VHS, the client or the request asks for it."""
        data = self.grant.request.payload.data
        if self.sso is not None and factors.required(self.sso.account, self.grant.client,
                                                     data.get("acr_values")):
            return factors.MULTI_FACTOR
        return None

    def signed_in(self) -> SignedIn:
        """Who authorizes (Authlib's ``grant_user``), once every prompt is met."""
        return SignedIn(self.sso.account, self.sso, self.acr)

    def refusal(self, error: type[OAuth2Error]) -> OAuth2Error:
        """``error`` for the client, at its proven redirect URI, with its state."""
        return error(redirect_uri=self.grant.redirect_uri, state=self.grant.request.payload.state)


def _login_needed(it: Interaction) -> bool:
    if it.sso is None:
        return True
    vhs = it.grant.request.payload.data.get("vhs")
    if vhs and vhs != it.sso.account.vhs.slug:
        return True  # the relying party asks for another VHS than the session's
    if it.login_settled:
        return False
    max_age = it.grant.request.payload.data.get("max_age")
    return "login" in it.asked or (max_age is not None
                                   and now() - it.sso.auth_time > int(max_age))


def _ask_login(it: Interaction) -> Response:
    return redirect(url_for("views.login", next=authorize_url()))


def _second_factor_needed(it: Interaction) -> bool:
    return it.acr is not None and not factors.satisfied(it.sso.amr)


def _ask_second_factor(it: Interaction) -> Response:
    return signin.step_up(it.sso, authorize_url())


def _consent_needed(it: Interaction) -> bool:
    if "consent" in it.asked:
        return True
    if it.grant.client.first_party:
        return False
    return not consents.covers(it.sso.account, it.grant.client.client_id,
                               it.grant.request.scope)


def _ask_consent(it: Interaction) -> str:
    g.form_targets = [it.grant.redirect_uri]  # a denial goes back to the client
    return render_template(
        "consent.html", form=ConsentForm(), client=it.grant.client,
        scopes=(it.grant.request.scope or "").split(), account=it.sso.account,
        action=authorize_url("protocol.consent"),
    )


@dataclass(frozen=True)
class Prompt:
    """One thing the person may have to do: when, how it is asked, and what the client
    hears instead under ``prompt=none``."""

    name: str
    needed: Callable[[Interaction], bool]
    ask: Callable[[Interaction], Response | str]
    unattended: type[OAuth2Error]


LOGIN = Prompt("login", _login_needed, _ask_login, LoginRequiredError)
SECOND_FACTOR = Prompt("second_factor", _second_factor_needed, _ask_second_factor,
                       LoginRequiredError)
CONSENT = Prompt("consent", _consent_needed, _ask_consent, ConsentRequiredError)
PROMPTS: tuple[Prompt, ...] = (LOGIN, SECOND_FACTOR, CONSENT)
BEFORE_CONSENT = PROMPTS[:PROMPTS.index(CONSENT)]  # what the consent page's answer re-checks


def first_needed(it: Interaction, prompts: tuple[Prompt, ...] = PROMPTS) -> Prompt | None:
    """The first of ``prompts`` this request needs, or None when the code may go out."""
    return next((prompt for prompt in prompts if prompt.needed(it)), None)
