"""A real browser: Debian's Chromium driven by Playwright, against the demo on loopback.

Chromium comes from Debian (``apt-get install chromium``; Playwright's own download does
not work here). Without it these tests skip locally with the reason and fail in CI.

Screenshots and axe's findings go to a temporary folder; ``IDP_SCREENSHOTS=refresh``
writes them into docs/screenshots instead (to renew the pictures the documentation shows).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy import select

from idp import db, worker
from idp.dev import demo
from idp.models import Account

from ..helpers import LiveServer, require_service

SHOTS = (Path(__file__).resolve().parents[2] / "docs" / "screenshots"
         if os.environ.get("IDP_SCREENSHOTS") == "refresh"
         else Path(tempfile.gettempdir()) / "vhskoop-idp-screenshots")
SHOTS.mkdir(parents=True, exist_ok=True)
CHROMIUM = os.environ.get("IDP_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def chromium():
    """One browser for the session."""
    if not shutil.which(CHROMIUM):
        require_service("Chromium (Debian package chromium)", FileNotFoundError(CHROMIUM))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def site(make_app, tmp_path):
    """The demo, served on loopback: the provider, its world and both relying parties."""
    live = LiveServer(make_app, **demo.SETTINGS)
    story = demo.Demo(live.app, tmp_path / "demo")
    live.serve(story.wsgi())
    with live.app.app_context():
        db.transaction(story.seed)()
    live.story = story
    yield live
    story.stop()
    live.stop()


@pytest.fixture
def page(chromium, site):
    """A new German browser window (tab) at 1280 x 900."""
    context = chromium.new_context(locale="de-DE", viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


def deliver_everything(site) -> None:
    """One round of the worker: mails and back-channel logouts."""
    with site.app.app_context():
        worker.deliver_round()


def account_of(site, address) -> Account | None:
    """The account of ``address``, as stored now."""
    with site.app.app_context():
        return db.session().scalar(select(Account).where(Account.address == address))
