"""`uchastok polls`: the commission opens, pauses, resumes and closes the polls."""

from __future__ import annotations

import click

from cli.common import echo_json, json_option, pass_ctx
from station.members import polls_action, polls_summary
from station.polls import STATE_TEXT

member_option = click.option("--member", required=True, help="Commission member id (set at provisioning).")
pin_option = click.option("--pin", prompt="PIN", hide_input=True, envvar="UCHASTOK_MEMBER_PIN",
                          help="The member's PIN (prompted when not given; env UCHASTOK_MEMBER_PIN).")


@click.group(name="polls")
def command() -> None:
    """Polls state: status, test mode, open, pause, resume, close, reopen.

    \b
    Example:
      uchastok --home /tmp/st1 polls status
      uchastok --home /tmp/st1 polls open --member 1
    """


def _do(ctx, action, member, pin, reason=None, as_json=False):
    st = polls_action(ctx.paths, action, member, pin, reason=reason)
    ky, ru = STATE_TEXT[st]
    if as_json:
        echo_json({"state": str(st), "text": {"ky": ky, "ru": ru}})
    else:
        click.echo(f"{ky} / {ru} ({st})")


def _action(name: str, action: str, doc: str, needs_reason: bool = False):
    @command.command(name, help=doc)
    @member_option
    @pin_option
    @json_option
    @pass_ctx
    def run(ctx, member, pin, as_json, reason=None):
        _do(ctx, action, member, pin, reason, as_json)

    if needs_reason:
        run = click.option("--reason", required=True, help="Why (recorded in the audit log).")(run)
    return run


_action("test-mode", "enter-test-mode", """Enter logic-and-accuracy test mode (before the zero report).

    \b
    Example:
      uchastok --home /tmp/st1 polls test-mode --member 1
    """)
_action("open", "open", """Open the polls (only after the zero report showed all counters at zero).

    \b
    Example:
      uchastok --home /tmp/st1 polls open --member 1
    """)
_action("pause", "pause", """Pause the polls (identification and scanning stop).

    \b
    Example:
      uchastok --home /tmp/st1 polls pause --member 1
    """)
_action("resume", "resume", """Resume the polls after a pause.

    \b
    Example:
      uchastok --home /tmp/st1 polls resume --member 1
    """)
_action("close", "close", """Close the polls at 20:00 (then print and sign the protocol).

    \b
    Example:
      uchastok --home /tmp/st1 polls close --member 1
    """)
_action("reopen", "reopen", """Reopen closed polls: a technician's action with a recorded reason.

    \b
    Example:
      uchastok --home /tmp/st1 polls reopen --member tech --reason "closed at 19:10 by mistake"
    """, needs_reason=True)


@command.command("status")
@json_option
@pass_ctx
def status(ctx, as_json):
    """Show the polls state and its history.

    \b
    Example:
      uchastok --home /tmp/st1 polls status
    """

    s = polls_summary(ctx.paths)
    if as_json:
        echo_json(s)
        return
    click.echo(f"{s['text']['ky']} / {s['text']['ru']} ({s['state']})")
    for h in s["history"]:
        click.echo(f"  {h['at']}  {h['from_state']} --{h['action']}--> {h['to_state']}  by {h['actor']}"
                   + (f"  ({h['reason']})" if h["reason"] else ""))
