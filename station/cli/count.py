"""`uchastok count`: placeholder until its issue lands."""

import click


@click.group(name="count")
def command() -> None:
    """(not yet implemented)"""
