"""The ``vhskoop-idp`` command: Flask's run, shell and routes, and the provider's own
command groups, one module each. Every command is listed on a machine without any
configuration; one that needs the configuration it lacks says which variable to set and
exits with status 2. Each command parses its options, calls one domain function in one
transaction (``base.in_app``), and prints the result.
"""

from __future__ import annotations

import click
from flask.cli import FlaskGroup, ScriptInfo, routes_command, run_command, shell_command
from flask.testing import FlaskCliRunner

from .. import StartupError, prepare
from .accounts import accounts_group
from .admins import admins_group
from .base import MissingConfiguration, build_app
from .clients import clients_group
from .development import demo_command, itm_connect_sim_command, portal_sim_command
from .keys import keys_group
from .lifecycle import lifecycle_group
from .mail import mail_worker
from .operations import audit_command, db_group, diagnose_command, purge, settings_command
from .privacy import privacy_group
from .vhs import kma_group, vhs_group

COMMANDS = (vhs_group, kma_group, clients_group, accounts_group, admins_group, keys_group, db_group,
            lifecycle_group, diagnose_command, purge, audit_command, settings_command,
            privacy_group, mail_worker, demo_command, portal_sim_command,
            itm_connect_sim_command, shell_command, routes_command)


class ProviderGroup(FlaskGroup):
    """Flask's group, but every command is known without building the app."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.commands)


@click.command("run", params=run_command.params, help=run_command.help)
@click.pass_context
def run(ctx: click.Context, **kwargs) -> None:
    """Check schema and keys, then Flask's development server."""
    app = ctx.ensure_object(ScriptInfo).load_app()
    try:
        prepare(app)
    except StartupError as error:
        raise MissingConfiguration(str(error)) from None
    ctx.forward(run_command)


main = ProviderGroup(
    name="vhskoop-idp",
    create_app=lambda: build_app(),
    add_default_commands=False,
    add_version_option=False,
    set_debug_flag=False,
    load_dotenv=False,
    help="The vhsKOOP OpenID Connect provider.",
)
main.params = [param for param in main.params if param.name not in ("app", "env_file")]
main.add_command(run)
for _command in COMMANDS:
    main.add_command(_command)

class Runner(FlaskCliRunner):
    """Flask's test runner for this command (tests, benchmarks): ``runner(app).invoke(
    args=[...])`` runs ``vhskoop-idp ...`` against ``app``."""

    def invoke(self, cli=None, args=None, **kwargs):
        """Invoke ``vhskoop-idp`` (or ``cli``) with ``args`` against the runner's app."""
        return super().invoke(cli or main, args, **kwargs)


def runner(app) -> Runner:
    """A test runner of ``vhskoop-idp`` bound to ``app``."""
    return Runner(app)


__all__ = ["Runner", "main", "runner"]
