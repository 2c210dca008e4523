"""`uchastok fingerprint`: placeholder until its issue lands."""

import click


@click.group(name="fingerprint")
def command() -> None:
    """(not yet implemented)"""
