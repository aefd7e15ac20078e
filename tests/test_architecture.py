"""The shape of the code: import-linter's contracts hold and can break, modules stay small,
no import is hidden inside a function, and the top-level packages cannot be shadowed."""

from __future__ import annotations

import ast
import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.once

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("idp", "adapters", "keys")
LINT = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess:
    """Run import-linter with the project's contracts on the packages found in ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([str(LINT), "--no-cache", str(ROOT / "setup.cfg")], cwd=tree,
                          env=env, capture_output=True, text=True, timeout=120)


def python_files(*roots: str):
    for root in roots:
        for path in sorted((ROOT / root).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def test_the_import_contracts_hold():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("keys/store.py", "import flask", "adapters and keys import neither Flask"),
    ("adapters/sql.py", "import idp.db", "adapters and keys import neither Flask"),
    ("idp/connectors/portal.py", "import idp.web.views", "connectors import neither"),
    ("idp/authn.py", "import idp.web.signin", "the domain imports nothing from idp.web"),
    ("idp/help.py", "from .web.views import pages", "the domain imports nothing from idp.web"),
    ("idp/tokens.py", "import idp.cli", "only the commands and the demo import"),
    ("idp/web/protocol.py", "import idp.dev.demo", "the running provider never imports"),
    ("idp/tokens.py", "import idp.sessions", "no import loops"),
])
def test_a_violating_import_breaks_its_contract(tmp_path, module, line, contract):
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{line}  # a violation, on purpose\n")
    result = lint(tmp_path)
    assert result.returncode != 0
    broken = [row for row in result.stdout.splitlines() if " BROKEN" in row]
    assert any(row.startswith(contract) for row in broken), result.stdout


def test_the_edge_is_one_package_that_the_contracts_name():
    """Every blueprint (a page or an endpoint) lives in idp.web (the demo's in idp.dev), and
    the contracts name packages, not lists of modules: a new domain module is under them
    without anyone adding it."""
    blueprints = [str(path.relative_to(ROOT)) for path in python_files("idp")
                  if "Blueprint(" in path.read_text()
                  and not path.is_relative_to(ROOT / "idp" / "web")
                  and not path.is_relative_to(ROOT / "idp" / "dev")]
    assert blueprints == []
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    domain = config["importlinter:contract:domain"]
    assert domain["type"] == "protected" and domain["protected_modules"].split() == ["idp.web"]
    assert config["importlinter:contract:runtime"]["source_modules"].split() == [
        "idp.web", "idp.wsgi"]


def test_no_module_is_over_400_lines():
    long = {str(path.relative_to(ROOT)): len(path.read_text().splitlines())
            for path in python_files(*PACKAGES)}
    assert {path: lines for path, lines in long.items() if lines > 400} == {}


def test_no_import_hides_inside_a_function():
    hidden = []
    for path in python_files(*PACKAGES):
        tree = ast.parse(path.read_text())
        top = {id(node) for node in tree.body}
        hidden += [f"{path.relative_to(ROOT)}:{node.lineno}" for node in ast.walk(tree)
                   if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top]
    assert hidden == []


def test_keys_import_neither_flask_nor_idp():
    for path in python_files("keys"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom)
                     and node.level == 0 else [])
            for name in names:
                assert name.split(".")[0] not in ("flask", "idp"), f"{path}: {name}"


def test_a_folder_named_keys_in_the_working_directory_is_named_as_the_cause(tmp_path):
    (tmp_path / "keys").mkdir()  # the key folder of an installation, run from its parent
    result = subprocess.run([sys.executable, "-c", "import idp"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": ""})
    assert result.returncode != 0
    assert f"the folder {tmp_path / 'keys'} stands in its way" in result.stderr
    assert "cannot import name" not in result.stderr
