"""MkDocs hook: the configuration and command references, generated from the code.

- A page with the line ``<!-- settings -->`` gets, in its place, one row per setting of
  ``idp.settings.SETTINGS``: the variable, its default, its range, whether it is a secret,
  and its sentence.
- A page with the line ``<!-- retention -->`` gets the retention periods: each setting
  with ``kept``, the data it limits and its default.
- A page with the line ``<!-- commands -->`` gets every command of ``vhskoop-idp`` (the
  click group ``idp.cli.main``), group by group: its help, its usage line and its options
  as click's own ``--help`` prints them. (mkdocs-click was tried first; with click 8.3 it
  prints "Sentinel.UNSET" as the default of every flag.)

Nothing of either is written by hand, so neither can drift from the code.
"""

from __future__ import annotations

import click

from idp.cli import main
from idp.settings import SETTINGS, Setting

MARK = "<!-- settings -->"
RETENTION_MARK = "<!-- retention -->"
COMMANDS_MARK = "<!-- commands -->"


def _range(setting: Setting) -> str:
    if setting.low is None and setting.high is None:
        return ""
    low = "" if setting.low is None else f"{setting.low:g}"
    high = "" if setting.high is None else f"{setting.high:g}"
    return f"{low}–{high}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def settings_table(settings: dict[str, Setting]) -> str:
    """The configuration reference as a Markdown table."""
    rows = ["| variable | default | range | meaning |", "| --- | --- | --- | --- |"]
    for name, setting in settings.items():
        meaning = setting.doc + (" A secret: `vhskoop-idp settings` shows only whether it is "
                                 "set." if setting.secret else "")
        rows.append(f"| `IDP_{name}` | {_cell(setting.written_default)} | {_range(setting)} "
                    f"| {_cell(meaning)} |")
    return "\n".join(rows)


def retention_table(settings: dict[str, Setting]) -> str:
    """The retention periods (the settings with ``kept``) as a Markdown table."""
    rows = ["| data | kept for (days) | setting |", "| --- | --- | --- |"]
    rows += [f"| {_cell(setting.kept)} | {setting.default} | `IDP_{name}` |"
             for name, setting in settings.items() if setting.kept]
    return "\n".join(rows)


def _commands(command: click.Command, ctx: click.Context, level: int) -> list[str]:
    """One command's section, then those of its subcommands (sorted by name)."""
    out = [f"{'#' * level} `{ctx.command_path}`", ""]
    if command.help:
        out += [command.help.strip(), ""]
    out += ["```text", command.get_usage(ctx), "```", ""]
    records = [param.get_help_record(ctx) for param in command.get_params(ctx)]
    records = [record for record in records if record and record[0] != "--help"]
    if records:
        out += ["| option | meaning |", "| --- | --- |"]
        out += [f"| `{name}` | {_cell(meaning)} |" for name, meaning in records]
        out.append("")
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                out += _commands(sub, click.Context(sub, info_name=name, parent=ctx), level + 1)
    return out


def command_reference(group: click.Group) -> str:
    """Every command of ``group`` as Markdown sections, from the click commands."""
    ctx = click.Context(group, info_name="vhskoop-idp")
    sections = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is not None and not command.hidden:
            sections += _commands(command, click.Context(command, info_name=name, parent=ctx), 2)
    return "\n".join(sections)


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Put the generated references where a page asks for them."""
    if MARK in markdown:
        markdown = markdown.replace(MARK, settings_table(SETTINGS))
    if RETENTION_MARK in markdown:
        markdown = markdown.replace(RETENTION_MARK, retention_table(SETTINGS))
    if COMMANDS_MARK in markdown:
        markdown = markdown.replace(COMMANDS_MARK, command_reference(main))
    return markdown
