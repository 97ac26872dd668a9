"""Trust rules: which peer key may sign what, as a pure function of a snapshot of the trust store.

The trust store itself lives in each node's database (``nodekit``); this module holds the rules,
so that the package opener can ask "may key K sign package number N of a node of role R?" without
any I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from keys.errors import N_, TrustError
from keys.identity import PublicKeys, Role


class KeyStatus(StrEnum):
    TRUSTED = "trusted"  # the peer's current key
    SUPERSEDED = "superseded"  # replaced by a succession statement: valid up to ``last_seq`` only
    REVOKED = "revoked"  # revoked by its owner: never accepted again
    DISTRUSTED = "distrusted"  # removed locally by an operator: never accepted again


@dataclass(frozen=True)
class TrustedKey:
    """One peer key in the trust store, bound to the peer's node id and role."""

    key_id: str
    node_id: str
    node_name: str
    role: Role
    public: PublicKeys
    status: KeyStatus
    created: datetime
    expires: datetime
    last_seq: int | None = None  # for SUPERSEDED keys: the last sequence number it may sign
    replaced_by: str | None = None  # for SUPERSEDED keys: the key id of the successor

    def usable_for_sealing(self) -> bool:
        return self.status is KeyStatus.TRUSTED

    def valid_at(self, when: datetime, grace: timedelta = timedelta(0)) -> bool:
        """Whether ``when`` lies within the key's validity, widened by ``grace`` on both sides (dates only:
        the status is the caller's to check)."""
        return self.created - grace <= when <= self.expires + grace

    def may_sign(self, seq: int) -> bool:
        """Whether the key's status lets it sign sequence number ``seq`` (a superseded key: up to its last)."""
        if self.status is KeyStatus.TRUSTED:
            return True
        return self.status is KeyStatus.SUPERSEDED and self.last_seq is not None and seq <= self.last_seq


class TrustState:
    """An immutable snapshot of a node's trust store, queried by the verifier."""

    def __init__(self, keys: Iterable[TrustedKey]) -> None:
        by_id: dict[str, TrustedKey] = {}
        for k in keys:
            if k.key_id in by_id:
                raise TrustError(
                    N_("trust store holds key id {key_id} twice"), params={"key_id": k.key_id}, reason="duplicate-key"
                )
            by_id[k.key_id] = k
        self._by_id: Mapping[str, TrustedKey] = by_id

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._by_id

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_id.values())

    def get(self, key_id: str) -> TrustedKey | None:
        return self._by_id.get(key_id)

    def signer(self, key_id: str, *, role: Role, seq: int | None, at: datetime) -> TrustedKey:
        """The trusted key ``key_id`` if it may sign object number ``seq`` of a node of ``role`` created at ``at``.

        Raises :class:`TrustError` with reason ``unknown-signer``, ``revoked-signer``,
        ``wrong-role``, ``expired-signer`` or ``superseded-signer``.
        """
        key = self._by_id.get(key_id)
        if key is None:
            raise TrustError(
                N_("signer key {key_id} is not in the trust store"), params={"key_id": key_id}, reason="unknown-signer"
            )
        if key.status in (KeyStatus.REVOKED, KeyStatus.DISTRUSTED):
            raise TrustError(
                N_("signer key {key_id} of node {node_id} is {status}"),
                params={"key_id": key_id, "node_id": key.node_id, "status": key.status.value},
                reason="revoked-signer",
            )
        if key.role != role:
            raise TrustError(
                N_("signer key {key_id} belongs to {role} node {node_id}; expected a {role2} node"),
                params={"key_id": key_id, "role": key.role, "node_id": key.node_id, "role2": role},
                reason="wrong-role",
            )
        if not key.created <= at <= key.expires:
            raise TrustError(
                N_("signer key {key_id} is valid {created} to {expires}, not at {at}"),
                params={
                    "key_id": key_id,
                    "created": key.created.isoformat(),
                    "expires": key.expires.isoformat(),
                    "at": at.isoformat(),
                },
                reason="expired-signer",
            )
        if key.status is KeyStatus.SUPERSEDED and (seq is None or key.last_seq is None or seq > key.last_seq):
            raise TrustError(
                N_("signer key {key_id} was superseded after sequence {last_seq}; it cannot sign {seq}"),
                params={"key_id": key_id, "last_seq": key.last_seq, "seq": seq},
                reason="superseded-signer",
            )
        return key

    def current_for(self, node_id: str) -> TrustedKey:
        """The key to seal to when sending to ``node_id`` (its one TRUSTED key)."""
        current = [k for k in self._by_id.values() if k.node_id == node_id and k.status is KeyStatus.TRUSTED]
        if not current:
            raise TrustError(
                N_("no trusted key for node {node_id}"), params={"node_id": node_id}, reason="unknown-recipient"
            )
        if len(current) > 1:
            raise TrustError(
                N_("node {node_id} has {n_current} current keys"),
                params={"node_id": node_id, "n_current": len(current)},
                reason="ambiguous-recipient",
            )
        return current[0]

    def peers(self, role: Role) -> list[TrustedKey]:
        """The current key of every trusted peer node of ``role`` (one channel each)."""
        return sorted(
            (k for k in self._by_id.values() if k.role == role and k.status is KeyStatus.TRUSTED),
            key=lambda k: k.node_id,
        )
