"""Building published rows and record changes for the published-database tests (docs/DATA.md,
"What crosses the gap")."""

from __future__ import annotations

import hashlib
from typing import Any


def key(label: str) -> str:
    """A stable 32-hex-digit key for a label, as the internal node's keyed hashes look."""
    return hashlib.sha256(label.encode()).hexdigest()[:32]


def row(subject: str, subject_name: str, **fields: Any) -> dict[str, Any]:
    """A published row of subject ``subject`` (a label) named ``subject_name``, common fields filled."""
    out: dict[str, Any] = {
        "subject_key": key(subject),
        "subject_name": subject_name,
        "subject_category": "legal_person",
        "uscc": None,
        "doc_no": None,
        "publish_until": None,
        "source_unit": "昆明市市场监督管理局",
    }
    out.update(fields)
    return out


def upsert(table: str, label: str, version: int, r: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "record", "op": "upsert", "table": table, "key": key(label), "version": version, "row": r}


def withdraw(table: str, label: str, version: int, reason: str = "revoked") -> dict[str, Any]:
    return {"kind": "record", "op": "withdraw", "table": table, "key": key(label), "version": version, "reason": reason}


def subject(label: str, name: str, *, version: int = 1, **fields: Any) -> dict[str, Any]:
    """An upsert of a subject row; its key is its subject_key, as the internal node makes it."""
    r = row(label, name, **{"name": name, **fields})
    return {"kind": "record", "op": "upsert", "table": "subject", "key": key(label), "version": version, "row": r}
