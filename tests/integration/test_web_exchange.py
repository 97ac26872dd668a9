"""The platform over a published database filled through the real exchange: internal-node ingest,
export (policy, masking, leak guard, sealing), public-node import (verify, apply), then the pages and
the API show exactly what was published, with the package sequence as freshness; and a report issued
before the next package verifies as changed after it."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from internal_node.export import export
from public_node.importer import import_packages
from public_node.web.app import create_app
from tests.integration.public_support import COMPANY_USCC, ingest_rows, penalty
from tests.nodes import trusted_pair
from tests.web.auth_support import csrf

pytestmark = pytest.mark.db


def test_the_platform_shows_what_the_exchange_published(tmp_path: Path, database_factory: Any) -> None:
    internal, public, _medium, clock = trusted_pair(tmp_path, database_factory)
    try:
        report = ingest_rows(internal.node, "penalty", [penalty(1, date(2026, 3, 1))], tmp_path / "dept")
        assert report.accepted
        export(internal.node, internal.identity)
        assert [o.result for o in import_packages(public.node, public.identity)] == ["applied"]
        app = create_app(public.node.config.home, clock=clock)
        with TestClient(app) as client:
            found = client.get("/api/v1/search", params={"q": "示例"}).json()
            assert [s["uscc"] for s in found["items"]] == [COMPANY_USCC[0]]
            subject = client.get(f"/api/v1/subjects/{COMPANY_USCC[0]}").json()
            (pen,) = subject["records"]["penalty"]
            assert pen["doc_no"] == "昆住建罚〔2026〕901号"
            assert pen["fields"]["source_unit"] == "昆明市住房和城乡建设局"
            fresh = client.get("/api/v1/freshness").json()
            assert fresh["package_seq"] == subject["package_seq"] >= 1
            token = csrf(client, f"/subjects/{COMPANY_USCC[0]}")  # the report form's CSRF token (issue 16)
            html = client.post(f"/subjects/{COMPANY_USCC[0]}/report", data={"csrf_token": token}).text
            code = re.search(r'id="verification-code">([A-Z2-7-]+)<', html)
            assert code is not None
            assert client.get(f"/api/v1/reports/{code.group(1)}").json()["unchanged"] is True

            ingest_rows(internal.node, "penalty", [penalty(2, date(2026, 4, 1))], tmp_path / "dept")
            export(internal.node, internal.identity)
            assert [o.result for o in import_packages(public.node, public.identity)] == ["applied"]
            assert client.get("/api/v1/freshness").json()["package_seq"] == fresh["package_seq"] + 1
            verdict = client.get(f"/api/v1/reports/{code.group(1)}").json()
            assert verdict["genuine"] and not verdict["unchanged"]
            assert [(c["kind"], c["change"], c["record_date"]) for c in verdict["changes"]] == [
                ("penalty", "added", "2026-04-01")
            ]
        app.app.state.platform.close()  # type: ignore[attr-defined]
    finally:
        internal.node.close()
        public.node.close()
