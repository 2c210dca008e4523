"""`uchastok verify`: placeholder until its issue lands."""

import click


@click.group(name="verify")
def command() -> None:
    """(not yet implemented)"""
