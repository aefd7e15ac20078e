"""The Kursmanagement-APP (KMA): eligible only once ITEM linked the user for the VHS.

The program itself is asked through the VHS's other adapter (option ``program`` with its
own options under ``program_options``); the links are kept by the provider and managed
with ``vhskoop-idp kma link|unlink|list``. Until the link exists the answer is
``not_linked``: the help page's "seltsame Fehlermeldung" at the first request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .address import clean
from .base import NOT_LINKED, AdapterConfigError, Context, Decision, Option, Options


class KmaAdapter:
    """Wraps the program's adapter and adds the link check."""

    NAME = "kma"
    OPTIONS = {
        "program": Option(str, doc="the adapter of the VHS's Verwaltungsprogramm"),
        "program_options": Option(dict, {}, "that adapter's options"),
    }

    def __init__(self, options: Mapping[str, Any], context: Context):
        self.options = Options.parse(self.NAME, context.vhs, self.OPTIONS, options)
        where = f"VHS {context.vhs!r}, adapter 'kma'"
        if self.options["program"] == self.NAME:
            raise AdapterConfigError(f"{where}: option 'program' cannot be 'kma' itself")
        if context.build is None or context.links is None:
            raise AdapterConfigError(f"{where}: needs the provider's link store")
        self.vhs = context.vhs
        self.links = context.links
        self.program = context.build(self.options["program"], self.options["program_options"])

    def check(self, address: str) -> Decision:
        """The program's decision, but ``not_linked`` until the KMA link exists."""
        decision = self.program.check(address)
        if decision.eligible and not self.links.is_linked(self.vhs, clean(address).value):
            return Decision(NOT_LINKED, decision.person)
        return decision

    def close(self) -> None:
        """Close the program's adapter."""
        self.program.close()
