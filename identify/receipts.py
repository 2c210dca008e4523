"""Identification receipts and the close-of-polls identification summary, in Kyrgyz and Russian.

A receipt says: the station, the receipt number (``R-000123``, gap-free per
station), the local time (the election's time zone, Asia/Bishkek), the table,
the ballots to issue (contest titles, one per contest, DOMAIN.md "Ballots and
contests" 3) and a verification code, also drawn as a QR code.

Verification code: the first 50 bits of SHA-256 over the canonical JSON
(RFC 8785) of the receipt's envelope body plus the election and station ids,
in base32 (``XXXXX-XXXXX``). The central server recomputes it from the
signed envelope it received (``verification_code(election, station, body)``
with ``verification_code`` removed from the body), so the paper in the
commission's hands can be checked against the record that reached the CEC;
the envelope's device signature is what makes the record unforgeable.

Printing never loses a receipt: it is queued (``print_queue``) in the same
transaction as the identification; ``print_pending`` prints the queue in
order and marks each printed one; a printer out of paper (or with its cover
open, or unplugged) leaves it queued, and the next call (paper back, daemon
restarted after a crash between commit and print) prints it.

Secrecy: a receipt carries which contests' ballots to hand out (eligibility),
never anything about a vote.

The summary (``summary_body``, queued once at the close by ``enqueue_summary``)
is aggregates only: the list size, identifications by method, the online
claims' outcomes (identify/claims.py), and at a site that printed ballots on
demand (identify/ondemand.py) their counters per ballot style (``ondemand``:
printed, issued, voided, pending, voids by reason: no time, no row per
ballot). ``enqueue_summary`` writes the same counters to the audit log
(``ondemand-ballots-counted``) in the summary's transaction, and publishes the
counts the results protocol needs in station.db (station/identify_summary.py:
the count role cannot read identify.db on the appliance).

Example::

    doc = receipt_document(election, receipt)
    print_pending(conn, printer, election)     # -> [(receipt number, PrintResult), ...]
"""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

from base.clock import SystemClock, iso, local, parse_iso
from base.sqlite import atomic
from drivers.printer.base import Align, Cut, Document, Heading, QrCode, Row, Rule, Space, Text
from identify.claims import claim_counts
from identify.identifier import counts
from identify.ondemand import counters as ondemand_counters
from identify.ondemand import record_totals
from identify.rules import Receipt, receipt_label
from identify.voters import count
from station.election import Election
from station.errors import IdentificationError, PackageError
from station.events import record
from station.identify_summary import publish as publish_summary
from station.text import Text as Bilingual  # ``Text`` here is the printer's text element

METHOD_TEXT: dict[str, Bilingual] = {
    "card+finger": Bilingual("Карта + манжа изи", "Карта + отпечаток"),
    "document+finger": Bilingual("Документ + манжа изи", "Документ + отпечаток"),
    "finger-search": Bilingual("Манжа изи боюнча издөө", "Поиск по отпечатку"),
    "manual": Bilingual("Комиссия кол менен", "Вручную комиссией"),
}


def qr_payload(election: Election, receipt) -> str:
    return f"UCH1|{election.id}|{election.station.id}|{receipt.label}|{receipt.code}"


def receipt_document(election: Election, receipt, *, duplicate: bool = False) -> Document:
    """The receipt as printed (``receipt``: identify.identifier.Receipt)."""
    st = election.station
    when = local(receipt.identified_at, election.time_zone or "Asia/Bishkek")
    doc = Document(title=f"{st.id} {receipt.label}")
    doc.add(Heading(st.name.ky, size=26), Text(st.name.ru, size=20, align=Align.CENTER),
            Text("Шайлоочуну идентификациялоо квитанциясы\nКвитанция идентификации избирателя",
                 size=20, bold=True, align=Align.CENTER))
    if duplicate:
        doc.add(Text("ДУБЛИКАТ", size=26, bold=True, align=Align.CENTER))
    doc.add(Rule(),
            Row("Квитанция №", receipt.label),
            Row("Убакыт / Время", when.strftime("%d.%m.%Y %H:%M")),
            Row("Стол", str(receipt.table)),
            Rule(),
            Text("Берилүүчү бюллетендер /\nВыдать бюллетени:", size=20, bold=True))
    for contest_id in receipt.ballots:
        title = election.contest(contest_id).title
        doc.add(Text(f"• {title.ky}", size=20), Text(f"  {title.ru}", size=18))
    doc.add(Rule(),
            Row("Текшерүү коду / Код проверки", receipt.code),
            Space(8),
            QrCode(qr_payload(election, receipt)),
            Space(24),
            Cut())
    return doc


