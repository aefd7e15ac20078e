"""The top-level packages ``keys`` and ``adapters`` must be ours, not a folder of that name.

With an editable install, a folder ``keys/`` in the working directory (say gunicorn run
from /var/lib/idp, where the key folder lives) is found first and imported as an empty
namespace package; the import then fails far away with "cannot import name 'Keyring'
from 'keys' (unknown location)". This check names the folder instead.
"""

from __future__ import annotations

import importlib.util

OWN = ("keys", "adapters")


class ShadowedPackage(ImportError):
    """A folder hides one of the provider's own packages."""


def require_own() -> None:
    """Raise ShadowedPackage when ``keys`` or ``adapters`` is not the provider's package."""
    for name in OWN:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin is not None:
            continue
        where = list(spec.submodule_search_locations or []) if spec else []
        found = f"the folder {where[0]}" if where else "nothing"
        raise ShadowedPackage(
            f"the provider's package {name!r} is not importable: {found} stands in its way. "
            f"Start the server from another working directory (the key folder must not be "
            f"the folder '{name}' in it), or install the provider non-editable "
            f"(pip install .).")
