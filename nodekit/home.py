"""The node home: one directory per node holding ``node.toml``, its database, keys, logs and archive."""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import tomlkit

from keys.keyfile import atomic_write
from keys.strict import whole
from nodekit.errors import ConfigError, HomeError, shown
from nodekit.i18n import N_, Shown, _
from transfer.limits import DEFAULT_REBASE_BOUND

Role = Literal["internal", "public"]
ROLES: tuple[Role, ...] = ("internal", "public")
CONFIG_NAME = "node.toml"
HOME_ENV = "CREDGAP_HOME"

_DURATION = whole(r"\s*([0-9]{1,9})\s*([smhdw])\s*")  # ASCII digits, few enough for int()
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> int:
    """Parse ``90s``, ``15m``, ``1h``, ``7d`` or ``2w`` into seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ConfigError(
            N_("bad duration {text!r}: expected a number and one of s, m, h, d, w (e.g. 1h)"), params={"text": text}
        )
    return int(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True)
class NodeConfig:
    """A node's configuration, read from ``<home>/node.toml``; relative paths are resolved against the home."""

    home: Path
    role: Role
    name: str
    database_url: str
    medium: Path
    policy_file: Path
    keys_dir: Path
    passphrase_file: Path | None
    exchange_period: int
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    write_settle: int = 30  # seconds; [exchange] write_settle
    quarantine_retention: int = 180 * 86400  # seconds; [exchange] quarantine_retention
    receive_wait: int = 5  # seconds; [exchange] receive_wait
    rebase_bound: int = DEFAULT_REBASE_BOUND  # [exchange] rebase_bound (docs/FORMAT.md §9.3)

    @property
    def config_path(self) -> Path:
        return self.home / CONFIG_NAME

    @property
    def archive_dir(self) -> Path:
        return self.home / "archive"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def staging_dir(self) -> Path:
        return self.home / "staging"

    @property
    def quarantine_dir(self) -> Path:
        return self.home / "quarantine"

    @property
    def pending_dir(self) -> Path:
        return self.home / "pending"

    @property
    def timezone(self) -> str:
        """The zone in which publication dates are read (the day a record stops being shown)."""
        tz = self.raw.get("node", {}).get("timezone", "Asia/Shanghai")
        return tz if isinstance(tz, str) and tz else "Asia/Shanghai"

    def section(self, name: str) -> dict[str, Any]:
        """Return one ``[section]`` of node.toml (empty when absent)."""
        value = self.raw.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(
                N_("{config_path}: [{name}] must be a table"), params={"config_path": self.config_path, "name": name}
            )
        return value


def resolve_home(home: str | os.PathLike[str] | None) -> Path:
    """Return the home directory given by ``--home`` or ``CREDGAP_HOME``."""
    if home is None or str(home) == "":
        env = os.environ.get(HOME_ENV, "")
        if not env:
            raise HomeError(N_("no node home given: pass --home DIR or set {env}"), params={"env": HOME_ENV})
        home = env
    return Path(home).expanduser().absolute()


def _path(home: Path, value: object, key: str, cfg: Path) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(N_("{cfg}: {key} must be a non-empty string"), params={"cfg": cfg, "key": key})
    p = Path(value).expanduser()
    return p if p.is_absolute() else home / p


class _Section(msgspec.Struct, forbid_unknown_fields=True):
    """A table of node.toml: every key it may hold, with its type and default."""


class _NodeSection(_Section):
    role: str = ""
    name: str = ""
    timezone: str = "Asia/Shanghai"


class _DatabaseSection(_Section):
    url: str = ""


class _TransferSection(_Section):
    medium: str = "medium"


class _PolicySection(_Section):
    file: str = "policy.toml"


class _KeysSection(_Section):
    dir: str = "keys"
    passphrase_file: str = ""


class _ExchangeSection(_Section):
    period: str = "1d"
    write_settle: str = "30s"
    quarantine_retention: str = "180d"
    receive_wait: str = "5s"
    rebase_bound: Annotated[int, msgspec.Meta(ge=1)] = DEFAULT_REBASE_BOUND


class _AlarmsSection(_Section):
    syslog: str = "/dev/log"


class _ConfigFile(_Section):
    node: _NodeSection = msgspec.field(default_factory=_NodeSection)
    database: _DatabaseSection = msgspec.field(default_factory=_DatabaseSection)
    transfer: _TransferSection = msgspec.field(default_factory=_TransferSection)
    policy: _PolicySection = msgspec.field(default_factory=_PolicySection)
    keys: _KeysSection = msgspec.field(default_factory=_KeysSection)
    exchange: _ExchangeSection = msgspec.field(default_factory=_ExchangeSection)
    alarms: _AlarmsSection = msgspec.field(default_factory=_AlarmsSection)
    web: dict[str, Any] = msgspec.field(default_factory=dict)  # checked key by key by public_node.web.config


