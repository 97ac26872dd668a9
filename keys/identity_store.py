"""A node's own identity on disk: its node id, name and role, its current and retired keys, the
statements it issued, and loading the private keys only when they are needed.

Layout of the keys directory (mode 0700):

- ``identity.json`` — the public index: node id, name, role, every own key with its status
  (``current``, ``retired``, ``revoked``) and validity, and the succession and revocation
  statements issued so far (canonical JSON, replaced atomically);
- ``<key id>.key`` — one encrypted private-key file per key (``keys.keyfile``), never rewritten;
- ``<key id>.card`` — the signed identity card of that key, so exporting it needs no passphrase.

Retired keys stay: their X25519 half opens packages that were sealed to them before the peer saw
the rotation, and their Ed25519 half signs, up to the stated sequence number, on each channel.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from keys import canonical
from keys.card import IdentityCard, make_card, parse_card
from keys.errors import N_, EncodingError, KeySetupError, KeyStoreError, StatementError, TrustError
from keys.identity import PublicKeys, Role, SecretKeys, check_key_id
from keys.keyfile import (
    KdfProfile,
    KeyFileInfo,
    Passphrase,
    Random,
    atomic_write,
    open_key_file,
    read_key_file_info,
    write_key_file,
)
from keys.schema import fields, node_id_field, public_field, role_field, text_field
from keys.statements import (
    RevocationStatement,
    Statement,
    SuccessionStatement,
    make_revocation,
    make_succession,
    parse_statement,
)
from keys.times import DEFAULT_VALIDITY, format_time, parse_time, to_second

IDENTITY_FILE = "identity.json"
IDENTITY_TYPE = "credgap-identity"
MAX_IDENTITY_BYTES = 4 * 1024 * 1024


class OwnKeyStatus(StrEnum):
    CURRENT = "current"  # signs new packages, receives new packages
    RETIRED = "retired"  # replaced by a rotation; kept to open old packages and sign up to the stated sequence
    REVOKED = "revoked"  # revoked by this node; kept only to open packages already sealed to it


@dataclass(frozen=True)
class OwnKey:
    """One of the node's own keys as listed in ``identity.json``."""

    key_id: str
    public: PublicKeys
    created: datetime
    expires: datetime
    status: OwnKeyStatus
    changed: datetime | None = None  # when it was retired or revoked

    def document(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "public": {"sign": self.public.sign.hex(), "enc": self.public.enc.hex()},
            "created": format_time(self.created),
            "expires": format_time(self.expires),
            "status": self.status.value,
            "changed": None if self.changed is None else format_time(self.changed),
        }


def _no_passphrase() -> bytes:
    raise KeySetupError(
        N_("a passphrase is needed to open the private key, and none was given"), reason="no-passphrase"
    )


