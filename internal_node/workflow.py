"""Deadlines of applications (限时办结): the periods in working days, from ``<home>/workflow.toml``
(kept apart from the disclosure policy, so that changing a deadline is not a policy change), and the
holiday and 调休 calendar that working days are counted with."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from keys.strict import calendar_date
from nodekit.errors import ExitCode, NodeError
from nodekit.i18n import N_

WORKFLOW_FILE = "workflow.toml"
# Working days from arrival to decision, per kind (DOMAIN.md: an objection is accepted within 2 working
# days and the source unit answers within 10; the others as commonly practised — keep them configurable).
DEFAULT_DEADLINES = {"binding": 5, "objection": 14, "repair": 15, "complaint": 15}
MAX_DEADLINE = 365


@dataclass(frozen=True)
class Calendar:
    """Days off on weekdays and working weekend days (调休), per year known."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    years: frozenset[int] = frozenset()

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start`` (the day of arrival does not count)."""
        day = start
        while n > 0:
            day += timedelta(days=1)
            n -= self.is_working_day(day)
        return day


@dataclass(frozen=True)
class Workflow:
    deadlines: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_DEADLINES))
    calendar: Calendar = field(default_factory=Calendar)

    def due(self, kind: str, received: date) -> date:
        return self.calendar.add_working_days(received, self.deadlines[kind])

    def missing_year(self, today: date) -> int | None:
        """Next year, if its calendar is missing and the year ends within two months (for ``status``)."""
        if today.month >= 11 and today.year + 1 not in self.calendar.years:
            return today.year + 1
        return None


class WorkflowError(NodeError):
    """workflow.toml (or the shipped calendar) cannot be used."""

    exit_code = ExitCode.FAILURE
    reason = "bad-workflow"


def _days(values: Any, where: str) -> frozenset[date]:
    if not isinstance(values, list):
        raise WorkflowError(N_("{where}: expected a list of YYYY-MM-DD dates"), params={"where": where})
    out = set()
    for v in values:
        d = calendar_date(v) if isinstance(v, str) else None
        if d is None:
            raise WorkflowError(
                N_("{where}: {v!r} is not a YYYY-MM-DD date"), params={"where": where, "v": str(v)[:20]}
            )
        out.add(d)
    return frozenset(out)


def _calendars(doc: dict[str, Any], where: str) -> dict[int, tuple[frozenset[date], frozenset[date]]]:
    out = {}
    cal = doc.get("calendar", {})
    if not isinstance(cal, dict):
        raise WorkflowError(N_("{where}: [calendar] must be a table of years"), params={"where": where})
    for year, entry in cal.items():
        if not (isinstance(year, str) and year.isascii() and year.isdigit() and len(year) == 4):
            raise WorkflowError(
                N_("{where}: calendar year {year!r} is not YYYY"), params={"where": where, "year": year[:10]}
            )
        if not isinstance(entry, dict) or set(entry) - {"holidays", "workdays"}:
            raise WorkflowError(
                N_('{where}: [calendar."{year}"] holds holidays and workdays only'),
                params={"where": where, "year": year},
            )
        out[int(year)] = (
            _days(entry.get("holidays", []), f'{where} calendar."{year}".holidays'),
            _days(entry.get("workdays", []), f'{where} calendar."{year}".workdays'),
        )
    return out


def load_workflow(home: Path) -> Workflow:
    """The shipped calendar with ``<home>/workflow.toml`` over it (its deadlines, its years)."""
    shipped = tomllib.loads(resources.files("internal_node").joinpath("holidays.toml").read_text("utf-8"))
    years = _calendars(shipped, "holidays.toml")
    deadlines = dict(DEFAULT_DEADLINES)
    path = home / WORKFLOW_FILE
    if path.exists():
        try:
            doc = tomllib.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise WorkflowError(
                N_("{path}: cannot be read: {problem}"), params={"path": path, "problem": exc}
            ) from None
        years.update(_calendars(doc, str(path)))
        given = doc.get("deadlines", {})
        if not isinstance(given, dict):
            raise WorkflowError(N_("{path}: [deadlines] must be a table"), params={"path": path})
        for kind, n in given.items():
            if kind not in DEFAULT_DEADLINES:
                raise WorkflowError(
                    N_("{path}: [deadlines] {kind!r} is not one of {sorted}"),
                    params={"path": path, "kind": kind[:30], "sorted": sorted(DEFAULT_DEADLINES)},
                )
            if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_DEADLINE:
                raise WorkflowError(
                    N_("{path}: [deadlines] {kind} must be 1 to {max_deadline} working days"),
                    params={"path": path, "kind": kind, "max_deadline": MAX_DEADLINE},
                )
            deadlines[kind] = n
    holidays = frozenset(d for h, _ in years.values() for d in h)
    workdays = frozenset(d for _, w in years.values() for d in w)
    return Workflow(deadlines, Calendar(holidays, workdays, frozenset(years)))
