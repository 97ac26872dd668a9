"""Issue 18 point 5: every command a message of the two programs suggests is one that works. The
hints are collected from the product's message strings (not docstrings): each span in backticks,
and each ``(command ...)`` in parentheses, that starts with a program or one of its commands. Each is
then parsed by the program exactly as if typed, down to its command: an unknown command or option, a
missing or extra argument fails the test. The global options work after the subcommand too."""

from __future__ import annotations

import ast
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from internal_node.cli import cli as internal_cli
from public_node.cli import cli as public_cli
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("keys", "transfer", "nodekit", "exchange", "internal_node", "public_node")
PROGRAMS: dict[str, click.Group] = {"internal-node": internal_cli, "public-node": public_cli}
# an f-string field naming a program, as the messages spell it
PROGRAM_FIELDS = re.compile(r"^\{([a-z_.]*program(\([a-z_]+\))?\}|[a-z_]*role\}-node)$")
BACKTICKS = re.compile(r"`([^`]+)`")
PARENS = re.compile(r"\((?:see |run |try )?([a-z][a-z-]*(?: [a-z{][^()`,;:]*)?)\)")


@dataclass(frozen=True)
class Hint:
    where: str
    text: str


def _message_strings(tree: ast.AST) -> Iterator[ast.JoinedStr | ast.Constant]:
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr) or (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
        ):
            yield node


def _text(node: ast.JoinedStr | ast.Constant) -> str:
    if isinstance(node, ast.Constant):
        return str(node.value)
    parts = []
    for v in node.values:
        if isinstance(v, ast.Constant):
            parts.append(str(v.value))
        elif isinstance(v, ast.FormattedValue):
            parts.append("{" + ast.unparse(v.value) + "}")
    return "".join(parts)


def _commands() -> set[str]:
    return set(internal_cli.commands) | set(public_cli.commands)


def collect_hints() -> list[Hint]:
    commands = _commands()
    hints: list[Hint] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in _message_strings(tree):
                text = _text(node)
                spans = BACKTICKS.findall(text) + PARENS.findall(text)
                for span in spans:
                    first = span.split(" ", 1)[0]
                    if " " not in span:
                        continue  # a program or a command named, not a command line
                    if first in PROGRAMS or PROGRAM_FIELDS.match(first) or first in commands:
                        hints.append(Hint(f"{path.relative_to(ROOT)}:{node.lineno}", span))
    return hints


HINTS = collect_hints()


def _programs_for(first: str) -> list[str]:
    if first in PROGRAMS:
        return [first]
    if "internal" in first and "other" not in first:
        return ["internal-node"]
    if "public" in first and "other" not in first:
        return ["public-node"]
    return list(PROGRAMS)  # {program}, {role}-node: either, whichever prints it


def _argv(words: list[str]) -> list[str]:
    """The hint's words with each placeholder (``FILE``, ``{digest}``) given a value."""
    out = []
    for w in words:
        if w.startswith("{") or (w.isupper() and w.isalpha()) or w in ("N", "FP", "SEQ[..SEQ]"):
            out.append("1")  # a value: a count, a sequence number, a name; its type is the command's business
        else:
            out.append(w)
    return out


def parse(group: click.Group, program: str, argv: list[str]) -> None:
    """Resolve ``argv`` as ``program`` would, down to its command, without running it."""
    ctx = group.make_context(program, list(argv), resilient_parsing=False)
    with ctx:
        cmd: click.Command = group
        args = [*ctx._protected_args, *ctx.args]
        while isinstance(cmd, click.Group) and args:
            name, sub, args = cmd.resolve_command(ctx, args)
            assert sub is not None and name is not None
            ctx = sub.make_context(name, args, parent=ctx)
            cmd = sub
            args = [*ctx._protected_args, *ctx.args] if isinstance(sub, click.Group) else []


def test_hints_are_found() -> None:
    texts = {h.text for h in HINTS}
    assert len(HINTS) > 20, HINTS
    assert "{program} db upgrade" in texts
    assert any(t.startswith("{expected_role}-node --home {home} init") for t in texts), texts


@pytest.mark.parametrize("hint", HINTS, ids=lambda h: f"{h.where} {h.text}")
def test_every_hint_the_programs_print_works(hint: Hint) -> None:
    words = shlex.split(hint.text.replace("'", ""))
    for i, w in enumerate(words):  # a shell redirection or pipe ends the command
        if w in (">", ">>", "<", "|"):
            words = words[:i]
            break
    if any(w in ("...", "…") for w in words):
        pytest.skip("an ellipsis: a shape, not a command")
    first = words[0]
    programs = _programs_for(first)
    rest = words[1:] if (first in PROGRAMS or PROGRAM_FIELDS.match(first)) else words
    # a whole command line (it starts with the program) must run as printed; a command named in
    # passing (`audit export` writes ...) must exist with the options it names
    whole = first in PROGRAMS or bool(PROGRAM_FIELDS.match(first))
    failures = []
    for program in programs:
        try:
            parse(PROGRAMS[program], program, _argv(rest))
            break
        except click.BadParameter as exc:
            if isinstance(exc, click.MissingParameter) and whole:
                failures.append(f"{program}: {exc.format_message()}")
                continue
            break  # a placeholder of the wrong type: the hint's shape is right
        except click.exceptions.NoArgsIsHelpError:
            break  # a command group named: its --help lists what it holds
        except click.UsageError as exc:
            failures.append(f"{program}: {exc.format_message()}")
    else:
        pytest.fail(f"{hint.where}: `{hint.text}` does not work: {'; '.join(failures)}")


def test_global_options_work_after_the_subcommand(tmp_path: Path) -> None:
    """``public-node init --home X`` (what the old hint said) works, as does ``--home X`` before it."""
    home = tmp_path / "pub"
    r = run_cli("public-node", "init", "--home", str(home), env={"CREDGAP_HOME": None})
    assert r.code == 0, r.err
    r = run_cli("public-node", "keys", "list", "--home", str(home), "--json", env={"CREDGAP_HOME": None})
    assert r.code == 0 and '"own": null' in r.out, r.err
    r = run_cli("public-node", "status", "--home", str(home), env={"CREDGAP_HOME": None})
    assert r.code == 0 and f"({home})" in r.out
    r = run_cli("public-node", "status", "--home", str(tmp_path / "nowhere"), env={"CREDGAP_HOME": None})
    assert r.code == 2
    hint = re.search(r"`(public-node [^`]+)`", r.err)
    assert hint is not None, r.err
    r = run_cli(*shlex.split(hint.group(1)), env={"CREDGAP_HOME": None})  # the hint, run as printed
    assert r.code == 0, r.err
    assert (tmp_path / "nowhere" / "node.toml").is_file()
