"""What each adapter does beyond the contract: options, KMA links, AMQP faults, lists."""

from __future__ import annotations

import time

import pytest

from adapters import registry
from adapters.base import AdapterConfigError, AdapterUnavailable
from adapters.directory import DirectoryFormatError, parse
from adapters.sql import KuferSqlAdapter
from idp.dev.itm_connect_sim import Simulator

from ..worlds import PEOPLE, Links, context, drop_program_table, make_program_table, unique_vhs

pytestmark = pytest.mark.once


def test_unknown_adapter_names_the_group_and_the_name():
    with pytest.raises(AdapterConfigError, match="'cmxorganize'.*'vhskoop_idp.adapters'"):
        registry.build("cmxorganize", {}, context())


@pytest.mark.parametrize(("options", "message"), [
    ({}, "VHS 'straubing', adapter 'kufersql': missing option 'url'"),
    ({"url": "sqlite://", "colour": "blue"}, "unknown option 'colour'"),
    ({"url": "sqlite://", "timeout": "5"}, "option 'timeout' must be int or float, not str"),
    ({"url": "sqlite://", "scan_on_miss": "yes"}, "option 'scan_on_miss' must be bool"),
    ({"url": "sqlite://", "table": "benutzer; DROP TABLE x"}, "not a plain table or column"),
    ({"url": "sqlite://", "email_columns": []}, "'email_columns' must name a column"),
    ({"url": "nonsense://"}, "option 'url' cannot be used"),
])
def test_kufersql_options_are_checked_in_the_constructor(options, message):
    with pytest.raises(AdapterConfigError, match=message.replace("(", r"\(")):
        registry.build("kufersql", options, context())


def test_mandant_is_optional_and_matters(kufer_world):
    every = KuferSqlAdapter({"url": kufer_world["url"]}, context())
    assert every.check("erik@vhs-straubing.de").status == "eligible"
    only_two = KuferSqlAdapter({"url": kufer_world["url"], "mandant": "2"}, context())
    assert only_two.check("erik@vhs-straubing.de").status == "eligible"
    assert only_two.check("anna.muster@vhs-straubing.de").status == "unknown"


def test_without_the_scan_an_invisible_character_hides_the_user(kufer_world):
    exact = KuferSqlAdapter({"url": kufer_world["url"], "scan_on_miss": False}, context())
    assert exact.check("dora@vhs-straubing.de").status == "unknown"
    assert exact.check("anna.muster@vhs-straubing.de").status == "eligible"


def test_kma_answers_not_linked_until_linked(kufer_world):
    links = Links(set())
    kma = registry.build("kma", {"program": "kufersql", "program_options": {
        "url": kufer_world["url"]}}, context(links=links))
    decision = kma.check("Anna.Muster@vhs-straubing.de")
    assert decision.status == "not_linked" and decision.person.user_id == "1"
    links.linked.add(("straubing", "anna.muster@vhs-straubing.de"))
    assert kma.check("Anna.Muster@vhs-straubing.de").status == "eligible"
    assert kma.check("bernd@vhs-straubing.de").status == "not_released"  # program first


def test_kma_checks_its_own_options():
    with pytest.raises(AdapterConfigError, match="cannot be 'kma' itself"):
        registry.build("kma", {"program": "kma"}, context(links=Links(set())))
    with pytest.raises(AdapterConfigError, match="missing option 'url'"):
        registry.build("kma", {"program": "kufersql"}, context(links=Links(set())))


def test_itm_connect_without_a_connector_times_out(amqp_url):
    adapter = registry.build("itm_connect", {"url": amqp_url, "timeout": 0.5},
                             context(unique_vhs()))
    with pytest.raises(AdapterUnavailable, match="did not answer within 0.5 s"):
        adapter.check("anna.muster@vhs-straubing.de")
    adapter.close()


@pytest.mark.parametrize("mode", ["garbage", "slow"])
def test_itm_connect_faults_are_unavailability(amqp_url, kufer_world, mode):
    vhs = unique_vhs()
    simulator = Simulator(amqp_url, vhs, KuferSqlAdapter({"url": kufer_world["url"]},
                                                         context(vhs)), mode=mode)
    simulator.start()
    adapter = registry.build("itm_connect", {"url": amqp_url, "timeout": 1}, context(vhs))
    try:
        with pytest.raises(AdapterUnavailable):
            adapter.check("anna.muster@vhs-straubing.de")
    finally:
        simulator.stop()
        adapter.close()


def test_itm_connect_options():
    with pytest.raises(AdapterConfigError, match="amqp://"):
        registry.build("itm_connect", {"url": "http://broker"}, context())


