"""Format-2 vectors (FORMAT.md §2.1, §10.6): the applications' kinds, their directions, the format-2-only
kinds refused in a format-1 package, the magic line and header disagreeing, hostile attachments, and the
internal node's acknowledgements (``application-status``)."""

from __future__ import annotations

import base64
import struct
import zlib
from typing import Any

from keys import canonical
from tests.vectors.generate import Vector, cp, manifest, manifest_return, raw_seal, record, sealed, stream_of
from transfer.items import Item


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def tiny_png() -> bytes:
    """A whole 1x1 grey PNG, built by hand so the vectors need no image library."""
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b"\x00\x80"))
        + _chunk(b"IEND", b"")
    )


def attachment(data: bytes, media_type: str = "image/png", name: str = "证明材料-1.png") -> dict[str, Any]:
    return {"name": name, "media_type": media_type, "data": base64.b64encode(data).decode()}


def binding_request() -> Item:
    return {
        "kind": "binding-request", "id": "0c" * 16, "account": "0a" * 16, "submitted": "2026-11-26T05:00:00Z",
        "subject_category": "legal", "identifier": "91350100M000100Y43", "name": "昆明云岭示例科技有限公司",
        "legal_rep": "张三", "contact": "13812345678",
    }  # fmt: skip


def application(**changes: Any) -> Item:
    item: Item = {
        "kind": "application", "id": "0d" * 16, "type": "repair", "binding": "0c" * 16, "table": "penalty",
        "key": f"{1:032x}", "version": 1, "submitted": "2026-11-26T06:00:00Z", "category": "repair",
        "target": None, "statement": "已按期缴纳罚款并完成整改，申请信用修复。", "contact": "138****5678",
        "attachments": [attachment(tiny_png())],
    }  # fmt: skip
    item.update(changes)
    return item


def application_status(**changes: Any) -> Item:
    """The internal node's acknowledgement of :func:`application`: received, and due in 15 working days."""
    item: Item = {"kind": "application-status", "id": "0d" * 16, "type": "repair", "received": "2026-11-26T06:10:00Z",
                  "due": "2026-12-17"}  # fmt: skip
    item.update(changes)
    return item


def decisions() -> list[Item]:
    return [
        {"kind": "binding-decision", "id": "0c" * 16, "decision": "approved", "subject_key": f"{1001:032x}",
         "decided": "2026-11-26T06:30:00Z", "reason": "经核对统一社会信用代码与法定代表人，予以绑定。"},
        {"kind": "application-decision", "id": "0d" * 16, "type": "repair", "decision": "approved",
         "decided": "2026-11-26T07:00:00Z", "reason": "符合信用修复条件，提前终止公示。"},
        {"kind": "record", "op": "withdraw", "table": "penalty", "key": f"{1:032x}", "version": 2,
         "reason": "repaired"},
    ]  # fmt: skip


def _return_raw(items: list[Item], seed: str, fmt: int = 2) -> bytes:
    counts: dict[str, int] = {"manifest": 1, "checkpoint": 1}
    for it in items:
        counts[it["kind"]] = counts.get(it["kind"], 0) + 1
    bodies = [canonical.encode(manifest_return()), cp("pub-c"), *(canonical.encode(it) for it in items)]
    return raw_seal(stream_of(bodies), counts=counts, sender="pub-c", recipient="int-a", seed=seed, fmt=fmt)


_RETURN: dict[str, Any] = {"trust": {"pub-c": "trusted"}, "reader": "int-a"}


