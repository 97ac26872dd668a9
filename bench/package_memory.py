"""Seal and open one package of a given size in this process and report the peak RSS.

    python -m bench.package_memory 2048      # a 2 GB package (2048 x 10^6 bytes): under 150 MB peak RSS

Exits 1 when the peak resident set passes ``LIMIT_MB`` (the issue's bound), 0 otherwise.

Items are records with incompressible 60 KB fields, so the package is about the size asked for.
Used by tests/integration/test_package_memory.py (two sizes, flat peak) and by docs/PERFORMANCE.md.
"""

from __future__ import annotations

import hashlib
import os
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import orjson

from keys import KeyStatus, SecretKeys, TrustedKey, TrustState
from transfer.channel import ChannelState, check
from transfer.checkpoint import sign_checkpoint
from transfer.files import read_chunks
from transfer.header import ZERO_DIGEST
from transfer.opener import OpenContext, PackageOpener
from transfer.seal import Recipient, seal

FIELD = 60_000
LIMIT_MB = 150


def items(total_bytes: int, checkpoint: dict[str, object]) -> Iterator[dict[str, object]]:
    yield {"kind": "manifest", "policy": None, "content": None, "note": "memory benchmark"}
    yield checkpoint  # every package carries exactly one (docs/FORMAT.md §13.4)
    for i in range(max(1, total_bytes // FIELD)):
        note = os.urandom(FIELD // 2).hex()  # incompressible beyond hex's 2x
        yield {
            "kind": "record", "op": "upsert", "table": "penalty", "key": f"{i:032x}", "version": 1,
            "row": {"subject_key": f"{i:032x}", "subject_name": "昆明示例有限公司", "subject_category": "legal_person",
                    "uscc": None, "doc_no": str(i), "publish_until": None, "source_unit": "bench", "note": note},
        }  # fmt: skip


def run(megabytes: int, folder: Path) -> dict[str, float]:
    from datetime import UTC, datetime

    sender, recipient = SecretKeys(b"\x01" * 32, b"\x11" * 32), SecretKeys(b"\x02" * 32, b"\x12" * 32)
    now = int(time.time())
    pkg = folder / "package.cgp"
    empty = hashlib.sha256(b"").hexdigest()
    cp = sign_checkpoint(sender, node="int-a", size=0, root=empty, at=datetime.fromtimestamp(now, UTC))
    t0 = time.perf_counter()
    with pkg.open("wb") as out, tempfile.TemporaryFile(dir=folder) as spool:
        sealed = seal(
            items(megabytes * 1_000_000, {"kind": "checkpoint", **cp.envelope()}), sender_node="int-a", sender_role="internal", signer=sender,
            recipient=Recipient("pub-b", recipient.key_id, recipient.public.enc), seq=1, prev=ZERO_DIGEST,
            created=now, out=out, spool=spool,
        )  # fmt: skip
    t1 = time.perf_counter()
    trust = TrustState([
        TrustedKey(key_id=sender.key_id, node_id="int-a", node_name="int-a", role="internal", public=sender.public,
                   status=KeyStatus.TRUSTED, created=datetime(2000, 1, 1, tzinfo=UTC), expires=datetime(2100, 1, 1, tzinfo=UTC))
    ])  # fmt: skip
    ctx = OpenContext(own_node="pub-b", own_role="public", trust=trust, own_keys=lambda k: recipient, now=now)
    opener = PackageOpener(read_chunks(pkg), ctx, file_size=sealed.size, expected_digest=sealed.digest)
    check(opener.header().header, sealed.digest, ChannelState("int-a", "pub-b"), now=now, skew=600, pending_quota=1)
    n = sum(1 for _ in opener.items())
    t2 = time.perf_counter()
    pkg.unlink()
    return {
        "megabytes": megabytes,
        "package_bytes": sealed.size,
        "items": n,
        "seal_s": round(t1 - t0, 2),
        "open_s": round(t2 - t1, 2),
        "seal_MBps": round(sealed.size / 1e6 / (t1 - t0), 1),
        "open_MBps": round(sealed.size / 1e6 / (t2 - t1), 1),
        "peak_rss_mb": round(peak_rss_kb() / 1024, 1),
    }


def peak_rss_kb() -> int:
    """This process's own peak resident set (``VmHWM``). ``getrusage``'s ``ru_maxrss`` is not that on
    Linux: it keeps the high-water mark of the image this process was forked from before its exec, so
    a small process started by a large one (a pytest worker) reports the parent's size."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


if __name__ == "__main__":
    mb = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    with tempfile.TemporaryDirectory(dir=sys.argv[2] if len(sys.argv) > 2 else None) as tmp:
        result = run(mb, Path(tmp))
    print(orjson.dumps(result).decode())
    if result["peak_rss_mb"] > LIMIT_MB:
        print(f"peak RSS {result['peak_rss_mb']} MB is over the {LIMIT_MB} MB bound", file=sys.stderr)
        sys.exit(1)
