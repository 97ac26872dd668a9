"""Errors of the ``keys`` package: one root, each with a reason code and an exit code of the node table
(1 failure, 2 usage or configuration, 3 rejected input, 4 verification failed)."""

from __future__ import annotations

from collections.abc import Mapping


def N_(message: str) -> str:
    """Mark an English message template for the operators' catalogue; the CLI layer translates it where
    it is shown (this package never imports nodekit: docs/adr/0016-operator-language.md)."""
    return message


class Said(str):
    """An English message, a ``str`` as node.log and ``--json`` keep it, that also carries its template
    and parameters, so that the CLI layer can show it in the operator's language (``nodekit.errors.shown``
    translates a parameter of an error that is one). For a message that is a value before it is an error."""

    template: str
    params: dict[str, object]
    where: str

    def __new__(cls, template: str, **params: object) -> Said:
        said = super().__new__(cls, template.format(**params) if params else template)
        said.template, said.params, said.where = template, params, ""
        return said


class KeyStoreError(Exception):
    """Root of every error raised by ``keys`` (deliberately not named ``KeyError``)."""

    exit_code: int = 1
    reason: str = "keys"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        exit_code: int | None = None,
        params: Mapping[str, object] | None = None,
        where: str = "",
    ) -> None:
        # with ``params``, ``message`` is an English ``str.format`` template: ``str()`` is the English text
        # (node.log, --json); the CLI layer shows the template translated (``keys`` never imports nodekit,
        # docs/adr/0016-operator-language.md); ``where`` (a file, never translated) goes in front
        self.template = message
        self.params = dict(params) if params else {}
        self.where = where
        super().__init__(where + (message.format(**self.params) if self.params else message))
        if reason is not None:
            self.reason = reason
        if exit_code is not None:
            self.exit_code = exit_code

    def with_source(self, source: object) -> KeyStoreError:
        """The same error (type, reason, exit code) with ``source: `` put in front of its message."""
        clone = type(self).__new__(type(self))
        KeyStoreError.__init__(
            clone,
            self.template,
            reason=self.reason,
            exit_code=self.exit_code,
            params=self.params,
            where=f"{source}: {self.where}",
        )
        return clone


class EncodingError(KeyStoreError):
    """A document is not in the one canonical encoding (or not decodable at all)."""

    exit_code = 3
    reason = "encoding"


class SignatureError(KeyStoreError):
    """A signature does not verify under the key and context it was checked against."""

    exit_code = 4
    reason = "bad-signature"


class TrustError(KeyStoreError):
    """A key is unknown, revoked, expired, superseded, or of the wrong role for what it signed."""

    exit_code = 4
    reason = "untrusted"


class KeySetupError(KeyStoreError):
    """The node's keys cannot be used as set up: no identity yet, unsafe file permissions, no passphrase."""

    exit_code = 2
    reason = "key-setup"


class KeyFileError(KeyStoreError):
    """A private-key file is truncated, corrupted, or has parameters this version refuses."""

    exit_code = 3
    reason = "corrupt-key-file"


class PassphraseError(KeyStoreError):
    """The passphrase does not open a private-key file."""

    exit_code = 4
    reason = "wrong-passphrase"


class CardError(KeyStoreError):
    """An identity card is malformed, expired, or not acceptable to this node."""

    exit_code = 3
    reason = "bad-card"


class StatementError(KeyStoreError):
    """A succession or revocation statement is malformed."""

    exit_code = 3
    reason = "bad-statement"
