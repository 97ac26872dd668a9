"""Rate limiting by client address: a ``limits`` fixed-window limiter whose counters live in the web
database, so every worker and every instance sharing that database count together (a worker's own
memory would multiply the limit by the number of workers). Redis is the documented alternative
(``[web] rate_limit_storage = "redis://…"``, the storage ``limits`` ships).

The client address is the peer's, unless the peer is a configured trusted proxy: then the right-most
``X-Forwarded-For`` address that is not itself a trusted proxy (the left part is the client's to
write, so it is never believed)."""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from limits import RateLimitItem
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import BindParameter, Engine, Float, bindparam, case, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from public_node.web.config import IPNetwork
from public_node.web.models import COUNTER_TABLE

_C = COUNTER_TABLE.c


class DatabaseStorage(Storage):
    """A ``limits`` storage on the web database (SQLite or PostgreSQL): one row per counter, updated
    by one atomic upsert per hit."""

    STORAGE_SCHEME = None  # constructed directly, never from a URI

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self._engine = engine
        self._clock = clock
        ins = (pg_insert if engine.dialect.name == "postgresql" else sqlite_insert)(COUNTER_TABLE)
        now: BindParameter[float] = bindparam("now", type_=Float)
        fresh = COUNTER_TABLE.c.expires_at <= now
        self._upsert = (
            ins.values(key=bindparam("key"), count=bindparam("amount"), expires_at=bindparam("until"))
            .on_conflict_do_update(
                index_elements=["key"],
                set_={
                    "count": case(
                        (fresh, ins.excluded["count"]), else_=COUNTER_TABLE.c["count"] + ins.excluded["count"]
                    ),
                    "expires_at": case((fresh, ins.excluded.expires_at), else_=COUNTER_TABLE.c.expires_at),
                },
            )
            .returning(COUNTER_TABLE.c["count"])
        )
        self._hits = 0

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = self._clock()
        with self._engine.begin() as conn:
            count = conn.execute(self._upsert, {"key": key, "amount": amount, "until": now + expiry, "now": now})
            value = int(count.scalar_one())
            self._hits += 1
            if self._hits % 1000 == 0:  # housekeeping: windows long gone
                conn.execute(delete(COUNTER_TABLE).where(_C.expires_at < now - 3600))
        return value

    def _row(self, key: str) -> tuple[int, float] | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(_C["count"], _C.expires_at).where(_C.key == key)).first()
        if row is None or row[1] <= self._clock():
            return None
        return int(row[0]), float(row[1])

    def get(self, key: str) -> int:
        row = self._row(key)
        return 0 if row is None else row[0]

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return self._clock() if row is None else row[1]

    def check(self) -> bool:
        try:
            with self._engine.connect() as conn:
                conn.execute(select(1))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self._engine.begin() as conn:
            return int(conn.execute(delete(COUNTER_TABLE)).rowcount)

    def clear(self, key: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(COUNTER_TABLE).where(_C.key == key))


def make_storage(spec: str, engine: Engine, clock: Callable[[], float] = time.time) -> Storage:
    """``database`` (the web database) or a ``limits`` storage URI (``redis://host:port``)."""
    if spec == "database":
        return DatabaseStorage(engine, clock)
    storage = storage_from_string(spec)
    if not isinstance(storage, Storage):  # an asyncio storage: the limiter here is synchronous
        raise ValueError(f"rate-limit storage {spec!r} is asynchronous; give a synchronous one (redis://…)")
    return storage


@dataclass(frozen=True)
class Verdict:
    """Whether a request may proceed, and if not, after how many seconds to retry."""

    allowed: bool
    retry_after: int = 0


class Limiter:
    """The per-address limits of the platform."""

    def __init__(self, storage: Storage, exempt: Sequence[IPNetwork], clock: Callable[[], float] = time.time) -> None:
        self._limiter = FixedWindowRateLimiter(storage)
        self._exempt = tuple(exempt)
        self._clock = clock

    def exempts(self, address: str) -> bool:
        """Whether ``address`` is allow-listed (never counted)."""
        return address_in(address, self._exempt)

    def hit(self, item: RateLimitItem, bucket: str, address: str) -> Verdict:
        """Count one request of ``address`` against ``item`` in ``bucket``."""
        if address_in(address, self._exempt):
            return Verdict(True)
        if self._limiter.hit(item, bucket, address):
            return Verdict(True)
        reset, _ = self._limiter.get_window_stats(item, bucket, address)
        return Verdict(False, max(1, math.ceil(reset - self._clock())))


def address_in(address: str, networks: Sequence[IPNetwork]) -> bool:
    """Whether ``address`` (text) is in one of ``networks``; False for anything that is not an address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[IPNetwork]) -> str:
    """The address a request is counted against (module docstring)."""
    address = peer or "unknown"
    if not forwarded_for or not address_in(address, trusted):
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",")][:32]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return address  # a malformed chain: count the proxy itself rather than guess
        if not address_in(hop, trusted):
            return hop
        address = hop
    return address
