"""Encrypted private-key files: round trips, and every bad file refused with its own reason, untouched."""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from keys import canonical
from keys.errors import KeyFileError, KeySetupError, KeyStoreError, PassphraseError
from keys.identity import SecretKeys
from keys.keyfile import (
    DEFAULT_PROFILE,
    MIN_MEMLIMIT,
    MIN_OPSLIMIT,
    MINIMUM_PROFILE,
    TEST_PROFILE,
    KdfProfile,
    atomic_write,
    default_profile,
    open_key_file,
    read_key_file_info,
    write_key_file,
)

NOW = datetime.fromisoformat("2026-11-26T08:00:00+00:00")
PW = b"pass phrase"


def _write(
    path: Path, secret: SecretKeys, *, passphrase: bytes | None = PW, profile: KdfProfile = TEST_PROFILE
) -> None:
    write_key_file(
        path,
        secret,
        node_id="node-1",
        role="internal",
        created=NOW,
        expires=NOW + timedelta(days=365),
        passphrase=passphrase,
        profile=profile,
    )


@pytest.fixture
def secret() -> SecretKeys:
    return SecretKeys(bytes(range(32)), bytes(range(32, 64)))


@pytest.fixture
def key_path(tmp_path: Path, secret: SecretKeys) -> Path:
    path = tmp_path / "k.key"
    _write(path, secret)
    return path


def _edit(path: Path, change: Any, *, recheck: bool = True) -> None:
    """Rewrite a key file with ``change(doc)`` applied, recomputing its check digest (a deliberate edit)."""
    doc = orjson.loads(path.read_bytes())
    change(doc)
    if recheck:
        body = {k: v for k, v in doc.items() if k != "check"}
        doc["check"] = hashlib.sha256(b"credgap/v1 key-file-check\x00" + canonical.encode(body)).hexdigest()
    path.write_bytes(canonical.encode(doc) + b"\n")
    path.chmod(0o600)


def _fails(path: Path, exc_type: type[KeyStoreError], reason: str, passphrase: bytes = PW) -> KeyStoreError:
    before = path.read_bytes()
    with pytest.raises(exc_type) as info:
        open_key_file(path, lambda: passphrase)
    assert info.value.reason == reason
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)
    assert path.read_bytes() == before  # refusing a file never changes it
    return info.value


def test_round_trip(key_path: Path, secret: SecretKeys) -> None:
    info, opened = open_key_file(key_path, lambda: PW)
    assert opened.private_bytes() == secret.private_bytes()
    assert info.key_id == secret.key_id and info.node_id == "node-1" and info.role == "internal"
    assert info.profile == "insecure-test" and info.protected
    assert (key_path.stat().st_mode & 0o777) == 0o600
    raw = key_path.read_bytes()
    for part in secret.private_bytes():
        assert part.hex().encode() not in raw


def test_passphrase_is_asked_only_for_protected_files(tmp_path: Path, secret: SecretKeys) -> None:
    path = tmp_path / "open.key"
    _write(path, secret, passphrase=None)

    def never() -> bytes:
        raise AssertionError("no passphrase needed")

    info, opened = open_key_file(path, never)
    assert not info.protected and opened.key_id == secret.key_id


