"""Every command of the CLI is documented with an example (STYLE.md "Library first, thin CLI")."""

import click
import pytest

from cli import cli


def walk(cmd, prefix=()):
    yield prefix, cmd
    if isinstance(cmd, click.Group):
        for name in cmd.list_commands(None):
            yield from walk(cmd.get_command(None, name), prefix + (name,))


COMMANDS = [(" ".join(p), c) for p, c in walk(cli) if p and not isinstance(c, click.Group) or
            (p and isinstance(c, click.Group) and not c.list_commands(None))]


def test_every_group_is_listed():
    """The lazy group lists every command module (and each imports on its own)."""
    assert {p[0] for p, _ in walk(cli) if p} == set(cli.list_commands(None))


@pytest.mark.parametrize("name, cmd", COMMANDS, ids=[n for n, _ in COMMANDS])
def test_command_has_help_with_example(name, cmd):
    text = cmd.help or ""
    assert text.strip(), f"`uchastok {name}` has no help"
    assert "Example" in text, f"`uchastok {name}` help shows no example"
