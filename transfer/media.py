"""Media types of published documents, recognised by their magic bytes, never by their names."""

from __future__ import annotations

import io
import zipfile

MEDIA_TYPES = ("application/pdf", "application/ofd", "image/png", "image/jpeg")


def sniff(data: bytes) -> str | None:
    """The allowed media type ``data`` is, by its content, or None."""
    if data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]:
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"PK\x03\x04") and _zip_has_root_entry(data, "OFD.xml"):
        return "application/ofd"  # GB/T 33190: a ZIP container whose root holds OFD.xml
    return None


def matches(media_type: str, data: bytes) -> bool:
    return media_type in MEDIA_TYPES and sniff(data) == media_type


def _zip_has_root_entry(data: bytes, name: str) -> bool:
    # reads the central directory only; nothing is decompressed
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return name in zf.namelist()
    except (zipfile.BadZipFile, ValueError, EOFError, OSError):
        return False
