"""Small actions a person or a relying party takes, over real HTTP."""

from __future__ import annotations

import html
import re
import secrets
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet


def form_field(page: str, name: str) -> str:
    """The value of a named input in an HTML page."""
    match = re.search(rf'name="{re.escape(name)}"[^>]*value="([^"]*)"', page) or re.search(
        rf'value="([^"]*)"[^>]*name="{re.escape(name)}"', page)
    assert match, f"no field {name!r} in page"
    return html.unescape(match.group(1))


def query(url: str) -> dict[str, str]:
    """The query parameters of a URL, one value each."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


class Browser:
    """A browser that keeps cookies and lets the test follow redirects one by one."""

    def __init__(self, base: str):
        self.base = base
        self.http = requests.Session()

    def get(self, url: str, **kwargs) -> requests.Response:
        return self.http.get(urljoin(self.base, url), allow_redirects=False, timeout=10, **kwargs)

    def post(self, url: str, data: dict, **kwargs) -> requests.Response:
        return self.http.post(urljoin(self.base, url), data=data, allow_redirects=False,
                              timeout=10, **kwargs)

    def login(self, next_url: str | None, tenant: str, email: str, password: str,
              remember: bool = False) -> requests.Response:
        """Fill in and send the login form, as reached from ``next_url``."""
        page = self.get(next_url or "/login")
        assert page.status_code == 200, page.text
        data = {
            "csrf_token": form_field(page.text, "csrf_token"),
            "next": form_field(page.text, "next"),
            "tenant": tenant,
            "email": email,
            "password": password,
        }
        if remember:
            data["remember"] = "y"
        return self.post("/login", data)

    def authorize(self, authorization_url: str, tenant: str | None = None,
                  email: str | None = None, password: str | None = None) -> requests.Response:
        """Follow an authorization request through login until it leaves the provider."""
        response = self.get(authorization_url)
        for _ in range(5):
            location = response.headers.get("Location", "")
            if response.status_code not in (302, 303) or not location.startswith(
                    (self.base, "/")):
                return response
            if urlsplit(location).path == "/login":
                response = self.login(location, tenant, email, password)
            else:
                response = self.get(location)
        raise AssertionError("redirect loop")


class RelyingParty:
    """A relying party built on Authlib's requests client (a third-party OIDC client)."""

    def __init__(self, issuer: str, client_id: str, client_secret: str | None = None,
                 redirect_uri: str = "http://127.0.0.1:8765/callback",
                 scope: str = "openid profile email offline_access"):
        self.metadata = requests.get(issuer + "/.well-known/openid-configuration",
                                     timeout=10).json()
        self.client_id = client_id
        self.session = OAuth2Session(
            client_id,
            client_secret,
            scope=scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if client_secret else "none",
        )
        self.verifier = secrets.token_urlsafe(48)
        self.nonce = secrets.token_urlsafe(16)
        self.state = None

    def authorization_url(self, **extra) -> str:
        url, self.state = self.session.create_authorization_url(
            self.metadata["authorization_endpoint"], code_verifier=self.verifier,
            nonce=self.nonce, **extra)
        return url

    def fetch_token(self, callback_url: str) -> dict:
        return self.session.fetch_token(
            self.metadata["token_endpoint"], authorization_response=callback_url,
            code_verifier=self.verifier)

    def verify_id_token(self, token: dict) -> dict:
        """Check signature against the JWKS and every claim OIDC Core 3.1.3.7 asks."""
        jwks = KeySet.import_key_set(requests.get(self.metadata["jwks_uri"], timeout=10).json())
        decoded = jwt.decode(token["id_token"], jwks, algorithms=["RS256", "ES256"])
        claims = CodeIDToken(
            decoded.claims, decoded.header,
            options={"iss": {"essential": True, "value": self.metadata["issuer"]},
                     "aud": {"essential": True, "value": self.client_id}},
            params={"nonce": self.nonce, "access_token": token["access_token"],
                    "client_id": self.client_id},
        )
        claims.validate(leeway=5)
        return {**claims, "_header": decoded.header}

    def refresh(self, refresh_token: str) -> dict:
        return self.session.refresh_token(self.metadata["token_endpoint"],
                                          refresh_token=refresh_token)
