"""Encrypted private-key files: Argon2id + XChaCha20-Poly1305, written atomically with mode 0600.

A key file is one canonical JSON document (``keys.canonical``) and a newline. Its public part names
the node, the key id, the public keys, the validity and every parameter needed to open it; the
AEAD's associated data is that public part (under the ``key-file`` context), so a file whose
parameters or public keys were edited does not open. A ``check`` digest over the whole document
tells an accidentally damaged file from a wrong passphrase.

Argon2id strength: loading refuses less than libsodium's *interactive* limits (2 passes, 64 MiB);
new files use 3 passes and 256 MiB. A deliberately weak profile exists for tests only: it can be
written or read only while ``CREDGAP_INSECURE_TEST_KDF=1`` is set, and the file records it, so a
production process refuses such a file. ``--no-passphrase`` files (profile ``none``) use a fixed
public key: the AEAD then only detects damage, and the file's secrecy rests on its mode alone.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import nacl.bindings as sodium
import nacl.exceptions
import nacl.pwhash.argon2id as argon2id

from keys import canonical
from keys.contexts import Purpose, signed_message
from keys.errors import N_, EncodingError, KeyFileError, KeySetupError, PassphraseError
from keys.identity import PublicKeys, Role, SecretKeys, check_key_id
from keys.schema import fields, hex_field, int_field, node_id_field, public_field, role_field
from keys.times import format_time, parse_time

FILE_TYPE = "credgap-private-key"
INSECURE_TEST_ENV = "CREDGAP_INSECURE_TEST_KDF"
KDF_ARGON2ID = "argon2id13"
KDF_NONE = "none"
AEAD = "xchacha20poly1305-ietf"
MIN_OPSLIMIT = argon2id.OPSLIMIT_INTERACTIVE  # 2
MIN_MEMLIMIT = argon2id.MEMLIMIT_INTERACTIVE  # 64 MiB
# Upper bounds keep a hostile key file from making the loader spin or allocate without end.
MAX_OPSLIMIT = 32
MAX_MEMLIMIT = 4 * 1024**3
MAX_FILE_BYTES = 16 * 1024
_SALT_BYTES = argon2id.SALTBYTES
_NONCE_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
_PLAIN_BYTES = 64  # Ed25519 seed || X25519 private key
_UNPROTECTED_KEY = hashlib.sha256(b"credgap/v1 unprotected key file").digest()

Random = Callable[[int], bytes]
Passphrase = Callable[[], bytes]


@dataclass(frozen=True)
class KdfProfile:
    """Argon2id cost parameters under a recorded profile name."""

    name: str
    opslimit: int
    memlimit: int


DEFAULT_PROFILE = KdfProfile("standard", 3, 256 * 1024 * 1024)
MINIMUM_PROFILE = KdfProfile("standard", MIN_OPSLIMIT, MIN_MEMLIMIT)
TEST_PROFILE = KdfProfile("insecure-test", argon2id.OPSLIMIT_MIN, argon2id.MEMLIMIT_MIN)
_PROFILES = ("standard", "insecure-test")


def insecure_test_kdf_allowed(environ: Mapping[str, str] | None = None) -> bool:
    """True only while ``CREDGAP_INSECURE_TEST_KDF=1`` is set (the test suites set it)."""
    return (os.environ if environ is None else environ).get(INSECURE_TEST_ENV) == "1"


def default_profile() -> KdfProfile:
    """The profile for new key files: the weak test profile under the test switch, else the default."""
    return TEST_PROFILE if insecure_test_kdf_allowed() else DEFAULT_PROFILE


@dataclass(frozen=True)
class KeyFileInfo:
    """The public part of a key file: whose key it is, its id, public keys, validity and protection."""

    path: Path
    node_id: str
    role: Role
    key_id: str
    public: PublicKeys
    created: datetime
    expires: datetime
    profile: str  # "standard", "insecure-test" or "none"

    @property
    def protected(self) -> bool:
        return self.profile != KDF_NONE


# -- writing -------------------------------------------------------------------------------------


def write_key_file(
    path: Path,
    secret: SecretKeys,
    *,
    node_id: str,
    role: Role,
    created: datetime,
    expires: datetime,
    passphrase: bytes | None,
    profile: KdfProfile | None = None,
    random: Random = os.urandom,
    allow_insecure_test_kdf: bool | None = None,
) -> KeyFileInfo:
    """Encrypt ``secret`` under ``passphrase`` (None: no passphrase) into a new file at ``path``.

    Never overwrites: a key file, once written, is only ever read.
    """
    profile = profile or default_profile()
    allowed = insecure_test_kdf_allowed() if allow_insecure_test_kdf is None else allow_insecure_test_kdf
    nonce = random(_NONCE_BYTES)
    protection: dict[str, Any]
    if passphrase is None:
        protection = {"kdf": KDF_NONE, "profile": KDF_NONE, "aead": AEAD, "nonce": nonce.hex()}
        key = _UNPROTECTED_KEY
    else:
        if not passphrase:
            raise KeySetupError(
                N_("the passphrase is empty; give one, or use --no-passphrase"), reason="empty-passphrase"
            )
        _check_profile(path, profile.name, profile.opslimit, profile.memlimit, allowed)
        salt = random(_SALT_BYTES)
        protection = {
            "kdf": KDF_ARGON2ID,
            "profile": profile.name,
            "opslimit": profile.opslimit,
            "memlimit": profile.memlimit,
            "salt": salt.hex(),
            "aead": AEAD,
            "nonce": nonce.hex(),
        }
        key = argon2id.kdf(32, passphrase, salt, opslimit=profile.opslimit, memlimit=profile.memlimit)
    doc: dict[str, Any] = {
        "type": FILE_TYPE,
        "v": 1,
        "node_id": node_id,
        "role": role,
        "key_id": secret.key_id,
        "public": {"sign": secret.public.sign.hex(), "enc": secret.public.enc.hex()},
        "created": format_time(created),
        "expires": format_time(expires),
        "protection": protection,
    }
    sign_seed, enc_private = secret.private_bytes()
    ciphertext = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        sign_seed + enc_private, _associated_data(doc), nonce, key
    )
    doc["ciphertext"] = ciphertext.hex()
    doc["check"] = _check_digest(doc)
    atomic_write(path, canonical.encode(doc) + b"\n", replace=False)
    return _info(path, doc)


def atomic_write(path: Path, data: bytes, *, replace: bool, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` all or nothing: temp file (``mode``), fsync, rename, fsync the directory.

    With ``replace=False`` an existing ``path`` is never overwritten (the rename is a hard link).
    """
    directory = path.parent
    tmp = directory / f".{path.name}.{os.urandom(6).hex()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        try:
            os.fchmod(fd, mode)  # the umask may have narrowed it; never widened
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            tmp.replace(path)
        else:
            try:
                os.link(tmp, path)  # fails if path exists, unlike rename
            except FileExistsError as exc:
                raise KeySetupError(
                    N_("{path}: already exists; refusing to overwrite it"), params={"path": path}, reason="file-exists"
                ) from exc
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# -- reading -------------------------------------------------------------------------------------