class Identity:
    """The node's own identity. Private keys are decrypted on first use and kept for the object's life.

    ``passphrase`` is called at most once, the first time a protected key file is opened.
    """

    def __init__(
        self,
        keys_dir: Path,
        document: dict[str, Any],
        *,
        passphrase: Passphrase | None = None,
        allow_insecure_test_kdf: bool | None = None,
    ) -> None:
        self.keys_dir = keys_dir
        self._source = passphrase or _no_passphrase
        self._passphrase: bytes | None = None
        self._allow_test = allow_insecure_test_kdf
        self._secrets: dict[str, SecretKeys] = {}
        self._set(document)

    # -- loading ---------------------------------------------------------------------------------

    @staticmethod
    def exists(keys_dir: Path) -> bool:
        return (keys_dir / IDENTITY_FILE).exists()

    @classmethod
    def load(
        cls, keys_dir: Path, *, passphrase: Passphrase | None = None, allow_insecure_test_kdf: bool | None = None
    ) -> Identity:
        """Read ``identity.json`` (no private key is touched until one is needed)."""
        return cls(
            keys_dir, _read_document(keys_dir), passphrase=passphrase, allow_insecure_test_kdf=allow_insecure_test_kdf
        )

    def reload(self) -> None:
        """Read ``identity.json`` again (another process may have rotated); decrypted keys stay cached."""
        self._set(_read_document(self.keys_dir))

    def _set(self, document: dict[str, Any]) -> None:
        doc = fields(document, "identity", {"type", "v", "node_id", "name", "role", "keys", "statements"})
        if doc["type"] != IDENTITY_TYPE or doc["v"] != 1:
            raise EncodingError(N_("not a credgap identity (type {type!r:.40})"), params={"type": doc["type"]})
        self.node_id = node_id_field(doc["node_id"])
        self.name = text_field(doc["name"], "name")
        self.role: Role = role_field(doc["role"])
        if not isinstance(doc["keys"], list) or not isinstance(doc["statements"], list):
            raise EncodingError(N_("keys and statements must be lists"))
        keys = [_own_key(k) for k in doc["keys"]]
        if len({k.key_id for k in keys}) != len(keys):
            raise EncodingError(N_("a key id is listed twice"))
        current = [k for k in keys if k.status is OwnKeyStatus.CURRENT]
        if len(current) != 1:
            raise EncodingError(
                N_("exactly one current key expected, found {n_current}"), params={"n_current": len(current)}
            )
        self._keys = keys
        self._current = current[0]
        self._statements: list[Statement] = [_statement(s) for s in doc["statements"]]

    def document(self) -> dict[str, Any]:
        """The content of ``identity.json``."""
        return _document(self.node_id, self.name, self.role, self._keys, self._statements)

    def _save(self, keys: list[OwnKey], statements: list[Statement]) -> None:
        """Replace ``identity.json`` atomically with these keys and statements, then adopt them."""
        document = _document(self.node_id, self.name, self.role, keys, statements)
        atomic_write(self.keys_dir / IDENTITY_FILE, canonical.encode(document) + b"\n", replace=True)
        self._set(document)

    # -- what it holds ---------------------------------------------------------------------------

    @property
    def current(self) -> OwnKey:
        return self._current

    @property
    def current_key_id(self) -> str:
        return self._current.key_id

    @property
    def public(self) -> PublicKeys:
        return self._current.public

    def own_keys(self) -> list[OwnKey]:
        return list(self._keys)

    def statements(self) -> list[Statement]:
        return list(self._statements)

    def key(self, key_id: str) -> OwnKey:
        for k in self._keys:
            if k.key_id == key_id:
                return k
        raise KeyStoreError(
            N_("node {node_id} has no own key {key_id}"),
            params={"node_id": self.node_id, "key_id": key_id},
            reason="unknown-key",
            exit_code=3,
        )

    def key_path(self, key_id: str) -> Path:
        return self.keys_dir / f"{check_key_id(key_id)}.key"

    def card_path(self, key_id: str) -> Path:
        return self.keys_dir / f"{check_key_id(key_id)}.card"

    def key_file_info(self, key_id: str | None = None) -> KeyFileInfo:
        """The checked public part of a key file (protection profile, validity); no passphrase needed."""
        key_id = key_id or self.current_key_id
        info = read_key_file_info(self.key_path(key_id), allow_insecure_test_kdf=self._allow_test)
        self._check_info(info, key_id)
        return info

    # -- private keys ----------------------------------------------------------------------------

    def current_secret(self) -> SecretKeys:
        """The current private keys (decrypted on first use)."""
        return self.secret_for(self.current_key_id)

    def signing_keys(self) -> SecretKeys:
        """The current private keys (the name ``exchange.engine.NodeIdentity`` asks for)."""
        return self.current_secret()

    def signer_for(self, recipient_node_id: str, seq: int) -> SecretKeys:
        """The private keys that sign package ``seq`` to ``recipient_node_id`` (see :meth:`signing_key_for`)."""
        return self.secret_for(self.signing_key_for(recipient_node_id, seq))

    def secret_for(self, key_id: str) -> SecretKeys:
        """The private keys of any own key, retired or revoked ones included (to open packages sealed
        to an older key). Raises ``KeyStoreError(reason="unknown-recipient-key")`` for a key this node
        does not hold."""
        cached = self._secrets.get(key_id)
        if cached is not None:
            return cached
        if all(k.key_id != key_id for k in self._keys):
            raise KeyStoreError(
                N_("this node ({node_id}) holds no private key {key_id}"),
                params={"node_id": self.node_id, "key_id": key_id},
                reason="unknown-recipient-key",
                exit_code=4,
            )
        info, secret = open_key_file(
            self.key_path(key_id), self._get_passphrase, allow_insecure_test_kdf=self._allow_test
        )
        self._check_info(info, key_id)
        self._secrets[key_id] = secret
        return secret

    def _get_passphrase(self) -> bytes:
        if self._passphrase is None:
            self._passphrase = self._source()
        return self._passphrase

    def _check_info(self, info: KeyFileInfo, key_id: str) -> None:
        if info.key_id != key_id or info.node_id != self.node_id or info.role != self.role:
            raise KeySetupError(
                N_(
                    "{path}: holds key {key_id} of {role} node {node_id}, expected key {key_id2} of {role2} node {node_id2}"
                ),
                params={
                    "path": info.path,
                    "key_id": info.key_id,
                    "role": info.role,
                    "node_id": info.node_id,
                    "key_id2": key_id,
                    "role2": self.role,
                    "node_id2": self.node_id,
                },
                reason="corrupt-identity",
            )

    def check_usable(self, now: datetime) -> None:
        """Raise ``TrustError(reason="expired-key")`` if the current key is not valid at ``now``."""
        k = self._current
        if not k.created <= now < k.expires:
            raise TrustError(
                N_(
                    "own key {key_id} is valid {created} to {expires}, not at {now}: make a new identity card and have every peer enrol it"
                ),
                params={
                    "key_id": k.key_id,
                    "created": format_time(k.created),
                    "expires": format_time(k.expires),
                    "now": format_time(now),
                },
                reason="expired-key",
            )

    # -- cards and statements --------------------------------------------------------------------

    def card(self, key_id: str | None = None, *, reads: int | None = None) -> IdentityCard:
        """The signed identity card of a key (the current one by default), read from its ``.card`` file
        or, if that is missing or advertises another format than ``reads`` (when given), signed again
        (which needs the passphrase)."""
        key = self.key(key_id or self.current_key_id)
        path = self.card_path(key.key_id)
        try:
            card = parse_card(path.read_bytes())
        except FileNotFoundError:
            card = self._write_card(key, self.secret_for(key.key_id), reads or 1)
        except KeyStoreError as exc:
            raise exc.with_source(path) from None
        if reads is not None and card.reads != reads:
            card = self._write_card(key, self.secret_for(key.key_id), reads)
        if card.key_id != key.key_id or card.node_id != self.node_id or card.role != self.role:
            raise KeySetupError(
                N_("{path}: is not the card of key {key_id} of this node"),
                params={"path": path, "key_id": key.key_id},
                reason="corrupt-identity",
            )
        return card

    def _write_card(self, key: OwnKey, secret: SecretKeys, reads: int = 1) -> IdentityCard:
        card = make_card(
            secret,
            node_id=self.node_id,
            node_name=self.name,
            role=self.role,
            created=key.created,
            expires=key.expires,
            reads=reads,
        )
        atomic_write(self.card_path(key.key_id), card.encode(), replace=True)
        return card

    def signing_key_for(self, recipient_node_id: str, seq: int) -> str:
        """The key id that signs package ``seq`` on the channel to ``recipient_node_id``: a replaced
        key up to the last sequence its succession statement gave that channel, then its successor."""
        for st in self._statements:
            if not isinstance(st, SuccessionStatement) or recipient_node_id not in st.last_seq:
                continue
            if self._status(st.old_key_id) is not OwnKeyStatus.REVOKED and seq <= st.last_seq[recipient_node_id]:
                return st.old_key_id
        return self.current_key_id

    def statements_for(self, recipient_node_id: str, seq: int) -> list[SuccessionStatement]:
        """The succession statements package ``seq`` to ``recipient_node_id`` carries: those whose old
        key still signs that package or an earlier one (applying one twice is harmless)."""
        return [
            st
            for st in self._statements
            if isinstance(st, SuccessionStatement) and st.last_seq.get(recipient_node_id, 0) >= seq
        ]

    def revocations(self) -> list[RevocationStatement]:
        return [st for st in self._statements if isinstance(st, RevocationStatement)]

    def _status(self, key_id: str) -> OwnKeyStatus:
        for k in self._keys:
            if k.key_id == key_id:
                return k.status
        return OwnKeyStatus.REVOKED  # a statement about a key no longer listed: never sign with it

    # -- changes ---------------------------------------------------------------------------------

    def rotate(
        self,
        *,
        now: datetime,
        last_seq: dict[str, int],
        validity: timedelta = DEFAULT_VALIDITY,
        profile: KdfProfile | None = None,
        random: Random = os.urandom,
        reads: int = 1,
    ) -> SuccessionStatement:
        """Replace the current key with a new one for the same node id; return the succession statement
        (signed by both keys, advertising package format ``reads``). The new key file gets the same
        protection as the current one."""
        self.check_usable(now)
        old_key = self._current
        old = self.current_secret()
        protected = self.key_file_info(old_key.key_id).protected
        new_key, new = self._new_key(now, validity, self._get_passphrase() if protected else None, profile, random)
        statement = make_succession(
            old,
            new,
            node_id=self.node_id,
            role=self.role,
            new_created=new_key.created,
            new_expires=new_key.expires,
            created=now,
            last_seq=last_seq,
            reads=reads,
        )
        keys = [
            replace(k, status=OwnKeyStatus.RETIRED, changed=to_second(now)) if k is old_key else k for k in self._keys
        ]
        self._save([*keys, new_key], [*self._statements, statement])
        return statement

    def revoke(
        self,
        key_id: str | None = None,
        *,
        now: datetime,
        reason: str = "unspecified",
        validity: timedelta = DEFAULT_VALIDITY,
        profile: KdfProfile | None = None,
        random: Random = os.urandom,
    ) -> tuple[RevocationStatement, OwnKey | None]:
        """Revoke an own key (the current one by default) with a statement signed by that key.

        Revoking the current key makes a replacement at once (the node must keep an identity); the
        replacement is *not* vouched for by the revoked key: every peer enrols its card out of band.
        Returns the statement and the replacement key, if one was made.
        """
        target = self.key(key_id or self.current_key_id)
        if target.status is OwnKeyStatus.REVOKED:
            raise KeyStoreError(
                N_("own key {key_id} is already revoked"),
                params={"key_id": target.key_id},
                reason="already-revoked",
                exit_code=3,
            )
        secret = self.secret_for(target.key_id)
        statement = make_revocation(secret, node_id=self.node_id, role=self.role, reason=reason, created=now)
        keys = [
            replace(k, status=OwnKeyStatus.REVOKED, changed=to_second(now)) if k.key_id == target.key_id else k
            for k in self._keys
        ]
        replacement: OwnKey | None = None
        if target.status is OwnKeyStatus.CURRENT:
            protected = self.key_file_info(target.key_id).protected
            replacement, _ = self._new_key(
                now, validity, self._get_passphrase() if protected else None, profile, random
            )
            keys.append(replacement)
        self._save(keys, [*self._statements, statement])
        return statement, replacement

    def _new_key(
        self, now: datetime, validity: timedelta, passphrase: bytes | None, profile: KdfProfile | None, random: Random
    ) -> tuple[OwnKey, SecretKeys]:
        return _new_key_files(
            self.keys_dir,
            node_id=self.node_id,
            name=self.name,
            role=self.role,
            now=now,
            validity=validity,
            passphrase=passphrase,
            profile=profile,
            random=random,
            allow_insecure_test_kdf=self._allow_test,
            cache=self._secrets,
        )


