"""``vhskoop-idp demo``, ``portal-sim`` and ``itm-connect-sim``: trying and testing."""

from __future__ import annotations

import os
from pathlib import Path

import click
from werkzeug.serving import run_simple

from .. import StartupError, db, prepare, worker
from ..dev import demo, itm_connect_sim, portal_sim
from ..dev.serving import QuietRequestHandler
from .base import MissingConfiguration, build_app, fail


@click.command("demo")
@click.option("--port", default=5000, show_default=True)
@click.option("--reset", is_flag=True,
              help="Start over: the demo's programs and its SQLite database made anew.")
def demo_command(port: int, reset: bool) -> None:
    """Run the whole story on 127.0.0.1: three VHS, their programs, an itm:PORTAL, a mail
    server with a web inbox, and two relying parties (development mode, SQLite). What was
    changed (a password, an address fixed in a demo program) is kept across restarts."""
    os.environ.setdefault("IDP_ENV", "development")
    for name, value in demo.SETTINGS.items():
        os.environ.setdefault(f"IDP_{name}", str(value))
    os.environ["IDP_ISSUER"] = os.environ.get("IDP_DEMO_ISSUER") or f"http://127.0.0.1:{port}"
    app = build_app()
    folder = Path(app.instance_path) / "demo"
    if reset:
        demo.reset(app, folder)
    try:
        prepare(app)
    except StartupError as error:
        raise MissingConfiguration(str(error)) from None
    story = demo.Demo(app, folder)
    with app.app_context():
        db.transaction(story.seed)()
        for line in story.banner():
            click.echo(line)
    worker.start_in_background(app)
    try:
        run_simple("127.0.0.1", port, story.wsgi(), threaded=True,
                   request_handler=QuietRequestHandler)
    finally:
        story.stop()


@click.command("portal-sim")
@click.option("--port", default=8081, show_default=True)
@click.option("--users", "users_path", required=True, type=click.Path(exists=True))
@click.option("--credential", required=True, help="The bearer credential it accepts.")
@click.option("--mode", type=click.Choice(portal_sim.MODES), default="normal")
def portal_sim_command(port: int, users_path: str, credential: str, mode: str) -> None:
    """Run the itm:PORTAL simulator on 127.0.0.1 (tests, benchmark, demo)."""
    try:
        users = portal_sim.users_file(users_path)
    except (OSError, ValueError) as error:
        fail(error)
    simulator = portal_sim.PortalSimulator(users, credential, port=port, mode=mode)
    click.echo(f"itm:PORTAL simulator at {simulator.url} ({len(users)} users, mode {mode})")
    try:
        simulator.server.serve_forever()
    except KeyboardInterrupt:
        simulator.server.server_close()


@click.command("itm-connect-sim")
@click.option("--amqp-url", required=True, help="amqp://user:password@host/vhost")
@click.option("--vhs", "slug", required=True)
@click.option("--database-url", required=True, help="A KuferSQL-shaped database.")
@click.option("--mode", type=click.Choice(itm_connect_sim.MODES), default="normal")
def itm_connect_sim_command(amqp_url: str, slug: str, database_url: str, mode: str) -> None:
    """Run an itm:CONNECT simulator answering user-profile requests from a database."""
    click.echo(f"itm:CONNECT simulator for {slug} on {amqp_url.split('@')[-1]} (mode {mode})")
    itm_connect_sim.kufer_simulator(amqp_url, slug, database_url, mode).run()
