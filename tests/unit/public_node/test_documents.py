"""Published documents: only PDF, OFD, PNG and JPEG, recognised by their bytes, never by their name or
declared type alone; newer versions replace older ones; expiry hides them."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import date
from typing import Any

import pytest

from nodekit.runtime import Node
from public_node import store
from public_node.documents import check_document_bytes
from public_node.errors import DocumentRejected, PublicNodeError
from tests.unit.public_node.data import key

pytestmark = pytest.mark.db

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + b"\x00" * 17 + b"\x00\x00\x00\x00IEND\xaeB`\x82"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


def zip_of(*names: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name in names:
            z.writestr(name, "<ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016'/>")
    return buf.getvalue()


OFD = zip_of("OFD.xml", "Doc_0/Document.xml")


def doc(
    label: str = "d", *, version: int = 1, data: bytes = PDF, media_type: str = "application/pdf", **kw: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "key": key(label),
        "version": version,
        "name": "处罚决定书.pdf",
        "media_type": media_type,
        "data": data,
        "title": "行政处罚决定书",
        "subject_key": key("s"),
    }
    out.update(kw)
    return out


@pytest.mark.parametrize(
    ("media_type", "data"),
    [("application/pdf", PDF), ("image/png", PNG), ("image/jpeg", JPEG), ("application/ofd", OFD)],
)
def test_allowed_documents_are_stored_with_digest_and_size(
    node: Node, today: date, media_type: str, data: bytes
) -> None:
    with node.transaction() as s:
        assert store.store_document(s, doc(data=data, media_type=media_type)) is True
    with node.transaction() as s:
        got = store.get_document(s, key("d"), today=today)
        listed = store.documents_of_subject(s, key("s"), today=today)
    assert got is not None
    info, stored = got
    assert stored == data
    assert (info.media_type, info.size, info.sha256) == (media_type, len(data), hashlib.sha256(data).hexdigest())
    assert listed == [info]


@pytest.mark.parametrize(
    ("media_type", "data"),
    [
        ("image/jpeg", PNG),  # a PNG declared as JPEG
        ("application/pdf", JPEG),
        ("image/png", PDF),
        ("application/pdf", PDF[: PDF.index(b"%%EOF")]),  # truncated: no end marker
        ("application/pdf", b"<html><script>alert(1)</script></html>"),
        ("application/ofd", zip_of("Doc_0/OFD.xml")),  # OFD.xml not at the root
        ("application/ofd", zip_of("word/document.xml")),  # any other ZIP (a .docx)
        ("application/ofd", b"PK\x03\x04 not really a zip"),
        ("application/ofd", PDF),
        ("text/html", b"<html></html>"),
        ("image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
    ],
)
def test_bytes_that_do_not_match_the_media_type_are_rejected(media_type: str, data: bytes) -> None:
    with pytest.raises(DocumentRejected) as err:
        check_document_bytes(media_type, data)
    assert err.value.reason == "bad-document" and err.value.exit_code == 3
    assert isinstance(err.value, PublicNodeError)


@pytest.mark.parametrize(
    "change",
    [
        {"data": PNG},  # declared PDF
        {"data": b""},
        {"data": "not bytes"},
        {"name": "../etc/passwd"},
        {"name": ".hidden.pdf"},
        {"name": "a\\b.pdf"},
        {"name": "bad\nname.pdf"},
        {"name": "长" * 100},  # 300 bytes in UTF-8
        {"key": "../x"},
        {"version": 0},
        {"subject_key": "nope"},
        {"publish_until": "tomorrow"},
        {"title": None},
    ],
)
def test_store_document_rejects_bad_documents_and_stores_nothing(
    node: Node, today: date, change: dict[str, Any]
) -> None:
    with pytest.raises(DocumentRejected) as err, node.transaction() as s:
        store.store_document(s, doc() | change)
    assert err.value.reason == "bad-document"
    with node.transaction() as s:
        assert store.documents_of_subject(s, key("s"), today=today) == []


def test_newer_versions_replace_and_withdrawal_removes(node: Node, today: date) -> None:
    with node.transaction() as s:
        assert store.store_document(s, doc(version=2, data=PDF)) is True
        assert store.store_document(s, doc(version=1, data=PNG, media_type="image/png")) is False
        assert store.store_document(s, doc(version=2, data=JPEG, media_type="image/jpeg")) is False
    with node.transaction() as s:
        got = store.get_document(s, key("d"), today=today)
        assert got is not None and got[0].version == 2 and got[1] == PDF
        assert store.store_document(s, doc(version=3, data=JPEG, media_type="image/jpeg", name="照片.jpg")) is True
    with node.transaction() as s:
        got = store.get_document(s, key("d"), today=today)
        assert got is not None and got[0].name == "照片.jpg" and got[1] == JPEG
        assert store.withdraw_document(s, key("d"), 2) is False
        assert store.withdraw_document(s, key("d"), 3) is True
    with node.transaction() as s:
        assert store.get_document(s, key("d"), today=today) is None


def test_documents_past_their_publication_end_are_hidden_and_purged(node: Node) -> None:
    with node.transaction() as s:
        store.store_document(s, doc("old", publish_until="2026-03-31"))
        store.store_document(s, doc("forever"))
    with node.transaction() as s:
        assert store.get_document(s, key("old"), today=date(2026, 3, 31)) is not None
        assert store.get_document(s, key("old"), today=date(2026, 4, 1)) is None
        assert [d.key for d in store.documents_of_subject(s, key("s"), today=date(2026, 4, 1))] == [key("forever")]
    with node.transaction() as s:
        assert store.purge_expired(s, date(2026, 4, 1)) == {"document": 1}
    with node.transaction() as s:
        assert store.get_document(s, key("old"), today=date(2026, 1, 1)) is None
