"""`uchastok polls`: placeholder until its issue lands."""

import click


@click.group(name="polls")
def command() -> None:
    """(not yet implemented)"""