def create_identity(
    keys_dir: Path,
    *,
    name: str,
    role: Role,
    passphrase: bytes | None,
    now: datetime,
    validity: timedelta = DEFAULT_VALIDITY,
    profile: KdfProfile | None = None,
    random: Random = os.urandom,
    node_id: str | None = None,
    allow_insecure_test_kdf: bool | None = None,
) -> Identity:
    """Make a new identity in ``keys_dir``: a node id (random unless given), key pairs, key file, card.

    ``passphrase`` None writes the private key without a passphrase (``--no-passphrase``).
    """
    if Identity.exists(keys_dir):
        raise KeySetupError(
            N_("{path}: this node already has an identity; use `keys rotate` for new keys"),
            params={"path": keys_dir / IDENTITY_FILE},
            reason="identity-exists",
        )
    text_field(name, "node name")
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    node_id = node_id_field(node_id or str(uuid.UUID(bytes=random(16), version=4)))
    secrets: dict[str, SecretKeys] = {}
    key, _ = _new_key_files(
        keys_dir,
        node_id=node_id,
        name=name,
        role=role,
        now=now,
        validity=validity,
        passphrase=passphrase,
        profile=profile,
        random=random,
        allow_insecure_test_kdf=allow_insecure_test_kdf,
        cache=secrets,
    )
    document = _document(node_id, name, role, [key], [])
    atomic_write(keys_dir / IDENTITY_FILE, canonical.encode(document) + b"\n", replace=False)
    identity = Identity(
        keys_dir,
        document,
        passphrase=(lambda: passphrase) if passphrase is not None else None,
        allow_insecure_test_kdf=allow_insecure_test_kdf,
    )
    identity._secrets.update(secrets)
    return identity


