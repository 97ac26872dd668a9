"""Document media types by magic bytes: each rule of docs/FORMAT.md §10.5, at its edges."""

from __future__ import annotations

import io
import zipfile

import pytest

from transfer.media import matches, sniff

PNG_SIG = b"\x89PNG\r\n\x1a\n"


def pdf(tail_gap: int) -> bytes:
    """A PDF whose ``%%EOF`` ends ``tail_gap`` bytes before the end of the data."""
    return b"%PDF-1.7\n" + b"x" * 4000 + b"%%EOF" + b"\n" * tail_gap


def ofd(root_name: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(root_name, "<ofd:OFD/>")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (pdf(0), "application/pdf"),
        (pdf(1024 - 5), "application/pdf"),  # %%EOF is the first 5 of the last 1024 bytes
        (pdf(1024 - 4), None),  # its first byte is now 1025 bytes from the end
        (b"%PDF-1.7\n", None),  # no %%EOF at all
        (b" %PDF-1.7\n%%EOF", None),  # the signature must be at the very start
        (PNG_SIG + b"\x00\x00\x00\x0dIHDR" + b"\x00" * 17, "image/png"),
        (PNG_SIG + b"\x00\x00\x00\x0dIDAT" + b"\x00" * 17, None),  # the first chunk must be IHDR
        (b"\xff\xd8\xff\xe0" + b"\x00" * 16, "image/jpeg"),
        (b"\xff\xd8\x00\xe0" + b"\x00" * 16, None),
        (ofd("OFD.xml"), "application/ofd"),
        (ofd("Doc_0/OFD.xml"), None),  # not at the root
        (ofd("ofd.xml"), None),  # names are compared exactly
        (b"PK\x03\x04" + b"\x00" * 40, None),  # a ZIP signature without a readable central directory
        (b"", None),
    ],
)
def test_sniff_applies_the_rule_of_each_type(data: bytes, expected: str | None) -> None:
    assert sniff(data) == expected


def test_the_declared_type_must_be_the_recognised_one() -> None:
    png = PNG_SIG + b"\x00\x00\x00\x0dIHDR" + b"\x00" * 17
    assert matches("image/png", png)
    assert not matches("image/jpeg", png)
    assert not matches("text/html", b"<html>")
