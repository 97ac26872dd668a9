"""Generate the package-format test vectors in ``tests/vectors/packages/`` and their index.

Fixed keys, a fixed clock and a private deterministic random source (used only here: production
sealing always draws from the OS) make the output byte-identical on every run;
``tests/vectors/test_vectors.py`` regenerates the vectors into a temporary folder and compares.

    python -m tests.vectors.generate            # rewrite tests/vectors/packages/
    python -m tests.vectors.generate --check    # exit 1 if the committed vectors differ
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import zstandard

from keys import Purpose, SecretKeys, canonical
from transfer.checkpoint import sign_checkpoint
from transfer.crypto import StreamEncryptor, mac_key, payload_key, wrap_file_key
from transfer.header import ZERO_DIGEST, Header, signed_prefix
from transfer.items import RECORD_TABLES, Item
from transfer.limits import CHUNK, DEFAULT_VALIDITY, SUITE_CG1, TAG_LEN
from transfer.seal import Recipient, seal

HERE = Path(__file__).resolve().parent
OUT = HERE / "packages"
NOW = 1_795_680_000  # 2026-11-26T08:00:00Z, the readers' clock for every vector
T0 = NOW - 3600  # when the good packages were created

# Fixed key seeds: test-only keys, published with the vectors.
SEEDS = {
    "int-a": (b"\x01" * 32, b"\x11" * 32),  # the internal node (sender)
    "pub-b": (b"\x02" * 32, b"\x12" * 32),  # the public node that reads the vectors
    "pub-c": (b"\x03" * 32, b"\x13" * 32),  # another public node (wrong role / wrong recipient)
    "int-x": (b"\x04" * 32, b"\x14" * 32),  # an internal node the reader does not trust, unless a vector says
    "int-r": (b"\x05" * 32, b"\x15" * 32),  # an internal node whose key was revoked
    "int-a-old": (b"\x06" * 32, b"\x16" * 32),  # int-a's earlier key, expired 50 days before NOW
}
ROLES = {"int-a": "internal", "pub-b": "public", "pub-c": "public", "int-x": "internal", "int-r": "internal",
         "int-a-old": "internal"}  # fmt: skip
NODES = {"int-a-old": "int-a"}  # the node of a key named otherwise than its node
KEY_CREATED = 1_767_225_600  # 2026-01-01T00:00:00Z: every key's card was made then
KEY_EXPIRES = {"int-a-old": NOW - 50 * 86400}  # the others expire 2028-01-01T00:00:00Z
DEFAULT_EXPIRES = 1_830_297_600


def keys(name: str) -> SecretKeys:
    sign, enc = SEEDS[name]
    return SecretKeys(sign, enc)


def node_of(name: str) -> str:
    """The node id a key belongs to (its name, unless :data:`NODES` says otherwise)."""
    return NODES.get(name, name)


class DeterministicRandom:
    """SHA-256 in counter mode over a fixed seed: reproducible bytes for the generator only."""

    def __init__(self, seed: str) -> None:
        self._seed = seed.encode()
        self._counter = 0

    def __call__(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(self._seed + self._counter.to_bytes(8, "big")).digest()
            self._counter += 1
        return out[:n]


def manifest() -> Item:
    return {"kind": "manifest", "policy": "5" * 64, "content": None, "note": "test vector"}


def record(i: int, name: str = "昆明云岭示例科技有限公司") -> Item:
    return {
        "kind": "record",
        "op": "upsert",
        "table": "penalty",
        "key": f"{i:032x}",
        "version": 1,
        "row": {
            "subject_key": f"{i + 1000:032x}",
            "subject_name": name,
            "subject_category": "legal_person",
            "uscc": "91350100M000100Y43",
            "doc_no": f"昆市监罚〔2026〕{i}号",
            "publish_until": "2027-11-26",
            "source_unit": "昆明市市场监督管理局",
            "severity": "general",
            "fine_amount": "2.5",
        },
    }


def good_items(n: int = 3) -> list[Item]:
    return [manifest(), *(record(i) for i in range(1, n + 1))]


def checkpoint(sender: str = "int-a") -> Item:
    """The checkpoint every package carries exactly once (FORMAT.md §13.4): here of an empty log, at T0."""
    cp = sign_checkpoint(
        keys(sender),
        node=node_of(sender),
        size=0,
        root=hashlib.sha256(b"").hexdigest(),
        at=datetime.fromtimestamp(T0, UTC),
    )
    return {"kind": "checkpoint", **cp.envelope()}


def cp(sender: str = "int-a") -> bytes:
    """:func:`checkpoint` encoded, for the item streams built by hand."""
    return canonical.encode(checkpoint(sender))


def with_checkpoint(items: list[Item], sender: str, count: int) -> list[Item]:
    """``items`` with ``count`` checkpoints after the manifest (FORMAT.md §13.4 puts one there)."""
    return [items[0], *(checkpoint(sender) for _ in range(count)), *items[1:]]


def sealed(
    items: list[Item],
    *,
    sender: str = "int-a",
    recipient: str = "pub-b",
    seq: int = 1,
    prev: str = ZERO_DIGEST,
    created: int = T0,
    package_type: str = "delta",
    seed: str = "vector",
    checkpoints: int = 1,
    fmt: int = 1,
) -> bytes:
    """A package as a correct writer seals it, with ``checkpoints`` checkpoint items after the manifest."""
    out, spool = io.BytesIO(), io.BytesIO()
    r = keys(recipient)
    seal(
        with_checkpoint(items, sender, checkpoints),
        sender_node=node_of(sender),
        sender_role=ROLES[sender],
        signer=keys(sender),
        recipient=Recipient(recipient, r.key_id, r.public.enc),
        seq=seq,
        prev=prev,
        created=created,
        out=out,
        spool=spool,
        package_type=package_type,
        rng=DeterministicRandom(seed),
        fmt=fmt,
    )
    return out.getvalue()


def raw_seal(
    item_stream: Callable[[bytes], bytes],
    *,
    counts: dict[str, int],
    overrides: dict[str, Any] | None = None,
    declared_plain: int | None = None,
    sender: str = "int-a",
    recipient: str = "pub-b",
    seed: str = "raw",
    window_log: int | None = None,
    fmt: int = 1,
) -> bytes:
    """A sealer without the writer's checks, to build packages a correct writer never produces.

    ``item_stream`` gets the MAC key and returns the whole plaintext item stream (trailer included).
    ``window_log`` makes the zstd frame declare a window of ``2**window_log`` bytes whatever its size.
    """
    rng = DeterministicRandom(seed)
    file_key, nonce = rng(32), rng(16)
    plain = item_stream(mac_key(file_key, nonce))
    compressed = zstd_frame(plain, window_log)
    r = keys(recipient)
    share, body = wrap_file_key(file_key, r.public.enc, rng)
    header = Header(
        suite=SUITE_CG1, type="delta", sender_node=node_of(sender), sender_key=keys(sender).key_id, recipient_node=recipient,
        recipient_key=r.key_id, seq=1, prev=ZERO_DIGEST, created=T0, not_after=T0 + DEFAULT_VALIDITY,
        counts=counts, compressed=len(compressed), plain=declared_plain if declared_plain is not None else len(plain),
        nonce=nonce.hex(), stanza_share=share.hex(), stanza_body=body.hex(),
    )  # fmt: skip
    doc = header.document()
    doc.update(overrides or {})
    doc.setdefault("format", fmt)
    if fmt != 1 and "format" not in (overrides or {}):
        doc["format"] = fmt
    signed = signed_prefix(canonical.encode(doc), fmt)
    sig = keys(sender).sign(Purpose.PACKAGE_HEADER, signed)
    enc = StreamEncryptor(payload_key(file_key, nonce, hashlib.sha256(signed).digest()))
    payload = b"".join(enc.update(compressed)) + enc.finish()
    return signed + sig + payload


def zstd_frame(plain: bytes, window_log: int | None = None) -> bytes:
    """One zstd frame of ``plain``; with ``window_log``, streamed without a content size, so the frame
    keeps the window it is given (a one-shot compression shrinks the window to fit the input)."""
    if window_log is None:
        return zstandard.ZstdCompressor(level=3).compress(plain)
    params = zstandard.ZstdCompressionParameters(compression_level=3, window_log=window_log, write_content_size=False)
    cobj = zstandard.ZstdCompressor(compression_params=params).compressobj()
    return cobj.compress(plain) + cobj.flush()


def frame(body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + body


def stream_of(bodies: list[bytes]) -> Callable[[bytes], bytes]:
    def build(key: bytes) -> bytes:
        import hmac

        data = b"".join(frame(b) for b in bodies) + (0).to_bytes(4, "big")
        return data + hmac.new(key, data, hashlib.sha256).digest()

    return build


def prefix_len(pkg: bytes) -> int:
    return 19 + 4 + int.from_bytes(pkg[19:23], "big") + 64


def flip(data: bytes, at: int) -> bytes:
    b = bytearray(data)
    b[at] ^= 0x01
    return bytes(b)


@dataclass
class Vector:
    name: str
    data: bytes
    expect: str  # accept | duplicate | gap | rebase | <reason code>
    description: str
    state: dict[str, Any] | None = None  # channel state of the reader, beyond a fresh channel
    trust: dict[str, str] | None = None  # node -> status; default: int-a trusted
    limits: dict[str, int] | None = None
    now: int = NOW
    items: int | None = None  # number of items an accepted vector yields (its checkpoint included)
    reader: str | None = None  # the node that opens it; default pub-b


def build() -> list[Vector]:
    v: list[Vector] = []
    ok = sealed(good_items())
    ok_digest = hashlib.sha256(ok).hexdigest()
    v.append(Vector("ok", ok, "accept", "a good delta package, seq 1", items=5))
    heartbeat = sealed([manifest(), {"kind": "heartbeat"}], seed="hb")
    v.append(Vector("heartbeat", heartbeat, "accept", "a heartbeat: nothing changed", items=3))
    v.append(
        Vector(
            "duplicate",
            ok,
            "duplicate",
            "the ok package again",
            state={"last_seq": 1, "last_digest": ok_digest, "applied": {"1": ok_digest}},
        )
    )
    pl = prefix_len(ok)
    v.append(Vector("bad-signature", flip(ok, pl - 1), "bad-signature", "last byte of the signature flipped"))
    v.append(
        Vector(
            "unknown-signer",
            sealed(good_items(), sender="int-x"),
            "unknown-signer",
            "signed by a key not in the trust store",
        )
    )
    v.append(
        Vector(
            "revoked-signer",
            sealed(good_items(), sender="int-r"),
            "revoked-signer",
            "signed by a revoked key",
            trust={"int-a": "trusted", "int-r": "revoked"},
        )
    )
    v.append(
        Vector(
            "wrong-role",
            sealed([manifest(), {"kind": "heartbeat"}], sender="pub-c"),
            "wrong-role",
            "a public node's package presented to a public node",
            trust={"int-a": "trusted", "pub-c": "trusted"},
        )
    )
    v.append(
        Vector(
            "wrong-recipient",
            sealed(good_items(), recipient="pub-c"),
            "wrong-recipient",
            "sealed for another public node",
        )
    )
    # mix-and-match: same file key and nonce, same sizes, other items: only the header binding catches it
    # mix-and-match: the other package has the same file key and nonce (same generator seed) and the
    # same sizes, but a different header (created + 1s): only binding the header hash into the
    # payload key makes its payload fail under this header
    other = sealed(good_items(), created=T0 + 1)
    assert len(other) == len(ok) and other[:pl] != ok[:pl]
    mixed = ok[:pl] + other[prefix_len(other) :]
    v.append(
        Vector("mix-and-match", mixed, "bad-ciphertext", "header and signature of one package, payload of another")
    )
    big = sealed([manifest(), _document(2 * CHUNK)], seed="big")
    assert len(big) - prefix_len(big) > 2 * (CHUNK + TAG_LEN)
    bp = prefix_len(big)
    c0, c1 = big[bp : bp + CHUNK + TAG_LEN], big[bp + CHUNK + TAG_LEN : bp + 2 * (CHUNK + TAG_LEN)]
    v.append(Vector("big-ok", big, "accept", "a package of three chunks (a 128 KiB document)", items=3))
    v.append(
        Vector(
            "chunk-reordered",
            big[:bp] + c1 + c0 + big[bp + 2 * (CHUNK + TAG_LEN) :],
            "bad-ciphertext",
            "first two chunks swapped",
        )
    )
    v.append(
        Vector(
            "truncated-chunk", big[: bp + 2 * (CHUNK + TAG_LEN)], "truncated", "last chunk removed at a chunk boundary"
        )
    )
    v.append(Vector("truncated-mid", ok[:-7], "truncated", "last 7 bytes cut"))
    v.append(Vector("truncated-header", ok[:40], "truncated", "cut inside the header"))
    v.append(Vector("extended", ok + b"\x00" * 16, "extended", "16 bytes appended"))
    tampered = ok.replace(b'"seq":1', b'"seq":3', 1)
    v.append(Vector("header-tampered", tampered, "bad-signature", "seq changed from 1 to 3 in the signed header"))
    v.append(Vector("ciphertext-tampered", flip(ok, pl + 5), "bad-ciphertext", "one bit of the payload flipped"))
    v.append(Vector("bad-magic", b"PK\x03\x04" + ok[4:], "bad-magic", "not a package at all"))
    v.append(
        Vector(
            "unknown-version-magic",
            ok.replace(b"credgap.package/v1", b"credgap.package/v3", 1),
            "unknown-version",
            "a v3 magic (formats 1 and 2 are read)",
        )
    )
    v.append(
        Vector(
            "unknown-version-field",
            raw_seal(
                stream_of([canonical.encode(manifest()), cp(), canonical.encode({"kind": "heartbeat"})]),
                counts={"manifest": 1, "checkpoint": 1, "heartbeat": 1},
                overrides={"format": 3},
            ),
            "unknown-version",
            "format field 3 under a v1 magic",
        )
    )
    v.append(
        Vector(
            "expired",
            sealed(good_items(), created=NOW - 30 * 86400, seed="old"),
            "expired",
            "created 30 days ago: past not_after and the newest",
        )
    )
    old_fill = sealed(good_items(), created=NOW - 30 * 86400, seed="old")
    v.append(
        Vector(
            "expired-gap-fill",
            old_fill,
            "accept",
            "an expired package filling a gap behind a newer pending one",
            state={"pending": {"2": "e" * 64}},
            items=5,
        )
    )
    v.append(
        Vector(
            "future-dated",
            sealed(good_items(), created=NOW + 86400, seed="future"),
            "future-dated",
            "created a day ahead of the reader",
        )
    )
    v.append(
        Vector(
            "replayed",
            ok,
            "replay",
            "seq 1 again on a channel at seq 3 that does not know it",
            state={"last_seq": 3, "last_digest": "a" * 64, "applied": {"3": "a" * 64}},
        )
    )
    v.append(
        Vector(
            "superseded",
            ok,
            "superseded",
            "seq 1 on a channel rebased on a snapshot at 3",
            state={"last_seq": 3, "last_digest": "a" * 64, "applied": {"3": "a" * 64}, "rebase_seq": 3},
        )
    )
    v.append(
        Vector(
            "equivocation",
            ok,
            "equivocation",
            "a second, different package for seq 1",
            state={"last_seq": 1, "last_digest": "b" * 64, "applied": {"1": "b" * 64}},
        )
    )
    seq3 = sealed(good_items(), seq=3, prev="c" * 64, seed="seq3")
    v.append(Vector("gap", seq3, "gap", "seq 3 on a fresh channel: waits for 1 and 2"))
    v.append(
        Vector(
            "fork",
            seq3,
            "fork",
            "seq 3 whose prev is not the digest of the reader's seq 2",
            state={"last_seq": 2, "last_digest": "d" * 64, "applied": {"1": "0" * 63 + "1", "2": "d" * 64}},
        )
    )
    snap = sealed(
        [manifest(), record(1), {"kind": "snapshot", "tables": sorted(RECORD_TABLES), "records": 1}],
        seq=9,
        prev="f" * 64,
        package_type="snapshot",
        seed="snap",
    )
    v.append(
        Vector(
            "snapshot-rebase",
            snap,
            "rebase",
            "a snapshot at seq 9 for a reader at seq 2",
            state={"last_seq": 2, "last_digest": "d" * 64, "applied": {"2": "d" * 64}},
        )
    )
    v.extend(_rebase_vectors())
    v.extend(_one_internal_node_vectors(ok))
    v.extend(_signer_validity_vectors())
    v.append(Vector("oversized", ok, "oversized", "bigger than the reader's file limit", limits={"max_file": 1000}))
    bomb_body = canonical.encode({"kind": "manifest", "policy": None, "content": None, "note": "x" * 900}) + b" " * (
        50 << 20
    )
    v.append(
        Vector(
            "decompression-bomb",
            raw_seal(
                lambda k: frame(bomb_body), counts={"manifest": 1, "checkpoint": 1}, declared_plain=4096, seed="bomb"
            ),
            "decompression-bomb",
            "50 MiB of payload behind a header that declares 4 KiB",
        )
    )
    v.append(
        Vector(
            "unknown-kind",
            raw_seal(
                stream_of(
                    [
                        canonical.encode(manifest()),
                        cp(),
                        canonical.encode({"kind": "sql", "text": "DROP TABLE penalty"}),
                    ]
                ),
                counts={"manifest": 1, "checkpoint": 1, "sql": 1},
            ),
            "unknown-kind",
            "an item of a kind outside the closed list",
        )
    )
    bad = record(1)
    del bad["row"]["publish_until"]
    v.append(
        Vector(
            "bad-schema",
            raw_seal(
                stream_of([canonical.encode(manifest()), cp(), canonical.encode(bad)]),
                counts={"manifest": 1, "checkpoint": 1, "record": 1},
            ),
            "bad-schema",
            "a record row without its publish_until field",
        )
    )
    v.append(
        Vector(
            "non-canonical-item",
            raw_seal(
                stream_of([canonical.encode(manifest()), cp(), b'{"kind": "heartbeat"}']),
                counts={"manifest": 1, "checkpoint": 1, "heartbeat": 1},
            ),
            "bad-schema",
            "an item with insignificant whitespace",
        )
    )
    v.append(
        Vector(
            "bad-counts",
            raw_seal(
                stream_of([canonical.encode(manifest()), cp(), canonical.encode({"kind": "heartbeat"})]),
                counts={"manifest": 1, "checkpoint": 1, "heartbeat": 2},
            ),
            "bad-payload",
            "the header declares two heartbeats, the payload has one",
        )
    )
    v.append(
        Vector(
            "bad-trailer",
            raw_seal(
                lambda k: stream_of([canonical.encode(manifest()), cp(), canonical.encode({"kind": "heartbeat"})])(
                    b"wrong key"
                ),
                counts={"manifest": 1, "checkpoint": 1, "heartbeat": 1},
            ),
            "bad-payload",
            "item stream MAC under the wrong key",
        )
    )
    v.append(
        Vector(
            "downgraded-suite",
            raw_seal(
                stream_of([canonical.encode(manifest()), cp(), canonical.encode({"kind": "heartbeat"})]),
                counts={"manifest": 1, "checkpoint": 1, "heartbeat": 1},
                overrides={"suite": 2},
                seed="suite",
            ),
            "downgraded-suite",
            "suite 2 on a channel pinned to suite 1",
            state={"suite": 1},
        )
    )
    v.append(
        Vector(
            "unsupported-suite",
            raw_seal(
                stream_of([canonical.encode(manifest()), cp(), canonical.encode({"kind": "heartbeat"})]),
                counts={"manifest": 1, "checkpoint": 1, "heartbeat": 1},
                overrides={"suite": 2},
                seed="suite",
            ),
            "unsupported-suite",
            "suite 2 on a fresh channel: v1 implements suite 1 only",
        )
    )
    wrong_dir = raw_seal(
        stream_of(
            [
                canonical.encode(manifest()),
                cp("pub-c"),
                canonical.encode({"kind": "heartbeat"}),
                canonical.encode(record(1)),
            ]
        ),
        counts={"manifest": 1, "checkpoint": 1, "heartbeat": 1, "record": 1},
        sender="pub-c",
        recipient="int-a",
        seed="dir",
    )
    v.append(
        Vector(
            "kind-not-allowed",
            wrong_dir,
            "kind-not-allowed",
            "a public node sending credit records to the internal node",
            trust={"pub-c": "trusted"},
            reader="int-a",
        )
    )
    v.append(
        Vector(
            "no-checkpoint",
            sealed(good_items(), checkpoints=0, seed="no-cp"),
            "bad-checkpoint",
            "a package without the checkpoint every package carries (FORMAT.md §13.4)",
        )
    )
    v.append(
        Vector(
            "two-checkpoints",
            sealed(good_items(), checkpoints=2, seed="two-cp"),
            "bad-checkpoint",
            "a package with two checkpoint items: exactly one is allowed",
        )
    )
    v.append(
        Vector(
            "sender-not-key-node",
            raw_seal(
                stream_of([canonical.encode(manifest_return()), cp("pub-c"), canonical.encode({"kind": "heartbeat"})]),
                counts={"manifest": 1, "checkpoint": 1, "heartbeat": 1},
                overrides={"sender": {"node": "pub-b", "key": keys("pub-c").key_id}},
                sender="pub-c",
                recipient="int-a",
                seed="sender-node",
            ),
            "wrong-sender",
            "signed by pub-c's key, the header naming pub-b as sender; the reader trusts both (issue 13 case 23)",
            trust={"pub-b": "trusted", "pub-c": "trusted"},
            reader="int-a",
        )
    )
    heartbeat_stream = stream_of([canonical.encode(manifest()), cp(), canonical.encode({"kind": "heartbeat"})])
    v.append(
        Vector(
            "zstd-window-too-large",
            raw_seal(
                heartbeat_stream, counts={"manifest": 1, "checkpoint": 1, "heartbeat": 1}, window_log=24, seed="window"
            ),
            "bad-payload",
            "a zstd frame that declares a 16 MiB window, above the 8 MiB readers allow",
        )
    )
    v.extend(_objection_vectors())
    from tests.vectors.format2 import format2_vectors  # (it builds on this module's helpers)

    v.extend(format2_vectors())
    return v


def snapshot_items() -> list[Item]:
    return [manifest(), record(1), {"kind": "snapshot", "tables": sorted(RECORD_TABLES), "records": 1}]


def _rebase_vectors() -> list[Vector]:
    """Issue 13 case 6: a snapshot signed with a stolen key must not rewind a channel for good (FORMAT.md §9.3)."""
    at_two = {"last_seq": 2, "last_digest": "d" * 64, "applied": {"2": "d" * 64}}
    far = sealed(snapshot_items(), seq=2 + 10_001, prev="f" * 64, package_type="snapshot", seed="far")
    heartbeat_stream = stream_of([canonical.encode(manifest()), cp(), canonical.encode({"kind": "heartbeat"})])
    counts = {"manifest": 1, "checkpoint": 1, "heartbeat": 1}
    return [
        Vector(
            "seq-above-limit",
            raw_seal(heartbeat_stream, counts=counts, overrides={"seq": 10**12, "prev": "f" * 64}, seed="seq-limit"),
            "bad-header",
            "seq 10^12: more than the 12 digits of a package file name",
        ),
        Vector(
            "seq-at-limit-too-far",
            raw_seal(heartbeat_stream, counts=counts, overrides={"seq": 10**12 - 1, "prev": "f" * 64}, seed="seq-top"),
            "rebase-too-far",
            "seq 10^12-1 is a valid header, but far beyond the rebase bound of a reader at seq 0",
        ),
        Vector(
            "rebase-too-far",
            far,
            "rebase-too-far",
            "a snapshot 10 001 ahead of a reader at seq 2 (bound 10 000)",
            state=at_two,
        ),
        Vector(
            "rebase-within-configured-bound",
            far,
            "rebase",
            "the same snapshot for a reader configured with a bound of 20 000",
            state=at_two,
            limits={"rebase_bound": 20_000},
        ),
        Vector(
            "snapshot-clock-regression",
            sealed(snapshot_items(), seq=9, prev="f" * 64, package_type="snapshot", seed="snap"),
            "clock-regression",
            "a snapshot created an hour before the package the reader applied last",
            state={**at_two, "last_created": T0 + 1},
        ),
        Vector(
            "snapshot-expired",
            sealed(
                snapshot_items(),
                seq=9,
                prev="f" * 64,
                created=NOW - 30 * 86400,
                package_type="snapshot",
                seed="snap-old",
            ),
            "expired",
            "an expired snapshot, although a newer package is parked: never a resend that fills a gap",
            state={**at_two, "pending": {"12": "e" * 64}},
        ),
    ]


def _signer_validity_vectors() -> list[Vector]:
    """Issue 13 case 7: the signer key must be valid at the reader's clock (FORMAT.md §9.1), not at the
    ``created`` its holder chose; an expired key's package is accepted only to fill a gap that a parked
    package vouched for by a valid key commits to."""
    old = sealed(good_items(), sender="int-a-old", created=NOW - 51 * 86400, seed="old-key")
    old_digest = hashlib.sha256(old).hexdigest()
    rotated = {"int-a": "trusted", "int-a-old": {"status": "superseded", "last_seq": 1}}
    return [
        Vector(
            "expired-signer",
            old,
            "expired-signer",
            "signed by a key that expired 50 days ago, created inside its validity, with a newer package parked",
            state={"pending": {"2": "e" * 64}},
            trust={"int-a-old": "trusted"},
        ),
        Vector(
            "expired-signer-gap-fill",
            old,
            "accept",
            "the old key's last package resent after it expired: the parked seq 2, signed by the current key, "
            "commits to its digest",
            state={"parked": [{"seq": 2, "digest": "e" * 64, "prev": old_digest, "signer": "int-a"}]},
            trust=rotated,
            items=5,
        ),
        Vector(
            "expired-signer-unvouched",
            old,
            "expired-signer",
            "the parked package that commits to it is itself signed by the expired key: it vouches for nothing",
            state={"parked": [{"seq": 2, "digest": "e" * 64, "prev": old_digest, "signer": "int-a-old"}]},
            trust=rotated,
        ),
    ]


def _one_internal_node_vectors(ok: bytes) -> list[Vector]:
    """Issue 13 case 9: a public node publishes exactly one internal node (FORMAT.md §9.5)."""
    both = {"int-a": "trusted", "int-x": "trusted"}
    return [
        Vector(
            "second-internal-node",
            sealed(good_items(), sender="int-x", seed="second-internal"),
            "wrong-sender",
            "a second internal node in the trust store (edited by hand) while the reader publishes int-a",
            trust=both,
            state={"publisher": "int-a"},
        ),
        Vector(
            "first-internal-node-goes-on",
            ok,
            "accept",
            "the internal node the reader publishes goes on beside the second one",
            trust=both,
            state={"publisher": "int-a"},
            items=5,
        ),
        Vector(
            "two-internal-nodes-none-published",
            ok,
            "wrong-sender",
            "two internal nodes in the trust store and none published yet: neither may publish",
            trust=both,
        ),
    ]


def objection(**changes: Any) -> Item:
    item: Item = {
        "kind": "objection", "id": "0b" * 16, "table": "penalty", "key": f"{1:032x}", "version": 1,
        "submitted": "2026-11-26T06:00:00Z", "category": "inaccurate",
        "statement": "该处罚决定已被行政复议撤销，请更正。", "contact": "138****5678",
    }  # fmt: skip
    item.update(changes)
    return item


def _objection_vectors() -> list[Vector]:
    """Objections go public → internal only, their resolutions internal → public only (FORMAT.md §10.2)."""
    resolution = {
        "kind": "objection-resolution", "id": "0b" * 16, "table": "penalty", "key": f"{1:032x}",
        "decision": "upheld", "decided": "2026-11-26T07:00:00Z", "reason": "经核实，原处罚决定已撤销，记录撤下。",
    }  # fmt: skip
    withdrawn = {"kind": "record", "op": "withdraw", "table": "penalty", "key": f"{1:032x}", "version": 2,
                 "reason": "objection-upheld"}  # fmt: skip
    return [
        Vector(
            "objection-ok",
            sealed([manifest_return(), objection()], sender="pub-c", recipient="int-a", seed="objection"),
            "accept",
            "a public node returns an objection to the internal node",
            trust={"pub-c": "trusted"},
            reader="int-a",
            items=3,
        ),
        Vector(
            "objection-resolution-ok",
            sealed([manifest(), resolution, withdrawn], seed="resolution"),
            "accept",
            "the internal node sends an objection's resolution with the record's withdrawal",
            items=4,
        ),
        Vector(
            "objection-wrong-direction",
            raw_seal(
                stream_of([canonical.encode(manifest()), cp(), canonical.encode(objection())]),
                counts={"manifest": 1, "checkpoint": 1, "objection": 1},
                seed="objection-dir",
            ),
            "kind-not-allowed",
            "an objection sent by the internal node to a public node",
        ),
        Vector(
            "objection-bad-schema",
            raw_seal(
                stream_of(
                    [
                        canonical.encode(manifest_return()),
                        cp("pub-c"),
                        canonical.encode(objection(contact="13812345678")),
                    ]
                ),
                counts={"manifest": 1, "checkpoint": 1, "objection": 1},
                sender="pub-c",
                recipient="int-a",
                seed="objection-schema",
            ),
            "bad-schema",
            "an objection whose contact is a full phone number, not a masked hint",
            trust={"pub-c": "trusted"},
            reader="int-a",
        ),
    ]


def manifest_return() -> Item:
    return {"kind": "manifest", "policy": None, "content": None, "note": ""}


def _document(size: int) -> Item:
    # a PNG by its magic bytes (FORMAT.md §10.5: signature, then an IHDR chunk), random beyond them
    data = b"\x00\x00\x00\x0dIHDR" + DeterministicRandom("document")(size - 16)
    return {
        "kind": "document", "op": "upsert", "key": "d" * 32, "version": 1, "name": "notice.png",
        "media_type": "image/png", "title": "行政处罚决定书", "subject_key": None, "publish_until": None,
        "data": base64.b64encode(b"\x89PNG\r\n\x1a\n" + data).decode(),
    }  # fmt: skip


def write(out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.cgp"):
        old.unlink()
    index: dict[str, Any] = {
        "format": "credgap.package/v1 and credgap.package/v2",
        "now": NOW,
        "keys": {
            n: {
                "role": ROLES[n],
                "node": node_of(n),
                "created": KEY_CREATED,
                "expires": KEY_EXPIRES.get(n, DEFAULT_EXPIRES),
                "key_id": keys(n).key_id,
                "sign": keys(n).public.sign.hex(),
                "enc": keys(n).public.enc.hex(),
            }
            for n in SEEDS
        },
        "reader": "pub-b, unless a vector names its reader",
        "vectors": [],
    }
    for vec in build():
        (out / f"{vec.name}.cgp").write_bytes(vec.data)
        entry: dict[str, Any] = {
            "name": vec.name,
            "file": f"{vec.name}.cgp",
            "sha256": hashlib.sha256(vec.data).hexdigest(),
            "expect": vec.expect,
            "description": vec.description,
        }
        for k in ("state", "trust", "limits", "items", "reader"):
            if getattr(vec, k) is not None:
                entry[k] = getattr(vec, k)
        if vec.now != NOW:
            entry["now"] = vec.now
        index["vectors"].append(entry)
    (out / "index.json").write_bytes(orjson.dumps(index, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
    return index


def main(argv: list[str]) -> int:
    if "--check" in argv:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            write(Path(tmp))
            same = all((Path(tmp) / f.name).read_bytes() == f.read_bytes() for f in OUT.iterdir())
            same = same and sorted(p.name for p in Path(tmp).iterdir()) == sorted(p.name for p in OUT.iterdir())
        print("vectors are up to date" if same else "vectors differ from the generator's output")
        return 0 if same else 1
    index = write(OUT)
    print(f"wrote {len(index['vectors'])} vectors to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
