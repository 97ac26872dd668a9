"""A refused package as an operator reads it (docs/adr/0016-operator-language.md): the English message of
a ``transfer`` error stays in node.log and --json; in Chinese the table shows its reason code explained."""

from __future__ import annotations

import re

from exchange.cli_outcomes import outcome_line, outcomes_table, reason_text
from exchange.core import Outcome
from nodekit import i18n
from nodekit.reasons import REASONS

ENGLISH = "signature does not verify under key 0123"


def test_a_rejected_package_reads_chinese_in_chinese_and_english_in_english() -> None:
    o = Outcome(file="p000000000001-aa.cgp", result="rejected", seq=1, reason="bad-signature", message=ENGLISH)
    assert ENGLISH in outcomes_table([o]) and ENGLISH in outcome_line(o)
    with i18n.speaking("zh_CN"):
        table, line = outcomes_table([o]), outcome_line(o)
    for text in (table, line):
        assert ENGLISH not in text and "包头签名未通过验证" in text and "bad-signature" in text
    assert "已拒收" in table and "结果" in table


def test_an_unknown_code_keeps_its_message() -> None:
    with i18n.speaking("zh_CN"):
        assert reason_text("no-such-code", "as sent") == "as sent"
        assert reason_text(None, "as sent") == "as sent"


def test_every_explained_code_is_a_code_the_reader_gives() -> None:
    """No explanation for a code nobody raises (a typo would leave the real code in English)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    text = (root / "docs" / "FORMAT.md").read_text(encoding="utf-8")
    codes = set(re.findall(r"`([a-z]+(?:-[a-z]+)*)`", text))
    for source in [*(root / "transfer").glob("*.py"), *(root / "exchange").glob("*.py")]:
        codes |= set(re.findall(r'reason="([a-z-]+)"', source.read_text(encoding="utf-8")))
    # the medium's own codes (transfer.errors.medium_fault), named as constants
    codes |= set(re.findall(r'"(medium-[a-z-]+)"', (root / "transfer" / "errors.py").read_text(encoding="utf-8")))
    assert set(REASONS) - codes == set()
