"""The ``keys`` commands of both programs: the round trip between two homes, and every bad input
refused with one line naming the file, its exit code, a reason code in --json, and nothing changed."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from keys import canonical
from keys.identity_store import Identity
from keys.statements import make_succession
from nodekit import trust_store
from nodekit.runtime import Node
from public_node import SPEC as PUBLIC
from tests.helpers import CliResult, run_cli
from tests.identities import make_identity

PW_I = "internal pass phrase"
PW_P = "public pass phrase"
ENV_I = {"CREDGAP_PASSPHRASE": PW_I}
ENV_P = {"CREDGAP_PASSPHRASE": PW_P}


@pytest.fixture(autouse=True)
def _no_outside_passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDGAP_PASSPHRASE", raising=False)


def ik(home: Path, *args: str, env: dict[str, str | None] | None = None, input: str | None = None) -> CliResult:
    return run_cli("internal-node", "--home", str(home), "keys", *args, env=env or ENV_I, input=input)


def pk(home: Path, *args: str, env: dict[str, str | None] | None = None, input: str | None = None) -> CliResult:
    return run_cli("public-node", "--home", str(home), "keys", *args, env=env or ENV_P, input=input)


def ok(r: CliResult) -> CliResult:
    assert r.code == 0, (r.out, r.err)
    return r


@pytest.fixture
def homes(tmp_path: Path) -> tuple[Path, Path]:
    i, p = tmp_path / "internal", tmp_path / "public"
    ok(run_cli("internal-node", "--home", str(i), "init", "--name", "city-internal"))
    ok(run_cli("public-node", "--home", str(p), "init", "--name", "city-public"))
    ok(ik(i, "init"))
    ok(pk(p, "init"))
    return i, p


def fingerprint(home: Path, program: Callable[..., CliResult]) -> str:
    data = program(home, "show", "--json").json()
    assert isinstance(data, dict)
    return str(data["fingerprint"])


@pytest.fixture
def enrolled(homes: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    i, p = homes
    ok(ik(i, "export-card", "-o", str(tmp_path / "internal.card")))
    ok(pk(p, "export-card", "-o", str(tmp_path / "public.card")))
    ok(pk(p, "trust", str(tmp_path / "internal.card"), "--fingerprint", fingerprint(i, ik)))
    ok(ik(i, "trust", str(tmp_path / "public.card"), "--fingerprint", fingerprint(p, pk)))
    return homes


def home_state(home: Path) -> dict[str, Any]:
    """Every file of the home except the operational log, the lock files (each names its last holder)
    and the SQLite files, plus the database's content."""
    files = {
        str(f.relative_to(home)): f.read_bytes()
        for f in sorted(home.rglob("*"))
        if f.is_file() and f.parent.name not in ("logs", "locks") and not f.name.startswith("node.db")
    }
    db = sqlite3.connect(f"file:{home / 'node.db'}?mode=ro", uri=True)
    try:
        tables = {
            t: db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
            for t in ("trusted_key", "transfer_log", "node_meta")
        }
    finally:
        db.close()
    return {"files": files, "db": tables}


def events(home: Path) -> list[str]:
    db = sqlite3.connect(f"file:{home / 'node.db'}?mode=ro", uri=True)
    try:
        return [row[0] for row in db.execute('SELECT event FROM transfer_log ORDER BY "index"')]
    finally:
        db.close()


def refusal(
    home: Path, run: Callable[..., CliResult], args: list[str], *, code: int, reason: str, names: Path | str, **kw: Any
) -> str:
    """Run a command that must be refused: check --json, the one stderr line, the exit code, and the home."""
    before = home_state(home)
    r = run(home, *args, "--json", **kw)
    assert r.code == code, (r.out, r.err)
    doc = orjson.loads(r.out.strip().splitlines()[-1])
    assert doc["ok"] is False and doc["error"]["reason"] == reason, doc
    r2 = run(home, *args, **kw)
    assert r2.code == code
    errors = [line for line in r2.err.splitlines() if not line.startswith("warning:")]
    assert len(errors) == 1 and "error:" in errors[0], r2.err
    assert str(names) in errors[0], errors[0]
    assert "Traceback" not in r2.err
    assert home_state(home) == before
    return errors[0]


