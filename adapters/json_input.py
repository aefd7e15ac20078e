"""JSON from outside (a pushed user list, an itm:CONNECT or itm:PORTAL answer), read safely.

``json.loads`` recurses once per nesting level: a list nested 100,000 deep ends in a
RecursionError. Everything read here is at most ``MAX_DEPTH`` deep (the provider's
inputs need three or four levels); deeper input is a ValueError, like malformed JSON.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32


def loads(data: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON; ValueError when it is malformed or nested deeper than ``max_depth``."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {max_depth} levels") from None
    if depth(value) > max_depth:
        raise ValueError(f"JSON nested deeper than {max_depth} levels")
    return value


def depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (a scalar: 0), without recursion."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, level = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(
            item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        pending.extend((child, level + 1) for child in children
                       if isinstance(child, (dict, list)))
    return deepest