def read_private_file(path: Path, *, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a file holding private material, refused unless it is a regular file of ours
    that neither group nor others can read (checked on the open descriptor, not the name)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError as exc:
        raise KeySetupError(N_("{path}: missing"), params={"path": path}, reason="missing-key-file") from exc
    except OSError as exc:
        raise KeySetupError(
            N_("{path}: cannot open: {problem}"),
            params={"path": path, "problem": exc.strerror},
            reason="key-file-unreadable",
        ) from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KeySetupError(N_("{path}: not a regular file"), params={"path": path}, reason="key-file-unreadable")
        if st.st_mode & 0o077:
            raise KeySetupError(
                N_(
                    "{path}: mode {mode:04o} lets group or others read it; refusing to use it (expected 0600: chmod 600 {path}, and consider the key exposed)"
                ),
                params={"path": path, "mode": stat.S_IMODE(st.st_mode)},
                reason="key-file-permissions",
            )
        if st.st_size > limit:
            raise KeyFileError(
                N_("{path}: {st_size} bytes, more than a key file can be ({limit})"),
                params={"path": path, "st_size": st.st_size, "limit": limit},
            )
        with os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read(limit + 1)
    finally:
        os.close(fd)


def read_key_file_info(path: Path, *, allow_insecure_test_kdf: bool | None = None) -> KeyFileInfo:
    """Read and check the public part of a key file (no passphrase needed)."""
    return _info(path, _load(path, allow_insecure_test_kdf))


def open_key_file(
    path: Path, passphrase: Passphrase, *, allow_insecure_test_kdf: bool | None = None
) -> tuple[KeyFileInfo, SecretKeys]:
    """Check and decrypt a key file; ``passphrase`` is called only if the file is protected."""
    doc = _load(path, allow_insecure_test_kdf)
    info = _info(path, doc)
    protection = doc["protection"]
    nonce = bytes.fromhex(protection["nonce"])
    if protection["kdf"] == KDF_NONE:
        key = _UNPROTECTED_KEY
    else:
        secret = passphrase()
        key = argon2id.kdf(
            32,
            secret,
            bytes.fromhex(protection["salt"]),
            opslimit=protection["opslimit"],
            memlimit=protection["memlimit"],
        )
    public_part = {k: v for k, v in doc.items() if k not in ("ciphertext", "check")}
    try:
        plain = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            bytes.fromhex(doc["ciphertext"]), _associated_data(public_part), nonce, key
        )
    except nacl.exceptions.CryptoError:
        if protection["kdf"] == KDF_NONE:
            raise KeyFileError(
                N_("{path}: the private part does not authenticate (damaged file)"), params={"path": path}
            ) from None
        raise PassphraseError(N_("wrong passphrase"), where=f"{path}: ") from None
    keys = SecretKeys(plain[:32], plain[32:])
    if keys.public != info.public:
        raise KeyFileError(
            N_("{path}: the private keys do not match the public keys recorded in the file"), params={"path": path}
        )
    return info, keys


