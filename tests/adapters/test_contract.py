"""One contract, every registered adapter, the same table of cases (adapters/base.py)."""

from __future__ import annotations

import time

import pytest

from adapters import registry
from adapters.base import AdapterUnavailable, Decision
from adapters.sql import KuferSqlAdapter, SqlAdapter
from idp.dev.itm_connect_sim import Simulator
from idp.lifecycle import check_many

from ..worlds import Links, closed_port, context, unique_vhs

pytestmark = pytest.mark.once

ALL_LINKED = Links({("straubing", a) for a in (
    "anna.muster@vhs-straubing.de", "bernd@vhs-straubing.de", "carla@vhs-straubing.de",
    "dora@vhs-straubing.de")})


class Backends:
    """For each adapter name: build it against a live world, and against a dead one."""

    def __init__(self, request):
        self.request = request
        self.cleanups = []

    def fixture(self, name):
        return self.request.getfixturevalue(name)

    def kufersql(self, reachable=True):
        world = self.fixture("kufer_world")
        url = world["url"] if reachable else f"postgresql+psycopg://x@127.0.0.1:{closed_port()}/x"
        return registry.build("kufersql", {"url": url, "mandant": world["mandant"],
                                           "timeout": 2}, context())

    def itm_manager(self, reachable=True):
        world = self.fixture("manager_world")
        url = world["url"] if reachable else f"postgresql+psycopg://x@127.0.0.1:{closed_port()}/x"
        return registry.build("itm_manager", {"url": url, "timeout": 2}, context())

    def directory(self, reachable=True):
        path = self.fixture("directory_file") if reachable else "/nonexistent/users.json"
        return registry.build("directory", {"file": path}, context())

    def kma(self, reachable=True):
        world = self.fixture("kufer_world")
        url = world["url"] if reachable else f"postgresql+psycopg://x@127.0.0.1:{closed_port()}/x"
        return registry.build("kma", {"program": "kufersql", "program_options": {
            "url": url, "mandant": "1", "timeout": 2}}, context(links=ALL_LINKED))

    def itm_connect(self, reachable=True):
        amqp = self.fixture("amqp_url")
        vhs = unique_vhs()
        if not reachable:
            return registry.build("itm_connect", {
                "url": f"amqp://guest:guest@127.0.0.1:{closed_port()}/%2F", "timeout": 1},
                context(vhs))
        world = self.fixture("kufer_world")
        program = KuferSqlAdapter({"url": world["url"], "mandant": "1"}, context(vhs))
        simulator = Simulator(amqp, vhs, program)
        simulator.start()
        self.cleanups.append(simulator.stop)
        return registry.build("itm_connect", {"url": amqp, "timeout": 3}, context(vhs))

    def close(self):
        for cleanup in self.cleanups:
            cleanup()


NAMES = ["kufersql", "itm_manager", "directory", "kma", "itm_connect"]


def test_every_registered_adapter_is_in_the_contract_suite():
    assert sorted(NAMES) == registry.available()


@pytest.fixture(params=NAMES)
def backends(request):
    made = Backends(request)
    yield request.param, made
    made.close()


@pytest.fixture
def adapter(backends):
    name, made = backends
    built = getattr(made, name)()
    yield built
    built.close()


CASES = [
    ("anna.muster@vhs-straubing.de", "eligible"),
    ("ANNA.MUSTER@VHS-Straubing.DE", "eligible"),
    ("  anna.muster@vhs-straubing.de\u200b", "eligible"),
    ("bernd@vhs-straubing.de", "not_released"),
    ("carla@vhs-straubing.de", "inactive"),
    ("dora@vhs-straubing.de", "eligible"),
    ("\u00a0Dora@vhs-straubing.de", "eligible"),
    ("niemand@vhs-straubing.de", "unknown"),
    ("erik@vhs-straubing.de", "unknown"),
]


@pytest.mark.parametrize(("address", "status"), CASES)
def test_decision(adapter, address, status):
    decision = adapter.check(address)
    assert isinstance(decision, Decision)
    assert decision.status == status


def test_person_is_described(adapter):
    person = adapter.check("anna.muster@vhs-straubing.de").person
    assert person.user_id == "1"
    assert person.display_name == "Anna Muster"
    assert person.stored_address == "Anna.Muster@vhs-straubing.de"
    dora = adapter.check("dora@vhs-straubing.de").person
    assert dora.stored_address == "dora@vhs-straubing.de\u00a0"  # for diagnose


HOSTILE = [
    "' OR '1'='1' --@vhs.de",
    "anna.muster@vhs-straubing.de' --",
    "x@vhs.de\r\nBcc: evil@example.org",
    "a" * 10_000 + "@vhs-straubing.de",
    "anna.muster@vhs-straubing.d\u0435",  # Cyrillic e
    "%@vhs-straubing.de",
    "_nna.muster@vhs-straubing.de",
    "",
    "\x00",
]


@pytest.mark.parametrize("address", HOSTILE)
def test_hostile_addresses_are_unknown_and_harmless(adapter, address):
    assert adapter.check(address).status == "unknown"
    assert adapter.check("anna.muster@vhs-straubing.de").status == "eligible"


def test_unreachable_backend_raises_adapter_unavailable(backends):
    name, made = backends
    dead = getattr(made, name)(reachable=False)
    started = time.monotonic()
    with pytest.raises(AdapterUnavailable):
        dead.check("anna.muster@vhs-straubing.de")
    assert time.monotonic() - started < 10
    dead.close()


def test_many_addresses_at_once_are_decided_as_one_by_one(adapter):
    """The lifecycle pass asks many addresses at once (``check_many`` where an adapter has
    one, else ``check`` each): the same decisions, keyed as asked, hostile ones included."""
    asked = [address for address, _ in CASES] + HOSTILE[:3] + ["bernd@vhs-straubing.de"]
    answers = check_many(adapter, asked)
    assert set(answers) == set(asked)
    assert {address: d.status for address, d in answers.items()} == {
        address: adapter.check(address).status for address in asked}
    assert answers["dora@vhs-straubing.de"].person.stored_address == "dora@vhs-straubing.de\u00a0"


def test_many_addresses_of_an_unreachable_program_raise_adapter_unavailable(backends):
    name, made = backends
    dead = getattr(made, name)(reachable=False)
    try:
        with pytest.raises(AdapterUnavailable):
            check_many(dead, ["anna.muster@vhs-straubing.de", "bernd@vhs-straubing.de"])
    finally:
        dead.close()


def test_a_user_is_found_by_the_programs_id_under_the_address_it_has_now(adapter):
    """Optional (the SQL adapters): the user of an earlier answer, by its id, with the
    address as stored now; an unknown or hostile id finds nobody."""
    find = getattr(adapter, "find_by_id", None)
    assert (find is not None) is isinstance(adapter, SqlAdapter)  # the SQL ones have it
    if find is None:
        return  # an adapter without it: the lifecycle treats every "unknown" as a leaver
    dora = find("4")
    assert dora.status == "eligible"
    assert dora.person.stored_address == "dora@vhs-straubing.de\u00a0"
    assert find("2").status == "not_released"
    for unknown in ("999", "' OR '1'='1", "", "x" * 300):
        assert find(unknown) is None, unknown
