"""CLI conventions shared by ``internal-node`` and ``public-node``: the root group, one-line errors,
exit codes, ``--json`` output and progress bars. Commands stay thin: parse, call one function, print."""

from __future__ import annotations

import errno
import logging
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from keys.identity_store import Identity
from nodekit import i18n
from nodekit.db import database_fault, database_location, is_database_error, log_database_error
from nodekit.errors import DiskFull, ExitCode, NodeError, shown, shown_value
from nodekit.home import HOME_ENV, load_config, resolve_home
from nodekit.logs import LOG_FORMAT_ENV, LOG_FORMATS, LogFormat, attach_node_log
from nodekit.operator import OPERATOR_ENV, set_operator
from nodekit.runtime import Node, NodeSpec
from nodekit.text import printable

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("credgap")
log.addHandler(logging.NullHandler())  # operators read the one-line error; the file log has the detail
log.propagate = False


@dataclass
class CliState:
    """Per-invocation flags the error handler needs after click has unwound its context."""

    json: bool = False
    debug: bool = False
    emitted: bool = False  # a JSON document is already on stdout: an error adds no second one
    database: str = "the node database"  # where the node's database is, once it is opened
    home: Path | None = None  # the node home, once it is opened
    log_format: LogFormat = "text"  # node.log's format (--log-format)
    command: str | None = None  # the subcommand run (e.g. "export"), for the metrics written after it
    language: str = i18n.ENGLISH  # the language it spoke (what runs after it, e.g. the metrics, speaks it too)


_STATE = CliState()


@dataclass
class NodeContext:
    """The click ``obj`` of a node program: which node, which home, and the node once opened."""

    spec: NodeSpec
    home_arg: str | None
    debug: bool
    passphrase_file: Path | None = None
    _node: Node | None = field(default=None, repr=False)

    @property
    def home(self) -> Path:
        return resolve_home(self.home_arg)

    def node(self, *, check_schema: bool = True) -> Node:
        """Open the node home (once per invocation)."""
        if self._node is None:
            _STATE.home = self.home
            config = load_config(self.home, self.spec.role)
            _STATE.database = database_location(config.database_url)
            self._node = Node.open(self.home, self.spec, check_schema=check_schema)
            _setup_file_logging(self._node)
        return self._node

    def identity(self, *, unlock: bool = False) -> Identity:
        """The node's identity; its passphrase is asked for only when a protected key is opened, or at
        once with ``unlock`` (import and watch: a wrong passphrase fails at start-up and touches
        nothing, even with no package waiting)."""
        from nodekit import identity_ops

        node = self.node()

        def ask() -> str:
            if not sys.stdin.isatty():
                raise click.UsageError(i18n._("no passphrase: give --passphrase-file or set CREDGAP_PASSPHRASE"))
            return str(click.prompt(i18n._("Key passphrase"), hide_input=True, err=True))

        source = identity_ops.passphrase_source(
            cli_file=self.passphrase_file,
            config=node.config,
            prompt=ask,
            warn=lambda text: click.echo(i18n._("warning: {text}").format(text=shown_value(text)), err=True),
        )
        identity = identity_ops.load_identity(node, source)
        if unlock:
            identity.current_secret()
        return identity

    def close(self) -> None:
        if self._node is not None:
            self._node.close()
            self._node = None


pass_node_context = click.make_pass_decorator(NodeContext)


def _setup_file_logging(node: Node) -> None:
    attach_node_log(node.config.log_dir, _STATE.log_format)