# --- the print queue -------------------------------------------------------------

def _receipt_from_row(r: sqlite3.Row):

    at = parse_iso(r["identified_at"])
    return Receipt(r["number"], r["code"], at, r["method"], tuple(json.loads(r["ballots"])), r["table_id"])


_RECEIPT_SQL = ("SELECT r.number, r.code, i.identified_at, i.method, i.ballots, i.table_id,"
                " q.attempts, q.last_status FROM receipt r JOIN identification i ON i.seq = r.identification"
                " JOIN print_queue q ON q.receipt = r.number")


def pending(conn: sqlite3.Connection, table: str | None = None) -> list:
    """Receipts committed but not printed yet (at ``table``, or anywhere), oldest first."""
    return [_receipt_from_row(r) for r in _pending_rows(conn, table)]


def _pending_rows(conn: sqlite3.Connection, table: str | None, limit: int | None = None) -> list:
    sql, args = _RECEIPT_SQL + " WHERE q.printed_at IS NULL", []
    if table is not None:
        sql += " AND i.table_id = ?"
        args.append(str(table))
    sql += " ORDER BY r.number"
    if limit:
        sql += f" LIMIT {int(limit)}"
    return conn.execute(sql, args).fetchall()


def receipt(conn: sqlite3.Connection, number: int):
    r = conn.execute(_RECEIPT_SQL + " WHERE r.number = ?", (number,)).fetchone()
    return _receipt_from_row(r) if r else None


def print_pending(conn: sqlite3.Connection, printer, election: Election, *, table: str | None = None,
                  clock=None, logger: logging.Logger | None = None,
                  limit: int | None = None) -> list[tuple[int, Any]]:
    """Print queued receipts in order until the queue is empty or the printer is not ready.

    ``table``: only that table's receipts (each table has its own printer); None: all.
    """
    clock = clock or SystemClock()
    log = logger or logging.getLogger("uchastok.identify")
    done: list[tuple[int, Any]] = []
    for r in _pending_rows(conn, table, limit):
        rec = _receipt_from_row(r)
        result = printer.print_document(receipt_document(election, rec))
        done.append((rec.number, result))
        status = getattr(result.status, "value", str(result.status))
        if result.printed:
            conn.execute("UPDATE print_queue SET printed_at = ?, attempts = attempts + 1, last_status = ?"
                         " WHERE receipt = ?", (iso(clock.now()), status, rec.number))
            if r["attempts"]:
                record(conn, "receipt-printed-late", actor="system", clock=clock, receipt=rec.label,
                       attempts=r["attempts"] + 1)
            continue
        conn.execute("UPDATE print_queue SET attempts = attempts + 1, last_status = ? WHERE receipt = ?",
                     (status, rec.number))
        if r["last_status"] != status:
            record(conn, "receipt-print-deferred", "failure", actor="system", clock=clock,
                   receipt=rec.label, printer=status, detail=result.detail)
        log.warning("receipt %s not printed (%s): kept in the queue", rec.label, status)
        break
    return done


def reprint(conn: sqlite3.Connection, printer, election: Election, number: int, *, member: str,
            clock=None):
    """A duplicate of an already printed receipt (audited); returns the PrintResult."""

    rec = receipt(conn, number)
    if rec is None:
        raise IdentificationError(f"no receipt {receipt_label(number)}")
    result = printer.print_document(receipt_document(election, rec, duplicate=True))
    record(conn, "receipt-duplicate-printed", "success" if result.printed else "failure",
           actor=f"member:{member}", clock=clock, receipt=rec.label)
    return result


# --- the close-of-polls summary ---------------------------------------------------

def summary_body(conn: sqlite3.Connection, *, clock=None) -> dict[str, Any]:
    """The ``identification-summary`` body: list size and identifications by method; with online
    claims (identify/claims.py), those issued on a provisional claim counted apart (``provisional``:
    issued, and what the centre answered since) and the claims' outcomes (``claims``)."""

    c = counts(conn)
    body = {"voters_on_list": count(conn), "identified": c["identified"], "by_method": c["by_method"],
            "manual_by_reason": c["manual_by_reason"], "at": iso((clock or SystemClock()).now())}
    claimed = claim_counts(conn)
    if any(claimed["claims"].values()) or claimed["provisional"]["issued"]:
        body |= claimed
    if ondemand := ondemand_body(conn):
        body["ondemand"] = ondemand
    return body


