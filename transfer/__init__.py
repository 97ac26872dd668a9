"""The wire contract and the medium: package format, channel rules, transfer-log entries.

The two entry points of package format v1 (docs/FORMAT.md), both streaming in bounded memory:

- :func:`seal` — items in, one signed package sealed for one recipient out (:mod:`transfer.seal`);
- :func:`open_package` — a staged package's bytes, the reader's context and the channel's state in; a
  verified header, the channel rules' verdict and the validated items out, or :class:`PackageRejected`.

(``transfer.seal`` is the function; its module is still importable as ``from transfer.seal import …``.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from transfer.channel import ChannelState, Verdict, check
from transfer.errors import N_, PackageRejected, TransferError
from transfer.items import Item
from transfer.limits import Limits
from transfer.opener import OpenContext, PackageOpener, VerifiedHeader
from transfer.seal import Recipient, SealedPackage, seal

__all__ = [
    "ChannelState",
    "Item",
    "Limits",
    "OpenContext",
    "OpenedPackage",
    "PackageRejected",
    "Recipient",
    "SealedPackage",
    "TransferError",
    "Verdict",
    "VerifiedHeader",
    "open_package",
    "seal",
]


@dataclass(frozen=True)
class OpenedPackage:
    """A package whose header verified and that the channel rules placed: read :attr:`verdict`, then,
    for ``accept`` or ``rebase``, stream :meth:`items` into an uncommitted unit of work."""

    header: VerifiedHeader
    verdict: Verdict
    digest: str
    _opener: PackageOpener

    def items(self) -> Iterator[Item]:
        """The validated items, in order. Raises :class:`PackageRejected` — at the latest once the last
        item is read — unless the end marker, sizes, counts, trailer MAC and package digest all check:
        commit only after the iterator is exhausted without raising."""
        if self.verdict not in (Verdict.ACCEPT, Verdict.REBASE):
            raise TransferError(
                N_("a package the channel rules found {verdict} is not opened now"),
                params={"verdict": self.verdict.value},
            )
        return self._opener.items()


def open_package(
    data: Iterable[bytes],
    ctx: OpenContext,
    channel: ChannelState,
    *,
    file_size: int,
    digest: str,
) -> OpenedPackage:
    """Open a package from node-owned staging (FORMAT.md §14 steps 2–6), without I/O or a clock.

    ``data`` yields the staged file's bytes in pieces; ``file_size`` and ``digest`` (SHA-256, hex) are
    what staging measured while copying. The header is parsed and its signature verified against
    ``ctx.trust`` before anything else, then the channel rules of ``channel`` are applied at ``ctx.now``
    (only its applied and parked packages count as known).
    Raises :class:`PackageRejected` with a FORMAT.md §15 reason code; the payload is decrypted only as
    :meth:`OpenedPackage.items` is iterated.
    """
    opener = PackageOpener(data, ctx, file_size=file_size, expected_digest=digest)
    vh = opener.header()
    verdict = check(
        vh.header,
        digest,
        channel,
        now=ctx.now,
        skew=ctx.limits.skew,
        pending_quota=ctx.limits.pending_quota,
        rebase_bound=ctx.limits.rebase_bound,
    )
    return OpenedPackage(vh, verdict, digest, opener)
