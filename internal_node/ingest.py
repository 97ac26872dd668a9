"""Department-file ingest (``internal-node ingest``): read, validate every row, write in batches in one
transaction, and record the outcome in the transfer log. A file is accepted whole or not at all,
unless the operator asks to skip invalid rows, which then go to a rejects file."""

from __future__ import annotations

import csv
import difflib
import gettext
import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from datetime import time as dt_time
from pathlib import Path
from typing import IO, Any

import orjson

from internal_node.columns import KINDS, FieldType, KindSpec
from internal_node.readers import FileFacts, Format, IngestError, RawRow, RowReader, detect_format, inspect_file
from internal_node.rows import FILE, RowValidator, ValidRow
from internal_node.upsert import BatchWriter, Counts, Guarded, Undone
from internal_node.validate import InvalidValue, Problem, check_uscc, parse_text
from nodekit import i18n
from nodekit.errors import ExitCode
from nodekit.events import record_event
from nodekit.i18n import N_
from nodekit.runtime import Node
from transfer.log import EventCode

BATCH_ROWS = 1000
PROBLEMS_KEPT = 200  # problems kept in memory for the report; the rejects file has them all
REJECTS_SUFFIX = ".rejects.csv"


class IngestUsageError(IngestError):
    """A bad option of the ingest command (kind, source unit)."""

    exit_code = ExitCode.USAGE
    reason = "usage"


class IngestRejected(IngestError):
    """The file was refused; nothing was written. ``report`` lists the problems."""

    reason = "invalid-rows"

    def __init__(self, message: str, report: IngestReport, *, reason: str | None = None) -> None:
        super().__init__(message, reason=reason)
        self.report = report

    def shown(self) -> str:
        return _refusal(self.report, shown=True)


@dataclass
class IngestReport:
    """What an ingest did, for the operator and for ``--json``."""

    file: str
    sha256: str
    kind: str
    source: str
    format: str
    encoding: str | None
    accepted: bool = False
    counts: Counts = field(default_factory=Counts)
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    warnings: list[Problem] = field(default_factory=list)
    warning_count: int = 0
    rejects_file: str | None = None
    review_held: int | None = None  # record versions waiting for a person after the ingest's refresh
    refresh_error: str | None = None  # why the publication could not be refreshed (export will)
    # how the file was read, recorded in the log: --header-row, --map, --default, header variants
    options: dict[str, Any] = field(default_factory=dict)

    def add(self, problem: Problem) -> None:
        if problem.severity == "warning":
            self.warning_count += 1
            if len(self.warnings) < PROBLEMS_KEPT:
                self.warnings.append(problem)
        else:
            self.problem_count += 1
            if len(self.problems) < PROBLEMS_KEPT:
                self.problems.append(problem)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.accepted,
            "file": self.file,
            "sha256": self.sha256,
            "kind": self.kind,
            "source": self.source,
            "format": self.format,
            "encoding": self.encoding,
            "counts": asdict(self.counts),
            "problems": [p.render(self.file) for p in self.problems],
            "problem_count": self.problem_count,
            "warnings": [p.render(self.file) for p in self.warnings],
            "warning_count": self.warning_count,
            "rejects_file": self.rejects_file,
            "review_held": self.review_held,
            "refresh_error": self.refresh_error,
            "read_with": self.options,
        }

    def event_subject(self) -> dict[str, Any]:
        return {"file": self.file, "sha256": self.sha256, "kind": self.kind, "source": self.source, **self.options}

    @staticmethod
    def zero_counts() -> dict[str, int]:
        return dict.fromkeys(("rows", "inserted", "updated", "unchanged", "rejected", "held"), 0)

    def event_counts(self) -> dict[str, int]:
        c = self.counts
        return {
            "rows": c.rows,
            "inserted": c.inserted,
            "updated": c.updated,
            "unchanged": c.unchanged,
            "rejected": c.rejected,
            "held": c.held,
        }


class _Refused(Exception):
    """Unwinds the ingest transaction when the file is refused as a whole."""