def _new_key_files(
    keys_dir: Path,
    *,
    node_id: str,
    name: str,
    role: Role,
    now: datetime,
    validity: timedelta,
    passphrase: bytes | None,
    profile: KdfProfile | None,
    random: Random,
    allow_insecure_test_kdf: bool | None,
    cache: dict[str, SecretKeys],
) -> tuple[OwnKey, SecretKeys]:
    """Generate key pairs, write their key file and card; the caller then lists them in identity.json."""
    secret = SecretKeys(random(32), random(32))
    created = to_second(now)
    expires = created + validity
    write_key_file(
        keys_dir / f"{secret.key_id}.key",
        secret,
        node_id=node_id,
        role=role,
        created=created,
        expires=expires,
        passphrase=passphrase,
        profile=profile,
        random=random,
        allow_insecure_test_kdf=allow_insecure_test_kdf,
    )
    card = make_card(secret, node_id=node_id, node_name=name, role=role, created=created, expires=expires)
    atomic_write(keys_dir / f"{secret.key_id}.card", card.encode(), replace=True)
    cache[secret.key_id] = secret
    return OwnKey(secret.key_id, secret.public, created, expires, OwnKeyStatus.CURRENT), secret


def _read_document(keys_dir: Path) -> dict[str, Any]:
    path = keys_dir / IDENTITY_FILE
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_IDENTITY_BYTES + 1)
    except FileNotFoundError:
        raise KeySetupError(
            N_("{path}: missing; this node has no identity yet (run `keys init`)"),
            params={"path": path},
            reason="no-identity",
        ) from None
    except OSError as exc:
        raise KeySetupError(
            N_("{path}: cannot read: {problem}"), params={"path": path, "problem": exc.strerror}, reason="no-identity"
        ) from None
    try:
        if not data.endswith(b"\n"):
            raise EncodingError(N_("truncated (the file ends with a newline)"))
        document = canonical.decode(data[:-1])
        _check_document(document)
        return document
    except (EncodingError, StatementError) as exc:
        raise KeySetupError(
            N_("{path}: damaged: {problem}"), params={"path": path, "problem": exc}, reason="corrupt-identity"
        ) from None