# -- the round trip ------------------------------------------------------------------------------


def test_keys_group_on_both_programs() -> None:
    for program in ("internal-node", "public-node"):
        r = ok(run_cli(program, "keys", "--help"))
        for cmd in ("init", "show", "list", "export-card", "trust", "rotate", "revoke", "distrust", "apply-statement"):
            assert cmd in r.out
            ok(run_cli(program, "keys", cmd, "--help"))


def test_round_trip(enrolled: tuple[Path, Path], tmp_path: Path) -> None:
    i, p = enrolled
    internal = Identity.load(i / "keys")
    public_node_id = Identity.load(p / "keys").node_id
    listed = pk(p, "list", "--json").json()
    assert isinstance(listed, dict)
    assert [(k["node_id"], k["status"]) for k in listed["trusted"]] == [(internal.node_id, "trusted")]
    old_key = internal.current_key_id

    # rotate: the statement travels in the next package; apply it as the package opener would
    r = ok(ik(i, "rotate", "--json"))
    rotated = r.json()
    assert isinstance(rotated, dict)
    assert rotated["old_key_id"] == old_key and rotated["last_seq"] == {public_node_id: 1}
    internal = Identity.load(i / "keys")
    assert internal.node_id == rotated["node_id"]  # same node id after rotation
    assert internal.signing_key_for(public_node_id, 1) == old_key
    carried = internal.statements_for(public_node_id, 1)
    assert len(carried) == 1
    public = Node.open(p, PUBLIC)
    try:
        with public.transaction() as s:
            trust_store.apply_statement(s, carried[0], public.clock())
        with public.sessions() as s:
            state = trust_store.load_trust_state(s)
        now = public.clock()
        assert state.signer(old_key, role="internal", seq=1, at=now).status.value == "superseded"
        assert state.current_for(internal.node_id).key_id == rotated["new_key_id"]
    finally:
        public.close()
    statuses = {k["key_id"]: k["status"] for k in pk(p, "list", "--json").json()["trusted"]}  # type: ignore[index]
    assert statuses == {old_key: "superseded", rotated["new_key_id"]: "trusted"}

    # revoke: the statement, carried out of band with the new card, makes the peer refuse the key
    ok(ik(i, "revoke", "--yes", "--reason", "compromised", "-o", str(tmp_path / "revocation.json")))
    applied = ok(pk(p, "apply-statement", str(tmp_path / "revocation.json"), "--json")).json()
    assert applied == {
        "ok": True,
        "kind": "revocation",
        "node_id": internal.node_id,
        "changed": True,
        "key_id": rotated["new_key_id"],
    }
    public = Node.open(p, PUBLIC)
    try:
        with public.sessions() as s:
            state = trust_store.load_trust_state(s)
        with pytest.raises(Exception) as info:
            state.signer(rotated["new_key_id"], role="internal", seq=2, at=public.clock())
        assert getattr(info.value, "reason", None) == "revoked-signer"
    finally:
        public.close()
    # the revoked key's card is refused for good; the replacement is enrolled by fingerprint
    revoked_card = tmp_path / "revoked.card"
    revoked_card.write_bytes((i / "keys" / f"{rotated['new_key_id']}.card").read_bytes())
    refusal(
        p,
        pk,
        ["trust", str(revoked_card), "--fingerprint", rotated["new_key_id"]],
        code=4,
        reason="revoked-key",
        names=revoked_card,
    )
    ok(ik(i, "export-card", "-o", str(tmp_path / "new.card")))
    ok(pk(p, "trust", str(tmp_path / "new.card"), "--fingerprint", fingerprint(i, ik)))
    assert events(p) == ["key.generated", "key.trusted", "key.rotated", "key.revoked", "key.trusted"]
    assert events(i) == ["key.generated", "key.trusted", "key.rotated", "key.revoked", "key.generated"]

    # the internal node's own keys: the first retired by the rotation, the second revoked, a third current
    newest = Identity.load(i / "keys").current_key_id
    assert len({old_key, rotated["new_key_id"], newest}) == 3
    own = ok(ik(i, "list", "--json")).json()["own"]  # type: ignore[index]
    assert (own["node_id"], own["name"], own["role"], own["key_id"]) == (
        internal.node_id,
        "city-internal",
        "internal",
        newest,
    )
    assert [(k["key_id"], k["status"]) for k in own["keys"]] == [
        (old_key, "retired"),
        (rotated["new_key_id"], "revoked"),
        (newest, "current"),
    ]
    lines = ok(ik(i, "list")).out.splitlines()
    assert lines[0] == f"own keys of city-internal ({internal.node_id}):"
    for k in own["keys"]:
        [row] = [line for line in lines if line.startswith(k["fingerprint"])]
        assert row.split()[len(k["fingerprint"].split())] == k["status"], row


