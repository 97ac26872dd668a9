"""Every upload from the public, checked and disarmed in this one module (docs/SECURITY.md): the name,
the size, the content against the declared type (magic bytes, never the name), polyglots, and then
content disarm — images re-encoded by Pillow without their metadata, PDFs rasterised by Debian's
``pdftoppm`` under time and memory limits. Only the re-encoded PNG or JPEG ever crosses the gap
(FORMAT.md §10.6); the original is dropped here."""

from __future__ import annotations

import io
import os
import re
import resource
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from transfer.appitems import MAX_ATTACHMENT, MAX_ATTACHMENTS, attachment_type

Image.MAX_IMAGE_PIXELS = 100_000_000  # Pillow's own guard, above ours: MAX_PIXELS refuses first, with a reason

MAX_UPLOAD = 8 * 1024 * 1024  # bytes of one uploaded file, before disarm
MAX_PIXELS = 40_000_000  # of one image or of one rasterised PDF (all pages): a decompression bomb is refused
MAX_PDF_PAGES = 5
PDF_DPI = 100
PDF_SECONDS = 20  # wall and CPU time of pdftoppm
PDF_MEMORY = 512 * 1024 * 1024  # address space of pdftoppm
DECLARED = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
_CTRL = re.compile(r"[\x00-\x1f\x7f]")
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"


class UploadRefused(Exception):
    """An upload that is refused, with the one line the filer reads (zh-CN in the page)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Disarmed:
    """What crosses: a re-encoded image and its name."""

    name: str
    media_type: str  # image/png | image/jpeg
    data: bytes


def check_name(name: str) -> str:
    """The upload's plain file name, or refused (a path, a control character, a leading dot, a type not taken)."""
    if (
        not name
        or len(name.encode("utf-8", "surrogatepass")) > 200
        or name.startswith(".")
        or "/" in name
        or "\\" in name
        or ".." in name
        or _CTRL.search(name)
    ):
        raise UploadRefused("文件名不合法（不得含路径、控制字符或以点开头）", "bad-name")
    suffix = Path(name).suffix.lower()
    if suffix not in DECLARED:
        raise UploadRefused("只接受 PDF、JPEG 或 PNG 文件", "bad-type")
    return name


def sniff(data: bytes) -> str | None:
    """The type ``data`` is by its content: application/pdf, image/png, image/jpeg, else None."""
    if data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]:
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None


def _polyglot(data: bytes, kind: str) -> bool:
    """Whether ``data`` also holds another file: an archive's directory, or bytes after the image's end."""
    if b"PK\x05\x06" in data or b"PK\x01\x02" in data:
        return True  # a ZIP central directory: an archive (jar, docx, apk, ...) wearing this type
    if kind == "image/png":
        return not data.endswith(_PNG_END)
    if kind == "image/jpeg":
        return not data.rstrip(b"\x00").endswith(b"\xff\xd9")
    return False


def disarm(name: str, data: bytes) -> Disarmed:
    """Check one upload and return its disarmed image; raises :class:`UploadRefused`."""
    check_name(name)
    if len(data) > MAX_UPLOAD:
        raise UploadRefused(f"文件超过 {MAX_UPLOAD // (1024 * 1024)} MB", "oversized")
    declared = DECLARED[Path(name).suffix.lower()]
    found = sniff(data)
    if found != declared:
        raise UploadRefused("文件内容与其类型不符", "type-mismatch")
    if _polyglot(data, found):
        raise UploadRefused("文件同时包含其他格式的内容（多格式文件），不予接收", "polyglot")
    stem = Path(name).stem[:100] or "附件"
    if found == "application/pdf":
        image = _rasterise(data)
        return _encode(image, f"{stem}.png", "image/png")
    image = _open_image(data)
    return _encode(image, name, found)


def disarm_all(files: list[tuple[str, bytes]]) -> list[Disarmed]:
    """Check and disarm an application's uploads (at most :data:`MAX_ATTACHMENTS`)."""
    if len(files) > MAX_ATTACHMENTS:
        raise UploadRefused(f"最多上传 {MAX_ATTACHMENTS} 个附件", "too-many")
    return [disarm(n, d) for n, d in files]


def _open_image(data: bytes) -> Image.Image:
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.width * probe.height > MAX_PIXELS:
                raise UploadRefused("图片尺寸过大", "bomb")
            probe.load()
            image = ImageOps.exif_transpose(probe)  # keep the orientation the metadata gave, then drop it
            return image.convert("RGB") if image.mode not in ("RGB", "L") else image.copy()
    except UploadRefused:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise UploadRefused("图片无法读取或已损坏", "bad-image") from None


def _limits() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (PDF_MEMORY, PDF_MEMORY))
    resource.setrlimit(resource.RLIMIT_CPU, (PDF_SECONDS, PDF_SECONDS))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024 * 1024, 64 * 1024 * 1024))


def _rasterise(data: bytes) -> Image.Image:
    """The PDF's first pages as one image, by ``pdftoppm`` in a child with time, memory and file limits."""
    tool = shutil.which("pdftoppm")
    if tool is None:
        raise UploadRefused("本平台暂不能处理 PDF，请上传图片", "no-pdf-tool")
    with tempfile.TemporaryDirectory(prefix="credgap-pdf-") as tmp:
        src = Path(tmp) / "in.pdf"
        src.write_bytes(data)
        try:
            subprocess.run(
                [tool, "-png", "-r", str(PDF_DPI), "-f", "1", "-l", str(MAX_PDF_PAGES), str(src), str(Path(tmp) / "p")],
                check=True, capture_output=True, timeout=PDF_SECONDS, preexec_fn=_limits,
                env={"PATH": os.defpath}, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError):
            raise UploadRefused("PDF 无法在限定时间和内存内处理，不予接收", "pdf-limits") from None
        pages = sorted(Path(tmp).glob("p*.png"))
        if not pages:
            raise UploadRefused("PDF 没有可显示的页面", "bad-pdf")
        images = [_open_image(p.read_bytes()) for p in pages]
    if any(i.width < 16 or i.height < 16 for i in images):
        # poppler renders a page it will not allocate (a page-size bomb) as a dot: refuse, never carry a blank
        raise UploadRefused("PDF 页面超出处理限制，不予接收", "pdf-limits")
    width = max(i.width for i in images)
    height = sum(i.height for i in images)
    if width * height > MAX_PIXELS:
        raise UploadRefused("PDF 页面过大", "bomb")
    sheet = Image.new("RGB", (width, height), "white")
    y = 0
    for i in images:
        sheet.paste(i, (0, y))
        y += i.height
    return sheet


def _encode(image: Image.Image, name: str, media_type: str) -> Disarmed:
    """Re-encode without any metadata (no EXIF, no text chunks, no ICC profile)."""
    out = io.BytesIO()
    if media_type == "image/jpeg":
        image.convert("RGB").save(out, "JPEG", quality=88, optimize=True)
    else:
        image.save(out, "PNG", optimize=True)
    data = out.getvalue()
    while len(data) > MAX_ATTACHMENT and image.width > 200:  # scale down until it fits the wire's cap
        image = image.resize((image.width * 3 // 4, image.height * 3 // 4))
        out = io.BytesIO()
        image.convert("RGB").save(out, "JPEG", quality=80)
        data, media_type, name = out.getvalue(), "image/jpeg", f"{Path(name).stem}.jpg"
    if attachment_type(data) != media_type:  # what the readers will check (FORMAT.md §10.6)
        raise UploadRefused("附件处理失败", "disarm-failed")
    return Disarmed(name, media_type, data)
