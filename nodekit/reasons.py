"""What a code means to a person (a reason code, a role, a key status): the explanation an operator reading another language than
English is shown instead of a ``transfer`` message (docs/adr/0016-operator-language.md).

``transfer`` never imports nodekit, so its messages are English (node.log, the transfer log and
``--json`` keep them); where only the stored message and its code are at hand (an import's outcome,
``transfer inspect``'s report, the quarantine's note, an undelivered package), the code is explained
in the operator's language."""

from __future__ import annotations

from nodekit.i18n import ENGLISH, N_, Shown, _, language

# Why a package was refused, by its reason code (docs/FORMAT.md): the message of a ``transfer`` error
# is English (``transfer`` never imports nodekit; node.log, the transfer log and --json keep it), so an
# operator reading another language is shown this explanation of its code instead
REASONS = {
    "bad-magic": N_("not a credgap package (its first line is wrong)"),
    "unknown-version": N_("a package format this node does not read"),
    "bad-header": N_("its header is malformed"),
    "bad-signature": N_("its header's signature does not verify"),
    "unknown-signer": N_("signed by a key that is not in the trust store"),
    "revoked-signer": N_("signed by a revoked or distrusted key"),
    "expired-signer": N_("signed by an expired key"),
    "superseded": N_("signed by a superseded key past the last package it may sign"),
    "wrong-role": N_("the signer's role may not send on this channel"),
    "wrong-sender": N_("the sender is not the node this channel expects"),
    "wrong-recipient": N_("addressed to another node"),
    "unknown-recipient-key": N_("sealed to a key of this node that it does not hold"),
    "unsupported-suite": N_("a cipher suite this node does not support"),
    "downgraded-suite": N_("a weaker cipher suite than the channel already uses"),
    "bad-stanza": N_("its key stanza cannot be opened"),
    "bad-ciphertext": N_("its payload does not decrypt: damaged or tampered with"),
    "truncated": N_("the file is truncated"),
    "oversized": N_("larger than the limits allow"),
    "decompression-bomb": N_("its payload decompresses beyond the limits"),
    "bad-payload": N_("its payload is malformed"),
    "bad-schema": N_("an item does not match its schema"),
    "unknown-kind": N_("an item of an unknown kind"),
    "kind-not-allowed": N_("an item of a kind this channel does not carry"),
    "inconsistent": N_("its header and payload disagree"),
    "digest-mismatch": N_("its digest is not the one expected"),
    "expired": N_("past its not_after: too old to apply"),
    "future-dated": N_("created in the future (check the clocks)"),
    "clock-regression": N_("created before a package already applied (check the clocks)"),
    "replay": N_("a package already applied, sent again"),
    "fork": N_("a different package for a position already taken: two histories of the channel"),
    "rebase-too-far": N_("a snapshot too far ahead of this node"),
    "pending-quota": N_("too many packages already wait for a missing one"),
    "bad-receipt": N_("a receipt in it is malformed or does not verify"),
    "bad-checkpoint": N_("a checkpoint in it is malformed or does not verify"),
    "bad-proof": N_("a log proof in it does not verify"),
    "incomplete": N_("still being written (the file is incomplete)"),
    "extended": N_("the file is longer than its header declares"),
    "superseded-signer": N_("signed by a superseded key past the last package it may sign"),
    "equivocation": N_("two different packages signed for the same position: kept as evidence"),
    "sparse": N_("a sparse file: most of its size holds no data yet"),
    "deferred": N_("left on the medium for a later round"),
    # an entry of the medium the node could not use (docs/FORMAT.md, "Per-entry errors")
    "not-a-channel": N_("not a channel folder"),
    "not-a-package-name": N_("not a package file name"),
    "not-regular": N_("not a regular file"),
    "unreadable": N_("permission denied"),
    "io-error": N_("an input/output error of the device"),
    "vanished": N_("gone between the scan and its use"),
    "changed": N_("changed between the scan and its use"),
    # the medium itself (transfer.errors.medium_fault)
    "medium-full": N_("the medium is full"),
    "medium-missing": N_("transfer medium not found (is the device mounted?)"),
    "medium-read-only": N_("the medium is read-only or not writable"),
    "medium-unreadable": N_("the medium cannot be read"),
}


def reason_text(reason: str | None, message: str) -> str:
    """Why a package (or an entry of the medium) was refused, for a person: the English message in
    English, else the explanation of its reason code in the operator's language (the message when the
    code has none)."""
    if reason in REASONS and language() != ENGLISH:
        return _(REASONS[reason])
    return message


def reason_param(reason: str | None, message: str) -> object:
    """A parameter of an error that is ``message`` in English (logs, --json) and the explanation of
    ``reason`` when shown to an operator reading another language."""
    return Shown(message, REASONS[reason]) if reason in REASONS else message


# the words printed for a role, a key status and a channel's direction (--json keeps the English codes)
_ROLES = {"internal": N_("internal"), "public": N_("public")}
_STATUSES = {
    "current": N_("current"),
    "trusted": N_("trusted"),
    "superseded": N_("superseded"),
    "revoked": N_("revoked"),
    "distrusted": N_("distrusted"),
    "expired": N_("expired"),
    "retired": N_("retired"),
}
_DIRECTIONS = {"in": N_("incoming"), "out": N_("outgoing")}


def role_word(role: str) -> str:
    """A node's role in the operator's language (the code itself when it has no word)."""
    return _(_ROLES[role]) if role in _ROLES else role


def key_status_word(status: str) -> str:
    """A key's status in the operator's language (the code itself when it has no word)."""
    return _(_STATUSES[status]) if status in _STATUSES else status


def direction_word(direction: str) -> str:
    """A channel's direction in the operator's language (English keeps the codes ``in``, ``out``)."""
    return _(_DIRECTIONS[direction]) if direction in _DIRECTIONS and language() != ENGLISH else direction
