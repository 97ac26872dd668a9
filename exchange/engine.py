"""The exchange as a node runs it, for both node programs: sending packages in the safe order (archive,
commit, then medium) and receiving them (stage, verify, apply in one transaction, archive, then remove
from the medium), with quarantine, pending gaps, duplicates and alarms, all logged in the transfer log.

What a package's data items *mean* is the node's business: it passes a :class:`DataApplier`. The
exchange handles the exchange's own kinds (manifest, heartbeat, key announcements, receipts,
checkpoints) itself. The halves live in ``exchange_send`` and ``exchange_receive``; the types and the
shared state in ``exchange_core``.
"""

from __future__ import annotations

from exchange.core import (
    EXCHANGE_KINDS,
    DataApplier,
    ExchangeHooks,
    NodeIdentity,
    Outcome,
    SentPackage,
    every_package,
    is_package_fault,
    load_channel_state,
)
from exchange.receive import Receiving
from exchange.send import Sending


class Exchange(Sending, Receiving):
    """Sending and receiving packages for one node home."""


__all__ = [
    "EXCHANGE_KINDS",
    "DataApplier",
    "Exchange",
    "ExchangeHooks",
    "NodeIdentity",
    "Outcome",
    "SentPackage",
    "every_package",
    "is_package_fault",
    "load_channel_state",
]