def test_export_card_to_stdout_and_json(homes: tuple[Path, Path]) -> None:
    i, _ = homes
    r = ok(ik(i, "export-card"))
    card = canonical.decode(r.out.encode()[:-1])
    assert card["card"]["role"] == "internal"
    assert "fingerprint" in r.err
    data = ok(ik(i, "export-card", "--json")).json()
    assert isinstance(data, dict) and data["card"] == card["card"]


# -- passphrase sources --------------------------------------------------------------------------


def test_passphrase_sources(tmp_path: Path) -> None:
    home = tmp_path / "h"
    ok(run_cli("internal-node", "--home", str(home), "init"))
    # interactive: asked twice at init
    r = run_cli("internal-node", "--home", str(home), "keys", "init", input="typed secret\ntyped secret\n")
    assert r.code == 0, r.err
    assert "Passphrase" in r.err and "Repeat for confirmation" in r.err
    # --passphrase-file wins over the environment
    pfile = tmp_path / "pass"
    pfile.write_text("typed secret\n")
    ok(
        run_cli(
            "internal-node",
            "--home",
            str(home),
            "--passphrase-file",
            str(pfile),
            "keys",
            "rotate",
            env={"CREDGAP_PASSPHRASE": "wrong"},
        )
    )
    # the environment
    ok(run_cli("internal-node", "--home", str(home), "keys", "rotate", env={"CREDGAP_PASSPHRASE": "typed secret"}))
    # node.toml [keys] passphrase_file
    cfg = home / "node.toml"
    cfg.write_text(cfg.read_text().replace('passphrase_file = ""', f'passphrase_file = "{pfile}"'))
    ok(run_cli("internal-node", "--home", str(home), "keys", "rotate"))
    # nothing at all, no terminal
    cfg.write_text(cfg.read_text().replace(f'passphrase_file = "{pfile}"', 'passphrase_file = ""'))
    r = run_cli("internal-node", "--home", str(home), "keys", "rotate", "--json", input="")
    assert r.code == 2
    assert orjson.loads(r.out.strip().splitlines()[-1])["error"]["reason"] == "no-passphrase"


def test_mismatched_confirmation_at_init_makes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "h"
    ok(run_cli("internal-node", "--home", str(home), "init"))
    r = run_cli("internal-node", "--home", str(home), "keys", "init", input="one\ntwo\n")
    assert r.code == 2
    assert list((home / "keys").iterdir()) == []


def test_no_passphrase_warns_and_is_recorded(tmp_path: Path) -> None:
    home = tmp_path / "h"
    ok(run_cli("public-node", "--home", str(home), "init"))
    r = ok(pk(home, "init", "--no-passphrase", env={"CREDGAP_PASSPHRASE": None}))
    assert "WITHOUT a passphrase" in r.err
    assert events(home) == ["key.generated", "key.unprotected"]
    shown = ok(pk(home, "show", "--json")).json()
    assert isinstance(shown, dict) and shown["protection"] == "none"
    ok(pk(home, "rotate", env={"CREDGAP_PASSPHRASE": None}))  # needs no passphrase, stays unprotected
    assert events(home)[-2:] == ["key.rotated", "key.unprotected"]


