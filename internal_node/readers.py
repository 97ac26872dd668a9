"""Reading department files row by row, in bounded memory: CSV (UTF-8 with or without BOM, or
GB18030/GBK), JSON Lines and XLSX; the file's digest and text encoding are found in one pass first."""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from nodekit.errors import ExitCode, NodeError
from nodekit.i18n import N_, _
from nodekit.text import printable

CHUNK = 1 << 20
CSV_FIELD_LIMIT = 1 << 20  # characters in one cell; longer text is refused by validation anyway


class IngestError(NodeError):
    """Root of the ingest errors: the file cannot be read as a department file (exit 3)."""

    exit_code = ExitCode.REJECTED
    reason = "rejected"


class Format(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    XLSX = "xlsx"


_SUFFIXES = {".csv": Format.CSV, ".txt": Format.CSV, ".jsonl": Format.JSONL, ".ndjson": Format.JSONL}
_SUFFIXES[".xlsx"] = Format.XLSX


def detect_format(path: Path, explicit: str | None = None) -> Format:
    """The file's format: ``explicit`` if given, else from its suffix."""
    if explicit:
        return Format(explicit)
    suffix = path.suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    if suffix in (".xls", ".et", ".wps"):
        raise IngestError(
            N_("{file}: {suffix} workbooks (Excel 97-2003, WPS) are not read: save the sheet as .xlsx or CSV"),
            reason="format",
            params={"file": path.name, "suffix": suffix},
        )
    raise IngestError(
        N_(
            "{file}: cannot tell the format from the suffix {suffix}: expected .csv, .jsonl or .xlsx (or give --format)"
        ),
        reason="format",
        params={"file": path.name, "suffix": suffix or "(none)"},
    )


@dataclass(frozen=True)
class FileFacts:
    """What one pass over the bytes tells: digest, size, text encoding and an estimate of the rows."""

    sha256: str
    size: int
    encoding: str | None  # None for XLSX
    lines: int


def inspect_file(path: Path, fmt: Format, encoding: str | None = None) -> FileFacts:
    """Hash the file and, for text formats without an explicit ``encoding``, choose UTF-8 when every
    byte decodes as UTF-8 (a BOM is allowed) and GB18030 otherwise (GBK is a subset of it)."""
    digest = hashlib.sha256()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    is_utf8 = fmt is not Format.XLSX and encoding is None
    size = lines = 0
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                lines += chunk.count(b"\n")
                if is_utf8:
                    try:
                        utf8.decode(chunk)
                    except UnicodeDecodeError:
                        is_utf8 = False
            if is_utf8:
                try:
                    utf8.decode(b"", final=True)
                except UnicodeDecodeError:
                    is_utf8 = False
    except OSError as exc:
        raise IngestError(
            N_("{path}: cannot read: {error}"), reason="unreadable", params={"path": path, "error": exc.strerror or exc}
        ) from exc
    if fmt is Format.XLSX:
        chosen = None
    elif encoding is not None:
        try:
            chosen = codecs.lookup(encoding).name
        except LookupError:
            raise IngestError(
                N_("unknown encoding {encoding}"), reason="encoding", params={"encoding": repr(encoding)}
            ) from None
    else:
        chosen = "utf-8-sig" if is_utf8 else "gb18030"
    if chosen == "utf-8":
        chosen = "utf-8-sig"  # a BOM is never part of the first header
    return FileFacts(sha256=digest.hexdigest(), size=size, encoding=chosen, lines=lines)


@dataclass(frozen=True)
class RawRow:
    """One record as read: cells in column order (CSV, XLSX) or a mapping of keys (JSON Lines).

    ``line`` is where the record starts in the file (CSV, JSON Lines: the physical line; XLSX: the
    sheet row); ``row`` is the row a person sees in a spreadsheet (the sheet row; for a CSV, the
    record's number, since a quoted line break stays inside one row); ``data_row`` counts the data
    rows after the header (1 for the first), blank rows left out."""

    line: int
    cells: list[Any] | None = None
    mapping: dict[str, Any] | None = None
    error: str | None = None  # the line could not be parsed at all
    row: int = 0
    data_row: int = 0


class RowReader:
    """Iterate over a department file's rows. ``headers`` is the header row (CSV, XLSX) or None."""

    def __init__(self, path: Path, fmt: Format, encoding: str | None, *, header_row: int | None = None) -> None:
        self.path = path
        self.fmt = fmt
        self.encoding = encoding
        # the sheet row of the header (--header-row, for a title above it); None: the first non-blank row
        self.header_row = header_row
        self.headers: list[str] | None = None
        self.header_line = 0

    def _is_header(self, row: int, blank: bool) -> bool:
        """Whether sheet row ``row`` is the header row (rows before it are skipped)."""
        if self.header_row is None:
            return not blank
        if row == self.header_row and blank:
            raise self._fail(row, N_("--header-row {row}: that row is empty"), "empty", row=row)
        return row == self.header_row

    def __iter__(self) -> Iterator[RawRow]:
        if self.fmt is Format.CSV:
            return self._csv()
        if self.fmt is Format.JSONL:
            return self._jsonl()
        return self._xlsx()

    def _fail(self, line: int, message: str, reason: str, **params: object) -> IngestError:
        """A refusal of the file at ``line``: ``message`` an English template of ``params`` (nodekit.i18n)."""
        return IngestError(message, reason=reason, params=params, where=f"{self.path.name}:{line}: (file): ")

    def _csv(self) -> Iterator[RawRow]:
        csv.field_size_limit(CSV_FIELD_LIMIT)
        line = 0
        try:
            with self.path.open(encoding=self.encoding, newline="") as fh:
                first = fh.readline()
                # Spreadsheets saved as "text" use tabs: tell by the header line alone
                delimiter = "\t" if "\t" in first and "," not in first else ","
                fh.seek(0)
                reader = csv.reader(fh, delimiter=delimiter, strict=True)
                data = 0
                for row, cells in enumerate(reader, start=1):
                    start, line = line + 1, reader.line_num
                    blank = not any(c.strip() for c in cells)
                    if self.headers is None:
                        if self._is_header(row, blank):
                            self.headers, self.header_line = cells, start
                        continue
                    if blank:
                        continue
                    data += 1
                    yield RawRow(start, cells=cells, row=row, data_row=data)
        except UnicodeDecodeError as exc:
            raise self._fail(
                line + 1,
                N_("not valid {encoding} text ({why}); give the file's encoding with --encoding"),
                "encoding",
                encoding=self.encoding,
                why=exc.reason,
            ) from exc
        except csv.Error as exc:
            raise self._fail(line + 1, N_("malformed CSV: {error}"), "malformed", error=exc) from exc
        if self.headers is None:
            raise self._no_header(N_("the file is empty"))

    def _jsonl(self) -> Iterator[RawRow]:
        try:
            with self.path.open(encoding=self.encoding, newline="") as fh:
                data = 0
                for number, text in enumerate(fh, start=1):
                    if not text.strip():
                        continue
                    data += 1
                    try:
                        # exact decimals: never let an amount pass through a binary float
                        value = json.loads(text, parse_float=Decimal)
                    except ValueError as exc:
                        yield RawRow(
                            number, error=f"not valid JSON: {printable(str(exc), limit=120)}", row=number, data_row=data
                        )
                        continue
                    if not isinstance(value, dict):
                        yield RawRow(
                            number,
                            error=f"expected a JSON object, got {type(value).__name__}",
                            row=number,
                            data_row=data,
                        )
                        continue
                    yield RawRow(number, mapping=value, row=number, data_row=data)
        except UnicodeDecodeError as exc:
            raise self._fail(
                0, N_("not valid {encoding} text ({why})"), "encoding", encoding=self.encoding, why=exc.reason
            ) from exc

    def _xlsx(self) -> Iterator[RawRow]:
        from openpyxl import load_workbook

        try:
            wb = load_workbook(self.path, read_only=True, data_only=True)
        except Exception as exc:  # zip, XML and openpyxl's own errors: they share no base class
            raise self._fail(
                0, N_("not an XLSX workbook ({error})"), "malformed", error=f"{type(exc).__name__}: {exc}"
            ) from exc
        try:
            if not wb.worksheets:
                raise self._fail(0, N_("the workbook has no sheet"), "empty")
            sheet = wb.worksheets[0]
            data = 0
            for number, values in _sheet_rows(sheet, self._broken_sheet):
                cells = list(values)
                blank = not any(c is not None and (not isinstance(c, str) or c.strip()) for c in cells)
                if self.headers is None:
                    if self._is_header(number, blank):
                        self.headers = ["" if c is None else str(c) for c in cells]
                        self.header_line = number
                    continue
                if blank:
                    continue
                data += 1
                yield RawRow(number, cells=cells, row=number, data_row=data)
        finally:
            wb.close()
        if self.headers is None:
            raise self._no_header(N_("the first sheet is empty"))

    def _no_header(self, empty: str) -> IngestError:
        if self.header_row is not None:
            return self._fail(
                self.header_row, N_("--header-row {row}: the file has fewer rows"), "empty", row=self.header_row
            )
        return self._fail(1, N_("no header row: {why}"), "empty", why=_(empty))

    def _broken_sheet(self, sheet: Any, last: int, exc: Exception) -> IngestError:
        message = printable(f"{type(exc).__name__}: {exc}", limit=200)
        name = printable(str(getattr(sheet, "title", "?")), limit=64)
        return self._fail(
            last + 1,
            N_("sheet {sheet}: malformed sheet XML after row {last} ({error})"),
            "malformed",
            sheet=name,
            last=last,
            error=message,
        )

    def estimated_rows(self, facts: FileFacts) -> int | None:
        """A row count for the progress bar (lines of text files; XLSX's declared dimension)."""
        if self.fmt is Format.XLSX:
            return None
        return max(facts.lines - (1 if self.fmt is Format.CSV else 0), 0)


def _sheet_rows(sheet: Any, broken: Callable[[Any, int, Exception], IngestError]) -> Iterator[tuple[int, Any]]:
    """(row number, values) of a sheet. openpyxl parses a sheet's XML lazily, while its rows are read:
    a sheet broken after its first rows fails here, in the middle of the ingest, with whatever its XML
    parser or openpyxl raises (they share no base class), which ``broken`` turns into a refusal."""
    rows = iter(sheet.iter_rows(values_only=True))
    number = 0
    while True:
        try:
            values = next(rows)
        except StopIteration:
            return
        except Exception as exc:
            raise broken(sheet, number, exc) from exc
        number += 1
        yield number, values