REJECTS_COLUMNS = ("表格行号", "数据行号", "文件行号", "问题")  # sheet row, data row, file line, problems
JSONL_RECORD = "原始记录"


class _RejectsFile:
    """The rejects file (CSV, UTF-8 with BOM so spreadsheets show Chinese): one line per rejected row
    with the row a person sees in a spreadsheet (sheet row and data row), the file's line, the
    problems, then the row's original cells under the file's own headers, so that the rows can be
    corrected and the file ingested again (its four leading columns are ignored then). Written
    beside its final name and renamed into place when complete."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(path.name + ".part")
        self._fh: IO[str] = self.tmp.open("w", encoding="utf-8-sig", newline="")
        self._csv = csv.writer(self._fh)
        self._headed = False

    def _head(self, headers: list[str] | None) -> None:
        if not self._headed:
            self._csv.writerow([*REJECTS_COLUMNS, *(headers if headers is not None else [JSONL_RECORD])])
            self._headed = True

    def write_row(self, raw: RawRow, problems: list[Problem], headers: list[str] | None) -> None:
        """A rejected row: where a person finds it, why it was rejected, and its cells as given."""
        self._head(headers)
        if raw.cells is not None:
            original = [_cell_text(c) for c in raw.cells]
        elif raw.mapping is not None:
            original = [orjson.dumps(raw.mapping, default=str).decode()]
        else:
            original = []
        self._csv.writerow([raw.row or "", raw.data_row or "", raw.line, _problems_text(problems), *original])

    def write_file_problem(self, problem: Problem, headers: list[str] | None) -> None:
        """A problem of the file as a whole (its header row): no cells of its own."""
        self._head(headers)
        self._csv.writerow(["", "", problem.line, _problems_text([problem])])

    def commit(self) -> None:
        if not self._headed:
            self._head(None)
        self._fh.close()
        self.tmp.replace(self.path)

    def discard(self) -> None:
        self._fh.close()
        self.tmp.unlink(missing_ok=True)


def _problems_text(problems: list[Problem]) -> str:
    """The problems of a row for the person correcting it, in their language."""
    return "; ".join(f"{p.field}: {p.text()}" for p in problems)


def _cell_text(cell: Any) -> str:
    """A cell as a spreadsheet would show it again (dates without a midnight time)."""
    if cell is None:
        return ""
    if isinstance(cell, datetime) and cell.time() == dt_time(0):
        return cell.date().isoformat()
    if isinstance(cell, date | datetime):
        return cell.isoformat()
    return str(cell)


def default_rejects_path(path: Path) -> Path:
    return path.with_name(path.name + REJECTS_SUFFIX)


def ingest_file(
    node: Node,
    path: Path,
    *,
    kind: str,
    source: str,
    source_uscc: str | None = None,
    encoding: str | None = None,
    fmt: str | None = None,
    skip_invalid: bool = False,
    rejects: Path | None = None,
    actor: str | None = None,
    show_progress: bool = False,
    batch_rows: int = BATCH_ROWS,
    reactivate: str | None = None,
    override_objection: str | None = None,
    refresh_publication: bool = True,
    column_map: Sequence[str] = (),
    defaults: Sequence[str] = (),
    header_row: int | None = None,
) -> IngestReport:
    """Ingest one department file of ``kind`` delivered by ``source``; return the report or raise
    :class:`IngestRejected` (nothing written, the rejection recorded in the transfer log).

    A row that would publish a withdrawn record again, or change back a field an upheld objection
    corrected, is refused unless ``reactivate`` / ``override_objection`` gives the operator's reason.
    ``column_map`` (``列名=field``) names the field of a header neither the standard nor the variants
    table knows; ``defaults`` (``列名=值``) fills a column the file lacks or leaves blank;
    ``header_row`` is the sheet row of the header when a title sits above it. Each is recorded with
    the ingest in the transfer log.
    Afterwards the publication is refreshed (its own transaction), so that versions held for review
    show in ``status`` and ``review list`` at once."""
    spec = KINDS.get(kind)
    if spec is None:
        raise IngestUsageError(
            N_("unknown kind {kind}: expected one of {kinds}"), params={"kind": repr(kind), "kinds": ", ".join(KINDS)}
        )
    try:
        source = parse_text(source, 200)
        source_uscc = check_uscc(source_uscc) if source_uscc else None
    except InvalidValue as exc:
        raise IngestUsageError(N_("--source/--source-uscc: {error}"), params={"error": exc}) from None
    if not source:
        raise IngestUsageError(N_("--source: the data source unit (数据来源单位) is required"))
    mapping = {header: _field_option(spec, "--map", header, name) for header, name in _pairs("--map", column_map)}
    given_defaults = _pairs("--default", defaults)
    if header_row is not None and header_row < 1:
        raise IngestUsageError(N_("--header-row {row}: rows are numbered from 1"), params={"row": header_row})
    try:
        file_format = detect_format(path, fmt)
        facts = inspect_file(path, file_format, encoding)
    except IngestError as exc:
        # refused before a row was read (unknown format, unreadable, unknown encoding): recorded too
        subject = {"file": path.name, "sha256": _sha256_or_empty(path), "kind": kind, "source": source}
        with node.transaction() as session:
            record_event(
                session,
                EventCode.INGEST_REJECTED,
                at=node.clock(),
                actor=actor,
                result="rejected",
                reason=exc.reason,
                subject=subject,
                counts=IngestReport.zero_counts(),
            )
        raise
    if header_row is not None and file_format is Format.JSONL:
        raise IngestUsageError(N_("--header-row: a JSON Lines file has no header row"))
    report = IngestReport(path.name, facts.sha256, kind, source, file_format.value, facts.encoding)
    reader = RowReader(path, file_format, facts.encoding, header_row=header_row)
    validator = RowValidator(spec, source_unit=source, source_unit_uscc=source_uscc, column_map=mapping)
    for column, value in given_defaults:
        name = mapping.get(column) or _field_option(spec, "--default", column, column)
        try:
            validator.set_default(name, value)
        except InvalidValue as exc:
            raise IngestUsageError(
                N_("--default {column}={value}: {error}"),
                params={"column": column, "value": value, "error": exc},
            ) from None
    report.options = {
        **({"header_row": header_row} if header_row is not None else {}),
        **({"map": [f"{h}={f}" for h, f in mapping.items()]} if mapping else {}),
        **({"defaults": [_logged_default(spec, mapping, c, v) for c, v in given_defaults]} if given_defaults else {}),
    }
    rejects_path = rejects or (default_rejects_path(path) if skip_invalid else None)
    try:
        sink = _RejectsFile(rejects_path) if rejects_path else None
    except OSError as exc:
        raise IngestUsageError(
            N_("cannot write the rejects file {path}: {error}"),
            params={"path": rejects_path, "error": exc.strerror or exc},
        ) from exc
    try:
        try:
            with node.transaction() as session:
                conn = session.connection()
                if conn.dialect.name == "postgresql":
                    # Every lookup here is by key; the tables grow inside this very transaction, where
                    # no statistics can see them, and PostgreSQL then plans each batch's key lookup
                    # as a sequential scan: quadratic in the file's size. Index scans it must be.
                    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
                from internal_node.publication import pseudonym_key

                guarded = Guarded(pseudonym_key(session), reactivate, override_objection)
                writer = BatchWriter(conn, spec, now=node.clock(), counts=report.counts, guarded=guarded)
                _run(reader, validator, writer, report, sink, skip_invalid, show_progress, facts, batch_rows)
                report.accepted = True
                _log_undone(session, node, writer.undone, report, actor, reactivate, override_objection)
                record_event(
                    session,
                    EventCode.INGEST_ACCEPTED,
                    at=node.clock(),
                    actor=actor,
                    subject=report.event_subject(),
                    counts=report.event_counts(),
                )
        except (_Refused, IngestError) as exc:
            reason = exc.reason if isinstance(exc, IngestError) else "invalid-rows"
            report.accepted = False
            # the transaction rolled back: nothing of what the writer counted was kept
            report.counts = Counts(rows=report.counts.rows, rejected=report.counts.rejected)
            with node.transaction() as session:
                record_event(
                    session,
                    EventCode.INGEST_REJECTED,
                    at=node.clock(),
                    actor=actor,
                    result="rejected",
                    reason=reason,
                    subject=report.event_subject(),
                    counts=report.event_counts(),
                )
            if isinstance(exc, IngestError):
                raise
            raise IngestRejected(_refusal(report), report, reason=reason) from None
    except BaseException:
        if sink is not None:
            if report.problem_count and not report.accepted:
                sink.commit()
                report.rejects_file = str(sink.path)
            else:
                sink.discard()
        raise
    if sink is not None:
        sink.commit()
        report.rejects_file = str(sink.path)
    if refresh_publication:
        _refresh(node, report, actor)
    return report


def _pairs(option: str, given: Sequence[str]) -> list[tuple[str, str]]:
    """``列名=值`` options as (column, value) pairs; a malformed or repeated one is a usage error."""
    pairs: list[tuple[str, str]] = []
    for item in given:
        column, sep, value = item.partition("=")
        if not sep or not column.strip() or not value.strip():
            raise IngestUsageError(
                N_("{option} {item}: expected 列名=value (a column, '=', a value)"),
                params={"option": option, "item": item},
            )
        if any(c == column.strip() for c, _v in pairs):
            raise IngestUsageError(
                N_("{option} {column}: given twice"), params={"option": option, "column": column.strip()}
            )
        pairs.append((column.strip(), value.strip()))
    return pairs


def _logged_default(spec: KindSpec, mapping: dict[str, str], column: str, value: str) -> str:
    """``列名=值`` as the transfer log keeps it: a free-text or identity-number value withheld, since the
    log never holds what could be a record's content (docs/FORMAT.md §13.1) — not even its plain hash,
    which an 18-digit ID number's few unknown digits would let anyone reverse by trying them all."""
    name = mapping.get(column) or spec.field_named(column)
    field_type = spec.by_name[name].type if name else None
    if field_type in (FieldType.LONGTEXT, FieldType.ID_NO):
        return f"{column}=(withheld)"
    return f"{column}={value}"