# -- bad input -----------------------------------------------------------------------------------


def key_file(home: Path) -> Path:
    ident = Identity.load(home / "keys")
    return home / "keys" / f"{ident.current_key_id}.key"


def test_wrong_passphrase(homes: tuple[Path, Path]) -> None:
    i, _ = homes
    line = refusal(
        i, ik, ["rotate"], code=4, reason="wrong-passphrase", names=key_file(i), env={"CREDGAP_PASSPHRASE": "nope"}
    )
    assert line.endswith("wrong passphrase")


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_corrupted_key_file(homes: tuple[Path, Path], damage: str) -> None:
    i, _ = homes
    path = key_file(i)
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":
        at = raw.index(b'"ciphertext":"') + 30
        path.write_bytes(raw[:at] + (b"0" if raw[at : at + 1] != b"0" else b"1") + raw[at + 1 :])
    else:
        path.write_bytes(b"\x00\xff" * 50)
    refusal(i, ik, ["rotate"], code=3, reason="corrupt-key-file", names=path)


def test_world_readable_key_file(homes: tuple[Path, Path]) -> None:
    i, _ = homes
    path = key_file(i)
    path.chmod(0o644)
    line = refusal(i, ik, ["rotate"], code=2, reason="key-file-permissions", names=path)
    assert "0644" in line
    refusal(i, ik, ["show"], code=2, reason="key-file-permissions", names=path)


def test_too_weak_key_file(homes: tuple[Path, Path]) -> None:
    i, _ = homes
    path = key_file(i)
    doc = orjson.loads(path.read_bytes())
    doc["protection"].update(profile="standard", opslimit=1, memlimit=1024 * 1024)
    body = {k: v for k, v in doc.items() if k != "check"}
    doc["check"] = hashlib.sha256(b"credgap/v1 key-file-check\x00" + canonical.encode(body)).hexdigest()
    path.write_bytes(canonical.encode(doc) + b"\n")
    refusal(i, ik, ["rotate"], code=3, reason="weak-key-file", names=path)


def test_test_profile_key_file_refused_in_production(homes: tuple[Path, Path]) -> None:
    i, _ = homes
    refusal(
        i,
        ik,
        ["show"],
        code=3,
        reason="insecure-test-key-file",
        names=key_file(i),
        env={"CREDGAP_INSECURE_TEST_KDF": None},
    )


def test_bad_card_self_signature(enrolled: tuple[Path, Path], tmp_path: Path) -> None:
    _, p = enrolled
    card = tmp_path / "forged.card"
    envelope = orjson.loads((tmp_path / "internal.card").read_bytes())
    envelope["card"]["node_name"] = "someone else"
    card.write_bytes(canonical.encode(envelope) + b"\n")
    line = refusal(
        p,
        pk,
        ["trust", str(card), "--fingerprint", envelope["card"]["key_id"]],
        code=4,
        reason="bad-signature",
        names=card,
    )
    assert "self-signature" in line


def test_malformed_card(homes: tuple[Path, Path], tmp_path: Path) -> None:
    _, p = homes
    card = tmp_path / "junk.card"
    card.write_bytes(b'{"hello": "world"}')
    refusal(p, pk, ["trust", str(card), "--fingerprint", "0" * 32], code=3, reason="bad-card", names=card)


