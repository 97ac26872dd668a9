"""The node home: one directory per node holding ``node.toml``, its database, keys, logs and archive."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from keys.strict import whole
from nodekit.errors import ConfigError, HomeError
from nodekit.i18n import N_
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
        raise ConfigError(f"bad duration {text!r}: expected a number and one of s, m, h, d, w (e.g. 1h)")
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
            raise ConfigError(f"{self.config_path}: [{name}] must be a table")
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
        raise ConfigError(f"{cfg}: {key} must be a non-empty string")
    p = Path(value).expanduser()
    return p if p.is_absolute() else home / p


def load_config(home: Path, expected_role: Role) -> NodeConfig:
    """Read ``node.toml`` and check that the home belongs to ``expected_role``."""
    cfg = home / CONFIG_NAME
    if not home.is_dir():
        raise HomeError(f"{home}: no such node home (create one with `{expected_role}-node init --home {home}`)")
    if not cfg.is_file():
        raise HomeError(f"{cfg}: missing; {home} is not a node home (run `{expected_role}-node init` first)")
    try:
        raw = tomllib.loads(cfg.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{cfg}: cannot read: {exc}") from exc
    node = raw.get("node", {})
    role = node.get("role") if isinstance(node, dict) else None
    if role not in ROLES:
        raise ConfigError(f"{cfg}: [node] role must be 'internal' or 'public', found {role!r}")
    if role != expected_role:
        raise HomeError(
            f"{home} is the home of {with_article(role)} node; run `{role}-node`, not `{expected_role}-node`, on it"
        )
    name = node.get("name", "")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{cfg}: [node] name must be a non-empty string")
    db = raw.get("database", {})
    url = db.get("url") if isinstance(db, dict) else None
    if not isinstance(url, str) or not url:
        raise ConfigError(f"{cfg}: [database] url must be a database URL")
    url = url.replace("{home}", str(home))
    tr = raw.get("transfer", {})
    keys = raw.get("keys", {})
    policy = raw.get("policy", {})
    exchange = raw.get("exchange", {})
    if not all(isinstance(t, dict) for t in (tr, keys, policy, exchange)):
        raise ConfigError(f"{cfg}: [transfer], [keys], [policy] and [exchange] must be tables")
    pp = keys.get("passphrase_file", "")
    period = exchange.get("period", "1d")
    if not isinstance(period, str):
        raise ConfigError(f"{cfg}: [exchange] period must be a duration string such as '1h'")
    bound = exchange.get("rebase_bound", DEFAULT_REBASE_BOUND)
    if not isinstance(bound, int) or isinstance(bound, bool) or bound < 1:
        raise ConfigError(f"{cfg}: [exchange] rebase_bound must be a whole number of packages, at least 1")
    return NodeConfig(
        home=home,
        role=role,
        name=name,
        database_url=url,
        medium=_path(home, tr.get("medium", "medium"), "[transfer] medium", cfg),
        policy_file=_path(home, policy.get("file", "policy.toml"), "[policy] file", cfg),
        keys_dir=_path(home, keys.get("dir", "keys"), "[keys] dir", cfg),
        passphrase_file=_path(home, pp, "[keys] passphrase_file", cfg) if pp else None,
        exchange_period=parse_duration(period),
        raw=raw,
        write_settle=_duration(exchange, "write_settle", "30s", cfg),
        quarantine_retention=_duration(exchange, "quarantine_retention", "180d", cfg),
        receive_wait=_duration(exchange, "receive_wait", "5s", cfg),
        rebase_bound=bound,
    )


def _duration(section: dict[str, Any], key: str, default: str, cfg: Path) -> int:
    value = section.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f"{cfg}: [exchange] {key} must be a duration string such as {default!r}")
    try:
        return parse_duration(value)
    except ConfigError:
        raise ConfigError(
            f"{cfg}: [exchange] {key} = {value!r} is not a duration: a number and one of s, m, h, d, w (e.g. {default})"
        ) from None


CONFIG_TEMPLATE = """\
# credgap node configuration ({role} node).
# Relative paths are resolved against this home directory.

[node]
# The role of this home; a node refuses to run on a home of the other role.
role = "{role}"
# A human name for this node, shown on identity cards and in the transfer log.
name = "{name}"
# The time zone in which publication end dates are read (a record is shown through its last day).
timezone = "Asia/Shanghai"

[database]
# SQLAlchemy URL of this node's own database. SQLite by default; for PostgreSQL use e.g.
#   url = "postgresql+psycopg://credgap@db.internal/credgap_{role}"
# "{{home}}" is replaced by this directory.
url = "{database_url}"

[transfer]
# The transfer medium: the directory the dedicated exchange device feeds, or the mount point of the
# removable device. Each channel has its own folder below it. This is the only path to the other node.
medium = "{medium}"

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
    """Write a commented ``node.toml`` for a new home (refuses to overwrite)."""
    cfg = home / CONFIG_NAME
    text = CONFIG_TEMPLATE.format(
        role=role,
        name=_toml_escape(name),
        database_url=_toml_escape(database_url),
        medium=_toml_escape(medium),
    )
    with cfg.open("x", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    return cfg


def _toml_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
