"""A minimal streaming XLSX writer for the sample data: one sheet of inline strings, numbers and dates,
with fixed timestamps so that the same rows give the same bytes. openpyxl's writer costs ~80 µs a
cell, which made workbooks most of the time of a million-record sample."""

from __future__ import annotations

import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

FIXED_ZIP_TIME = (2020, 1, 1, 0, 0, 0)
EXCEL_EPOCH = date(1899, 12, 30)
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

_CONTENT_TYPES = (
    _HEAD + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/docProps/core.xml" '
    'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    _HEAD + f'<Relationships xmlns="{_PKG}">'
    f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
    f'<Relationship Id="rId2" Type="{_PKG}/metadata/core-properties" Target="docProps/core.xml"/>'
    "</Relationships>"
)
_WORKBOOK_RELS = (
    _HEAD + f'<Relationships xmlns="{_PKG}">'
    f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_REL}/styles" Target="styles.xml"/>'
    "</Relationships>"
)
# style 1 is the built-in short date format (numFmtId 14): readers turn such numbers into dates
_STYLES = (
    _HEAD + f'<styleSheet xmlns="{_MAIN}">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def _column(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(65 + rem) + name
    return name


class SheetWriter:
    """Write rows of cells (str, int, Decimal, float, date, None) to a one-sheet workbook, streaming."""

    def __init__(self, path: Path, *, sheet: str, creator: str) -> None:
        self._zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED)
        self._put("[Content_Types].xml", _CONTENT_TYPES)
        self._put("_rels/.rels", _ROOT_RELS)
        self._put(
            "docProps/core.xml",
            _HEAD + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
            'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<dc:creator>{escape(creator)}</dc:creator></cp:coreProperties>",
        )
        self._put(
            "xl/workbook.xml",
            _HEAD + f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
            f'<sheet name={quoteattr(sheet)} sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        self._put("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        self._put("xl/styles.xml", _STYLES)
        self._sheet: IO[bytes] = self._zip.open(self._info("xl/worksheets/sheet1.xml"), "w")
        self._sheet.write(f'{_HEAD}<worksheet xmlns="{_MAIN}"><sheetData>'.encode())
        self._row = 0
        self._columns: list[str] = []
        self._pending: list[str] = []

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, FIXED_ZIP_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o600 << 16
        return info

    def _put(self, name: str, text: str) -> None:
        self._zip.writestr(self._info(name), text.encode())

    def append(self, values: list[Any]) -> None:
        self._row += 1
        r = self._row
        while len(self._columns) < len(values):
            self._columns.append(_column(len(self._columns)))
        cells = []
        for col, value in zip(self._columns, values, strict=False):
            if value is None:
                continue
            ref = f"{col}{r}"
            if isinstance(value, str):
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(value)}</t></is></c>')
            elif isinstance(value, datetime | date):
                day = value.date() if isinstance(value, datetime) else value
                cells.append(f'<c r="{ref}" s="1"><v>{(day - EXCEL_EPOCH).days}</v></c>')
            elif isinstance(value, int | Decimal | float) and not isinstance(value, bool):
                cells.append(f'<c r="{ref}"><v>{value}</v></c>')
            else:
                raise TypeError(f"cannot write {type(value).__name__} to a sheet")
        self._pending.append(f'<row r="{r}">{"".join(cells)}</row>')
        if len(self._pending) >= 500:
            self._flush()

    def _flush(self) -> None:
        self._sheet.write("".join(self._pending).encode())
        self._pending.clear()

    def close(self) -> None:
        self._flush()
        self._sheet.write(b"</sheetData></worksheet>")
        self._sheet.close()
        self._zip.close()
