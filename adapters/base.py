"""The adapter contract: ``Adapter.check(address) -> Decision``.

An adapter answers one question for one VHS: may the person with this e-mail address have
an account, according to the VHS's Verwaltungsprogramm? A refusal is a returned value;
``AdapterUnavailable`` is raised only when the program cannot be reached, times out or
answers garbage. Adapters are built once per VHS from that VHS's options, which the
constructor checks (``Options``), and are found by name in the entry-point group
``vhskoop_idp.adapters`` (``adapters.registry``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

ELIGIBLE = "eligible"
UNKNOWN = "unknown"
NOT_RELEASED = "not_released"  # KuferSQL: "Im Internet anzeigen" is not set
NOT_LINKED = "not_linked"  # Kursmanagement-APP: ITEM has not linked the user yet
INACTIVE = "inactive"
STATUSES = (ELIGIBLE, UNKNOWN, NOT_RELEASED, NOT_LINKED, INACTIVE)

# When one address belongs to several users, the most favourable answer counts.
_RANK = {ELIGIBLE: 0, NOT_LINKED: 1, NOT_RELEASED: 2, INACTIVE: 3, UNKNOWN: 4}


@dataclass(frozen=True)
class Person:
    """Who the program knows under the address."""

    user_id: str
    display_name: str | None = None
    mandant: str | None = None
    stored_address: str | None = None  # as stored, invisible characters included


@dataclass(frozen=True)
class Decision:
    """The program's answer for one address."""

    status: str
    person: Person | None = None

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"unknown decision status {self.status!r}")

    @property
    def eligible(self) -> bool:
        """Whether the person may have an account."""
        return self.status == ELIGIBLE


def best(decisions: list[Decision]) -> Decision:
    """The most favourable of several decisions (unknown when there are none)."""
    return min(decisions, key=lambda d: _RANK[d.status], default=Decision(UNKNOWN))


class AdapterUnavailable(Exception):
    """The program cannot be reached, timed out or answered garbage."""


class AdapterConfigError(ValueError):
    """An adapter's configuration is wrong; the message names the VHS and the option."""


class LinkStore(Protocol):
    """Kursmanagement-APP links, kept by the provider."""

    def is_linked(self, vhs: str, address: str) -> bool:
        """Whether ITEM linked this address's user for this VHS."""


@dataclass(frozen=True)
class Context:
    """What the provider hands every adapter besides its options."""

    vhs: str
    build: Callable[[str, Mapping[str, Any]], Adapter] | None = None
    links: LinkStore | None = None
    # The pushed directory entries whose cleaned address is the argument.
    entries: Callable[[str], list[dict]] | None = None


class Adapter(Protocol):
    """One Verwaltungsprogramm of one VHS."""

    def check(self, address: str) -> Decision:
        """The decision for ``address`` (cleaned by the adapter before matching)."""

    # Optional: ``check_many(addresses: list[str]) -> dict[str, Decision]``, the decision
    # for each of many addresses (keyed as given) in one go, as ``check`` would decide each;
    # the lifecycle pass uses it where an adapter has it (the SQL adapters: one query).
    # Optional: ``find_by_id(user_id: str) -> Decision | None``, the decision for the
    # program's user ``user_id`` (``Person.user_id`` of an earlier answer) under the address
    # it has now, None when the program has no such user: a mover, not a leaver.
    # Optional: ``similar(address: str) -> list[str]``, addresses of the same domain the
    # program stores one or two letters away (the diagnosis names a likely typo).

    def close(self) -> None:
        """Release connections."""


REQUIRED = object()


@dataclass(frozen=True)
class Option:
    """One configuration option: its type, its default (or REQUIRED) and what it means."""

    kind: type | tuple[type, ...]
    default: Any = REQUIRED
    doc: str = ""
    secret: bool = False


@dataclass
class Options:
    """Checks a VHS's adapter options against the adapter's declared options."""

    declared: Mapping[str, Option]
    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, adapter: str, vhs: str, declared: Mapping[str, Option],
              given: Mapping[str, Any]) -> Options:
        """Validate ``given``; AdapterConfigError names the VHS, adapter and option."""
        where = f"VHS {vhs!r}, adapter {adapter!r}"
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise AdapterConfigError(
                f"{where}: unknown option {unknown[0]!r} (known: {', '.join(sorted(declared))})"
            )
        values = {}
        for name, option in declared.items():
            if name not in given:
                if option.default is REQUIRED:
                    raise AdapterConfigError(f"{where}: missing option {name!r} ({option.doc})")
                values[name] = option.default
                continue
            value = given[name]
            kinds = option.kind if isinstance(option.kind, tuple) else (option.kind,)
            if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
                expected = " or ".join(k.__name__ for k in kinds)
                raise AdapterConfigError(
                    f"{where}: option {name!r} must be {expected}, not {type(value).__name__}"
                )
            values[name] = value
        return cls(declared, values)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]
