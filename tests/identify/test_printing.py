"""Receipts: printed after the commit; paper out never undoes an identification."""

from __future__ import annotations

from identify.daemon import open_identifier
from identify.receipts import (
    pending,
    print_pending,
    receipt_document,
    summary_body,
    summary_document,
)
from simulation.table import Visit
from station.events import tail


def identify(table, k: int):
    return table.identifier.manual(table.voters[k].pin, "m1", "sensor-failure")


def test_out_of_paper_the_identification_stands_and_the_receipt_reprints(table):
    table.printer.preset = "paper-out"
    out = identify(table, 0)
    identify(table, 1)
    done = print_pending(table.identifier.conn, table.printer, table.election)
    assert [(n, r.printed, r.status.value) for n, r in done] == [(1, False, "paper-out")]
    assert out.accepted and [r.number for r in pending(table.identifier.conn)] == [1, 2]
    assert table.identifier.conn.execute("SELECT count(*) FROM identification").fetchone()[0] == 2
    assert not list(table.receipts_dir.glob("print-*.png"))
    print_pending(table.identifier.conn, table.printer, table.election)   # still out: one deferral logged
    deferrals = [e for e in tail(table.identifier.conn, 50) if e["event"] == "receipt-print-deferred"]
    assert len(deferrals) == 1
    table.printer.load_paper()
    done = print_pending(table.identifier.conn, table.printer, table.election)
    assert [(n, r.printed) for n, r in done] == [(1, True), (2, True)]
    assert pending(table.identifier.conn) == []
    assert len(list(table.receipts_dir.glob("print-*.png"))) == 2
    assert any(e["event"] == "receipt-printed-late" for e in tail(table.identifier.conn, 50))


def test_paper_running_out_mid_receipt_reprints_it_whole(table):
    identify(table, 0)
    table.printer.preset = "paper-runs-out"
    done = print_pending(table.identifier.conn, table.printer, table.election)
    assert not done[0][1].printed and table.printer.torn == 1
    table.printer.load_paper()
    assert print_pending(table.identifier.conn, table.printer, table.election)[0][1].printed
    assert pending(table.identifier.conn) == []


def test_the_daemon_prints_after_accepting_and_again_when_paper_is_back(table):
    v = table.voters[2]
    table.printer.preset = "paper-out"
    r = table.visit(Visit(v.pin))
    assert r.outcome.accepted and [p.printed for _, p in r.table.printed] == [False]
    table.printer.load_paper()
    table.daemon.run(max_turns=1)           # each turn prints what is queued
    assert pending(table.identifier.conn) == []


def test_receipt_and_summary_documents_are_bilingual(table):
    out = identify(table, 0)
    texts = [getattr(b, "text", "") + getattr(b, "key", "") for b in receipt_document(table.election,
                                                                                      out.receipt).blocks]
    joined = "\n".join(texts)
    assert "Квитанция №" in joined and "Убакыт / Время" in joined and "Код проверки" in joined
    assert "Многомандатный" in joined and "көп мандаттуу" in joined       # contest titles, ky and ru
    body = summary_body(table.identifier.conn)
    assert body["identified"] == 1 and body["voters_on_list"] == 12 and body["by_method"]["manual"] == 1
    doc = summary_document(table.election, body)
    assert any("Идентифицировано" in getattr(b, "key", "") for b in doc.blocks)


def test_each_table_prints_its_own_receipts(table, home):
    second = open_identifier(home, table.election, table="2")
    try:
        second.manual(table.voters[0].pin, "m1", "sensor-failure")
        identify(table, 1)
        done = print_pending(table.identifier.conn, table.printer, table.election, table="1")
        assert [n for n, _ in done] == [2]
        assert [r.number for r in pending(second.conn, "2")] == [1]
    finally:
        second.close_connections()
