"""A workbook whose ZIP is sound but whose sheet XML is broken (issue 12 case 20): openpyxl reads a
sheet lazily, so the XML error comes from the row iterator in the middle of the ingest. It must be
refused like every malformed file: exit 3, reason ``malformed``, one line naming the file, the sheet
and the row, nothing written, and an ``ingest.rejected`` entry in the transfer log."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from nodekit.errors import ExitCode
from nodekit.runtime import Node
from tests.helpers import run_cli
from tests.unit.internal_node.ingest_support import SAMR, events, open_node, row, table_rows, write_xlsx

pytestmark = pytest.mark.db

SHEET = "xl/worksheets/sheet1.xml"


@pytest.fixture
def node(tmp_path: Path, database_url: str) -> Iterator[Node]:
    with open_node(tmp_path, database_url) as n:
        yield n


ROWS = 600  # enough that openpyxl opens the sheet, and reads its first rows, before it meets the damage
BROKEN = b'<row r="401"'  # the 400th data row (the header is row 1)


def truncated(xml: bytes) -> bytes:
    """Cut inside a row far down the sheet, as a copy that stopped half-way would."""
    return xml[: xml.index(BROKEN) + 40]


def garbled(xml: bytes) -> bytes:
    """A broken tag inside a row far down the sheet."""
    at = xml.index(BROKEN) + 20
    return xml[:at] + b"<c <<<>>" + xml[at:]


def as_excel_writes_it(xml: bytes) -> bytes:
    """Excel and WPS write the sheet's ``<dimension>`` at its top, where openpyxl finds it without
    reading further: the rows are then read lazily, while the ingest runs."""
    return xml.replace(b"</sheetPr>", b'</sheetPr><dimension ref="A1:R601"/>', 1)


def rewrite_sheet(path: Path, damage: Callable[[bytes], bytes]) -> None:
    """Rewrite the workbook with its sheet's XML damaged; the ZIP itself stays valid."""
    with zipfile.ZipFile(path) as zin:
        parts = {info: zin.read(info.filename) for info in zin.infolist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info, data in parts.items():
            zout.writestr(info, damage(as_excel_writes_it(data)) if info.filename == SHEET else data)


@pytest.mark.parametrize("damage", [truncated, garbled])
def test_a_broken_sheet_is_refused_as_malformed_and_logged(
    node: Node, tmp_path: Path, damage: Callable[[bytes], bytes]
) -> None:
    rows = [row("penalty", decision_no=f"昆市监罚〔2026〕{i}号") for i in range(ROWS)]
    path = write_xlsx(tmp_path / "penalties.xlsx", "penalty", rows)
    rewrite_sheet(path, damage)
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None, "the ZIP is sound: only the sheet's XML is broken"
    r = run_cli(
        "internal-node", "--home", str(node.config.home), "ingest", str(path), "--kind", "penalty",
        "--source", SAMR.name, "--json",
    )  # fmt: skip
    assert r.code == ExitCode.REJECTED, r.err
    error = r.json()["error"]  # type: ignore[index]
    assert error["reason"] == "malformed"
    found = re.fullmatch(
        r"penalties\.xlsx:(\d+): \(file\): sheet Sheet1: malformed sheet XML after row (\d+) \(ParseError: .+\)",
        error["message"],
    )
    assert found is not None, error
    assert int(found[1]) == int(found[2]) + 1 and 1 < int(found[2]) <= 400, "the row where reading stopped"
    [line] = r.err.splitlines()
    assert line == f"internal-node: error: {error['message']}"
    assert table_rows(node, "penalty") == [], "nothing written"
    refused = events(node)[-1]
    assert (refused.event, refused.reason) == ("ingest.rejected", "malformed")
    assert orjson.loads(refused.subject)["file"] == "penalties.xlsx"
