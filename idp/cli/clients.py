"""``vhskoop-idp clients ...``: the relying parties."""

from __future__ import annotations

import click

from .. import clients, factors, signals, streams
from .base import Group, fail, operator


@click.group("clients", cls=Group)
def clients_group() -> None:
    """Relying parties."""


@clients_group.command("add")
@click.argument("client_id")
@click.option("--redirect-uri", "redirect_uris", multiple=True)
@click.option("--post-logout-redirect-uri", "post_logout_uris", multiple=True)
@click.option("--public", is_flag=True, help="No secret; PKCE required (browser and native apps).")
@click.option("--first-party", is_flag=True, help="Skip the consent page (ITEM's own services).")
@click.option("--secret", help="Use this secret (32+ characters) instead of a generated one.")
@click.option("--grant", "grants", multiple=True, type=click.Choice(clients.GRANTS),
              help="Repeatable; default authorization_code.")
@click.option("--scope", default="openid profile email", show_default=True)
@click.option("--id-token-alg", default="RS256", show_default=True,
              type=click.Choice(clients.ALGORITHMS))
@click.option("--backchannel-logout-uri", default=None,
              help="Where OIDC Back-Channel Logout tokens are POSTed.")
@click.option("--name", "display_name", default=None,
              help='What people read, e.g. "itm:FEEDBACK" (consent, "Mein Zugang").')
@click.option("--logo", default=None, help="A file in idp/static/logos/, e.g. feedback.svg.")
@click.option("--home-uri", default=None, help="The service's start page (offered after "
                                               "an activation).")
@click.option("--require-mfa", is_flag=True,
              help="Every sign-in for this client needs a second factor.")
@click.option("--initiate-login-uri", default=None,
              help="Where the service starts a sign-in itself (OIDC third-party initiated "
                   "login): used after an activation in another browser and by links to it.")
@click.option("--release-legacy-id", is_flag=True,
              help="Release the claim legacy_id (the person's id in the login this provider "
                   "replaced) in ID tokens and at userinfo.")
def clients_add(client_id, redirect_uris, post_logout_uris, public, first_party, secret,
                grants, scope, id_token_alg, backchannel_logout_uri, display_name, logo,
                home_uri, require_mfa, initiate_login_uri, release_legacy_id) -> None:
    """Register a client. A generated secret is printed once; only its hash is stored."""
    registration = clients.Registration(
        client_id=client_id,
        redirect_uris=list(redirect_uris),
        post_logout_redirect_uris=list(post_logout_uris),
        public=public,
        first_party=first_party,
        secret=secret,
        grants=list(grants) or ["authorization_code"],
        scope=scope,
        id_token_alg=id_token_alg,
        backchannel_logout_uri=backchannel_logout_uri,
        display_name=display_name,
        logo=logo,
        client_uri=home_uri,
        require_mfa=require_mfa,
        initiate_login_uri=initiate_login_uri,
        release_legacy_id=release_legacy_id,
    )
    try:
        client, generated = clients.register(registration)
    except clients.RegistrationError as error:
        fail(error)
    kind = "public" if client.public else "confidential"
    click.echo(f"added {kind} client {client.client_id}")
    if generated:
        click.echo(f"client secret (shown once, store it now): {generated}")


@clients_group.command("set")
@click.argument("client_id")
@click.option("--name", "display_name", default=None, help="What people read.")
@click.option("--logo", default=None, help="A file in idp/static/logos/.")
@click.option("--home-uri", default=None, help="The service's start page.")
@click.option("--require-mfa/--no-require-mfa", default=None,
              help="Every sign-in for this client needs a second factor, or not.")
@click.option("--initiate-login-uri", default=None,
              help="Where the service starts a sign-in itself (OIDC third-party initiated "
                   "login).")
@click.option("--release-legacy-id/--no-release-legacy-id", default=None,
              help="Release the claim legacy_id to this client, or not.")
@click.option("--scope", default=None, help="What it may ask for, all in one (e.g. "
              "\"openid email ssf.manage\"); ssf.manage and ssf.read let it manage or read "
              "its Shared Signals stream with a client_credentials token.")
@click.option("--grant", "grants", multiple=True, type=click.Choice(clients.GRANTS),
              help="The grants it may use, all of them (repeat); unchanged if not given.")
@click.option("--ssf-push", default=None, metavar="URL",
              help="Set up its Shared Signals stream: push each event to URL (RFC 8935).")
@click.option("--ssf-poll", is_flag=True, help="Set up its stream for polling (RFC 8936).")
@click.option("--ssf-events", multiple=True, metavar="EVENT",
              help="With --ssf-push or --ssf-poll: only these events (a name such as "
                   "session-revoked, or its URI; repeat); all if not given.")
@click.option("--ssf-status", type=click.Choice(streams.STATUSES), default=None,
              help="Enable, pause or disable its stream.")
@click.option("--no-ssf", is_flag=True, help="Delete its stream and what waits on it.")
def clients_set(client_id, display_name, logo, home_uri, require_mfa,
                initiate_login_uri, release_legacy_id, scope, grants, ssf_push, ssf_poll,
                ssf_events, ssf_status, no_ssf) -> None:
    """Change what people see of a client (name, logo, home page, where it starts a
    sign-in), its MFA policy, what it may ask for, and its Shared Signals stream."""
    try:
        client = clients.present(clients.find(client_id), display_name, logo, home_uri,
                                 initiate_login_uri)
        if scope is not None or grants:
            clients.permit(client, scope, list(grants))
    except clients.RegistrationError as error:
        fail(error)
    try:
        stream = streams.operate(client, push=ssf_push, poll=ssf_poll,
                                 events=list(ssf_events), status=ssf_status, delete=no_ssf)
    except streams.StreamError as error:
        fail(error.description)
    if require_mfa is not None:
        factors.set_policy(client, require_mfa, f"cli:{operator()}")
    if release_legacy_id is not None:
        clients.release_legacy_id(client, release_legacy_id)
    mfa = ", second factor required" if client.require_mfa else ""
    legacy_id = ", gets legacy_id" if client.release_legacy_id else ""
    click.echo(f"client {client.client_id}: {client.name}{mfa}{legacy_id}")
    if stream is not None:
        where = stream.endpoint_url if stream.method == "push" else "polled"
        click.echo(f"  Shared Signals stream {stream.stream_id}: {stream.method} ({where}), "
                   f"{stream.status}, {len(signals.delivered(stream))} kinds of events")


clients_group.add_command(clients_set, "edit")  # the same command under its other name


@clients_group.command("list", read_only=True)
def clients_list() -> None:
    """List the clients (never their secrets)."""
    for client in clients.every():
        kind = "public" if client.public else "confidential"
        party = "first-party" if client.first_party else "third-party"
        click.echo(f"{client.client_id}\t{kind}\t{party}\t{' '.join(client.grant_types)}\t"
                   f"{client.scope}\t{' '.join(client.redirect_uris)}\t{client.name}")


@clients_group.command("rotate-secret")
@click.argument("client_id")
def clients_rotate_secret(client_id: str) -> None:
    """Give a confidential client a new secret; the old one stops working at once."""
    try:
        secret = clients.rotate_secret(clients.find(client_id))
    except clients.RegistrationError as error:
        fail(error)
    click.echo(f"new client secret of {client_id} (shown once, store it now): {secret}")
