"""docs/INGEST.md documents the column mapping the code uses: every field, header and variant."""

from __future__ import annotations

from pathlib import Path

import pytest

from internal_node.columns import KINDS

DOC = (Path(__file__).resolve().parents[3] / "docs" / "INGEST.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_field_of_the_kind_is_documented_with_its_headers(kind: str) -> None:
    for field in KINDS[kind].fields:
        line = next((ln for ln in DOC.splitlines() if ln.startswith(f"| `{field.name}` | {field.label} |")), None)
        assert line is not None, f"{kind}.{field.name} ({field.label}) is not in docs/INGEST.md"
        documented = {a.strip() for a in line.split("|")[3].split(",") if a.strip()}
        # list entries and commitments add party headers of their own, documented in a sentence
        extra = set(field.aliases) - documented
        assert all(alias in DOC for alias in extra), (kind, field.name, extra)
