"""The documentation site builds strictly (a broken link or a page left out of the navigation
fails it), and its configuration and command pages come from the code: a setting or a
command added in a test appears on its page."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import click
import pytest
from mkdocs.commands.build import build
from mkdocs.config import load_config
from mkdocs.exceptions import Abort

from idp.cli import main
from idp.settings import SETTINGS, Setting

pytestmark = pytest.mark.once

ROOT = Path(__file__).resolve().parents[1]


def built(tmp_path: Path, root: Path = ROOT) -> Path:
    """Build the site of ``root`` strictly into a temporary folder; the folder."""
    site = tmp_path / "site"
    config = load_config(str(root / "mkdocs.yml"), site_dir=str(site), strict=True)
    build(config)
    return site


def page(site: Path, name: str) -> str:
    return (site / name / "index.html").read_text(encoding="utf-8")


def test_the_site_builds_strictly_with_every_page(tmp_path):
    site = built(tmp_path)
    for name in ("demo", "operating", "configuration", "commands", "integrating", "console",
                 "cutover", "security", "architecture", "benchmarks", "developing"):
        assert "vhskoop-idp" in page(site, name), name
    assert "IDP_ISSUER" in page(site, "configuration")
    assert "vhskoop-idp accounts import" in page(site, "commands")


@pytest.mark.parametrize(("change", "complaint"), [
    ("See [the missing page](nowhere.md).", "nowhere.md"),
    ("!!new-page", "new.md"),
])
def test_a_broken_link_or_a_page_outside_the_navigation_fails_the_build(tmp_path, change,
                                                                        complaint, caplog):
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "docs", copy / "docs", ignore=shutil.ignore_patterns("*.png"))
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    if change == "!!new-page":
        (copy / "docs" / "new.md").write_text("# Not in the navigation\n")
    else:
        index = copy / "docs" / "index.md"
        index.write_text(index.read_text() + f"\n{change}\n")
    with pytest.raises(Abort):
        built(tmp_path, copy)
    assert complaint in caplog.text


def test_a_new_setting_and_a_new_command_appear_on_their_pages(tmp_path, monkeypatch):
    monkeypatch.setitem(SETTINGS, "FROBNICATION_SECONDS", Setting(
        17, int, "How long the provider frobnicates.", low=1, high=99))

    @click.command("frobnicate", help="Frobnicate every VHS once.")
    @click.option("--vhs", help="Only this VHS.")
    def frobnicate(vhs):
        """Frobnicate."""

    monkeypatch.setitem(main.commands, "frobnicate", frobnicate)
    site = built(tmp_path)
    configuration, commands = page(site, "configuration"), page(site, "commands")
    assert "IDP_FROBNICATION_SECONDS" in configuration
    assert "How long the provider frobnicates." in configuration and "1–99" in configuration
    assert "vhskoop-idp frobnicate" in commands and "Frobnicate every VHS once." in commands
    assert "Only this VHS." in commands


def test_the_readme_is_a_doorway_whose_links_lead_somewhere():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    targets = re.findall(r"\]\(((?!https?:)[^)#]+)", readme)
    assert "docs/operating.md" in targets and "docs/screenshots/de-login.png" in targets
    assert [target for target in targets if not (ROOT / target).exists()] == []