def test_parameters_are_recorded_and_the_minimum_opens_in_production(
    tmp_path: Path, secret: SecretKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDGAP_INSECURE_TEST_KDF")
    path = tmp_path / "real.key"
    _write(path, secret, profile=MINIMUM_PROFILE)
    protection = orjson.loads(path.read_bytes())["protection"]
    assert protection["kdf"] == "argon2id13" and protection["profile"] == "standard"
    assert protection["opslimit"] == 2 and protection["memlimit"] == MIN_MEMLIMIT == 64 * 1024 * 1024
    assert open_key_file(path, lambda: PW)[1].key_id == secret.key_id


def test_the_default_profile_is_stronger_than_the_minimum_and_recorded(
    tmp_path: Path, secret: SecretKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert default_profile() == TEST_PROFILE, "the test switch (set by the suite) gives the fast profile"
    monkeypatch.delenv("CREDGAP_INSECURE_TEST_KDF")
    assert default_profile() == DEFAULT_PROFILE
    assert DEFAULT_PROFILE.name == "standard"
    assert DEFAULT_PROFILE.opslimit > MIN_OPSLIMIT and DEFAULT_PROFILE.memlimit > MIN_MEMLIMIT
    # a real key file written without naming a profile (one real Argon2id derivation, 256 MiB)
    path = tmp_path / "default.key"
    write_key_file(
        path, secret, node_id="node-1", role="internal", created=NOW, expires=NOW + timedelta(days=365), passphrase=PW
    )
    protection = orjson.loads(path.read_bytes())["protection"]
    assert (protection["kdf"], protection["profile"], protection["opslimit"], protection["memlimit"]) == (
        "argon2id13",
        "standard",
        DEFAULT_PROFILE.opslimit,
        DEFAULT_PROFILE.memlimit,
    )
    assert read_key_file_info(path).protected


def test_wrong_passphrase(key_path: Path) -> None:
    err = _fails(key_path, PassphraseError, "wrong-passphrase", passphrase=b"not it")
    assert err.exit_code == 4


@pytest.mark.parametrize("keep", [0, 10, 200, -2])
def test_truncated(key_path: Path, keep: int) -> None:
    key_path.write_bytes(key_path.read_bytes()[:keep])
    err = _fails(key_path, KeyFileError, "corrupt-key-file")
    assert err.exit_code == 3


def test_damaged_byte_is_told_from_a_wrong_passphrase(key_path: Path) -> None:
    raw = bytearray(key_path.read_bytes())
    at = raw.index(b'"ciphertext":"') + 20
    raw[at] = ord("0") if raw[at] != ord("0") else ord("1")
    key_path.write_bytes(bytes(raw))
    assert "damaged" in str(_fails(key_path, KeyFileError, "corrupt-key-file"))


def test_edited_public_part_does_not_open(key_path: Path) -> None:
    """The public part is the AEAD's associated data: editing it (even with a fixed-up check) fails."""

    def rename(doc: dict[str, Any]) -> None:
        doc["node_id"] = "node-2"

    _edit(key_path, rename)
    _fails(key_path, PassphraseError, "wrong-passphrase")


def test_swapped_public_keys_are_refused(tmp_path: Path, key_path: Path) -> None:
    other = SecretKeys(bytes(32), bytes([1]) * 32)

    def swap(doc: dict[str, Any]) -> None:
        doc["public"] = {"sign": other.public.sign.hex(), "enc": other.public.enc.hex()}
        doc["key_id"] = other.key_id

    _edit(key_path, swap)
    _fails(key_path, PassphraseError, "wrong-passphrase")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_group_or_world_readable_file_is_refused(key_path: Path, mode: int) -> None:
    key_path.chmod(mode)
    err = _fails(key_path, KeySetupError, "key-file-permissions")
    assert f"{mode:04o}" in str(err) and err.exit_code == 2
    assert (key_path.stat().st_mode & 0o777) == mode


def test_symlink_is_refused(tmp_path: Path, key_path: Path) -> None:
    link = tmp_path / "link.key"
    link.symlink_to(key_path)
    with pytest.raises(KeySetupError) as info:
        open_key_file(link, lambda: PW)
    assert info.value.reason == "key-file-unreadable"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeySetupError) as info:
        open_key_file(tmp_path / "none.key", lambda: PW)
    assert info.value.reason == "missing-key-file"


@pytest.mark.parametrize(("ops", "mem"), [(1, MIN_MEMLIMIT), (2, MIN_MEMLIMIT // 2), (1, 8192)])
def test_too_weak_parameters_are_refused(key_path: Path, ops: int, mem: int) -> None:
    def weaken(doc: dict[str, Any]) -> None:
        doc["protection"].update(profile="standard", opslimit=ops, memlimit=mem)

    _edit(key_path, weaken)
    err = _fails(key_path, KeyFileError, "weak-key-file")
    assert "too weak" in str(err)


def test_absurd_parameters_are_refused_before_any_work(key_path: Path) -> None:
    def inflate(doc: dict[str, Any]) -> None:
        doc["protection"].update(profile="standard", opslimit=2, memlimit=2**50)

    _edit(key_path, inflate)
    _fails(key_path, KeyFileError, "corrupt-key-file")


def test_test_profile_is_refused_in_production(key_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDGAP_INSECURE_TEST_KDF")
    err = _fails(key_path, KeyFileError, "insecure-test-key-file")
    assert "test-only" in str(err)
    with pytest.raises(KeyFileError):
        read_key_file_info(key_path)
    monkeypatch.setenv("CREDGAP_INSECURE_TEST_KDF", "yes")  # only exactly "1" enables it
    _fails(key_path, KeyFileError, "insecure-test-key-file")


def test_test_profile_cannot_be_written_in_production(
    tmp_path: Path, secret: SecretKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDGAP_INSECURE_TEST_KDF")
    with pytest.raises(KeyFileError) as info:
        _write(tmp_path / "t.key", secret)
    assert info.value.reason == "insecure-test-key-file"
    assert not (tmp_path / "t.key").exists()


def test_weak_profile_cannot_be_written(tmp_path: Path, secret: SecretKeys) -> None:
    with pytest.raises(KeyFileError):
        _write(tmp_path / "w.key", secret, profile=KdfProfile("standard", 1, MIN_MEMLIMIT))
    assert list(tmp_path.iterdir()) == []


def test_empty_passphrase_is_refused(tmp_path: Path, secret: SecretKeys) -> None:
    with pytest.raises(KeySetupError) as info:
        _write(tmp_path / "e.key", secret, passphrase=b"")
    assert info.value.reason == "empty-passphrase"


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(v=2),
        lambda d: d.update(type="something-else"),
        lambda d: d.update(extra=1),
        lambda d: d.pop("expires"),
        lambda d: d["protection"].update(kdf="scrypt"),
        lambda d: d["protection"].update(nonce="00"),
        lambda d: d.update(ciphertext=d["ciphertext"][:-2]),
        lambda d: d.update(key_id="0" * 32),
    ],
    ids=["version", "type", "extra-field", "missing-field", "kdf", "nonce-length", "ciphertext-length", "key-id"],
)
def test_malformed_documents(key_path: Path, change: Any) -> None:
    _edit(key_path, change)
    _fails(key_path, KeyFileError, "corrupt-key-file")


def test_key_files_are_never_overwritten(key_path: Path, secret: SecretKeys) -> None:
    before = key_path.read_bytes()
    with pytest.raises(KeySetupError) as info:
        _write(key_path, secret)
    assert info.value.reason == "file-exists"
    assert key_path.read_bytes() == before
    assert sorted(p.name for p in key_path.parent.iterdir()) == ["k.key"]  # no temp file left


def test_atomic_write_mode_ignores_umask_and_replaces(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        atomic_write(tmp_path / "f", b"one", replace=False)
        atomic_write(tmp_path / "f", b"two", replace=True)
    finally:
        os.umask(old)
    assert (tmp_path / "f").read_bytes() == b"two"
    assert ((tmp_path / "f").stat().st_mode & 0o777) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["f"]
