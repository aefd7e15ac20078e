"""The protocol endpoints: /authorize /token /userinfo /revoke /introspect /end_session,
discovery (OIDC Discovery 1.0, RFC 8414) and the JWKS (RFC 7517).

Authlib validates and answers; /authorize asks the person what ``idp.web.prompts`` finds
needed first (log in, a second factor, consent) and turns errors that cannot go back to
a client into a page.
"""

from __future__ import annotations

import functools

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Flask, current_app, g, jsonify, render_template, request
from flask_babel import lazy_gettext

from keys import ALGORITHMS

from .. import audit, claims, consents, factors, paths
from ..models import Client, now
from ..signing import signing
from . import prompts, signin
from .grants import RESPONSE_MODES, FormPost, SignedIn
from .oauth import server
from .throttle import throttle
from .views.forms import LogoutForm
from .views.pages import EXPIRED

bp = Blueprint("protocol", __name__)

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


def _error(error: OAuth2Error):
    """Back to the client when its redirect URI is proven, else a page, never a redirect."""
    if getattr(error, "redirect_uri", None):
        return server().handle_error_response(None, error)
    current_app.logger.info("authorization request refused: %s", error.error)
    g.error_page = True
    return render_template("error.html", error=error.error, description=PAGE_TEXTS.get(
        error.error, PAGE_TEXTS["invalid_request"])), error.status_code or 400


def _grant(sso):
    """Authlib's validated authorization request (raises OAuth2Error)."""
    return server().get_consent_grant(end_user=SignedIn(sso.account, sso) if sso else None)


def _interact(it: prompts.Interaction, order: tuple[prompts.Prompt, ...]):
    """The first needed prompt asks the person (or, under prompt=none, answers the client);
    with none needed, the code goes out."""
    prompt = prompts.first_needed(it, order)
    if prompt is None:
        return server().create_authorization_response(grant=it.grant,
                                                      grant_user=it.signed_in())
    if "none" in it.asked:
        return _error(it.refusal(prompt.unattended))
    return prompt.ask(it)


@bp.route(paths.AUTHORIZE, methods=["GET", "POST"])
def authorize():
    """OIDC Core 3.1.2: validate, then the prompts in order (``idp.web.prompts``), then the
    code."""
    sso = signin.current()
    try:
        grant = _grant(sso)
    except OAuth2Error as error:
        return _error(error)
    fresh = signin.was_fresh_login(prompts.authorize_url())
    return _interact(prompts.Interaction(grant, sso, login_settled=fresh), prompts.PROMPTS)


@bp.post("/authorize/consent")
def consent():
    """The consent page's answer; the authorization request rides in the query string.
    Its login was settled when the page was shown; the prompts before consent are asked
    again (a session may have ended or changed since)."""
    form = prompts.ConsentForm()
    if not form.validate_on_submit():
        return render_template("error.html", error="csrf", description=EXPIRED), 400
    sso = signin.current()
    try:
        grant = _grant(sso)
    except OAuth2Error as error:
        return _error(error)
    it = prompts.Interaction(grant, sso, login_settled=True)
    before = prompts.first_needed(it, prompts.BEFORE_CONSENT)
    if before is not None:
        return before.ask(it)
    g.form_targets = [grant.redirect_uri]
    account = sso.account
    if not form.allow.data:
        audit.record("consent", vhs=account.vhs.slug, sub=account.sub,
                     client=grant.client.client_id, reason="denied")
        return server().create_authorization_response(grant=grant, grant_user=None)
    consents.remember(account, grant.client.client_id, grant.request.scope or "")
    audit.record("consent", vhs=account.vhs.slug, sub=account.sub,
                 client=grant.client.client_id, detail=grant.request.scope)
    return server().create_authorization_response(grant=grant, grant_user=it.signed_in())


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
