"""Key tests run with the fast, test-only Argon2id profile; a test that checks production refuses it
removes the switch itself (``monkeypatch.delenv``)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _insecure_test_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDGAP_INSECURE_TEST_KDF", "1")
