"""Adapters by name, from the entry-point group ``vhskoop_idp.adapters``.

Built-in adapters register there too (setup.cfg), so a third party ships an adapter as its
own package with an entry point and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from .base import Adapter, AdapterConfigError, Context

GROUP = "vhskoop_idp.adapters"


def available() -> list[str]:
    """The names of every registered adapter."""
    return sorted(ep.name for ep in entry_points(group=GROUP))


def adapter_class(name: str) -> type:
    """The adapter class registered as ``name``."""
    for ep in entry_points(group=GROUP):
        if ep.name == name:
            return ep.load()
    raise AdapterConfigError(
        f"no adapter {name!r} in the entry-point group {GROUP!r} "
        f"(registered: {', '.join(available()) or 'none'})"
    )


def build(name: str, options: Mapping[str, Any], context: Context) -> Adapter:
    """Build the adapter ``name`` for ``context.vhs``; its constructor checks ``options``."""
    return adapter_class(name)(options, context)