def test_fingerprint_mismatch(homes: tuple[Path, Path], tmp_path: Path) -> None:
    i, p = homes
    ok(ik(i, "export-card", "-o", str(tmp_path / "internal.card")))
    fp = fingerprint(i, ik)
    wrong = ("f" if fp[0] != "f" else "e") + fp[1:]
    line = refusal(
        p,
        pk,
        ["trust", str(tmp_path / "internal.card"), "--fingerprint", wrong],
        code=4,
        reason="fingerprint-mismatch",
        names=tmp_path / "internal.card",
    )
    assert "fingerprint mismatch" in line
    # issue 18 point 9: the card's real fingerprint is not echoed (it would be copied, not checked)
    assert fp not in line.replace(" ", "").replace(":", "") and fp not in line
    refusal(
        p,
        pk,
        ["trust", str(tmp_path / "internal.card"), "--fingerprint", fp[:19]],
        code=2,
        reason="bad-fingerprint",
        names=tmp_path / "internal.card",
    )


def test_trusting_a_trusted_card_again_is_idempotent(enrolled: tuple[Path, Path], tmp_path: Path) -> None:
    """Issue 18 point 9: the same enrolment run twice changes nothing and exits 0."""
    i, p = enrolled
    before = home_state(p)
    r = ok(pk(p, "trust", str(tmp_path / "internal.card"), "--fingerprint", fingerprint(i, ik)))
    assert r.out.startswith("already trusted: key ") and "nothing changed" in r.out
    doc = ok(pk(p, "trust", str(tmp_path / "internal.card"), "--fingerprint", fingerprint(i, ik), "--json")).json()
    assert isinstance(doc, dict) and doc["ok"] is True and doc["added"] is False
    assert home_state(p) == before


def test_own_card_is_named_plainly(homes: tuple[Path, Path], tmp_path: Path) -> None:
    i, _ = homes
    ok(ik(i, "export-card", "-o", str(tmp_path / "own.card")))
    line = refusal(
        i,
        ik,
        ["trust", str(tmp_path / "own.card"), "--fingerprint", fingerprint(i, ik)],
        code=3,
        reason="own-card",
        names=tmp_path / "own.card",
    )
    assert "this node's own identity card" in line


def test_a_short_passphrase_is_refused_at_init(tmp_path: Path) -> None:
    home = tmp_path / "internal"
    ok(run_cli("internal-node", "--home", str(home), "init"))
    r = ik(home, "init", env={"CREDGAP_PASSPHRASE": "short 名字"})
    assert r.code == 2 and "shorter than 12 characters" in r.err, r.err
    assert not list((home / "keys").glob("*.key"))
    ok(ik(home, "init", env={"CREDGAP_PASSPHRASE": "twelve chars"}))


def test_a_passphrase_file_others_can_read_is_warned(homes: tuple[Path, Path], tmp_path: Path) -> None:
    i, _ = homes
    secret = tmp_path / "pass"
    secret.write_text(PW_I + "\n")
    secret.chmod(0o600)
    r = ok(run_cli("internal-node", "--home", str(i), "--passphrase-file", str(secret), "keys", "rotate",
                   env={"CREDGAP_PASSPHRASE": None}))  # fmt: skip
    assert "passphrase file can be read" not in r.err
    secret.chmod(0o640)
    r = ok(run_cli("internal-node", "--home", str(i), "--passphrase-file", str(secret), "keys", "rotate",
                   env={"CREDGAP_PASSPHRASE": None}))  # fmt: skip
    assert f"warning: {secret}: the passphrase file can be read by its group or by others (mode 640)" in r.err


def test_unknown_key_id(enrolled: tuple[Path, Path]) -> None:
    _, p = enrolled
    refusal(p, pk, ["distrust", "ab" * 16], code=3, reason="unknown-key", names="ab" * 16)


def test_expired_card(homes: tuple[Path, Path], tmp_path: Path) -> None:
    _, p = homes
    old = make_identity(tmp_path / "old", role="internal", now=datetime.now().astimezone() - timedelta(days=800))
    card = tmp_path / "old.card"
    card.write_bytes(old.card().encode())
    line = refusal(
        p, pk, ["trust", str(card), "--fingerprint", old.current_key_id], code=3, reason="expired-card", names=card
    )
    assert "expired" in line


