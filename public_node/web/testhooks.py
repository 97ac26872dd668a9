"""A route for tests only (mounted when ``CREDGAP_WEB_TEST_HOOKS=1``): a request that stays in flight
until the test releases it, to show that SIGTERM drains requests in flight instead of cutting them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

router = APIRouter(include_in_schema=False)


@router.get("/__test__/hold", response_class=PlainTextResponse)
def hold(started: Annotated[str, Query()], release: Annotated[str, Query()]) -> str:
    """Create ``started``, then wait (at most 60 s) until ``release`` exists; answer "released"."""
    Path(started).touch()
    deadline = time.monotonic() + 60
    while not Path(release).exists():
        if time.monotonic() > deadline:
            return "timed out"
        time.sleep(0.01)
    return "released"
