"""Deadlines in working days (限时办结): the shipped calendar's holidays and 调休 days, workflow.toml's
own deadlines and years, its refusals, and the warning for next year's missing calendar."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from internal_node.workflow import DEFAULT_DEADLINES, WorkflowError, load_workflow


def test_working_days_skip_holidays_and_count_adjusted_weekends(tmp_path: Path) -> None:
    wf = load_workflow(tmp_path)
    cal = wf.calendar
    assert not cal.is_working_day(date(2026, 10, 1)) and not cal.is_working_day(date(2026, 10, 5))
    assert cal.is_working_day(date(2026, 10, 10)), "a Saturday made a working day (调休)"
    assert cal.is_working_day(date(2026, 9, 30))
    # arrives Wednesday 30 September: 1 October to 8 October are off (but Saturday 10 October works)
    assert cal.add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert cal.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)
    assert wf.due("objection", date(2026, 11, 2)) == date(2026, 11, 20), "14 working days, no holiday"
    assert wf.deadlines == DEFAULT_DEADLINES


def test_workflow_toml_sets_deadlines_and_adds_a_year(tmp_path: Path) -> None:
    (tmp_path / "workflow.toml").write_text(
        '[deadlines]\nobjection = 2\n[calendar."2027"]\nholidays = ["2027-01-01"]\nworkdays = []\n', "utf-8"
    )
    wf = load_workflow(tmp_path)
    assert wf.deadlines["objection"] == 2 and wf.deadlines["repair"] == DEFAULT_DEADLINES["repair"]
    assert wf.due("objection", date(2026, 12, 30)) == date(2027, 1, 4), "31 December, then Monday 4 January"
    assert wf.missing_year(date(2027, 11, 1)) == 2028
    assert wf.missing_year(date(2026, 11, 1)) is None
    assert load_workflow(tmp_path / "none").missing_year(date(2026, 12, 2)) == 2027, "status warns now"


@pytest.mark.parametrize(
    ("text", "why"),
    [("[deadlines]\nobjection = 0\n", "1 to 365"), ("[deadlines]\nappeal = 3\n", "not one of"),
     ("[deadlines]\nobjection = true\n", "1 to 365"), ('[calendar."27"]\nholidays = []\n', "not YYYY"),
     ('[calendar."2027"]\nholidays = ["2027-02-30"]\n', "not a YYYY-MM-DD"), ("[deadlines\n", "cannot be read"),
     ('[calendar."2027"]\nextra = 1\n', "holidays and workdays only")],
)  # fmt: skip
def test_a_bad_workflow_toml_is_refused_naming_the_file(tmp_path: Path, text: str, why: str) -> None:
    (tmp_path / "workflow.toml").write_text(text, "utf-8")
    with pytest.raises(WorkflowError, match=why) as err:
        load_workflow(tmp_path)
    assert "workflow.toml" in str(err.value)
