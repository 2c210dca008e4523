"""The portal's routes: server-rendered pages in Kyrgyz, Russian and English, and the downloads.

``portal_routes(ctx)`` returns Starlette routes; the central API server mounts
them beside its own (``make_api(..., extra_routes=portal_routes(ctx))``), a
test serves them alone (``Starlette(routes=portal_routes(ctx))``).

Pages, each under ``/ky``, ``/ru`` and ``/en`` (the language is in the
address, so a link shared or cached keeps it; every page links to its two
other languages)::

    /{lang}/                         national: results per contest (table + bars), turnout,
                                     turnout by hour, stations reporting / verified / held,
                                     remote voting (sites, voters per home district, ballots
                                     printed on demand per site), the Regions
    /{lang}/region/{code}            the same for a Region, its ОИКs below
    /{lang}/oik/{code}               ... for an ОИК, its ТИКs below
    /{lang}/tik/{code}               ... for a ТИК, its stations (УИК) below
    /{lang}/station/{id}             one station: status (held with reasons), the signed
                                     protocol's lines (machine count; manual count and
                                     differences when it arrived), every revision with what
                                     changed, downloads, the in-browser check; the ballots
                                     issued on a provisional claim, apart; a remote-voting
                                     site's districts (voters per home district, its sections)
                                     and its ballots printed on demand
    /{lang}/held                     every held protocol with its reasons
    /{lang}/revisions                every revised protocol, each revision with what changed

Downloads, one for all languages::

    /station/{id}/export.json        the observer export (central/bundle.py); 503 where
                                     this server cannot make exports yet
    /station/{id}/protocol.pdf       the protocol on A4 (Kyrgyz and Russian, as on paper)
    /downloads/all.json              every station, signed by the centre (bulk.py)
    /downloads/authority.pub         the provisioning authority's key (``uchastok verify --trust``)
    /downloads/centre.pub            the centre's key (all.json's signature)
    /static/...                      portal.css, portal.js, verify.js

``/`` sends the reader to the language the browser asks for (Accept-Language:
ky, ru or en), else to Kyrgyz, the state language (DOMAIN.md "Languages");
Russian-speaking readers' browsers ask for ru and get it.

Bad input never reaches a 500: a station id or area code that is not an
identifier (docs/protocol.md section 3) is a 400, a well-formed one that does
not exist a 404, a page number that is not a small positive number a 400;
other query parameters are ignored. Pages are gzip-compressed when the
browser accepts it and may be cached for ``refresh_seconds``: figures come
from one snapshot of the country (views.py ``SnapshotCache``), rebuilt in the
background at most that often, and a station's report, PDF and export are made
once per snapshot whoever asks, so a poll of the portal never costs a pass
over the receipts, nor a reader's wait for one.

Example::

    ctx = PortalContext(storage, authority_pub, centre_key, "kg-2025", downloads=Path("dl"))
    app = Starlette(routes=portal_routes(ctx))
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from base.clock import SystemClock, local, parse_iso
from central.portal import charts, views
from central.portal.bulk import BulkFile
from central.portal.pdf import protocol_pdf
from central.portal.words import (
    DEFAULT_LANGUAGE,
    LANGUAGE_NAMES,
    LANGUAGES,
    WORDS,
    pick,
    reason_text,
    relation_text,
    say,
)
from sync import signing
from sync.errors import SyncError

STATIC = Path(__file__).parent / "static"
PER_PAGE = 100                  # held stations per page
REVISED_PER_PAGE = 25           # revised stations per page (each with its revisions)
GZIP_ABOVE = 1024


@dataclass
class PortalContext:
    """What the portal serves from: the storage, the keys, the election and the knobs."""

    storage: Any                                  # central.storage.Storage (or its PostgreSQL twin)
    authority_pub: signing.PublicKey              # the provisioning authority: device certificates
    centre_key: signing.PrivateKey                # the centre's signing key (the receiver's ack key)
    election_id: str | None
    downloads: Path                               # where all.json is written
    contests: list[dict] | None = None            # the package manifest's contests: names of options
    clock: Any = field(default_factory=SystemClock)
    refresh_seconds: float = 15.0   # the snapshot's age at most (a build: ~0.5 s of a core at 2,513 stations)
    bulk_seconds: float = 60.0                    # all.json's age before a rebuild starts
    time_zone: str = "Asia/Bishkek"


def difference(v: Any) -> str:
    if not isinstance(v, int):
        return "—"
    return f"{v:+d}".replace("-", "−") if v else "0"


class BadInput(Exception):
    """Raised when a path or query value is not what the page takes (answered 400)."""


def _env() -> Environment:
    env = Environment(loader=PackageLoader("central.portal", "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    env.globals.update(WORDS=WORDS, LANGUAGES=LANGUAGES, LANGUAGE_NAMES=LANGUAGE_NAMES,
                       STATUSES=views.STATUSES, CSS=(STATIC / "portal.css").read_text())
    return env


def portal_routes(ctx: PortalContext) -> list[BaseRoute]:
    """The portal's routes over ``ctx`` (see the module doc)."""
    env = _env()
    snapshots = views.SnapshotCache(ctx.storage, seconds=ctx.refresh_seconds, tz=ctx.time_zone,
                                    clock=ctx.clock)
    names = views.option_names(ctx.contests)
    authority_b64 = signing.b64(signing.public_bytes(ctx.authority_pub))

    def with_protocol() -> list[tuple[str, str, list]]:
        snap = snapshots.get()
        return [(s["id"], s["status"], s["reasons"]) for s in snap.stations.values() if s["hash"]]

    bulk = BulkFile(ctx.downloads, ctx.storage, ctx.centre_key, ctx.election_id, with_protocol,
                    clock=ctx.clock, every=ctx.bulk_seconds)

    # -- helpers -----------------------------------------------------------------------------

    def send(request: Request, body: bytes, media: str, status: int = 200,
             cache: int | None = None) -> Response:
        headers = {"Vary": "Accept-Encoding", "X-Content-Type-Options": "nosniff"}
        headers["Cache-Control"] = f"public, max-age={int(cache)}" if cache else "no-cache"
        if len(body) > GZIP_ABOVE and "gzip" in request.headers.get("accept-encoding", ""):
            body = gzip.compress(body, compresslevel=6, mtime=0)
            headers["Content-Encoding"] = "gzip"
        return Response(body, status_code=status, media_type=media, headers=headers)

    def option_label(cid: str | None, option: str, lang: str) -> str:
        if option == views.AGAINST_ALL:
            return say("against-all", lang)
        return pick((names.get(cid) or {}).get("options", {}).get(option), lang) or option

    def contest_title(cid: str | None, lang: str) -> str:
        return pick((names.get(cid) or {}).get("title"), lang) or str(cid)

    def line_label(key: str, lang: str) -> str:
        """A line of a protocol (views.flatten) in words: 'district-07/votes:c-01' -> 'Title: Name'."""
        manual = key.startswith("manual ")        # aggregate.revision_changes: "manual <line>"
        key = key.removeprefix("manual ")
        if key == "explanation":
            text = say("explanation", lang)
        elif "/" in key:
            cid, _, rest = key.partition("/")
            kind, _, option = rest.partition(":")
            what = option_label(cid, option, lang) if option else \
                (say(kind, lang) if kind in WORDS else kind)
            text = f"{contest_title(cid, lang)}: {what}"
        else:
            text = say(key, lang) if key in WORDS else key
        return f"{say('manual', lang)} — {text}" if manual else text

    def local_time(text: str | None) -> str:
        if not text:
            return "—"
        try:
            return f"{local(parse_iso(text), ctx.time_zone):%Y-%m-%d %H:%M}"
        except ValueError:
            return text

    def href_of(lang: str):
        def href(level: str, code: str) -> str:
            if level == "national":
                return f"/{lang}/"
            return f"/{lang}/{'station' if level == 'uik' else level}/{code}"
        return href

    def alternates(request: Request, lang: str) -> dict[str, str]:
        rest = request.url.path[len(lang) + 1:]
        q = f"?{request.url.query}" if request.url.query else ""
        return {other: f"/{other}{rest}{q}" for other in LANGUAGES}

    def render(request: Request, lang: str, template: str, status: int = 200, **values) -> Response:
        snap = values.pop("snap", None)
        html = env.get_template(template).render(
            lang=lang, say=lambda k, **f: say(k, lang, **f), t=lambda v: pick(v, lang),
            num=lambda n: charts.number(n, lang), pct=lambda s, d=1: charts.percent(s, lang, d),
            reason=lambda r: reason_text(r, lang, lambda c: contest_title(c, lang)),
            relation=lambda r: relation_text(r, lang),
            option=lambda c, o: option_label(c, o, lang), title=lambda c: contest_title(c, lang),
            line=lambda k: line_label(k, lang), when=local_time, alternates=alternates(request, lang),
            word=lambda k: say(k, lang) if k in WORDS else k, diff=difference, href=href_of(lang),
            changes=views.change_summary,
            updated=f"{local(snap.built_at, ctx.time_zone):%Y-%m-%d %H:%M:%S}" if snap else None,
            authority_b64=authority_b64, **values)
        return send(request, html.encode(), "text/html; charset=utf-8", status,
                    cache=ctx.refresh_seconds if status == 200 else None)

    def problem(request: Request, lang: str, status: int, detail: str) -> Response:
        return render(request, lang, "error.html", status, code=status, detail=detail)

    def ident(value: str) -> str:
        if not views.CODE.fullmatch(value):
            raise BadInput(f"not an identifier: {value[:40]!r}")
        return value

    def page_number(request: Request) -> int:
        raw = request.query_params.get("page", "1")
        if not views.PAGE.fullmatch(raw):
            raise BadInput("page must be a number from 1")
        return int(raw)

    def page(fn):
        """A page of ``lang``: bad input is a 400 in that language, never a 500."""
        def endpoint(request: Request) -> Response:
            lang = request.url.path.split("/")[1]
            try:
                return fn(request, lang)
            except BadInput as e:
                return problem(request, lang, 400, str(e))
        return endpoint

    # -- pages ---------------------------------------------------------------------------------

    def area_page(request: Request, lang: str, level: str, code: str) -> Response:
        snap = snapshots.get()
        area = snap.area(level, code)
        if area is None:
            return problem(request, lang, 404, f"{say(level, lang)} {code}")
        child = views.CHILD[level]
        if child == "uik":
            rows = [snap.stations[s] for s in area.children]
        else:
            rows = [snap.areas[(child, c)] for c in area.children]
        held = [snap.stations[s] for s in area.stations if snap.stations[s]["status"] == "held"]
        charts_ = {cid: charts.bars([(option_label(cid, o, lang), c["votes"][o], c["shares"][o])
                                     for o in c["order"]],
                                    say("chart-of", lang, contest=contest_title(cid, lang)), lang)
                   for cid, c in area.contests.items()}
        hourly = charts.hourly(area.hours, say("turnout-by-hour", lang), lang) if area.hours else None
        remote = views.remote_voting(ctx.storage, snap) if level == "national" else None
        return render(request, lang, "area.html", snap=snap, area=area, child=child, rows=rows,
                      held=held[:20], held_total=len(held), bars=charts_, hourly=hourly,
                      remote=remote if remote and remote["sites"] else None,
                      oik=lambda code: snap.area("oik", code))

    def national(request: Request, lang: str) -> Response:
        return area_page(request, lang, "national", "")

    def level_page(level: str):
        def fn(request: Request, lang: str) -> Response:
            return area_page(request, lang, level, ident(request.path_params["code"]))
        return fn

    def station_page(request: Request, lang: str) -> Response:
        sid = ident(request.path_params["id"])
        snap = snapshots.get()
        row = snap.stations.get(sid)
        report = views.station_report(ctx.storage, sid, snap) if row is not None else None
        if report is None:
            return problem(request, lang, 404, f"{say('uik', lang)} {sid}")
        lines = views.protocol_lines(report["protocol"], report["comparison"]) if report["protocol"] else []
        flagged = sum(r["flagged"] for g in lines for r in g["rows"])
        site = views.site_districts(ctx.storage, sid, report, snap) if row.get("remote_site") else None
        return render(request, lang, "station.html", snap=snap, r=report, s=row, lines=lines,
                      flagged=flagged, export_ok=views.export_available(), site=site,
                      provisional=views.provisional_figures(report), oik=lambda code: snap.area("oik", code))

    def held_page(request: Request, lang: str) -> Response:
        n = page_number(request)
        snap = snapshots.get()
        held = sorted(snap.held(), key=lambda s: ([c for _, c, _ in s["path"]], s["id"]))
        return render(request, lang, "held.html", snap=snap, held=held[(n - 1) * PER_PAGE:n * PER_PAGE],
                      total=len(held), n=n, pages=max(1, -(-len(held) // PER_PAGE)))

    def revisions_page(request: Request, lang: str) -> Response:
        n = page_number(request)
        snap = snapshots.get()
        revised = snap.cache.get("revised")
        if revised is None:
            revised = snap.cache["revised"] = views.revised_stations(ctx.storage)
        shown = []
        for sid in revised[(n - 1) * REVISED_PER_PAGE:n * REVISED_PER_PAGE]:
            rep = views.station_report(ctx.storage, sid, snap)
            if rep is not None:
                shown.append((snap.stations.get(sid) or {"id": sid, "number": None, "status": rep["status"]},
                              rep))
        with_protocol = sum(1 for s in snap.stations.values() if s["hash"])
        return render(request, lang, "revisions.html", snap=snap, shown=shown, total=len(revised),
                      single=max(0, with_protocol - len(revised)), n=n,
                      pages=max(1, -(-len(revised) // REVISED_PER_PAGE)))

    # -- downloads -----------------------------------------------------------------------------

    def json_error(status: int, error: str, detail: str) -> Response:
        return JSONResponse({"error": error, "detail": detail}, status_code=status,
                            headers={"Cache-Control": "no-cache"})

    def download_id(request: Request) -> str | Response:
        sid = request.path_params["id"]
        if not views.CODE.fullmatch(sid):
            return json_error(400, "bad-request", "the station id is not an identifier")
        if sid not in snapshots.get().stations:
            return json_error(404, "not-found", f"no station {sid}")
        return sid

    def export_json(request: Request) -> Response:
        sid = download_id(request)
        if isinstance(sid, Response):
            return sid
        if not views.export_available():
            return json_error(503, "unavailable", say("export-unavailable", "en"))
        snap = snapshots.get()
        body = snap.cache.get(("export", sid))
        if body is None:                  # read once per snapshot, whoever asks
            try:
                doc = views.station_export_of(ctx.storage, sid)
            except SyncError as e:
                return json_error(404, "no-protocol", str(e)[:300])
            body = snap.cache[("export", sid)] = json.dumps(doc, ensure_ascii=False,
                                                            separators=(",", ":")).encode()
        r = send(request, body, "application/json", cache=ctx.refresh_seconds)
        r.headers["Content-Disposition"] = f'inline; filename="{sid}-export.json"'
        return r

    def protocol_pdf_download(request: Request) -> Response:
        sid = download_id(request)
        if isinstance(sid, Response):
            return sid
        snap = snapshots.get()
        report = views.station_report(ctx.storage, sid, snap)
        if report is None or report["protocol"] is None:
            return json_error(404, "no-protocol", f"station {sid} has no protocol yet")
        data = snap.cache.get(("pdf", sid))
        if data is None:                  # drawn once per snapshot, whoever asks
            url = f"{request.base_url}{DEFAULT_LANGUAGE}/station/{sid}"
            data = snap.cache[("pdf", sid)] = protocol_pdf(
                snap.stations[sid], report, names, election=ctx.election_id, url=url, tz=ctx.time_zone)
        return Response(data, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{sid}-protocol.pdf"',
                                 "Cache-Control": f"public, max-age={int(ctx.refresh_seconds)}"})

    def all_json(request: Request) -> Response:
        try:
            path = bulk.current()
        except SyncError as e:
            return json_error(503, "unavailable", str(e))
        gz = "gzip" in request.headers.get("accept-encoding", "")
        f = open(bulk.gz if gz else path, "rb")          # opened once: a rebuild replaces, never changes it
        size = os.fstat(f.fileno()).st_size

        def chunks():
            with f:
                while chunk := f.read(1 << 16):
                    yield chunk

        headers = {"Content-Length": str(size), "Vary": "Accept-Encoding",
                   "Cache-Control": f"public, max-age={int(ctx.bulk_seconds)}",
                   "Content-Disposition": 'attachment; filename="all.json"'}
        if gz:
            headers["Content-Encoding"] = "gzip"
        return StreamingResponse(chunks(), media_type="application/json", headers=headers)

    def key_file(pub: signing.PublicKey):
        def endpoint(request: Request) -> Response:
            return PlainTextResponse(signing.public_text(pub) + "\n",
                                     headers={"Cache-Control": "public, max-age=3600"})
        return endpoint

    def home(request: Request) -> Response:
        wanted = [part.split(";")[0].strip().lower()[:2]
                  for part in request.headers.get("accept-language", "").split(",")]
        lang = next((w for w in wanted if w in LANGUAGES), DEFAULT_LANGUAGE)
        return RedirectResponse(f"/{lang}/", status_code=302, headers={"Vary": "Accept-Language"})

    routes: list[BaseRoute] = [Route("/", home)]
    for lang in LANGUAGES:
        routes += [
            Route(f"/{lang}/", page(national)),
            Route(f"/{lang}", lambda request, lang=lang: RedirectResponse(f"/{lang}/", status_code=301)),
            Route(f"/{lang}/region/{{code}}", page(level_page("region"))),
            Route(f"/{lang}/oik/{{code}}", page(level_page("oik"))),
            Route(f"/{lang}/tik/{{code}}", page(level_page("tik"))),
            Route(f"/{lang}/station/{{id}}", page(station_page)),
            Route(f"/{lang}/held", page(held_page)),
            Route(f"/{lang}/revisions", page(revisions_page)),
            Route(f"/{lang}/{{rest:path}}", page(lambda request, lang: problem(
                request, lang, 404, request.url.path[:100]))),
        ]
    routes += [
        Route("/station/{id}/export.json", export_json),
        Route("/station/{id}/protocol.pdf", protocol_pdf_download),
        Route("/downloads/all.json", all_json),
        Route("/downloads/authority.pub", key_file(ctx.authority_pub)),
        Route("/downloads/centre.pub", key_file(signing.public_key(ctx.centre_key))),
        Mount("/static", StaticFiles(directory=STATIC), name="portal-static"),
    ]
    return routes

