"""`uchastok receiver`: placeholder until its issue lands."""

import click


@click.group(name="receiver")
def command() -> None:
    """(not yet implemented)"""
