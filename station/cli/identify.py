"""`uchastok identify`: placeholder until its issue lands."""

import click


@click.group(name="identify")
def command() -> None:
    """(not yet implemented)"""
