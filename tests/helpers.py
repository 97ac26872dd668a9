"""Helpers for tests: run a node program in-process exactly as its console script does."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import orjson
from click.testing import CliRunner


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> object:
        return orjson.loads(self.out)


def run_cli(
    program: str, *args: str, env: Mapping[str, str | None] | None = None, input: str | None = None
) -> CliResult:
    """Run ``internal-node`` or ``public-node`` with ``args`` through the same error handler as the script."""
    from nodekit.cli import run

    if program == "internal-node":
        from internal_node.cli import cli
    elif program == "public-node":
        from public_node.cli import cli
    else:
        raise ValueError(program)
    runner = CliRunner()
    with runner.isolation(input=input, env=env) as (out, err, _mixed):
        code = run(cli, list(args), prog_name=program)
    return CliResult(code, out.getvalue().decode(), err.getvalue().decode())
