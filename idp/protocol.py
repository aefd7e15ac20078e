"""The protocol endpoints: /authorize /token /userinfo /revoke /introspect /end_session,
discovery (OIDC Discovery 1.0, RFC 8414) and the JWKS (RFC 7517).

Authlib validates and answers; these views decide only what the person must do first
(log in, consent) and turn errors that cannot go back to a client into a page.
"""

from __future__ import annotations

import functools
from urllib.parse import parse_qs, urlencode, urlsplit

from authlib.oauth2 import OAuth2Error
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError
from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SubmitField

from keys import ALGORITHMS

from . import audit, claims, db, factors, paths, signin
from .grants import RESPONSE_MODES, FormPost, SignedIn
from .models import Client, Consent, now
from .oauth import server
from .signing import signing
from .throttle import throttle

bp = Blueprint("protocol", __name__)

EXPIRED = lazy_gettext("Das Formular ist abgelaufen. Bitte versuchen Sie es noch einmal.")
PAGE_TEXTS = {
    "invalid_client": lazy_gettext("Die Anwendung, von der Sie kommen, ist beim Anmeldedienst "
                                   "nicht bekannt."),
    "invalid_request": lazy_gettext("Die Anmeldeanfrage der Anwendung, von der Sie kommen, ist "
                                    "fehlerhaft (zum Beispiel mit einer nicht registrierten "
                                    "Rücksprungadresse)."),
    "unsupported_response_type": lazy_gettext("Die Anwendung verlangt eine Anmeldeart, die "
                                              "der Anmeldedienst nicht anbietet."),
    "unauthorized_client": lazy_gettext("Diese Anwendung darf sich so nicht anmelden."),
    "invalid_scope": lazy_gettext("Die Anwendung fragt nach Angaben, die der Anmeldedienst "
                                  "nicht kennt."),
}


class ConsentForm(FlaskForm):
    """Allow or deny a relying party the requested scopes."""

    allow = SubmitField("Zulassen")
    deny = SubmitField("Ablehnen")


class LogoutForm(FlaskForm):
    """Confirm a logout that no valid id_token_hint vouches for."""

    submit = SubmitField("Abmelden")


def authorize_url(endpoint: str = "protocol.authorize") -> str:
    """This authorization request as a GET URL on ``endpoint`` (to resume it later)."""
    params = [(k, v) for k, v in request.values.items(multi=True)
              if k not in ("csrf_token", "allow", "deny")]
    return url_for(endpoint) + "?" + urlencode(params)


def _login_needed(sso, prompts: list[str], max_age: str | None, vhs: str | None) -> bool:
    if sso is None or "login" in prompts:
        return True
    if vhs and vhs != sso.account.vhs.slug:
        return True  # the relying party asks for another VHS than the session's
    return max_age is not None and now() - sso.auth_time > int(max_age)


def _consent_needed(client, account, scope: str, prompts: list[str]) -> bool:
    if "consent" in prompts:
        return True
    if client.first_party:
        return False
    consent = db.session().scalar(
        select(Consent).where(Consent.account_id == account.id,
                              Consent.client_id == client.client_id)
    )
    return consent is None or not consent.covers(scope)


def _acr(grant, account) -> str | None:
    """The multi-factor ``acr`` when the VHS, the client or the request asks for it."""
    data = grant.request.payload.data
    if factors.required(account, grant.client, data.get("acr_values")):
        return factors.MULTI_FACTOR
    return None


def _error(error: OAuth2Error):
    """Back to the client when its redirect URI is proven, else a page, never a redirect."""
    if getattr(error, "redirect_uri", None):
        return server().handle_error_response(None, error)
    current_app.logger.info("authorization request refused: %s", error.error)
    g.error_page = True
    return render_template("error.html", error=error.error, description=PAGE_TEXTS.get(
        error.error, PAGE_TEXTS["invalid_request"])), error.status_code or 400


def allow_form_target(next_url: str | None) -> None:
    """Let this page's forms end at the client that ``next_url`` (a pending authorization)
    returns to, once that client and its redirect URI are known to be registered."""
    if not next_url:
        return
    query = parse_qs(urlsplit(next_url).query)
    client = server().query_client((query.get("client_id") or [""])[0])
    redirect_uri = (query.get("redirect_uri") or [""])[0]
    if client is not None and client.check_redirect_uri(redirect_uri):
        g.form_targets = [*g.get("form_targets", []), redirect_uri]


