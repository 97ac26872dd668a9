"""status --check's verdict on the credit office's applications (issue 17 on top of issue 18 point 8)."""

from __future__ import annotations

from typing import Any

from nodekit import status_view


def _data(**apps: Any) -> dict[str, Any]:
    return {
        "role": "internal",
        "database": {"schema_current": True},
        "medium": {"present": True, "path": "/m"},
        "applications": {"open": 0, "overdue": [], "calendar_missing": None, **apps},
    }


def test_an_overdue_application_is_an_alarm() -> None:
    found = status_view.problems(_data(open=1, overdue=[{"id": "a" * 32, "type": "objection", "due": "2026-12-01"}]))
    assert [(p.level, p.code) for p in found] == [("alarm", "application-overdue")]
    assert status_view.verdict(found) == 1 and "applications show aaaaaaaaaaaa" in found[0].message


def test_a_missing_calendar_warns_only_while_applications_are_open() -> None:
    assert status_view.problems(_data(calendar_missing=2027)) == [], "nothing open: a note, not a warning"
    found = status_view.problems(_data(open=2, calendar_missing=2027))
    assert [(p.level, p.code) for p in found] == [("warning", "calendar-missing")] and status_view.verdict(found) == 5
    assert "2027" in found[0].message


def test_an_alarm_reads_english_in_json_and_the_operators_language_on_screen() -> None:
    from nodekit import i18n

    data = {
        **_data(),
        "exchange": {"alarms": [{"alarm": "overdue", "peer_name": "city-public", "since": "2026-12-01"}]},
    }
    [found] = status_view.problems(data)
    assert (found.level, found.code) == ("alarm", "overdue")
    assert found.message == "overdue on city-public since 2026-12-01"
    with i18n.speaking("zh_CN"):
        assert found.shown == "city-public：overdue，始于 2026-12-01"