_HINTS = {  # what a wrong type should have been, in the operator's words
    "period": N_("a duration string such as '1h'"),
    "write_settle": N_("a duration string such as '30s'"),
    "quarantine_retention": N_("a duration string such as '180d'"),
    "receive_wait": N_("a duration string such as '5s'"),
    "rebase_bound": N_("a whole number of packages, at least 1"),
}


def did_you_mean(word: str, choices: Iterable[str]) -> str | Shown:
    """`` (did you mean 'x'?)`` for the closest of ``choices`` (shown in the operator's language), or an
    empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not close:
        return ""
    return Shown(f" (did you mean {close[0]!r}?)", N_(" (did you mean {word!r}?)"), {"word": close[0]})


class _Unreadable:
    """Why ``node.toml`` cannot be read: the parser's English (logs, --json); shown, where the TOML is
    not valid, the position in the operator's language (tomllib speaks only English)."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def __str__(self) -> str:
        return str(self.exc)

    def shown(self) -> str:
        if isinstance(self.exc, tomllib.TOMLDecodeError):
            at = re.search(r"\(at line (\d+), column (\d+)\)", str(self.exc))
            if at:
                return _("not valid TOML (at line {line}, column {column})").format(line=at[1], column=at[2])
            return _("not valid TOML")
        if isinstance(self.exc, UnicodeDecodeError):
            return _("not UTF-8 text")
        return shown(self.exc)


def _check_keys(raw: dict[str, Any], cfg: Path) -> None:
    """Refuse a table or key node.toml does not have, naming the nearest one: a misspelt key would
    otherwise be ignored and its default used (``meduim = ...`` and the medium silently elsewhere)."""
    tables = {f.name: f.type for f in msgspec.structs.fields(_ConfigFile)}
    for table, value in raw.items():
        if table not in tables:
            raise ConfigError(
                N_("{cfg}: unknown table [{table}]{did_you_mean}"),
                params={"cfg": cfg, "table": table, "did_you_mean": did_you_mean(table, tables)},
            )
        kind = tables[table]
        if not isinstance(value, dict):
            raise ConfigError(N_("{cfg}: [{table}] must be a table"), params={"cfg": cfg, "table": table})
        if isinstance(kind, type) and issubclass(kind, _Section):
            keys = [f.name for f in msgspec.structs.fields(kind)]
            for key in value:
                if key not in keys:
                    raise ConfigError(
                        N_("{cfg}: [{table}] unknown key {key!r}{did_you_mean}"),
                        params={"cfg": cfg, "table": table, "key": key, "did_you_mean": did_you_mean(key, keys)},
                    )


def _type_error(exc: msgspec.ValidationError, cfg: Path) -> ConfigError:
    message, _, where = str(exc).partition(" - at `$.")
    parts = where.rstrip("`").split(".")
    if len(parts) == 2:
        table, key = parts
        expected = message[0].lower() + message[1:].replace("`", "")
        if key in _HINTS:
            return ConfigError(
                N_("{cfg}: [{table}] {key} must be {expected}"),
                params={"cfg": cfg, "table": table, "key": key, "expected": Shown(_HINTS[key], _HINTS[key])},
            )
        return ConfigError(
            N_("{cfg}: [{table}] {key}: {expected}"),
            params={"cfg": cfg, "table": table, "key": key, "expected": expected},
        )
    return ConfigError(N_("{cfg}: {problem}"), params={"cfg": cfg, "problem": message.replace("`", "")})


def load_config(home: Path, expected_role: Role) -> NodeConfig:
    """Read ``node.toml`` and check that the home belongs to ``expected_role``; an unknown table or
    key, or a value of the wrong type, is refused with the file, the key and the nearest known key."""
    cfg = home / CONFIG_NAME
    if not home.is_dir():
        raise HomeError(
            N_("{home}: no such node home (create one with `{expected_role}-node --home {home} init`)"),
            params={"home": home, "expected_role": expected_role},
        )
    if not cfg.is_file():
        raise HomeError(
            N_("{cfg}: missing; {home} is not a node home (run `{expected_role}-node --home {home} init` first)"),
            params={"cfg": cfg, "home": home, "expected_role": expected_role},
        )
    try:
        raw = tomllib.loads(cfg.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            N_("{cfg}: cannot read: {problem}"), params={"cfg": cfg, "problem": _Unreadable(exc)}
        ) from exc
    node = raw.get("node", {})
    role = node.get("role") if isinstance(node, dict) else None
    if role not in ROLES:
        raise ConfigError(
            N_("{cfg}: [node] role must be 'internal' or 'public', found {role!r}"), params={"cfg": cfg, "role": role}
        )
    if role != expected_role:
        raise HomeError(
            N_("{home} is the home of {with_article} node; run `{role}-node`, not `{expected_role}-node`, on it"),
            params={
                "home": home,
                "with_article": Shown(with_article(role), role),
                "role": role,
                "expected_role": expected_role,
            },
        )
    _check_keys(raw, cfg)
    try:
        conf = msgspec.convert(raw, _ConfigFile)
    except msgspec.ValidationError as exc:
        raise _type_error(exc, cfg) from None
    if not conf.node.name:
        raise ConfigError(N_("{cfg}: [node] name must be a non-empty string"), params={"cfg": cfg})
    if not conf.database.url:
        raise ConfigError(N_("{cfg}: [database] url must be a database URL"), params={"cfg": cfg})
    url = conf.database.url.replace("{home}", str(home))
    ex = conf.exchange
    pp = conf.keys.passphrase_file
    return NodeConfig(
        home=home,
        role=role,
        name=conf.node.name,
        database_url=url,
        medium=_path(home, conf.transfer.medium, "[transfer] medium", cfg),
        policy_file=_path(home, conf.policy.file, "[policy] file", cfg),
        keys_dir=_path(home, conf.keys.dir, "[keys] dir", cfg),
        passphrase_file=_path(home, pp, "[keys] passphrase_file", cfg) if pp else None,
        exchange_period=_duration(ex.period, "period", cfg),
        raw=raw,
        write_settle=_duration(ex.write_settle, "write_settle", cfg),
        quarantine_retention=_duration(ex.quarantine_retention, "quarantine_retention", cfg),
        receive_wait=_duration(ex.receive_wait, "receive_wait", cfg),
        rebase_bound=ex.rebase_bound,
    )


