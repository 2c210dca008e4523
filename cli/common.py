"""What every command shares: the paths of this device and JSON output."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import click

from base.paths import Paths


@dataclass
class Context:
    paths: Paths

    @classmethod
    def create(cls, home: str | None) -> Context:
        return cls(paths=Paths.from_env(home))


pass_ctx = click.make_pass_decorator(Context)

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def echo_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True, default=str))
