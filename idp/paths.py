"""Where each protocol endpoint is, once: the routes, discovery, the input guard, the front
door (answered before Flask) and the error pages read these paths."""

from __future__ import annotations

AUTHORIZE = "/authorize"
TOKEN = "/token"
USERINFO = "/userinfo"
REVOKE = "/revoke"
INTROSPECT = "/introspect"
END_SESSION = "/end_session"
DISCOVERY = "/.well-known/openid-configuration"
JWKS = "/jwks.json"
API = "/api/"  # the directory push of the Verwaltungsprogramme
SSF = "/ssf/"  # the Shared Signals stream management and poll endpoints
SSF_CONFIGURATION = "/.well-known/ssf-configuration"

CLIENT_AUTHENTICATION = (TOKEN, REVOKE, INTROSPECT)  # where clients authenticate
BEARER = (USERINFO,)  # where a bearer token is read
JSON = (TOKEN, USERINFO, REVOKE, INTROSPECT, DISCOVERY, JWKS, API, SSF,
        SSF_CONFIGURATION)  # errors in JSON too
# called by services and programs, never by a person's browser: no session cookie is read
WITHOUT_SESSION = frozenset((*CLIENT_AUTHENTICATION, *BEARER, DISCOVERY, JWKS))
