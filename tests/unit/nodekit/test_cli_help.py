"""Every ``--help`` lists the exit codes, and the root's says how to turn on shell completion (issue 18, point 21)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nodekit.errors import ExitCode
from tests.helpers import run_cli
from tests.unit.nodekit.test_cli import command_paths


@pytest.mark.parametrize("program", ["internal-node", "public-node"])
def test_every_help_lists_every_exit_code(program: str) -> None:
    from internal_node.cli import cli as internal_cli
    from public_node.cli import cli as public_cli

    root = internal_cli if program == "internal-node" else public_cli
    for path in command_paths(root):
        out = run_cli(program, *path, "--help").out
        assert "Exit codes:" in out, f"{program} {' '.join(path)}"
        listed = out.split("Exit codes:", 1)[1]
        for code in ExitCode:
            assert f"\n    {int(code)}  " in listed or f"\n  {int(code)}  " in listed, (
                f"{program} {' '.join(path)}: {code}"
            )


@pytest.mark.parametrize(
    ("program", "var"), [("internal-node", "_INTERNAL_NODE_COMPLETE"), ("public-node", "_PUBLIC_NODE_COMPLETE")]
)
def test_shell_completion_as_the_help_says(program: str, var: str) -> None:
    help_text = run_cli(program, "--help").out
    assert f'eval "$({var}=bash_source {program})"' in help_text
    script = str(Path(sys.executable).parent / program)
    source = subprocess.run([script], env={**os.environ, var: "bash_source"}, capture_output=True, text=True)
    assert (
        source.returncode == 0
        and f"complete -o nosort -F _{program.replace('-', '_')}_completion {program}" in source.stdout
    )
    words = subprocess.run(
        [script], env={**os.environ, var: "bash_complete", "COMP_WORDS": f"{program} db b", "COMP_CWORD": "2"},
        capture_output=True, text=True,
    )  # fmt: skip
    assert "plain,backup" in words.stdout.splitlines()