def _load(path: Path, allow_insecure_test_kdf: bool | None) -> dict[str, Any]:
    data = read_private_file(path)
    if not data.endswith(b"\n"):
        raise KeyFileError(N_("{path}: truncated (a key file ends with a newline)"), params={"path": path})
    try:
        doc = canonical.decode(data[:-1])
    except EncodingError as exc:
        raise KeyFileError(
            N_("{path}: not a credgap key file (truncated or corrupted: {problem})"),
            params={"path": path, "problem": exc},
        ) from None
    try:
        _check_schema(doc)
    except EncodingError as exc:
        raise KeyFileError(
            N_("{path}: not a valid credgap key file: {problem}"), params={"path": path, "problem": exc}
        ) from None
    if not hmac.compare_digest(doc["check"], _check_digest(doc)):
        raise KeyFileError(N_("{path}: damaged (its check digest does not match its contents)"), params={"path": path})
    protection = doc["protection"]
    if protection["kdf"] == KDF_ARGON2ID:
        allowed = insecure_test_kdf_allowed() if allow_insecure_test_kdf is None else allow_insecure_test_kdf
        _check_profile(path, protection["profile"], protection["opslimit"], protection["memlimit"], allowed)
    return doc


def _check_profile(path: Path, name: str, opslimit: int, memlimit: int, test_allowed: bool) -> None:
    if opslimit > MAX_OPSLIMIT or memlimit > MAX_MEMLIMIT:
        raise KeyFileError(
            N_(
                "{path}: Argon2id parameters opslimit={opslimit} memlimit={memlimit} exceed the supported maximum (opslimit {max_opslimit}, memlimit {max_memlimit})"
            ),
            params={
                "path": path,
                "opslimit": opslimit,
                "memlimit": memlimit,
                "max_opslimit": MAX_OPSLIMIT,
                "max_memlimit": MAX_MEMLIMIT,
            },
        )
    if name == TEST_PROFILE.name:
        if not test_allowed:
            raise KeyFileError(
                N_(
                    "{path}: uses the insecure test-only Argon2id profile; a real node refuses it (re-create the key, or set {insecure_test_env}=1 in tests only)"
                ),
                params={"path": path, "insecure_test_env": INSECURE_TEST_ENV},
                reason="insecure-test-key-file",
            )
        return
    if opslimit < MIN_OPSLIMIT or memlimit < MIN_MEMLIMIT:
        raise KeyFileError(
            N_(
                "{path}: Argon2id parameters too weak: opslimit={opslimit} memlimit={memlimit_kib} KiB; at least opslimit={min_opslimit} memlimit={min_memlimit_kib} KiB are required"
            ),
            params={
                "path": path,
                "opslimit": opslimit,
                "memlimit_kib": memlimit // 1024,
                "min_opslimit": MIN_OPSLIMIT,
                "min_memlimit_kib": MIN_MEMLIMIT // 1024,
            },
            reason="weak-key-file",
        )


