"""Uploads from the public (issue 17, "Bad input"): each hostile file is refused with its reason, and what
is accepted leaves as a re-encoded image without metadata — never the original bytes."""

from __future__ import annotations

import io
import shutil

import pytest
from PIL import Image

from public_node.web.uploads import MAX_UPLOAD, UploadRefused, disarm, disarm_all
from tests.vectors.format2 import tiny_png
from transfer.appitems import attachment_type


def make_pdf(width: int = 200, height: int = 200, text: bytes = b"BT /F1 12 Tf 20 100 Td (credgap) Tj ET") -> bytes:
    """A small valid PDF with one page of ``width`` x ``height`` points, built by hand."""
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"
        % (width, height),
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (i, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (40, 30), "red")
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    exif[0x8825] = {2: (25.0, 2.0, 0.0)}  # a GPS latitude: personal data that must not cross
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def _refused(name: str, data: bytes) -> str:
    with pytest.raises(UploadRefused) as err:
        disarm(name, data)
    return err.value.reason


def test_a_script_named_pdf_is_refused() -> None:
    assert _refused("证明.pdf", b"#!/bin/sh\nrm -rf /\n") == "type-mismatch"
    assert _refused("photo.png", jpeg_with_exif()) == "type-mismatch", "the content decides, never the name"


def test_a_polyglot_is_refused() -> None:
    zip_tail = b"PK\x03\x04" + b"\x00" * 26 + b"PK\x01\x02" + b"\x00" * 42 + b"PK\x05\x06" + b"\x00" * 18
    assert _refused("a.png", tiny_png() + zip_tail) == "polyglot"
    assert _refused("a.png", tiny_png() + b"<script>alert(1)</script>") == "polyglot", "bytes after IEND"
    assert _refused("a.pdf", make_pdf()[:-6] + zip_tail + b"%%EOF\n") == "polyglot"


@pytest.mark.parametrize("name", ["../../etc/passwd.png", "a/b.png", "a\\b.png", ".hidden.png", "a\x00.png",
                                  "a\n.png", "x.exe", "", "a.svg"])  # fmt: skip
def test_hostile_names_are_refused(name: str) -> None:
    assert _refused(name, tiny_png()) in ("bad-name", "bad-type")


def test_size_and_count_caps() -> None:
    assert _refused("big.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * MAX_UPLOAD) == "oversized"
    with pytest.raises(UploadRefused) as err:
        disarm_all([("a.png", tiny_png())] * 6)
    assert err.value.reason == "too-many"


def test_an_image_bomb_is_refused() -> None:
    out = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(out, "PNG")  # 100 megapixels, a few KB compressed
    assert _refused("bomb.png", out.getvalue()) == "bomb"


def test_images_are_re_encoded_without_metadata() -> None:
    original = jpeg_with_exif()
    assert b"CameraMaker" in original
    out = disarm("photo.jpg", original)
    assert out.data != original and b"CameraMaker" not in out.data and b"Exif" not in out.data
    assert out.media_type == "image/jpeg" and attachment_type(out.data) == "image/jpeg"


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) is not installed")
def test_a_pdf_is_rasterised_and_never_carried() -> None:
    pdf = make_pdf()
    out = disarm("处罚决定书.pdf", pdf)
    assert (out.media_type, out.name) == ("image/png", "处罚决定书.png")
    assert attachment_type(out.data) == "image/png" and b"%PDF" not in out.data
    with Image.open(io.BytesIO(out.data)) as im:
        assert im.size == (278, 278), "one page of 200pt at 100 dpi"


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) is not installed")
def test_a_pdf_bomb_is_refused_within_the_limits() -> None:
    # one page of 14400 x 14400 points: at 100 dpi, 20000 x 20000 pixels (1.2 GB of RGB)
    assert _refused("bomb.pdf", make_pdf(14400, 14400)) in ("pdf-limits", "bomb")
    # a content stream that never ends drawing: the time limit stops pdftoppm
    loops = b"q " * 200_000 + b"0 0 1 1 re f " * 300_000 + b"Q " * 200_000
    assert _refused("slow.pdf", make_pdf(text=loops)) in ("pdf-limits", "bad-pdf", "oversized")