def test_distrusted_key(enrolled: tuple[Path, Path], tmp_path: Path) -> None:
    i, p = enrolled
    kid = Identity.load(i / "keys").current_key_id
    ok(pk(p, "distrust", kid))
    r = ok(pk(p, "distrust", kid, "--json"))
    assert r.json() == {
        "ok": True,
        "key_id": kid,
        "node_id": Identity.load(i / "keys").node_id,
        "status": "distrusted",
        "changed": False,
    }
    refusal(
        p,
        pk,
        ["trust", str(tmp_path / "internal.card"), "--fingerprint", kid],
        code=4,
        reason="revoked-key",
        names=tmp_path / "internal.card",
    )


def test_succession_by_an_untrusted_key(enrolled: tuple[Path, Path], tmp_path: Path) -> None:
    _, p = enrolled
    stranger = make_identity(tmp_path / "stranger", role="internal", now=datetime.now().astimezone())
    other = make_identity(tmp_path / "other", role="internal", now=datetime.now().astimezone())
    now = datetime.now().astimezone()
    st = make_succession(
        stranger.current_secret(),
        other.current_secret(),
        node_id=stranger.node_id,
        role="internal",
        new_created=now,
        new_expires=now + timedelta(days=30),
        created=now,
        last_seq={},
    )
    path = tmp_path / "succession.json"
    path.write_bytes(st.encode())
    refusal(p, pk, ["apply-statement", str(path)], code=4, reason="untrusted-key", names=path)


def test_succession_for_another_node(enrolled: tuple[Path, Path], tmp_path: Path) -> None:
    i, p = enrolled
    # a second public node, trusted by the internal node, tries to rotate the first one's identity (a
    # public node trusts only one internal node: issue 13 case 9)
    other = make_identity(tmp_path / "other", role="public", now=datetime.now().astimezone(), name="other-public")
    (tmp_path / "other.card").write_bytes(other.card().encode())
    ok(ik(i, "trust", str(tmp_path / "other.card"), "--fingerprint", other.current_key_id))
    victim = Identity.load(p / "keys")
    now = datetime.now().astimezone()
    st = make_succession(
        other.current_secret(),
        make_identity(tmp_path / "x", role="public", now=now).current_secret(),
        node_id=victim.node_id,
        role="public",
        new_created=now,
        new_expires=now + timedelta(days=30),
        created=now,
        last_seq={},
    )
    path = tmp_path / "hijack.json"
    path.write_bytes(st.encode())
    line = refusal(i, ik, ["apply-statement", str(path)], code=4, reason="wrong-node", names=path)
    assert "only rotate its own key" in line


def test_a_public_node_refuses_a_second_internal_node(enrolled: tuple[Path, Path], tmp_path: Path) -> None:
    """Issue 13 case 9: one line, exit 3, naming the internal node already published and the way bureaus
    feed the one credit database instead."""
    _, p = enrolled
    bureau = make_identity(tmp_path / "bureau", role="internal", now=datetime.now().astimezone(), name="tax-bureau")
    card = tmp_path / "bureau.card"
    card.write_bytes(bureau.card().encode())
    line = refusal(p, pk, ["trust", str(card), "--fingerprint", bureau.current_key_id], code=3, reason="wrong-sender",
                   names=card)  # fmt: skip
    assert "exactly one internal node" in line and "ingest FILE --kind KIND --source UNIT" in line


def test_init_twice(homes: tuple[Path, Path]) -> None:
    i, _ = homes
    refusal(i, ik, ["init"], code=2, reason="identity-exists", names=i / "keys" / "identity.json")


def test_commands_before_init(tmp_path: Path) -> None:
    home = tmp_path / "h"
    ok(run_cli("internal-node", "--home", str(home), "init"))
    refusal(home, ik, ["show"], code=2, reason="no-identity", names=home / "keys" / "identity.json")
    r = ok(ik(home, "list"))
    assert "none" in r.out


