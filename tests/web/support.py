"""Fixtures of the platform tests: a public node whose published database is filled through the
public store's own apply functions (fast), with a freshness row as an applied package leaves it, and
the platform's ASGI app over it with a fixed clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from nodekit.models import ChannelPackageRow, ChannelRow
from nodekit.runtime import Node, init_home
from public_node import SPEC, store
from public_node.documents import store_document
from tests.unit.public_node.data import key, row, subject, upsert

TODAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
HX_USCC = "91530100MA6K3XQ51A"
XSS_SCRIPT = "<script>window.__xss=1</script>昆明脚本测试有限公司"
XSS_IMG = '<img src=x onerror="window.__xss=1">昆明图片测试有限公司'
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def sample_items() -> list[dict[str, Any]]:
    """Subjects, records of every kind, 25 red-list entries (two pages), two departments."""
    hx = "昆明华兴科技有限公司"
    items = [
        subject("hx", hx, uscc=HX_USCC, legal_rep="王*", address="昆明市五华区"),
        subject("hx2", "云南华兴商贸有限责任公司", uscc="91530000MA6K3XQ52B"),
        subject("xs", XSS_SCRIPT, uscc="91530100MA6K3XQ53C"),
        subject("xi", XSS_IMG),
        upsert(
            "licence", "l1", 1,
            row("hx", hx, uscc=HX_USCC, doc_no="昆市监许〔2026〕1号", decision_date="2026-01-05", content="食品经营许可"),
        ),
        upsert(
            "penalty", "p1", 1,
            row("hx", hx, uscc=HX_USCC, doc_no="昆市监罚〔2024〕12号", decision_date="2024-06-01",
                severity="general", fine_amount="1.5", content='罚款<b>1.5</b>万元"'),
        ),
        upsert("commitment", "c1", 1, row("hx", hx, uscc=HX_USCC, doc_no="53010020240601000001", commitment_date="2024-06-01")),
        upsert("penalty", "px", 1, row("xs", XSS_SCRIPT, doc_no="<script>window.__xss=1</script>", decision_date="2025-01-01")),
        upsert(
            "list_entry", "black", 1,
            row("hx", hx, list_type="dishonest", doc_no="失信〔2025〕1号", listed_date="2025-05-05", deciding_dept="昆明市发展和改革委员会"),
        ),
    ]  # fmt: skip
    for i in range(25):
        items.append(
            upsert(
                "list_entry", f"red{i}", 1,
                row(f"r{i}", f"守信企业{i:02d}有限公司", list_type="red", doc_no=f"红〔2026〕{i}号",
                    listed_date=f"2026-{1 + i % 9:02d}-{1 + i:02d}", deciding_dept="国家税务总局昆明市税务局"),
            )
        )  # fmt: skip
    for dept, label in (("昆明市示例管理局", "gov1"), ("昆明市另一管理局", "gov2")):
        for i in range(3):
            items.append(
                upsert(
                    "gov_credit", f"{label}-{i}", 1,
                    row(label, dept, subject_category="government", doc_no=f"ZWCX-{label}-{i}",
                        title=f"服务承诺事项{i}", occurred_date=f"2026-0{i + 1}-10", outcome="open", department=dept),
                )
            )  # fmt: skip
    return items


def set_freshness(node: Node, seq: int, at: datetime = NOW) -> None:
    """The channel state an applied package leaves: last sequence ``seq``, applied at ``at``."""
    with node.transaction() as s:
        channel_id = s.execute(
            insert(ChannelRow)
            .values(
                sender_node="int", recipient_node="pub", outbound=False, last_seq=seq, last_digest="0" * 64,
                last_created=0, rebase_seq=0, updated_at=at,
            )
            .returning(ChannelRow.id)
        ).scalar_one()  # fmt: skip
        s.execute(
            insert(ChannelPackageRow).values(
                channel_id=channel_id, seq=seq, digest="1" * 64, type="delta", status="applied", created=0, size=1,
                counts="{}", file="p.cgp", recorded_at=at,
            )
        )  # fmt: skip


def published_home(tmp_path: Path, database_factory: Callable[[str], str], *, web_on_engine: bool = False) -> Node:
    """A public node home with the sample data published and package 3 applied."""
    node = init_home(tmp_path / "pub", SPEC, name="pub", database_url=database_factory("pub"))
    with node.transaction() as s:
        store.apply_changes(s, sample_items(), today=TODAY)
        store_document(
            s,
            {"key": key("doc1"), "version": 1, "name": "处罚决定书.pdf", "title": "行政处罚决定书 昆市监罚〔2024〕12号",
             "media_type": "application/pdf", "data": PDF, "subject_key": key("hx")},
        )  # fmt: skip
    set_freshness(node, 3)
    if web_on_engine:
        configure(node, web_database_url=database_factory("web"))
    return node


def configure(node: Node, **web: Any) -> None:
    """Append a ``[web]`` section to the home's node.toml."""
    lines: list[str] = []
    for k, v in web.items():
        if isinstance(v, bool):
            lines.append(f"{k} = {'true' if v else 'false'}")
        elif isinstance(v, int):
            lines.append(f"{k} = {v}")
        elif isinstance(v, list):
            lines.append(f"{k} = [{', '.join(repr(x).replace(chr(39), chr(34)) for x in v)}]")
        else:
            lines.append(f'{k} = "{v}"')
    path = node.config.config_path
    text = path.read_text(encoding="utf-8")
    if "\n[web]\n" in text:
        text = text.replace("\n[web]\n", "\n[web]\n" + "\n".join(lines) + "\n", 1)
    else:
        text += "\n[web]\n" + "\n".join(lines) + "\n"
    path.write_text(text, encoding="utf-8")