def _field_option(spec: KindSpec, option: str, column: str, name: str) -> str:
    """The field ``name`` stands for (English name, label or any known header), or a usage error with
    the closest field names."""
    found = spec.field_named(name.strip())
    if found is not None:
        return found
    choices = [*spec.by_name, *(f.label for f in spec.fields)]
    close = difflib.get_close_matches(name.strip(), choices, n=3, cutoff=0.5)
    given = f"{option} {column}={name}" if option == "--map" else f"{option} {column}"
    params = {"given": given, "name": repr(name.strip()), "kind": spec.kind, "close": " or ".join(close)}
    if close:
        raise IngestUsageError(N_("{given}: {name} is not a {kind} field; did you mean {close}?"), params=params)
    raise IngestUsageError(
        N_("{given}: {name} is not a {kind} field; the {kind} fields are in docs/INGEST.md"), params=params
    )


def _log_undone(
    session: Any, node: Node, undone: list[Undone], report: IngestReport, actor: str | None,
    reactivate: str | None, override_objection: str | None,
) -> None:  # fmt: skip
    """One transfer-log entry per record reactivated or objection overridden: who (the actor), why (the
    operator's reason), which record (kind and opaque key, file and line; never its content)."""
    for u in undone:
        why = reactivate if u.what == "reactivated" else override_objection
        record_event(
            session, EventCode.RECORD_REACTIVATED, at=node.clock(), actor=actor, result=u.what,
            subject={"kind": u.kind, "key": u.key, "file": report.file, "line": u.line, "why": (why or "")[:400]},
        )  # fmt: skip