# -- no private key byte anywhere ----------------------------------------------------------------


def _forms(secret: bytes) -> list[bytes]:
    forms = [secret, secret.hex().encode(), secret.hex().upper().encode()]
    for enc in (base64.b64encode, base64.urlsafe_b64encode, base64.b32encode):
        forms += [enc(secret), enc(secret).rstrip(b"=")]
    return forms


def test_no_private_key_byte_in_any_output_log_or_json(tmp_path: Path) -> None:
    i, p = tmp_path / "internal", tmp_path / "public"
    outputs: list[str] = []

    def run(r: CliResult) -> CliResult:
        outputs.extend([r.out, r.err])
        return r

    run(run_cli("internal-node", "--home", str(i), "init"))
    run(run_cli("public-node", "--home", str(p), "init"))
    for home, prog in ((i, ik), (p, pk)):
        run(prog(home, "init"))
        run(prog(home, "init", "--json"))  # refused
        run(prog(home, "export-card", "-o", str(tmp_path / f"{home.name}.card")))
        run(prog(home, "export-card", "--json"))
        run(prog(home, "show"))
        run(prog(home, "show", "--json"))
    run(pk(p, "trust", str(tmp_path / "internal.card"), "--fingerprint", fingerprint(i, ik), "--json"))
    run(ik(i, "trust", str(tmp_path / "public.card"), "--fingerprint", fingerprint(p, pk)))
    run(ik(i, "rotate", "--json", "-o", str(tmp_path / "rot.json")))
    run(pk(p, "apply-statement", str(tmp_path / "rot.json"), "--json"))
    run(ik(i, "rotate", env={"CREDGAP_PASSPHRASE": "wrong"}))
    run(ik(i, "rotate", "--json", "--debug", env={"CREDGAP_PASSPHRASE": "wrong"}))
    run(ik(i, "revoke", "--yes", "--json", "-o", str(tmp_path / "rev.json")))
    run(pk(p, "apply-statement", str(tmp_path / "rev.json")))
    for home, prog in ((i, ik), (p, pk)):
        run(prog(home, "list"))
        run(prog(home, "list", "--json"))

    secrets: list[bytes] = []
    for home, pw in ((i, PW_I), (p, PW_P)):
        ident = Identity.load(home / "keys", passphrase=lambda pw=pw: pw.encode())  # type: ignore[misc]
        for key in ident.own_keys():
            secrets.extend(ident.secret_for(key.key_id).private_bytes())
    assert len(secrets) == 2 * (3 + 1)  # internal: 3 keys (init, rotate, revoke's replacement); public: 1

    haystacks: dict[str, bytes] = {f"output {n}": o.encode() for n, o in enumerate(outputs)}
    for home in (i, p):
        logs = home / "logs" / "node.log"
        assert logs.stat().st_size > 0  # the log was written, so finding nothing in it means something
        haystacks[str(logs)] = logs.read_bytes()
        db = sqlite3.connect(f"file:{home / 'node.db'}?mode=ro", uri=True)
        haystacks[f"{home} transfer_log"] = repr(db.execute("SELECT * FROM transfer_log").fetchall()).encode()
        haystacks[f"{home} trusted_key"] = repr(db.execute("SELECT * FROM trusted_key").fetchall()).encode()
        db.close()
        for public_file in [*(home / "keys").glob("*.card"), home / "keys" / "identity.json"]:
            haystacks[str(public_file)] = public_file.read_bytes()
    for f in tmp_path.glob("*.json"):
        haystacks[str(f)] = f.read_bytes()
    for f in tmp_path.glob("*.card"):
        haystacks[str(f)] = f.read_bytes()
    assert any(b"key.rotated" in h for h in haystacks.values())

    for secret in secrets:
        for form in _forms(secret):
            for where, text in haystacks.items():
                assert form not in text, f"private key material in {where}"
    for pw in (PW_I, PW_P):
        assert all(pw.encode() not in text for text in haystacks.values())