def _check_document(document: dict[str, Any]) -> None:
    """Validate an identity document by building the objects it describes (raises EncodingError)."""
    Identity(Path(), document)


def _document(node_id: str, name: str, role: Role, keys: list[OwnKey], statements: list[Statement]) -> dict[str, Any]:
    return {
        "type": IDENTITY_TYPE,
        "v": 1,
        "node_id": node_id,
        "name": name,
        "role": role,
        "keys": [k.document() for k in keys],
        "statements": [s.envelope() for s in statements],
    }


def _own_key(value: object) -> OwnKey:
    doc = fields(value, "keys[]", {"key_id", "public", "created", "expires", "status", "changed"})
    try:
        status = OwnKeyStatus(doc["status"])
    except ValueError:
        raise EncodingError(N_("unknown key status {status!r:.20}"), params={"status": doc["status"]}) from None
    public = public_field(doc["public"])
    if public.key_id != check_key_id(doc["key_id"]):
        raise EncodingError(
            N_("key {key_id}: key id is not the fingerprint of its public keys"), params={"key_id": doc["key_id"]}
        )
    return OwnKey(
        key_id=doc["key_id"],
        public=public,
        created=parse_time(doc["created"], "created"),
        expires=parse_time(doc["expires"], "expires"),
        status=status,
        changed=None if doc["changed"] is None else parse_time(doc["changed"], "changed"),
    )


def _statement(value: object) -> Statement:
    if not isinstance(value, dict):
        raise EncodingError(N_("statements[] must be objects"))
    return parse_statement(canonical.encode(value))
