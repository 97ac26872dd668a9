"""Times in signed key documents: UTC, whole seconds, written ``YYYY-MM-DDTHH:MM:SSZ`` and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from keys.errors import N_, EncodingError
from keys.strict import matches, whole

_TS = whole(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")  # strptime alone takes "٢٠٢٦"
_VALIDITY = whole(r" *([0-9]{1,5}) *([dwy]) *")
_DAYS = {"d": 1, "w": 7, "y": 365}
MIN_VALIDITY = timedelta(days=1)
MAX_VALIDITY = timedelta(days=10 * 365)
DEFAULT_VALIDITY = timedelta(days=2 * 365)


def to_second(at: datetime) -> datetime:
    """``at`` in UTC, truncated to the second (what a document can hold)."""
    if at.tzinfo is None:
        raise ValueError("key documents need timezone-aware times")
    return at.astimezone(UTC).replace(microsecond=0)


def format_time(at: datetime) -> str:
    return to_second(at).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: object, field: str) -> datetime:
    """Parse a document time; ``field`` names it in the error."""
    if not matches(text, _TS):
        raise EncodingError(
            N_("{field} must be a UTC time written YYYY-MM-DDTHH:MM:SSZ, found {text!r:.40}"),
            params={"field": field, "text": text},
        )
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise EncodingError(N_("{field} is not a valid time: {text}"), params={"field": field, "text": text}) from exc


def parse_validity(text: str) -> timedelta:
    """Parse a key validity such as ``2y``, ``26w`` or ``90d`` (1 day to 10 years)."""
    match = _VALIDITY.fullmatch(text)
    if not match:
        raise EncodingError(
            N_("bad validity {text!r}: expected a number and d, w or y (e.g. 2y)"), params={"text": text}
        )
    span = timedelta(days=int(match.group(1)) * _DAYS[match.group(2)])
    if not MIN_VALIDITY <= span <= MAX_VALIDITY:
        raise EncodingError(N_("validity {text} is outside 1d to 10y"), params={"text": text})
    return span
