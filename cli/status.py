"""`uchastok status`: what the device knows."""

from __future__ import annotations

import click

from cli.common import echo_json, json_option, pass_ctx
from provisioning.status import device_status, sync_line


@click.command(name="status")
@json_option
@pass_ctx
def command(ctx, as_json):
    """Show election, station, voters, polls state, key fingerprint, package hash, queue and link.

    \b
    Example:
      uchastok --home /tmp/st1 status
      uchastok --home /tmp/st1 status --json
    """

    st = device_status(ctx.paths)
    if as_json:
        echo_json(st)
        return
    e, s = st.get("election"), st.get("station")
    devs, certs = st.get("devices") or {}, st.get("certificates") or {}
    again = st.get("commission_pins_to_set_again") or []
    lines = [
        ("Election / Шайлоо / Выборы", f"{e['name']['ru']} ({e['id']}), {e['voting_day']}" if e else "no package loaded"),
        ("Station / Участок", f"{s['name']['ru']} ({s['id']})" if s else "-"),
        ("Polls / Добуш берүү", st.get("polls", "-")),
        ("Voters on list", st.get("voters_on_list") if st.get("voters_on_list") is not None else "-"),
        ("Voters identified", st.get("voters_identified") if st.get("voters_identified") is not None else "-"),
        ("Role keys", "; ".join(f"{r} {d['id']} (key {d['key_fingerprint']})" if d else f"{r} not initialised"
                                for r, d in devs.items()) or "-"),
        ("Certificates", "; ".join(f"{r} {c['station']}, until {c['valid_until']}" if c else f"{r} not enrolled"
                                   for r, c in certs.items()) or "-"),
        ("Commission PINs", f"set again (6+ digits, uchastok provision set-pin): members {', '.join(again)}"
         if again else "ok"),
        ("Package", f"v{st['package']['version']} sha256 {st['package']['sha256'][:16]}…" if st.get("package") else "-"),
        ("Sheets read / Окулган бюллетендер", st["sheets_read"] if st.get("sheets_read") is not None else "-"),
        ("Link and queue / Связь", sync_line(st.get("sync"))),
        ("Power / Питание", f"{st['power']['source']}" + (f", battery {st['power']['battery_pct']}%"
                                                          if st["power"].get("battery_pct") is not None else "")),
    ]
    for key in sorted(st):
        if key in ("election", "station", "polls", "voters_on_list", "voters_identified", "devices", "certificates",
                   "commission_pins_to_set_again", "package", "home", "sheets_read", "sync", "power"):
            continue
        val = st[key]
        if isinstance(val, dict):
            val = ", ".join(f"{k}={v}" for k, v in val.items())
        lines.append((key.replace("_", " ").capitalize(), "-" if val is None else val))
    width = max(len(k) for k, _ in lines)
    for k, v in lines:
        click.echo(f"{k:<{width}}  {v}")
