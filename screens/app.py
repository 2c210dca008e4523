"""The screens' web application: server-rendered pages over the table and the ballot box.

Starlette routes render Jinja2 templates (screens/templates) with a thin script
(screens/static/screens.js: the on-screen PIN pad and keyboard, and a reload when
the screen's state changes). Every action is a plain form POST answered by a
redirect (POST-redirect-GET): a reload never repeats an action, and each form's
one-time token makes a double tap harmless (screens/table.py ``Tokens``); a form
from before a restart of the server changes nothing and says the page was stale.

No rule lives here: a route reads a form, calls the library function the CLI
calls (``TableSession`` / ``BoxSession`` methods wrap the daemons; polls actions
are ``station.members.polls_action``; the zero report and the protocol are
count/role.py's; the manual count is count/manual_protocol.py's, checked by
count/manual_count.py), and shows its answer. Errors of the library
(``UchastokError``) are shown on the page, in both languages where the library
has both, and nothing is recorded.

One application per role and process (screens/serve.py): the identification
table's pages ``/table``, ``/table/search``, ``/table/manual``, ``/table/confirm``,
``/table/provisional`` (remote voting: issue on a provisional claim when the centre
did not answer, a member's PIN), ``/table/not-taken`` (a remote-voting site's ballots
printed on demand: the second tap before the sheets on the tray are voided; the other
taps on those sheets are ``/table/tap/hand-over``, ``print-again``, ``tray-yes`` and
``tray-no``, each naming the screen it was made on);
the ballot box's ``/box`` and the polls screens the count role owns: ``/polls``
(state, L&A result, actions; ``/polls/do/ACTION`` is the PIN pad), ``/protocol``
(preview, signed revisions), ``/count`` (the manual count). The tabs link to the
other role's screens when its address is known (``peer``); the table's ``/polls``
shows the state and sends the commission to the ballot box's screens.
``/lang/ky`` and ``/lang/ru`` switch the language (a cookie: the same for both
roles' pages on the appliance); ``/state`` is what the script polls (with ``boot``,
so a page open across a restart of the server reloads).

Example::

    app = make_app(paths, table=TableSession(daemon, paths).start(), peer="http://127.0.0.1:8081/")
    uvicorn.run(app, host="127.0.0.1", port=8080)
"""

from __future__ import annotations

import secrets
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from base.errors import UchastokError
from count.manual_count import check, refusal
from count.manual_protocol import ManualCountRefused, manual_count_form, sign_manual_count
from count.protocol_body import RELATION_TEXT
from count.role import results_protocol, zero_report
from identify.receipts import METHOD_TEXT
from identify.rules import MANUAL_REASONS
from provisioning.status import power_status
from screens.table import TableSession, Tokens, member_list, pin_refusal
from screens.words import LANGUAGES, WORDS, pick, say
from station import polls
from station.db import open_station_db
from station.errors import PollsError
from station.members import polls_action
from station.polls import STATE_TEXT, PollsState
from station.polls_rules import TRANSITIONS
from station.text import Text
from sync.uploader import link_status

POLLS_ACTIONS = ("enter-test-mode", "zero-report", "open", "pause", "resume", "close", "sign-protocol")
PRINTING_ACTIONS = ("zero-report", "sign-protocol")
# The ballot printer's condition (drivers/docprinter/base.py DocPrinterStatus) -> the status strip's words;
# any other (disconnected, an error asking it) says "not connected".
BALLOT_PRINTER_WORDS = {"media-empty": "ballot-printer-media-empty", "door-open": "ballot-printer-door-open",
                        "media-jam": "ballot-printer-media-jam", "offline": "ballot-printer-offline",
                        "stopped": "ballot-printer-stopped"}


@dataclass
class Screens:
    """What the application serves: the station's paths and the sessions of its roles."""

    paths: Any
    table: TableSession | None = None
    box: Any = None                     # screens.box.BoxSession
    peer: str | None = None             # the other role's screens ("http://127.0.0.1:8081/")
    messages: dict[str, Text] = field(default_factory=dict)   # one message per page, shown once
    last: dict[str, Any] = field(default_factory=dict)        # last results (search, protocol signed)
    tokens: Tokens = field(default_factory=Tokens)            # every form's one-time token
    boot: str = field(default_factory=lambda: secrets.token_hex(4))   # this run of the server


