"""CLI conventions: exit codes, one-line errors, --json errors with reason codes, --debug tracebacks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from nodekit.errors import ExitCode
from tests.helpers import run_cli


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and subcommand under ``group``, walked through click's command tree."""
    yield prefix
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from command_paths(cmd, (*prefix, name))
        else:
            yield (*prefix, name)


@pytest.mark.parametrize("program", ["internal-node", "public-node"])
def test_help_everywhere(program: str) -> None:
    from internal_node.cli import cli as internal_cli
    from public_node.cli import cli as public_cli

    root = internal_cli if program == "internal-node" else public_cli
    paths = list(command_paths(root))
    assert ("db", "upgrade") in paths and ("keys", "trust") in paths, "the walk reaches nested groups"
    for path in paths:
        r = run_cli(program, *path, "--help")
        assert r.code == 0 and "Usage" in r.out, f"{program} {' '.join(path)} --help: {r.code} {r.err}"


def test_usage_errors_are_one_line_with_exit_2() -> None:
    cases = {
        ("--no-such-option",): "internal-node: error: No such option '--no-such-option'. (try 'internal-node --help')",
        ("no-such-command",): "internal-node: error: No such command 'no-such-command'. (try 'internal-node --help')",
        ("db", "current", "--bogus"): (
            "internal-node: error: No such option '--bogus'. (try 'internal-node db current --help')"
        ),
        ("keys", "trust"): "internal-node: error: Missing argument 'CARD'. (try 'internal-node keys trust --help')",
    }
    for args, line in cases.items():
        r = run_cli("internal-node", *args)
        assert r.code == ExitCode.USAGE, args
        assert r.err.splitlines() == [line] and r.out == "", args


def test_usage_error_with_json_has_reason() -> None:
    r = run_cli("public-node", "query", "search", "--json")
    assert r.code == ExitCode.USAGE
    assert r.json() == {"ok": False, "error": {"reason": "usage", "message": "Missing argument 'TEXT'."}}
    assert len(r.err.splitlines()) == 1


def test_json_error_has_reason(tmp_path: Path) -> None:
    r = run_cli("internal-node", "--home", str(tmp_path / "x"), "status", "--json")
    assert r.code == ExitCode.USAGE
    data = r.json()
    assert data == {"ok": False, "error": {"reason": "home", "message": data["error"]["message"]}}  # type: ignore[index]


def test_unexpected_error_is_one_line_without_debug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "h"
    assert run_cli("internal-node", "--home", str(home), "init").code == 0

    def boom(_node: object) -> dict[str, object]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("nodekit.cli_common.node_status", boom)
    r = run_cli("internal-node", "--home", str(home), "status")
    assert r.code == ExitCode.FAILURE
    assert "Traceback" not in r.err
    assert (
        r.err.strip()
        == "internal-node: error: internal error: RuntimeError: disk on fire (run with --debug for the traceback)"
    )
    r = run_cli("internal-node", "--debug", "--home", str(home), "status")
    assert r.code == ExitCode.FAILURE and "Traceback" in r.err


def test_version() -> None:
    r = run_cli("public-node", "--version")
    assert r.code == 0 and "credgap" in r.out