def _set_json(_ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        _STATE.json = True
    return value


def json_option(func: F) -> F:
    """Add ``--json``: print one JSON document on stdout instead of text (errors too)."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        expose_value=True,
        callback=_set_json,
        is_eager=True,
        help="Print machine-readable JSON on stdout (errors included, with a reason code).",
    )(func)


def emit(data: Any, human: Callable[[], None] | str | None = None, *, as_json: bool) -> None:
    """Print ``data`` as JSON when asked, otherwise the human rendering."""
    if as_json:
        click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS, default=str).decode())
        _STATE.emitted = True
    elif callable(human):
        human()
    elif human is not None:
        click.echo(human)


def table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    """A plain aligned text table (values escaped for the terminal)."""
    cells = [[printable(h) for h in headers]] + [[printable(c) for c in row] for row in rows]
    widths = [max(display_width(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c + " " * (widths[i] - display_width(c)) for i, c in enumerate(r)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def display_width(text: str) -> int:
    """Columns ``text`` takes on a terminal (a CJK character takes two)."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def on_terminal() -> bool:
    """Whether stderr is a terminal (progress bars are drawn only there)."""
    return sys.stderr.isatty()


@contextmanager
def progress(iterable: Iterable[T], *, length: int | None = None, label: str = "") -> Iterator[Iterable[T]]:
    """A progress bar on stderr for long work, shown only on a terminal and never in ``--json`` mode."""
    if _STATE.json or not on_terminal():
        yield iterable
        return
    with click.progressbar(iterable, length=length, label=label, file=sys.stderr) as bar:
        yield bar


class ProgressBars:
    """Progress bars on stderr keyed by a label, for work that reports ``(label, done, total)``;
    shown only on a terminal and never in ``--json`` mode. A bar is finished (its line ended) once
    ``done`` reaches ``total``, so the next label starts on a line of its own."""

    def __init__(self) -> None:
        self._bars: dict[str, Any] = {}
        self._shown: dict[str, int] = {}
        self._on = on_terminal() and not _STATE.json

    def update(self, label: str, done: int, total: int) -> None:
        if not self._on or total <= 0:
            return
        bar = self._bars.get(label)
        if bar is None:
            if label in self._shown:  # finished already
                return
            bar = click.progressbar(length=total, label=printable(label, 40), show_pos=True, file=sys.stderr)
            bar.__enter__()
            self._bars[label], self._shown[label] = bar, 0
        bar.update(done - self._shown[label])
        self._shown[label] = done
        if done >= total:
            del self._bars[label]
            bar.__exit__(None, None, None)

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(self, *exc: object) -> None:
        for bar in self._bars.values():
            bar.__exit__(None, None, None)
        self._bars.clear()


class NodeGroup(click.Group):
    """A click group whose subcommands are listed in the order they were added, and each of which also
    takes the program's global options (``public-node init --home DIR`` works as
    ``public-node --home DIR init`` does: operators type both, and hints may print either)."""

    group_class = type  # groups made with @group.group() are NodeGroups too

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        _accept_global_options(cmd)
        super().add_command(cmd, name)


def _set_global(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Record a global option given after the subcommand on the program's :class:`NodeContext`."""
    if value is None or value is False:
        return
    node_ctx = ctx.find_object(NodeContext)
    if node_ctx is None:
        return
    if param.name == "home_after":
        node_ctx.home_arg = str(value)
    elif param.name == "passphrase_file_after":
        node_ctx.passphrase_file = Path(value)
    elif param.name == "debug_after":
        node_ctx.debug = True
        _STATE.debug = True


def _accept_global_options(cmd: click.Command) -> None:
    """Give ``cmd`` (and, for a group, every subcommand it gets) hidden copies of the global options."""
    taken = {opt for p in cmd.params for opt in getattr(p, "opts", [])}
    if "--home" not in taken:
        cmd.params.extend(
            [
                click.Option(
                    ["--home", "home_after"],
                    metavar="DIR",
                    hidden=True,
                    expose_value=False,
                    callback=_set_global,
                    is_eager=True,
                ),
                click.Option(
                    ["--passphrase-file", "passphrase_file_after"],
                    hidden=True,
                    expose_value=False,
                    type=click.Path(dir_okay=False, path_type=Path),
                    callback=_set_global,
                    is_eager=True,
                ),
                click.Option(
                    ["--debug", "debug_after"],
                    is_flag=True,
                    hidden=True,
                    expose_value=False,
                    callback=_set_global,
                    is_eager=True,
                ),
            ]
        )
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():  # a group made elsewhere and added whole (a NodeGroup's later
            _accept_global_options(sub)  # subcommands get them as they are added)


def make_root(spec: NodeSpec, help_text: str) -> click.Group:
    """Build the root command group of a node program with the shared options and commands."""

    @click.group(cls=NodeGroup, help=help_text, context_settings={"help_option_names": ["-h", "--help"]})
    @click.option(
        "--home",
        "home_arg",
        metavar="DIR",
        envvar=HOME_ENV,
        show_envvar=True,
        help="The node home directory.",
    )
    @click.option(
        "--passphrase-file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Read the key passphrase from this file (a systemd credential or a secrets mount).",
    )
    @click.option(
        "--operator",
        metavar="NAME",
        default=None,
        help=f"Who runs this command, named in every log entry it writes (default: ${OPERATOR_ENV}, else the OS user).",
    )
    @click.option(
        "--log-format",
        type=click.Choice(LOG_FORMATS),
        default="text",
        envvar=LOG_FORMAT_ENV,
        show_envvar=True,
        help="node.log as text lines or as JSON lines (for a log shipper).",
    )
    @click.option("--debug", is_flag=True, envvar="CREDGAP_DEBUG", help="Show tracebacks on errors.")
    @click.option(
        "--lang",
        type=click.Choice(i18n.LANGUAGES),
        default=None,
        expose_value=False,  # read by run() before click parses, so that click's own messages are translated
        help="Language of messages and help: en or zh_CN (default: from the locale, LANG=zh_CN.UTF-8).",
    )
    @click.version_option(package_name="credgap", message="%(prog)s (credgap) %(version)s")
    @click.pass_context
    def root(
        ctx: click.Context,
        home_arg: str | None,
        passphrase_file: Path | None,
        operator: str | None,
        log_format: LogFormat,
        debug: bool,
    ) -> None:
        _STATE.debug = _STATE.debug or debug
        _STATE.log_format = log_format
        _STATE.command = ctx.invoked_subcommand
        set_operator(operator)
        ctx.obj = NodeContext(spec=spec, home_arg=home_arg, debug=debug, passphrase_file=passphrase_file)
        ctx.call_on_close(ctx.obj.close)

    from nodekit import cli_audit, cli_common, cli_keys

    cli_common.register(root, spec)
    cli_keys.register(root, spec)
    cli_audit.register(root)
    return root


EXIT_CODE_MEANINGS = {
    ExitCode.OK: "success",
    ExitCode.FAILURE: "operational failure (I/O, database, medium)",
    ExitCode.USAGE: "usage: bad options, node home or configuration",
    ExitCode.REJECTED: "input refused (department file, card, policy)",
    ExitCode.VERIFICATION: "verification failed (signature, package, fingerprint, audit chain)",
    ExitCode.PENDING: "incomplete, action pending (an operator must act; nothing failed)",
}


def exit_codes_epilog() -> str:
    """The exit-code table every ``--help`` ends with (``\b``: click keeps the lines as they are)."""
    rows = "\n".join(f"  {int(code)}  {EXIT_CODE_MEANINGS.get(code, code.name.lower())}" for code in ExitCode)
    return f"\b\nExit codes:\n{rows}\n  130  interrupted"


def add_exit_code_epilogs(command: click.Command, program: str | None = None) -> None:
    """Give ``command`` and every command under it the exit-code epilog (once); with ``program``,
    the root's also says how to turn on click's shell completion for it."""
    if command.epilog is None:
        command.epilog = exit_codes_epilog()
        if program is not None:
            var = "_" + program.upper().replace("-", "_") + "_COMPLETE"
            command.epilog += (
                "\n\n\b\nShell completion (bash; zsh_source, fish_source likewise):\n"
                f'  eval "$({var}=bash_source {program})"'
            )
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_exit_code_epilogs(sub)


def run(root: click.Group, argv: Sequence[str] | None = None, *, prog_name: str | None = None) -> int:
    """Run a node program and return its exit code; operators see one line per error, never a traceback
    (unless ``--debug``)."""
    global _STATE
    _STATE = CliState(debug="--debug" in (argv if argv is not None else sys.argv[1:]))
    set_operator(None)
    name = prog_name or root.name or "node"
    add_exit_code_epilogs(root, name)  # the node programs did it at import; a root of a test here

    try:  # the language is needed before click parses (its own usage errors are translated too)
        language = i18n.resolve(_lang_argument(argv if argv is not None else sys.argv[1:]))
    except i18n.UnknownLanguage as exc:
        click.echo(
            f"{name}: error: --lang {printable(str(exc), 40)}: expected one of {', '.join(i18n.LANGUAGES)}", err=True
        )
        return int(ExitCode.USAGE)
    _STATE.language = language
    with i18n.speaking(language):
        i18n.translate_help(root)
        return _run(root, _without_lang(argv if argv is not None else sys.argv[1:]), name, prog_name)


def _lang_argument(args: Sequence[str]) -> str | None:
    """The value of ``--lang`` among the arguments (anywhere before ``--``), or None."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--lang="):
            return arg.partition("=")[2]
    return None


def _without_lang(args: Sequence[str]) -> list[str]:
    """The arguments without ``--lang`` (already read): so it is taken after the subcommand too."""
    out: list[str] = []
    skip = False
    for i, arg in enumerate(args):
        if skip:
            skip = False
        elif arg == "--":
            out.extend(args[i:])
            break
        elif arg == "--lang":
            skip = True
        elif not arg.startswith("--lang="):
            out.append(arg)
    return out


def _run(root: click.Group, argv: Sequence[str] | None, name: str, prog_name: str | None) -> int:
    _ = i18n._
    try:
        rv = root.main(args=list(argv) if argv is not None else None, prog_name=prog_name, standalone_mode=False)
        if isinstance(rv, int):  # click returns the code of ctx.exit() (--help, --version) here
            return rv
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        click.echo(name + ": " + _("aborted"), err=True)
        return int(ExitCode.FAILURE)
    except click.exceptions.NoArgsIsHelpError as exc:  # a group named without a command: its help answers
        exc.show()
        return int(exc.exit_code)
    except click.ClickException as exc:  # usage errors (exit 2), bad parameters, unreadable arguments
        message = printable(exc.format_message(), limit=500)
        if _STATE.json:
            _json_error("usage", message)
        hint = ""
        if isinstance(exc, click.UsageError):
            command = f"{exc.ctx.command_path} --help" if exc.ctx is not None else "--help"
            hint = " " + _("(try '{command}')").format(command=command)
        click.echo(_("{program}: error: {message}").format(program=name, message=message + hint), err=True)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        click.echo(name + ": " + _("interrupted"), err=True)
        return 130
    except Exception as exc:  # the one place an error becomes an exit code
        return _report(name, exc)
    return int(ExitCode.OK)


def last_language() -> str:
    """The language the last :func:`run` spoke."""
    return _STATE.language


def last_invocation() -> tuple[str | None, Path | None]:
    """(the subcommand, the node home if it was opened) of the last :func:`run`."""
    return _STATE.command, _STATE.home


def named_fault(exc: BaseException) -> NodeError | None:
    """The operator's one-line error for a fault that is not a :class:`NodeError` but has a name: a
    database error (its cause, never its SQL or rows) or a full disk in the node home."""
    if is_database_error(exc):
        log_database_error(exc, _STATE.database)
        return database_fault(exc, _STATE.database)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        # a write() error names no file: the home is where this node writes
        where = exc.filename or _STATE.home or "the node home"
        log.warning("disk full: %s", where, exc_info=exc)
        return DiskFull(i18n.N_("disk full: {where}"), params={"where": where})
    return None


def one_line(exc: BaseException) -> tuple[str, str, int]:
    """(reason, message, exit code) of an error as an operator sees it."""
    fault = named_fault(exc) if not isinstance(exc, NodeError) else None
    if fault is not None:
        exc = fault
    code = getattr(exc, "exit_code", None)
    reason = getattr(exc, "reason", None)
    if isinstance(exc, NodeError) or (isinstance(code, int) and isinstance(reason, str)):
        return str(reason), printable(str(exc), limit=2000), int(code) if isinstance(code, int) else 1
    return "internal", f"internal error: {type(exc).__name__}: {printable(str(exc), limit=500)}", int(ExitCode.FAILURE)


def _report(name: str, exc: BaseException) -> int:
    _ = i18n._
    fault = named_fault(exc) if not isinstance(exc, NodeError) else None
    target = fault if fault is not None else exc
    reason, message, exit_code = one_line(target)
    # the operator reads their language; node.log and --json keep the English text
    text = printable(shown(target), limit=2000) if reason != "internal" else message
    if reason != "internal":
        log.warning("%s failed (%s): %s", name, reason, message)
    else:
        if not _STATE.debug:
            message += " (run with --debug for the traceback)"
            text += " " + _("(run with --debug for the traceback)")
        log.error("%s: %s", name, message, exc_info=exc)
    if _STATE.json and not _STATE.emitted:
        _json_error(str(reason), message)
    click.echo(_("{program}: error: {message}").format(program=name, message=text), err=True)
    if _STATE.debug:
        click.echo("".join(traceback.format_exception(exc)), err=True, nl=False)
    return exit_code


def _json_error(reason: str, message: str) -> None:
    click.echo(orjson.dumps({"ok": False, "error": {"reason": reason, "message": message}}).decode())