def _refresh(node: Node, report: IngestReport, actor: str | None) -> None:
    """Bring the publication up to date after an accepted ingest; a failure (an invalid policy file)
    leaves it to the next export and is reported, never undoing the ingest."""
    from internal_node.policy import PolicyError, load_policy
    from internal_node.publication import refresh
    from internal_node.review import held_count

    try:
        policy = load_policy(node.config.policy_file)
        with node.transaction() as session:
            refresh(session, policy, today=node.today(), actor=actor, at=node.clock())
            report.review_held = held_count(session)
    except PolicyError as exc:
        report.refresh_error = exc.message


def _sha256_or_empty(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return ""
    return digest.hexdigest()


def _refusal(report: IngestReport, *, shown: bool = False) -> str:
    """Why the file was refused: English (logs, --json), or with ``shown`` in the operator's language."""
    c = report.counts
    t = i18n.active() if shown else gettext.NullTranslations()
    first = (
        "" if not report.problems else (report.problems[0].shown if shown else report.problems[0].render)(report.file)
    )
    if c.rejected:
        what = t.ngettext("{rejected} of {rows} row invalid", "{rejected} of {rows} rows invalid", c.rows)
    else:
        what = t.ngettext("{problems} problem", "{problems} problems", report.problem_count)
    what = what.format(rejected=c.rejected, rows=c.rows, problems=report.problem_count)
    return t.gettext("{file}: rejected, nothing written: {what} (first: {first})").format(
        file=report.file, what=what, first=first
    )


def _run(
    reader: RowReader,
    validator: RowValidator,
    writer: BatchWriter,
    report: IngestReport,
    sink: _RejectsFile | None,
    skip_invalid: bool,
    show_progress: bool,
    facts: FileFacts,
    batch_rows: int,
) -> None:
    counts = report.counts
    raws: dict[int, RawRow] = {}  # the batch's rows as read, for the rejects file

    def flush(batch: list[ValidRow]) -> None:
        refused = writer.write(batch)
        by_line: dict[int, list[Problem]] = {}
        for p in refused:
            report.add(p)
            by_line.setdefault(p.line, []).append(p)
        if sink is not None:
            for line, problems in by_line.items():
                sink.write_row(raws[line], problems, reader.headers)
        counts.rejected += len(by_line)
        raws.clear()

    rows = iter(reader)
    first = next(rows, None)  # reading the first row reads the header row
    if reader.headers is not None:
        header_problems = validator.bind_headers(reader.headers, reader.header_line)
        if validator.variants_used:
            report.options["variants"] = list(validator.variants_used)
        for p in header_problems:
            report.add(p)
            if sink is not None and p.severity == "error":
                sink.write_file_problem(p, reader.headers)
        if any(p.severity == "error" for p in header_problems):
            raise _Refused
    batch: list[ValidRow] = []
    with _progress(_chain(first, rows), reader.estimated_rows(facts), show_progress, report.file) as stream:
        for raw in stream:
            counts.rows += 1
            valid, problems = validator.validate(raw)
            for p in problems:
                report.add(p)
            if valid is None:
                counts.rejected += 1
                if sink is not None:
                    sink.write_row(raw, [p for p in problems if p.severity == "error"], reader.headers)
                continue
            if sink is not None:
                raws[raw.line] = raw
            batch.append(valid)
            if len(batch) >= batch_rows:
                flush(batch)
                batch = []
        flush(batch)
    if counts.rejected and not skip_invalid:
        raise _Refused
    if any(p.field == FILE and p.severity == "error" for p in report.problems):
        raise _Refused


def _chain(first: RawRow | None, rest: Iterator[RawRow]) -> Iterator[RawRow]:
    if first is not None:
        yield first
        yield from rest


@contextmanager
def _progress(rows: Iterator[RawRow], length: int | None, show: bool, label: str) -> Iterator[Iterator[RawRow]]:
    if not show:
        yield rows
        return
    from nodekit.cli import progress

    with progress(rows, length=length, label=f"ingest {label}") as bar:
        yield iter(bar)


__all__ = ["Format", "IngestError", "IngestRejected", "IngestReport", "IngestUsageError", "ingest_file"]