@pytest.mark.parametrize(("data", "kind", "message"), [
    ("not json", "json", "not valid JSON"),
    ('{"people": []}', "json", "expected a list"),
    ('[{"email": "no address"}]', "json", "entry 1: 'email'"),
    ('[{"email": "a@vhs.de", "active": "vielleicht"}]', "json", "entry 1, 'active'"),
    ("name,id\nAnna,1\n", "csv", "column 'email'"),
    ("", "xml", "unknown format"),
])
def test_directory_lists_are_checked(data, kind, message):
    with pytest.raises(DirectoryFormatError, match=message):
        parse(data, kind)


def test_directory_reads_csv_and_pushed_entries():
    entries = parse("email,id,name,active,released\r\nanna@vhs.de,7,Anna,ja,nein\r\n", "csv")
    assert entries == [{"email": "anna@vhs.de", "id": "7", "name": "Anna", "active": True,
                        "released": False}]
    pushed = registry.build("directory", {}, context(entries=lambda address: [
        e for e in entries if e["email"] == address]))
    assert pushed.check("ANNA@vhs.de").status == "not_released"
    with pytest.raises(AdapterConfigError, match="no 'file' and no pushed list"):
        registry.build("directory", {}, context())


def test_hostile_addresses_reach_the_database_only_as_bound_parameters(kufer_world):
    from sqlalchemy import event

    adapter = KuferSqlAdapter({"url": kufer_world["url"]}, context())
    statements = []
    event.listen(adapter.engine, "before_cursor_execute",
                 lambda conn, cursor, statement, params, ctx, many:
                 statements.append((statement, params)))
    hostile = "x');DROP/**/TABLE/**/benutzer;--@vhs-straubing.de"  # no spaces: it is queried
    assert adapter.check(hostile).status == "unknown"
    assert statements
    assert all("DROP" not in statement for statement, _ in statements)
    assert any("drop/**/table" in str(params).lower() for _, params in statements)
    assert adapter.check("anna.muster@vhs-straubing.de").status == "eligible"


def test_adapters_import_neither_flask_nor_idp():
    import ast
    from pathlib import Path

    import adapters

    for path in Path(adapters.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for name in names:
                assert name.split(".")[0] not in ("flask", "idp"), f"{path.name} imports {name}"


def test_a_hung_program_database_ends_each_call_at_the_timeout(postgres_proxy):
    """A KuferSQL database on PostgreSQL that accepts and never answers (a stopped server,
    a stuck network): every call ends at the adapter's ``timeout``, also on a connection
    from the pool, whose server cannot enforce its statement timeout; and after a restart
    the pooled connection that died is replaced without a failed check."""
    direct, proxy = postgres_proxy
    url = direct.url.render_as_string(hide_password=False)
    rows = [(i, first, last, address, None, "J", "J", mandant)
            for i, first, last, address, _, _, mandant in PEOPLE]
    table = make_program_table(url, "benutzer", {
        "id": "id", "vorname": "text", "name": "text", "email": "text", "email2": "text",
        "aktiv": "yesno", "internet_anzeigen": "yesno", "mandant": "text"}, rows)
    adapter = KuferSqlAdapter({"url": proxy.url(direct.url), "mandant": "1", "timeout": 2},
                              context())
    anna = "anna.muster@vhs-straubing.de"
    try:
        assert adapter.check(anna).eligible  # a connection in the pool now
        proxy.freeze()
        for call in (lambda: adapter.check(anna), lambda: adapter.check_many([anna]),
                     lambda: adapter.find_by_id("1")):
            started = time.monotonic()
            with pytest.raises(AdapterUnavailable, match="kufersql database of VHS"):
                call()
            assert time.monotonic() - started < 2.5  # the timeout, not the server's
        proxy.thaw()
        assert adapter.check(anna).eligible
        proxy.cut()  # a restart: the pooled connection is dead
        proxy.restore()
        assert adapter.check(anna).eligible
        assert adapter.find_by_id("1").person.stored_address == "Anna.Muster@vhs-straubing.de"
    finally:
        adapter.close()
        drop_program_table(url, table)


def test_a_near_address_is_found_for_the_diagnosis(kufer_world):
    adapter = KuferSqlAdapter({"url": kufer_world["url"], "mandant": "1"}, context())
    try:
        assert adapter.similar("ana.muster@vhs-straubing.de") == ["Anna.Muster@vhs-straubing.de"]
        assert adapter.similar("bernhard@vhs-straubing.de") == []  # more than two letters
        assert adapter.similar("anna.muster@vhs-passau.de") == []  # another domain
        assert adapter.similar("x%@vhs-straubing.de") == []  # no wildcard reaches SQL
    finally:
        adapter.close()
