"""Start-up checks: each wrong setting fails with the variable's name."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from idp import create_app
from idp.config import ConfigError
from idp.settings import SETTINGS

from ..helpers import SECRET


@pytest.fixture
def base(tmp_path, migrated):
    return {"ENV": "production", "SECRET_KEY": SECRET, "DATABASE_URL": migrated,
            "KEYS_DIR": str(tmp_path / "keys")}


@pytest.mark.parametrize(("override", "variable"), [
    ({"SECRET_KEY": ""}, "IDP_SECRET_KEY is required"),
    ({"SECRET_KEY": "short"}, "IDP_SECRET_KEY"),
    ({"ISSUER": "http://login.vhskoop.de"}, "IDP_ISSUER must use https"),
    ({"ISSUER": "https://login.vhskoop.de/"}, "IDP_ISSUER"),
    ({"ISSUER": "ftp://x"}, "IDP_ISSUER"),
    ({"ENV": "staging"}, "IDP_ENV"),
    ({"CODE_TTL": 3600}, "IDP_CODE_TTL"),
    ({"ACCESS_TOKEN_TTL": 0}, "IDP_ACCESS_TOKEN_TTL"),
    ({"DATABASE_URL": "mysql://x"}, "IDP_DATABASE_URL"),
    ({"HELP_RECHECK_SECONDS": -5}, "IDP_HELP_RECHECK_SECONDS must be between 0 and 3600"),
])
def test_bad_settings_name_the_variable(base, override, variable):
    with pytest.raises(ConfigError, match=variable):
        create_app({**base, **override})


def test_environment_overrides_and_type_errors(base, monkeypatch):
    monkeypatch.setenv("IDP_ACCESS_TOKEN_TTL", "120")
    app = create_app({k: v for k, v in base.items()})
    assert app.config["ACCESS_TOKEN_TTL"] == 120
    monkeypatch.setenv("IDP_ACCESS_TOKEN_TTL", "zwei Minuten")
    with pytest.raises(ConfigError, match="IDP_ACCESS_TOKEN_TTL must be a whole number"):
        create_app(base)


def test_development_generates_and_keeps_a_secret(base, tmp_path, monkeypatch):
    monkeypatch.setenv("IDP_INSTANCE_PATH", str(tmp_path / "instance"))
    settings = {**base, "ENV": "development", "SECRET_KEY": ""}
    first = create_app(settings).config["SECRET_KEY"]
    assert len(first) >= 32
    assert create_app(settings).config["SECRET_KEY"] == first
    assert (tmp_path / "instance" / "dev-secret-key").stat().st_mode & 0o077 == 0


def test_cli_prints_the_config_error(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from idp.cli import main

    monkeypatch.setenv("IDP_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("IDP_SECRET_KEY", raising=False)
    monkeypatch.setenv("IDP_ENV", "production")
    result = CliRunner().invoke(main, ["vhs", "list"])
    assert result.exit_code == 2
    assert "IDP_SECRET_KEY is required" in result.output
    assert "IDP_ENV=development" in result.output


def test_help_lists_every_command_on_a_machine_without_configuration(tmp_path):
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith("IDP_")}
    result = subprocess.run([str(Path(sys.executable).with_name("vhskoop-idp")), "--help"],
                            cwd=tmp_path, env=environment, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    listed = {line.split()[0] for line in result.stdout.split("Commands:")[1].splitlines()
              if line.strip()}
    assert {"diagnose", "vhs", "clients", "accounts", "keys", "purge", "demo", "kma",
            "mail-worker", "db", "run"} <= listed
    assert result.stderr == "" and not (tmp_path / "instance").exists()


def test_the_configuration_page_is_the_declaration():
    """Each setting is declared once (idp.settings.SETTINGS): the documentation's table is
    generated from it with exactly its names, in its order, with its defaults, and no page
    (nor the README) writes a setting's row by hand."""
    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("reference", root / "docs/hooks/reference.py")
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)
    table = re.findall(r"^\| `IDP_(\w+)` \| (.*?) \| ", reference.settings_table(SETTINGS), re.M)
    assert table == [(name, setting.written_default) for name, setting in SETTINGS.items()]
    assert reference.MARK in (root / "docs/configuration.md").read_text()
    by_hand = [path.name for path in [root / "README.md", *(root / "docs").glob("*.md")]
               if re.search(r"^\| `IDP_\w+` \|", path.read_text(), re.M)]
    assert by_hand == []


def test_the_settings_command_lists_every_setting_and_hides_secrets(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from idp.cli import main

    monkeypatch.setenv("IDP_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("IDP_ENV", "development")
    monkeypatch.setenv("IDP_METRICS_TOKEN", "ein-geheimes-token-123")
    monkeypatch.setenv("IDP_CODE_TTL", "90")
    result = CliRunner().invoke(main, ["settings"])
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.output.splitlines()]
    assert [row[0] for row in rows] == [f"IDP_{name}" for name in SETTINGS]
    shown = {row[0]: row[2] for row in rows}
    assert shown["IDP_CODE_TTL"] == "90" and shown["IDP_ENV"] == "development"
    assert shown["IDP_METRICS_TOKEN"] == "set" and shown["IDP_KEYS_PASSPHRASE"] == \
        "not set: empty"
    defaults = {row[0]: row[1] for row in rows}
    assert defaults["IDP_DATABASE_URL"] == "SQLite file idp.sqlite3 in the instance folder"
    assert shown["IDP_DATABASE_URL"] == "not set: SQLite file idp.sqlite3 in the instance folder"
    assert defaults["IDP_KEYS_DIR"] == "signing-keys in the instance folder"
    assert all(row[1] and row[2] for row in rows)  # no empty column
    assert "ein-geheimes-token-123" not in result.output


@pytest.mark.parametrize(("name", "value", "words"), [
    ("CODE_TTL", "900", "IDP_CODE_TTL must be between 1 and 600"),
    ("ACCESS_TOKEN_TTL", "0", "IDP_ACCESS_TOKEN_TTL must be at least 1"),
    ("PROXIES", "9", "IDP_PROXIES must be between 0 and 5"),
])
def test_a_setting_out_of_its_declared_range_is_named(base, monkeypatch, name, value, words):
    monkeypatch.setenv(f"IDP_{name}", value)
    with pytest.raises(ConfigError, match=words):
        create_app(base)
