"""The ``[web]`` section of ``node.toml``: where the platform reads and writes, its limits, and which
proxies it believes."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse

from nodekit.errors import ConfigError
from nodekit.home import NodeConfig, parse_duration

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULTS: dict[str, Any] = {
    "web_database_url": "sqlite:///{home}/web.db",
    "read_database_url": "",  # empty: the node's own [database] url
    "rate_limit": "60/minute",  # anonymous pages and API, per client address
    "report_rate_limit": "10/minute",  # issuing and verifying credit reports, per client address
    "rate_limit_storage": "database",  # or a limits storage URI such as redis://127.0.0.1:6379
    "trusted_proxies": [],  # the initial trusted proxies; the security administrator's list in the web database once saved
    "rate_limit_exempt": [],  # addresses/networks never limited (monitoring, the benchmark)
    "hsts": False,  # send Strict-Transport-Security (set when TLS terminates in front)
    "cursor_ttl": "1h",  # how long a page cursor stays valid
    "max_body_bytes": 16384,  # request bodies (the platform takes almost none yet)
    "max_query_bytes": 2048,  # the URL query string
    "hot_reads": True,  # serve the plain anonymous subject, search and freshness GETs past FastAPI (web/hot.py)
}


@dataclass(frozen=True)
class WebConfig:
    """What the platform needs from ``node.toml`` ``[web]`` (every key optional, defaults above)."""

    web_database_url: str
    read_database_url: str
    rate_limit: RateLimitItem
    report_rate_limit: RateLimitItem
    rate_limit_storage: str
    trusted_proxies: tuple[IPNetwork, ...]
    rate_limit_exempt: tuple[IPNetwork, ...]
    hsts: bool
    cursor_ttl: int
    max_body_bytes: int
    max_query_bytes: int
    hot_reads: bool = True


def _networks(values: Any, key: str, where: str) -> tuple[IPNetwork, ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f'{where}: [web] {key} must be a list of addresses or networks, e.g. ["127.0.0.1"]')
    try:
        return tuple(ipaddress.ip_network(v, strict=False) for v in values)
    except ValueError as exc:
        raise ConfigError(f"{where}: [web] {key}: {exc}") from exc


def _limit(value: Any, key: str, where: str) -> RateLimitItem:
    try:
        return parse(str(value))
    except ValueError as exc:
        raise ConfigError(f'{where}: [web] {key} must be a rate such as "60/minute", got {value!r}') from exc


def load_web_config(config: NodeConfig) -> WebConfig:
    """Read ``[web]`` from a node's configuration; raise :class:`ConfigError` naming the key at fault."""
    raw = {**DEFAULTS, **config.section("web")}
    where = str(config.config_path)
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"{where}: [web] has unknown keys: {', '.join(unknown)}")
    for key in ("web_database_url", "read_database_url", "rate_limit_storage"):
        if not isinstance(raw[key], str):
            raise ConfigError(f"{where}: [web] {key} must be a string")
    for key in ("max_body_bytes", "max_query_bytes"):
        if type(raw[key]) is not int or raw[key] < 256:
            raise ConfigError(f"{where}: [web] {key} must be an integer of at least 256")
    for key in ("hsts", "hot_reads"):
        if not isinstance(raw[key], bool):
            raise ConfigError(f"{where}: [web] {key} must be true or false")
    home = str(config.home)
    return WebConfig(
        web_database_url=raw["web_database_url"].replace("{home}", home),
        read_database_url=(raw["read_database_url"] or config.database_url).replace("{home}", home),
        rate_limit=_limit(raw["rate_limit"], "rate_limit", where),
        report_rate_limit=_limit(raw["report_rate_limit"], "report_rate_limit", where),
        rate_limit_storage=raw["rate_limit_storage"],
        trusted_proxies=_networks(raw["trusted_proxies"], "trusted_proxies", where),
        rate_limit_exempt=_networks(raw["rate_limit_exempt"], "rate_limit_exempt", where),
        hsts=raw["hsts"],
        cursor_ttl=parse_duration(str(raw["cursor_ttl"])),
        max_body_bytes=raw["max_body_bytes"],
        max_query_bytes=raw["max_query_bytes"],
        hot_reads=raw["hot_reads"],
    )
