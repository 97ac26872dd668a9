"""The closed list of transfer-log events (``transfer.log.EventCode``) is the one FORMAT §13.1 lists."""

from __future__ import annotations

import re
from pathlib import Path

from transfer.log import EventCode

FORMAT = Path(__file__).resolve().parents[3] / "docs" / "FORMAT.md"


def test_every_event_code_is_documented_and_every_documented_event_exists() -> None:
    text = FORMAT.read_text(encoding="utf-8")
    section = text[text.index("### 13.1 Entries") : text.index("### 13.2")]
    listed = section[section.index("Events:") :]
    documented = set(re.findall(r"`([a-z-]+\.[a-z-]+)`", listed))
    assert {e.value for e in EventCode} == documented