def ondemand_body(conn: sqlite3.Connection) -> dict[str, dict[str, Any]] | None:
    """The summary's ``ondemand`` section: per ballot style printed, issued, voided, pending and
    the voids by reason (only reasons with a sheet), as the audit record at the close has them;
    None where no ballot was printed on demand (every station but a remote-voting site)."""
    styles = ondemand_counters(conn)
    if not any(c.printed for c in styles.values()):
        return None
    return {c.style: {"printed": c.printed, "issued": c.issued, "voided": c.voided, "pending": c.pending,
                      "voids": {r: n for r, n in sorted(c.voids.items()) if n}}
            for c in styles.values()}


def summary_document(election: Election, body: dict[str, Any]) -> Document:
    st = election.station
    at = parse_iso(body["at"])
    when = local(at, election.time_zone or "Asia/Bishkek")
    doc = Document(title=f"{st.id} identification summary")
    doc.add(Heading(st.name.ky, size=26), Text(st.name.ru, size=20, align=Align.CENTER),
            Text("Шайлоочуларды идентификациялоонун жыйынтыгы\nИтоги идентификации избирателей",
                 size=20, bold=True, align=Align.CENTER),
            Rule(),
            Row("Убакыт / Время", when.strftime("%d.%m.%Y %H:%M")),
            Row("Тизмедеги шайлоочулар / Избирателей в списке", str(body["voters_on_list"])),
            Row("Идентификацияланды / Идентифицировано", str(body["identified"])),
            Rule())
    for method, n in body["by_method"].items():
        name = METHOD_TEXT.get(method, Bilingual(method, method))
        doc.add(Row(f"{name.ky} / {name.ru}", str(n)))
    for reason, n in sorted(body.get("manual_by_reason", {}).items()):
        doc.add(Row(f"  {reason}", str(n), size=18))
    if "provisional" in body:
        p, cl = body["provisional"], body["claims"]
        doc.add(Rule(),
                Row("Шарттуу берилди / Выдано условно", str(p["issued"])),
                Row("  борбор уруксат берди / центр разрешил", str(p["granted_later"]), size=18),
                Row("  борбор четке какты / центр отказал", str(p["refused_later"]), size=18),
                Row("  жооп жок / без ответа", str(p["unanswered"]), size=18),
                Row("Борбор онлайн четке какты / Отказано центром", str(cl["refused_online"])))
    if "ondemand" in body:
        doc.add(Rule(), Text("Талап боюнча басылган бюллетендер /\nБюллетени, напечатанные по запросу:",
                             size=20, bold=True))
        for style, c in body["ondemand"].items():
            doc.add(Text(_style_title(election, style), size=18, bold=True),
                    Row("  басылды / напечатано", str(c["printed"]), size=18),
                    Row("  берилди / выдано", str(c["issued"]), size=18),
                    Row("  жокко чыгарылды / погашено", str(c["voided"]), size=18))
            if c["pending"]:
                doc.add(Row("  чечиле элек / не решено", str(c["pending"]), size=18))
    doc.add(Space(24), Cut())
    return doc


def _style_title(election: Election, style: str) -> str:
    """A ballot style as the summary prints it: its contest's title in both languages, or its id."""
    contests = next((s.contests for s in election.ballot_styles if s.id == style), ())
    if len(contests) != 1:
        return style
    try:
        title = election.contest(contests[0]).title
    except PackageError:
        return style
    return f"{title.ky} / {title.ru}"


def enqueue_summary(conn: sqlite3.Connection, outbox, *, station_conn: sqlite3.Connection | None = None,
                    clock=None) -> dict[str, Any]:
    """Queue the summary envelope (stream ``identify``) with its audit record, in one transaction;
    at a site that printed ballots on demand, their counters' audit record at the close too.

    ``station_conn``: the summary's counts are then published in station.db for the count role's
    protocol (station/identify_summary.py), right after the envelope's transaction (if that write
    is lost, sending the summary again publishes them: the latest replaces the one before)."""

    with atomic(conn):
        body = summary_body(conn, clock=clock)
        outbox.enqueue("identification-summary", body)
        record(conn, "identification-summary-sent", clock=clock, identified=body["identified"])
        if "ondemand" in body:
            record_totals(conn, clock=clock)
    if station_conn is not None:
        publish_summary(station_conn, body, clock=clock)
    return body