def _env() -> Environment:
    env = Environment(loader=PackageLoader("screens", "templates"), autoescape=select_autoescape(["html"]))
    env.globals.update(pick=pick, WORDS=WORDS)
    return env


def make_app(paths, *, table: TableSession | None = None, box=None, peer: str | None = None,
             power_supply: str = "/sys/class/power_supply") -> Starlette:
    """The application over ``table`` or ``box`` (one role per process); ``peer``: the other role's screens;
    ``power_supply``: the kernel's power-supply class the battery banner reads."""
    if (table is None) == (box is None):
        raise ValueError("one role per application: give the table or the ballot box")
    s = Screens(paths, table, box, peer.rstrip("/") if peer else None)
    election = (table or box).election
    env = _env()

    def lang_of(request: Request) -> str:
        lang = request.cookies.get("lang", "ky")
        return lang if lang in LANGUAGES else "ky"

    def state_now() -> dict:
        conn = open_station_db(paths.station_db)
        try:
            st = polls.current(conn)
        finally:
            conn.close()
        return {"polls": str(st), "table": s.table.screen.seq if s.table else None,
                "box": s.box.screen.seq if s.box else None, "boot": s.boot}

    def contest_title(cid: str) -> Text:
        """A contest's title (control relations name their contest by it, never by its id)."""
        try:
            return election.contest(cid).title
        except UchastokError:
            return Text(cid, cid)

    def party_name(cid: str, pid: str) -> Text:
        try:
            return next((p.name for p in election.contest(cid).parties if p.id == pid), Text(pid, pid))
        except UchastokError:
            return Text(pid, pid)

    def tabs(path: str) -> list[dict]:
        """The top bar's tabs: this role's pages, and the other role's on its own address (``peer``)."""
        table = [("table", "table-tab", "/table", ("/table",))]
        box = [("box", "box-tab", "/box", ("/box",)), ("polls", "polls", "/polls", ("/polls",)),
               ("protocol", "protocol", "/protocol", ("/protocol", "/count"))]
        mine, theirs = (table, box) if s.table is not None else (box, table)
        out = [{"id": i, "word": w, "href": h, "on": path.startswith(on)} for i, w, h, on in mine]
        if s.peer:
            out += [{"id": i, "word": w, "href": s.peer + h, "on": False} for i, w, h, _ in theirs]
        order = ("table", "box", "polls", "protocol")
        return sorted(out, key=lambda t: order.index(t["id"]))

    def banners(lang: str) -> list[str]:
        out = []
        if s.table is not None:
            d = s.table.devices
            printer = d.get("printer", "ready")
            if printer != "ready":
                key = {"paper-out": "printer-paper-out", "cover-open": "printer-cover-open"}.get(
                    printer, "printer-disconnected")
                out.append(say(key, lang))
            if d and d.get("sensor") not in ("ready", None):
                out.append(say("sensor-missing", lang))
            if d and d.get("card-reader") not in ("ready", "no-card", None):
                out.append(say("reader-missing", lang))
            ballot_printer = d.get("ballot-printer", "ready")
            if ballot_printer != "ready":
                out.append(say(BALLOT_PRINTER_WORDS.get(ballot_printer, "ballot-printer-disconnected"), lang))
        if s.box is not None and not s.box.printer_ready():
            status = s.box.printer_status()
            key = {"paper-out": "printer-paper-out", "cover-open": "printer-cover-open"}.get(
                status, "printer-disconnected")
            if say(key, lang) not in out:
                out.append(say(key, lang))
        link = (link_status(paths).get("link") or {})
        if link.get("last_error") and link.get("consecutive_failures"):
            out.append(say("link-down", lang))
        power = power_status(power_supply)
        if power.get("source") == "battery":
            out.append(pick(WORDS["battery"].format(percent=power.get("battery_pct") or "?"), lang))
        return out

    def queue_depth() -> int:
        return sum(q.get("depth", 0) for q in link_status(paths).get("queues", {}).values() if isinstance(q, dict))

    def render(request: Request, template: str, *, live: bool = False, status: int = 200, **ctx) -> HTMLResponse:
        lang = lang_of(request)
        st = state_now()
        page = env.get_template(template).render(
            lang=lang, say=lambda k: say(k, lang), t=lambda x: pick(x, lang), live=live, state=st,
            polls_text=STATE_TEXT[PollsState(st["polls"])], has_table=s.table is not None,
            has_box=s.box is not None, banners=banners(lang), queue=queue_depth(),
            table_counters=s.table.counters() if s.table else None,
            box_counters=s.box.counters() if s.box else None,
            message=s.messages.pop(request.url.path, None), path=request.url.path, method_text=METHOD_TEXT,
            manual_reasons=MANUAL_REASONS, tabs=tabs(request.url.path), contest_title=contest_title,
            party_name=party_name, **ctx)
        return HTMLResponse(page, status_code=status)

    def back(path: str, message: Text | None = None) -> RedirectResponse:
        if message is not None:
            s.messages[path.split("?")[0]] = message
        return RedirectResponse(path, status_code=303)

    def token() -> str:
        return s.tokens.issue()

    def once(f: dict, page: str) -> RedirectResponse | None:
        """None when the form's token is used the first time; else where to go (nothing is done).

        A repeat (double tap, resent form) goes back silently: the first one's answer is shown.
        A stale token (a page from before a restart) says so.
        """
        seen = s.tokens.check(f.get("token"))
        if seen == "ok":
            return None
        return back(page, WORDS["stale-page"] if seen == "stale" else None)

    def error_text(e: Exception) -> Text:
        text = getattr(e, "text", None)
        return text if isinstance(text, Text) else Text(str(e), str(e))

    def members() -> list[dict]:
        conn = open_station_db(paths.station_db)
        try:
            return member_list(conn)
        finally:
            conn.close()

    # -- frame -------------------------------------------------------------------------

    def home(request: Request) -> Response:
        return RedirectResponse("/table" if s.table else "/box" if s.box else "/polls", status_code=303)

    def language(request: Request) -> Response:
        lang = request.path_params["lang"]
        nxt = request.query_params.get("next", "/")
        if not nxt.startswith("/") or nxt.startswith("//"):
            nxt = "/"
        r = RedirectResponse(nxt, status_code=303)
        if lang in LANGUAGES:
            r.set_cookie("lang", lang, max_age=3600 * 24 * 30, samesite="strict")
        return r

    def state(request: Request) -> Response:
        return JSONResponse(state_now())

    # -- the identification table --------------------------------------------------------

    def table_page(request: Request) -> Response:
        if s.table is None:
            return back("/")
        return render(request, "table.html", live=True, watch="table polls", screen=s.table.screen, token=token(),
                      serving=s.table.serving)

    def table_tap(request: Request) -> Response:
        f = request.state.form
        what = request.path_params["what"]
        if (done := once(f, "/table")) is not None:
            return done
        if what == "next":
            s.table.next_voter()
        elif what == "again":
            s.table.try_again()
        elif what == "finger-search":
            s.table.finger_search()
        elif what == "reprint":
            done = s.table.reprint()
            return back("/table", WORDS["reprint-done"] if done else WORDS["nothing-to-reprint"])
        elif what == "claim-again":
            s.table.claim_again()
        elif what == "decline-claim":
            s.table.decline_claim()
        elif what == "hand-over":
            s.table.hand_over(f.get("screen"))
        elif what == "not-taken":
            s.table.not_taken(f.get("screen"))
        elif what == "print-again":
            s.table.print_again(f.get("screen"))
        elif what in ("tray-yes", "tray-no"):
            s.table.tray_checked(f.get("screen"), came_out=what == "tray-yes")
        return back("/table")

    def table_not_taken_page(request: Request) -> Response:
        """"The voter did not take them": the second tap, on its own page, before the sheets are voided."""
        screen = s.table.screen
        if request.query_params.get("screen") != screen.key or "not-taken" not in screen.sheet_actions:
            return back("/table", WORDS["stale-page"])
        return render(request, "not_taken.html", screen=screen, token=token())

    def table_search(request: Request) -> Response:
        q = request.query_params.get("q", "")
        found = s.table.search(q) if q else []
        note = None
        if q and len(" ".join(q.split())) < 2:
            note = WORDS["search-short"]
        elif q and not found:
            note = WORDS["search-nothing"]
        return render(request, "search.html", q=q, found=found, note=note)

    def table_manual_page(request: Request) -> Response:
        pin = request.query_params.get("pin", "")
        found = s.table.search(pin) if pin.isdigit() else []
        reason = request.query_params.get("reason", "")
        if not found:
            return back("/table/search")
        if reason not in MANUAL_REASONS:
            return render(request, "reasons.html", voter=found[0], reasons=MANUAL_REASONS)
        return render(request, "pinpad.html", title=WORDS["manual"], action="/table/manual", members=members(),
                      hidden={"pin": pin, "reason": reason, "token": token()}, voter=found[0],
                      detail=MANUAL_REASONS[reason], cancel="/table")

    def table_manual(request: Request) -> Response:
        f = request.state.form
        if (done := once(f, "/table")) is not None:
            return done
        screen = s.table.manual(f.get("pin", ""), f.get("member", ""),
                                         f.get("member_pin", ""), f.get("reason", ""))
        if screen.error is not None:
            q = urllib.parse.urlencode({"pin": f.get("pin", ""), "reason": f.get("reason", "")})
            return back(f"/table/manual?{q}", screen.error)
        return back("/table")

    def table_provisional_page(request: Request) -> Response:
        """"No link: issue provisionally?": the member's PIN pad (identify/claims.py, offline fallback)."""
        if s.table.screen.name != "no-link":
            return back("/table")
        return render(request, "pinpad.html", title=WORDS["provisional-title"], action="/table/provisional",
                      members=members(), hidden={"token": token()}, voter=s.table.screen.voter,
                      detail=WORDS["provisional-detail"], cancel="/table")

    def table_provisional(request: Request) -> Response:
        f = request.state.form
        if (done := once(f, "/table")) is not None:
            return done
        screen = s.table.provisional(f.get("member", ""), f.get("member_pin", ""))
        if screen.error is not None and screen.name == "no-link":
            return back("/table/provisional", screen.error)
        return back("/table", screen.error)

    def table_confirm_page(request: Request) -> Response:
        pin = request.query_params.get("pin", "")
        cand = next((c for c in s.table.screen.candidates if c["pin"] == pin), None)
        if cand is None:
            return back("/table")
        return render(request, "pinpad.html", title=WORDS["confirm-candidate"], action="/table/confirm",
                      members=members(), hidden={"pin": pin, "token": token()}, voter=cand, cancel="/table")

    def table_confirm(request: Request) -> Response:
        f = request.state.form
        if (done := once(f, "/table")) is not None:
            return done
        screen = s.table.confirm(f.get("pin", ""), f.get("member", ""),
                                         f.get("member_pin", ""))
        if screen.error is not None and screen.name == "confirm":
            return back(f"/table/confirm?pin={urllib.parse.quote(f.get('pin', ''))}", screen.error)
        return back("/table", screen.error)

    # -- polls -------------------------------------------------------------------------------

    def allowed_actions(st: PollsState) -> list[str]:
        if s.box is None:
            return []              # the polls screens are the ballot box's (module docstring)
        acts = [a for (frm, a) in TRANSITIONS if frm == st and a != "reopen"]
        out = [("zero-report" if a == "print-zero-report" else a) for a in acts]
        return [a for a in POLLS_ACTIONS if a in out]

    def polls_page(request: Request) -> Response:
        if s.box is None and s.peer:
            return RedirectResponse(s.peer + "/polls", status_code=303)
        st = PollsState(state_now()["polls"])
        lna = None
        if s.box is not None and st in (PollsState.TEST_MODE, PollsState.ZERO_REPORT):
            status = s.box.status()
            lna = {"sheets": status["sheets"]["test"], "differences": status.get("lna"),
                   "known": "lna" in status}
        printer_ok = s.box.printer_ready() if s.box is not None else True
        return render(request, "polls.html", live=True, actions=allowed_actions(st), lna=lna,
                      printer_ok=printer_ok, printing=PRINTING_ACTIONS, last=s.last.get("polls"))

    def polls_pinpad(request: Request) -> Response:
        action = request.path_params["action"]
        st = PollsState(state_now()["polls"])
        if action not in allowed_actions(st):
            return back("/polls")
        warn = WORDS["close-warning"] if action == "close" else None
        return render(request, "pinpad.html", title=WORDS[action if action != "sign-protocol" else "sign-print"],
                      action=f"/polls/do/{action}", members=members(), hidden={"token": token()},
                      detail=warn, cancel="/protocol" if action == "sign-protocol" else "/polls")

    def polls_do(request: Request) -> Response:
        action = request.path_params["action"]
        f = request.state.form
        if action not in POLLS_ACTIONS or s.box is None:
            return back("/polls")
        if (done := once(f, "/polls")) is not None:
            return done
        member, pin = f.get("member", ""), f.get("member_pin", "")
        if action in PRINTING_ACTIONS and s.box is not None and not s.box.printer_ready():
            return back(f"/polls/do/{action}", WORDS["print-blocked"])
        try:
            if action == "zero-report":
                with s.box.lock:
                    rep = zero_report(paths, member=member, pin=pin)
                if not rep["counters_zero"]:
                    return back("/polls", Text(rep["detail"], rep["detail"]))
                return back("/polls", WORDS["zero-report-printed"])
            if action == "sign-protocol":
                out = _sign_protocol(member, pin)
                s.last["protocol"] = out
                return back("/protocol", WORDS["signed"])
            polls_action(paths, action, member, pin)
        except PollsError as e:
            conn = open_station_db(paths.station_db)
            try:
                text = pin_refusal(e, conn, member)
            finally:
                conn.close()
            return back(f"/polls/do/{action}", text)
        except UchastokError as e:
            return back(f"/polls/do/{action}", error_text(e))
        # The identification summary goes up from the table's own process when it sees the close
        # (screens/table.py ``summary_after_close``): this process cannot open identify.db.
        if action == "close":
            return back("/protocol")
        return back("/polls")

    def _sign_protocol(member: str, pin: str) -> dict:
        with s.box.lock:
            return results_protocol(paths, sign=True, member=member, pin=pin, printer=s.box.printer)

    # -- protocol and the manual count -----------------------------------------------------

    def protocol_page(request: Request) -> Response:
        if s.box is None:
            return back("/polls")
        try:
            with s.box.lock:
                p = results_protocol(paths)
        except UchastokError as e:
            return render(request, "protocol.html", protocol=None, error=error_text(e), revisions=[])
        form_ = None
        try:
            form_ = manual_count_form(paths)
        except UchastokError:
            pass
        printer_ok = s.box.printer_ready()
        labels = {line.key: line.text for line in form_["lines"]} if form_ else {}
        return render(request, "protocol.html", protocol=p, error=None, election=s.box.election, labels=labels,
                      revisions=form_["revisions"] if form_ else [], printer_ok=printer_ok,
                      relation_text=RELATION_TEXT)

    def count_page(request: Request) -> Response:
        if s.box is None:
            return back("/polls")
        try:
            form_ = manual_count_form(paths)
        except UchastokError as e:
            return render(request, "protocol.html", protocol=None, error=error_text(e), revisions=[])
        draft = s.box.drafts.setdefault("figures", {})
        explanation = s.box.drafts.get("explanation", "")
        c = check(form_["lines"], draft, form_["voters_on_list"])
        why = refusal(c, explanation) if draft else None
        # Preference numbers (hundreds of lines) fold per party under the table; empty ones count 0.
        parties: dict[tuple[str, str], list] = {}
        for line in form_["lines"]:
            if line.party is not None:
                parties.setdefault((line.contest, line.party), []).append(line)
        groups = [{"contest": cid, "party": party_name(cid, pid), "lines": ls,
                   "typed": sum(c.figures.get(x.key, 0) for x in ls),
                   "votes": c.figures.get(f"{cid}/votes:{pid}"),
                   "open": any(x.key in c.errors or (draft.get(x.key) or "").strip() for x in ls)}
                  for (cid, pid), ls in parties.items()]
        return render(request, "count.html", lines=[x for x in form_["lines"] if x.party is None], draft=draft,
                      groups=groups, check=c, why=why, explanation=explanation, revisions=form_["revisions"],
                      relation_text=RELATION_TEXT, printer_ok=s.box.printer_ready(), token=token())

    def count_save(request: Request) -> Response:
        f = request.state.form
        figures = {k[2:]: v for k, v in f.items() if k.startswith("f:")}
        s.box.drafts["figures"] = {**s.box.drafts.get("figures", {}), **figures}
        s.box.drafts["explanation"] = f.get("explanation", s.box.drafts.get("explanation", ""))
        if f.get("go") == "sign":
            return back("/count/sign")
        return back("/count")

    def count_sign_page(request: Request) -> Response:
        try:
            form_ = manual_count_form(paths)
        except UchastokError as e:
            return back("/count", error_text(e))
        c = check(form_["lines"], s.box.drafts.get("figures", {}), form_["voters_on_list"])
        why = refusal(c, s.box.drafts.get("explanation", ""))
        if why is not None:
            return back("/count", why)
        if not s.box.printer_ready():
            return back("/count", WORDS["print-blocked"])
        return render(request, "pinpad.html", title=WORDS["manual-count"], action="/count/sign",
                      members=members(), hidden={"token": token()}, detail=WORDS["sign-print"], cancel="/count")

    def count_sign(request: Request) -> Response:
        f = request.state.form
        if (done := once(f, "/protocol")) is not None:
            return done
        member = f.get("member", "")
        try:
            with s.box.lock:
                out = sign_manual_count(
                    paths, s.box.drafts.get("figures", {}), s.box.drafts.get("explanation", ""),
                    member=member, pin=f.get("member_pin", ""), printer=s.box.printer)
        except ManualCountRefused as e:
            return back("/count", e.text)
        except PollsError as e:
            conn = open_station_db(paths.station_db)
            try:
                text = pin_refusal(e, conn, member)
            finally:
                conn.close()
            return back("/count/sign", text)
        except UchastokError as e:
            return back("/count", error_text(e))
        s.last["manual"] = out
        return back("/protocol", WORDS["manual-signed"])

    # -- the ballot box ------------------------------------------------------------------

    def box_page(request: Request) -> Response:
        if s.box is None:
            return back("/")
        return render(request, "box.html", live=True, watch="box polls", screen=s.box.screen, token=token())

    def box_next(request: Request) -> Response:
        s.box.ready_again()
        return back("/box")

    def endpoint(fn):
        """``fn(request)`` in the thread pool (it blocks on the daemons' locks), the form read first."""
        async def handler(request: Request) -> Response:
            body = (await request.body()).decode("utf-8", "replace") if request.method == "POST" else ""
            request.state.form = {k: v[-1] for k, v in
                                  urllib.parse.parse_qs(body, keep_blank_values=True).items()}
            return await run_in_threadpool(fn, request)
        return handler

    routes = [
        Route("/", endpoint(home)),
        Route("/lang/{lang}", endpoint(language)),
        Route("/state", endpoint(state)),
        Route("/table", endpoint(table_page)),
        Route("/table/tap/{what}", endpoint(table_tap), methods=["POST"]),
        Route("/table/search", endpoint(table_search)),
        Route("/table/manual", endpoint(table_manual_page)),
        Route("/table/manual", endpoint(table_manual), methods=["POST"]),
        Route("/table/provisional", endpoint(table_provisional_page)),
        Route("/table/provisional", endpoint(table_provisional), methods=["POST"]),
        Route("/table/confirm", endpoint(table_confirm_page)),
        Route("/table/not-taken", endpoint(table_not_taken_page)),
        Route("/table/confirm", endpoint(table_confirm), methods=["POST"]),
        Route("/polls", endpoint(polls_page)),
        Route("/polls/do/{action}", endpoint(polls_pinpad)),
        Route("/polls/do/{action}", endpoint(polls_do), methods=["POST"]),
        Route("/protocol", endpoint(protocol_page)),
        Route("/count", endpoint(count_page)),
        Route("/count", endpoint(count_save), methods=["POST"]),
        Route("/count/sign", endpoint(count_sign_page)),
        Route("/count/sign", endpoint(count_sign), methods=["POST"]),
        Route("/box", endpoint(box_page)),
        Route("/box/next", endpoint(box_next), methods=["POST"]),
        Mount("/static", StaticFiles(packages=[("screens", "static")]), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.screens = s
    return app
