"""`uchastok demo`: placeholder until its issue lands."""

import click


@click.group(name="demo")
def command() -> None:
    """(not yet implemented)"""
