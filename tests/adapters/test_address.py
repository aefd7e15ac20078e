"""Cleaning addresses for matching, and reporting what was removed."""

from __future__ import annotations

import pytest

from adapters.address import clean, is_plausible

pytestmark = pytest.mark.once


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("anna.muster@vhs-straubing.de", "anna.muster@vhs-straubing.de"),
        ("  Anna.Muster@VHS-Straubing.de ", "anna.muster@vhs-straubing.de"),
        ("\u00a0anna@vhs.de", "anna@vhs.de"),
        ("anna\u200b@vhs.de", "anna@vhs.de"),
        ("an\u00adna@vhs.de\ufeff", "anna@vhs.de"),
        ("anna@vhs.de\t", "anna@vhs.de"),
        ("\u2060anna\u200c\u200d@vhs.de", "anna@vhs.de"),
        ("Ju\u0308rgen@vhs.de", "j\u00fcrgen@vhs.de"),  # NFC
    ],
)
def test_clean_value(typed, value):
    assert clean(typed).value == value


def test_removed_characters_are_named_with_code_point_and_position():
    result = clean("anna.muster@vhs-straubing.de\u00a0")
    assert [r.describe() for r in result.removed] == ["U+00A0 (NO-BREAK SPACE) at position 29"]
    result = clean(" a\u200bb@vhs.de")
    assert [(r.codepoint, r.position) for r in result.removed] == [("U+0020", 1), ("U+200B", 3)]


@pytest.mark.parametrize(
    ("value", "plausible"),
    [
        ("anna@vhs.de", True),
        ("anna b@vhs.de", False),
        ("anna@vhs", False),
        ("@vhs.de", False),
        ("anna@", False),
        ("a@b@vhs.de", False),
        ("x" * 330 + "@vhs.de", False),
        ("anna@.vhs.de", False),
        ("", False),
    ],
)
def test_is_plausible(value, plausible):
    assert is_plausible(value) is plausible
