"""Write the platform's OpenAPI description to docs/openapi.json (`make openapi`); a test keeps the
committed file equal to what the app serves."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from public_node.web import filing_api
from public_node.web.api import router
from public_node.web.app import API_VERSION, DESCRIPTION, TITLE


def schema() -> dict[str, object]:
    """The OpenAPI schema of the app, built without a node home (the routes alone decide it)."""
    from fastapi import FastAPI

    app = FastAPI(
        title=TITLE,
        version=API_VERSION,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
    )
    app.include_router(filing_api.router)
    app.include_router(router)
    return app.openapi()


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/openapi.json")
    out.write_text(json.dumps(schema(), ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {out}")