def _duration(value: str, key: str, cfg: Path) -> int:
    try:
        return parse_duration(value)
    except ConfigError:
        raise ConfigError(
            N_("{cfg}: [exchange] {key} = {value!r} is not a duration: a number and one of s, m, h, d, w (e.g. 1h)"),
            params={"cfg": cfg, "key": key, "value": value},
        ) from None


CONFIG_TEMPLATE = """\
# credgap node configuration.
# Relative paths are resolved against this home directory.

[node]
# The role of this home; a node refuses to run on a home of the other role.
role = ""
# A human name for this node, shown on identity cards and in the transfer log.
name = ""
# The time zone in which publication end dates are read (a record is shown through its last day).
timezone = "Asia/Shanghai"

[database]
# SQLAlchemy URL of this node's own database. SQLite by default; for PostgreSQL use e.g.
#   url = "postgresql+psycopg://credgap@db.internal/credgap_internal"
# "{home}" is replaced by this directory.
url = ""

[transfer]
# The transfer medium: the directory the dedicated exchange device feeds, or the mount point of the
# removable device. Each channel has its own folder below it. This is the only path to the other node.
medium = "medium"

[policy]
# The disclosure policy (internal node: what may be published, and how it is masked).
file = "policy.toml"

[keys]
# Where this node's identity (encrypted private keys, identity card) is kept.
dir = "keys"
# A file holding the key passphrase, for unattended services (a systemd credential or a secrets
# mount); CREDGAP_PASSPHRASE or an interactive prompt are used when this is empty.
passphrase_file = ""

[exchange]
# The expected exchange period: a package (or receipt) older than this raises an "overdue" alarm.
period = "1d"
# A package file on the medium that looks incomplete (truncated, or sparse) and was modified less than
# this long ago is left for a later round: a device that writes under the final name may still be busy.
write_settle = "30s"
# Rejected packages stay in quarantine/ at least this long (the Cybersecurity Law, Art. 21, asks six
# months for logs); older ones make room, oldest first, only when the quarantine's caps are reached.
quarantine_retention = "180d"
# An import (or a watch round) waits this long for another receiver of this node, then reports
# channel-busy with that one's pid and how long it has held the receiver.
receive_wait = "5s"
# How many sequence numbers ahead of the last package applied a package may be. A snapshot (--full)
# further ahead is refused (rebase-too-far): a stolen key cannot rewind the channel past every package
# to come. Raise it only to let a node that is that far behind catch up with one --full.
rebase_bound = 10000
"""


def with_article(role: str) -> str:
    return f"an {role}" if role[:1] in "aeiou" else f"a {role}"


def write_config(home: Path, role: Role, name: str, database_url: str, medium: str) -> Path:
    """Write a commented ``node.toml`` for a new home (refuses to overwrite). The values are set in
    the commented template through tomlkit, which quotes and escapes any string TOML can hold."""
    cfg = home / CONFIG_NAME
    doc = tomlkit.parse(CONFIG_TEMPLATE)
    node, database, transfer = doc["node"], doc["database"], doc["transfer"]
    assert isinstance(node, dict) and isinstance(database, dict) and isinstance(transfer, dict)
    node["role"], node["name"] = role, name
    database["url"] = database_url
    transfer["medium"] = medium
    text = tomlkit.dumps(doc).replace(
        "# credgap node configuration.", f"# credgap node configuration ({role} node).", 1
    )
    # all or nothing (temp file, fsync, link, folder fsync): a crash never leaves half a node.toml
    # that init then refuses as existing and load_config cannot read; never overwrites one
    atomic_write(cfg, text.encode("utf-8"), replace=False, mode=0o600)
    return cfg