def format2_vectors() -> list[Vector]:
    polyglot = tiny_png() + b"PK\x03\x04" + b"\x00" * 26  # an archive appended after the image's end
    return [
        Vector(
            "format2-ok",
            sealed([manifest(), record(1), *decisions()], seed="format2", fmt=2),
            "accept",
            "a format-2 package to a public node that advertised format 2: decisions and the record they change",
            items=6,
        ),
        Vector(
            "format2-applications-ok",
            sealed(
                [manifest_return(), binding_request(), application()],
                sender="pub-c",
                recipient="int-a",
                seed="format2-return",
                fmt=2,
            ),
            "accept",
            "a format-2 return package: a binding request and a repair application with a disarmed PNG",
            items=4,
            **_RETURN,
        ),
        Vector(
            "format2-kind-in-format1",
            raw_seal(
                stream_of([canonical.encode(manifest()), cp(), canonical.encode(decisions()[1])]),
                counts={"manifest": 1, "checkpoint": 1, "application-decision": 1},
                seed="format2-in-1",
            ),
            "unknown-kind",
            "an application decision inside a format-1 package (format-2 kinds exist in format 2 only)",
        ),
        Vector(
            "format2-wrong-direction",
            raw_seal(
                stream_of([canonical.encode(manifest()), cp(), canonical.encode(application())]),
                counts={"manifest": 1, "checkpoint": 1, "application": 1},
                seed="format2-dir",
                fmt=2,
            ),
            "kind-not-allowed",
            "an application sent by the internal node to a public node (a forged application)",
        ),
        Vector(
            "format2-magic-mismatch",
            raw_seal(
                stream_of([canonical.encode(manifest()), cp(), canonical.encode({"kind": "heartbeat"})]),
                counts={"manifest": 1, "checkpoint": 1, "heartbeat": 1},
                overrides={"format": 1},
                seed="format2-magic",
                fmt=2,
            ),
            "bad-header",
            "the format-2 magic line over a header whose format field says 1",
        ),
        Vector(
            "format2-attachment-polyglot",
            _return_raw([application(attachments=[attachment(polyglot)])], "format2-polyglot"),
            "bad-schema",
            "an attachment that is a PNG with a ZIP appended after its end (a polyglot)",
            **_RETURN,
        ),
        Vector(
            "format2-attachment-mismatch",
            _return_raw([application(attachments=[attachment(b"%PDF-1.7\n%%EOF\n")])], "format2-mismatch"),
            "bad-schema",
            "an attachment declared image/png whose content is a PDF (only disarmed images cross)",
            **_RETURN,
        ),
        Vector(
            "format2-attachment-name",
            _return_raw([application(attachments=[attachment(tiny_png(), name="../../etc/cron.d/x")])], "format2-name"),
            "bad-schema",
            "an attachment whose name is a path (traversal)",
            **_RETURN,
        ),
        Vector(
            "format2-too-many-attachments",
            _return_raw([application(attachments=[attachment(tiny_png())] * 6)], "format2-six"),
            "bad-schema",
            "six attachments: an application carries at most five",
            **_RETURN,
        ),
        Vector(
            "format2-status-ok",
            sealed(
                [manifest(), application_status(), application_status(id="0c" * 16, type="binding", due="2026-12-03")],
                seed="format2-status",
                fmt=2,
            ),
            "accept",
            "a format-2 package to a public node: the internal node acknowledges an application and a binding "
            "request (received, due)",
            items=4,
        ),
        Vector(
            "format2-status-in-format1",
            raw_seal(
                stream_of([canonical.encode(manifest()), cp(), canonical.encode(application_status())]),
                counts={"manifest": 1, "checkpoint": 1, "application-status": 1},
                seed="format2-status-in-1",
            ),
            "unknown-kind",
            "an acknowledgement inside a format-1 package (format-2 kinds exist in format 2 only)",
        ),
        Vector(
            "format2-status-wrong-direction",
            _return_raw([application_status()], "format2-status-dir"),
            "kind-not-allowed",
            "an acknowledgement sent by a public node to the internal node (only the internal node acknowledges)",
            **_RETURN,
        ),
        Vector(
            "format2-status-bad-schema",
            raw_seal(
                stream_of([canonical.encode(manifest()), cp(), canonical.encode(application_status(due="2026-02-30"))]),
                counts={"manifest": 1, "checkpoint": 1, "application-status": 1},
                seed="format2-status-bad",
                fmt=2,
            ),
            "bad-schema",
            "an acknowledgement whose due date is not a calendar date",
        ),
        Vector(
            "format2-repair-without-binding",
            _return_raw([application(binding=None)], "format2-unbound"),
            "bad-schema",
            "a repair application from an account not bound to the record's subject",
            **_RETURN,
        ),
    ]