def _associated_data(public_part: Mapping[str, Any]) -> bytes:
    return signed_message(Purpose.KEY_FILE, canonical.encode(dict(public_part)))


def _check_digest(doc: Mapping[str, Any]) -> str:
    body = {k: v for k, v in doc.items() if k != "check"}
    return hashlib.sha256(b"credgap/v1 key-file-check\x00" + canonical.encode(body)).hexdigest()


def _info(path: Path, doc: Mapping[str, Any]) -> KeyFileInfo:
    return KeyFileInfo(
        path=path,
        node_id=doc["node_id"],
        role=doc["role"],
        key_id=doc["key_id"],
        public=PublicKeys(bytes.fromhex(doc["public"]["sign"]), bytes.fromhex(doc["public"]["enc"])),
        created=parse_time(doc["created"], "created"),
        expires=parse_time(doc["expires"], "expires"),
        profile=doc["protection"]["profile"],
    )


# -- schema --------------------------------------------------------------------------------------


def _check_schema(doc: dict[str, Any]) -> None:
    fields(
        doc,
        "key file",
        {"type", "v", "node_id", "role", "key_id", "public", "created", "expires", "protection", "ciphertext", "check"},
    )
    if doc["type"] != FILE_TYPE or doc["v"] != 1:
        raise EncodingError(
            N_("type/v must be {file_type}/1, found {type!r:.40}/{v!r:.10}"),
            params={"file_type": FILE_TYPE, "type": doc["type"], "v": doc["v"]},
        )
    node_id_field(doc["node_id"])
    role_field(doc["role"])
    check_key_id(doc["key_id"])
    public = public_field(doc["public"])
    if public.key_id != doc["key_id"]:
        raise EncodingError(N_("key_id is not the fingerprint of the public keys"))
    created = parse_time(doc["created"], "created")
    if parse_time(doc["expires"], "expires") <= created:
        raise EncodingError(N_("expires is not after created"))
    protection = doc["protection"]
    kdf = protection.get("kdf") if isinstance(protection, dict) else None
    if kdf == KDF_NONE:
        fields(protection, "protection", {"kdf", "profile", "aead", "nonce"})
        if protection["profile"] != KDF_NONE:
            raise EncodingError(N_("protection.profile must be 'none' without a passphrase"))
    elif kdf == KDF_ARGON2ID:
        fields(protection, "protection", {"kdf", "profile", "opslimit", "memlimit", "salt", "aead", "nonce"})
        if protection["profile"] not in _PROFILES:
            raise EncodingError(
                N_("protection.profile must be one of {profiles}"), params={"profiles": ", ".join(_PROFILES)}
            )
        int_field(protection["opslimit"], "protection.opslimit", 1, 2**32 - 1)
        int_field(protection["memlimit"], "protection.memlimit", 1, 2**53 - 1)
        hex_field(protection["salt"], "protection.salt", _SALT_BYTES)
    else:
        raise EncodingError(
            N_("protection.kdf must be {kdf_argon2id} or {kdf_none}"),
            params={"kdf_argon2id": KDF_ARGON2ID, "kdf_none": KDF_NONE},
        )
    if protection["aead"] != AEAD:
        raise EncodingError(N_("protection.aead must be {aead}"), params={"aead": AEAD})
    hex_field(protection["nonce"], "protection.nonce", _NONCE_BYTES)
    hex_field(doc["ciphertext"], "ciphertext", _PLAIN_BYTES + 16)
    hex_field(doc["check"], "check", 32)