@bp.route(paths.AUTHORIZE, methods=["GET", "POST"])
def authorize():
    """OIDC Core 3.1.2: validate, then login, then consent, then the code."""
    sso = signin.current()
    account = sso.account if sso else None
    signed_in = SignedIn(account, sso) if sso else None
    try:
        grant = server().get_consent_grant(end_user=signed_in)
    except OAuth2Error as error:
        return _error(error)
    data = grant.request.payload.data
    prompts = (data.get("prompt") or "").split()
    state = grant.request.payload.state
    fresh = signin.was_fresh_login(authorize_url())
    if (not fresh and _login_needed(sso, prompts, data.get("max_age"), data.get("vhs"))) or (
            fresh and data.get("vhs") and data["vhs"] != sso.account.vhs.slug):
        if "none" in prompts:
            return _error(LoginRequiredError(redirect_uri=grant.redirect_uri, state=state))
        return redirect(url_for("views.login", next=authorize_url()))
    acr = _acr(grant, account)
    if acr and not factors.satisfied(sso.amr):
        if "none" in prompts:
            return _error(LoginRequiredError(redirect_uri=grant.redirect_uri, state=state))
        return signin.step_up(sso, authorize_url())
    signed_in = SignedIn(account, sso, acr)
    if _consent_needed(grant.client, account, grant.request.scope, prompts):
        if "none" in prompts:
            return _error(ConsentRequiredError(redirect_uri=grant.redirect_uri, state=state))
        g.form_targets = [grant.redirect_uri]
        return render_template(
            "consent.html", form=ConsentForm(), client=grant.client,
            scopes=(grant.request.scope or "").split(), account=account,
            action=authorize_url("protocol.consent"),
        )
    return server().create_authorization_response(grant=grant, grant_user=signed_in)


@bp.post("/authorize/consent")
def consent():
    """The consent page's answer; the authorization request rides in the query string."""
    form = ConsentForm()
    sso = signin.current()
    if sso is None:
        return redirect(url_for("views.login", next=authorize_url()))
    if not form.validate_on_submit():
        return render_template("error.html", error="csrf", description=EXPIRED), 400
    signed_in = SignedIn(sso.account, sso)
    try:
        grant = server().get_consent_grant(end_user=signed_in)
    except OAuth2Error as error:
        return _error(error)
    acr = _acr(grant, sso.account)
    if acr and not factors.satisfied(sso.amr):
        return signin.step_up(sso, authorize_url())
    signed_in = SignedIn(sso.account, sso, acr)
    g.form_targets = [grant.redirect_uri]
    if not form.allow.data:
        audit.record("consent", vhs=sso.account.vhs.slug, sub=sso.account.sub,
                     client=grant.client.client_id, reason="denied")
        return server().create_authorization_response(grant=grant, grant_user=None)
    _remember_consent(sso.account, grant.client, grant.request.scope or "")
    audit.record("consent", vhs=sso.account.vhs.slug, sub=sso.account.sub,
                 client=grant.client.client_id, detail=grant.request.scope)
    return server().create_authorization_response(grant=grant, grant_user=signed_in)


def _remember_consent(account, client, scope: str) -> None:
    record = db.session().scalar(
        select(Consent).where(Consent.account_id == account.id,
                              Consent.client_id == client.client_id)
    )
    if record is None:
        record = Consent(account_id=account.id, client_id=client.client_id, scope="")
        db.session().add(record)
    record.scope = " ".join(sorted(set(record.scope.split()) | set(scope.split())))
    record.granted_at = now()


def client_throttled(endpoint):
    """Limit failed client authentications per IP (IDP_THROTTLE_CLIENT_IP): past it, 429
    with Retry-After. Successful requests are never counted."""
    @functools.wraps(endpoint)
    def limited():
        ip = request.remote_addr or ""
        wait = throttle().client_wait(ip)
        if wait:
            audit.record("throttled", reason="client_authentication")
            response = jsonify(error="temporarily_unavailable", error_description=(
                "Too many failed client authentications from this address; retry later."))
            response.status_code, response.headers["Retry-After"] = 429, str(wait)
            return response
        response = endpoint()
        if response.status_code == 401:
            throttle().client_failed(ip)
        return response
    return limited


@bp.post(paths.TOKEN)
@client_throttled
def token():
    """RFC 6749 3.2. A refusal still commits what it must keep (a spent code, a revoked
    family); the grants store nothing new before every check has passed."""
    return server().create_token_response()


@bp.route(paths.USERINFO, methods=["GET", "POST"])
def userinfo():
    """OIDC Core 5.3."""
    return server().create_endpoint_response("userinfo")


@bp.post(paths.REVOKE)
@client_throttled
def revoke():
    """RFC 7009."""
    return server().create_endpoint_response("revocation")


@bp.post(paths.INTROSPECT)
@client_throttled
def introspect():
    """RFC 7662."""
    return server().create_endpoint_response("introspection")


@bp.route(paths.END_SESSION, methods=["GET", "POST"])
def end_session():
    """OIDC RP-Initiated Logout 1.0; without a valid id_token_hint the person confirms."""
    sso = signin.current()
    try:
        validated = server().validate_endpoint_request("end_session")
    except OAuth2Error:
        validated = None  # an invalid hint earns no redirect, only the question
    hint_sub = (validated.id_token_claims or {}).get("sub") if validated else None
    if validated is None or validated.needs_confirmation or (
            sso is not None and hint_sub != sso.account.sub):
        if sso is None:
            return render_template("logged_out.html")
        return render_template("logout_confirm.html", form=LogoutForm(), account=sso.account)
    response = server().create_endpoint_response("end_session", validated)
    if response is None:
        response = current_app.make_response(render_template("logged_out.html"))
    signin.forget_cookie(response)
    return response


@bp.post("/end_session/confirm")
def end_session_confirm():
    """The person confirmed the logout (also the start page's "Abmelden" button)."""
    form = LogoutForm()
    if not form.validate_on_submit():
        return render_template("error.html", error="csrf", description=EXPIRED), 400
    return signin.sign_out(current_app.make_response(render_template("logged_out.html")))


@bp.get(paths.DISCOVERY)
def discovery():
    """OIDC Discovery 1.0 section 3 and RFC 8414 metadata."""
    issuer = current_app.config["ISSUER"]
    auth_methods = list(Client.AUTH_METHODS)
    metadata = {
        "issuer": issuer,
        "authorization_endpoint": issuer + paths.AUTHORIZE,
        "token_endpoint": issuer + paths.TOKEN,
        "userinfo_endpoint": issuer + paths.USERINFO,
        "jwks_uri": issuer + paths.JWKS,
        "revocation_endpoint": issuer + paths.REVOKE,
        "introspection_endpoint": issuer + paths.INTROSPECT,
        "end_session_endpoint": issuer + paths.END_SESSION,
        "scopes_supported": list(claims.SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": list(RESPONSE_MODES),
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(ALGORITHMS),
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods[:2],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": claims.supported(),
        "acr_values_supported": list(factors.ACR_VALUES),
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "prompt_values_supported": ["none", "login", "consent"],
        "ui_locales_supported": ["de", "en"],
    }
    response = jsonify(metadata)
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.add_etag()
    return response.make_conditional(request)


@bp.get(paths.JWKS)
def jwks():
    """Every published key: next, current and retired (RFC 7517 5)."""
    response = jsonify(signing().keyring().jwks(now()))
    response.headers["Cache-Control"] = "public, max-age=300"
    response.add_etag()
    return response.make_conditional(request)


_CORS_ENDPOINTS = {"protocol.token", "protocol.userinfo", "protocol.revoke",
                   "protocol.discovery", "protocol.jwks"}


@bp.after_request
def _cors(response):
    """Browser-based public clients call these endpoints cross-origin, without cookies."""
    if request.endpoint in _CORS_ENDPOINTS:
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST"
    return response


def _form_post_page(post: FormPost) -> str:
    """The page that posts an authorization response to the client (Form Post Response
    Mode); its CSP form-action allows that client."""
    g.form_targets = [post.action]
    return render_template("form_post.html", action=post.action, params=post.params)


def init_app(app: Flask) -> None:
    """Register the protocol endpoints and the page of the form_post response mode."""
    app.register_blueprint(bp)
    server(app).pages["form_post"] = _form_post_page
