"""Turning one row of a department file into a validated record: cell conversion, field validation,
the cross-field rules of each kind, and the subject (主体) the record is about."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from internal_node import validate as v
from internal_node.columns import LONGTEXT_MAX, FieldSpec, FieldType, KindSpec, normalise_header
from internal_node.policy_fields import OWN_FIELDS
from internal_node.readers import RawRow
from internal_node.validate import InvalidValue, Problem
from nodekit.i18n import N_

ROW = "(row)"
FILE = "(file)"
HELD_NO_ID = "natural person without an ID number: held for operator review"
_EXACT = frozenset({FieldType.USCC, FieldType.ID_NO, FieldType.ORG_CODE, FieldType.COMMITMENT_CODE})
# row numbers spreadsheets add, and the leading columns of a rejects file (ingest.REJECTS_COLUMNS, so
# that a corrected rejects file is ingested as it is): they carry no data
IGNORED_HEADERS = frozenset({"序号", "行号", "表格行号", "数据行号", "文件行号", "问题"})

# (later field, earlier field): the later date may not precede the earlier one
DATE_ORDER: dict[str, tuple[tuple[str, str], ...]] = {
    "licence": (("valid_to", "valid_from"), ("valid_from", "decision_date")),
    "penalty": (("publish_until", "decision_date"), ("penalty_valid_until", "decision_date")),
    "list_entry": (("valid_until", "listed_date"), ("removed_date", "listed_date")),
    "commitment": (("valid_until", "commitment_date"), ("determined_date", "commitment_date")),
    "gov_credit": (("due_date", "occurred_date"), ("resolved_date", "occurred_date")),
}

SUBJECT_FIELDS = OWN_FIELDS["subject"]


@dataclass
class SubjectData:
    """The subject a row names: its natural key and the subject fields the row gives (None = not given)."""

    natural_key: str
    values: dict[str, Any]


@dataclass
class ValidRow:
    """A row that passed validation, ready to be written."""

    line: int
    values: dict[str, Any]
    key: tuple[Any, ...]
    subject: SubjectData | None
    held_reason: str | None = None
    warnings: list[Problem] = field(default_factory=list)


class RowValidator:
    """Validates the rows of one file of one kind (see docs/INGEST.md for the rules)."""

    def __init__(
        self,
        spec: KindSpec,
        *,
        source_unit: str,
        source_unit_uscc: str | None,
        column_map: Mapping[str, str] | None = None,
    ) -> None:
        self.spec = spec
        # --map: a file's header (as given) → field, ahead of the standard's headers and variants
        self.column_map = {normalise_header(h): (h, f) for h, f in (column_map or {}).items()}
        self.variants_used: list[str] = []  # "header=field" read through the variants table
        self.operator_defaults: set[str] = set()  # fields given by --default
        self.source_unit = source_unit
        self.source_unit_uscc = source_unit_uscc
        self.columns: list[FieldSpec | None] = []
        self._plan: list[tuple[int, str]] = []  # (cell index, field) of the mapped columns
        self._defaults: dict[str, Any] = {f.name: f.default for f in spec.fields}
        self._required = [f.name for f in spec.fields if f.required]
        self._key_cache: dict[str, str | None] = {}
        self.unknown: set[str] = set()

    # --- headers ---

    def bind_headers(self, headers: list[str], line: int) -> list[Problem]:
        """Map a header row onto fields: errors for duplicate or missing required columns, warnings
        for columns this kind does not know (they are ignored)."""
        problems: list[Problem] = []
        seen: dict[str, str] = {}
        self.columns = []
        mapped_seen: set[str] = set()
        for header in headers:
            mapped = self.column_map.get(normalise_header(header))
            if mapped is not None:
                mapped_seen.add(normalise_header(header))
            name = mapped[1] if mapped is not None else self.spec.field_for(header)
            if mapped is None and name is not None and self.spec.is_variant(header):
                self.variants_used.append(f"{header.strip()}={name}")
            if name is None:
                if header.strip() and header.strip() not in IGNORED_HEADERS:
                    problems.append(
                        Problem.say(
                            line,
                            FILE,
                            N_("column {column} is not a {kind} field: ignored"),
                            "warning",
                            column=repr(header.strip()),
                            kind=self.spec.kind,
                        )
                    )
                self.columns.append(None)
                continue
            if name in seen:
                problems.append(
                    Problem.say(
                        line,
                        name,
                        N_("given twice, as {first} and {second}"),
                        first=repr(seen[name]),
                        second=repr(header.strip()),
                    )
                )
            seen[name] = header.strip()
            self.columns.append(self.spec.by_name[name])
        self._plan = [(i, spec.name) for i, spec in enumerate(self.columns) if spec is not None]
        for key, (given, _field) in self.column_map.items():
            if key not in mapped_seen:
                problems.append(
                    Problem.say(line, FILE, N_("--map {column}: the header row has no such column"), column=given)
                )
        if not seen:
            return [
                Problem.say(
                    line,
                    FILE,
                    N_(
                        "the header row names no {kind} field: is there a title row above the header "
                        "(--header-row N), or is --kind wrong?"
                    ),
                    kind=self.spec.kind,
                )
            ]
        for spec in self.spec.fields:
            if spec.required and spec.name not in seen and spec.name not in self.operator_defaults:
                problems.append(
                    Problem.say(
                        line,
                        spec.name,
                        N_("required column missing (header {label} or {name})"),
                        label=spec.label,
                        name=spec.name,
                    )
                )
        return problems

    def _field_of_key(self, key: str) -> str | None:
        if key not in self._key_cache:
            mapped = self.column_map.get(normalise_header(key))
            self._key_cache[key] = mapped[1] if mapped is not None else self.spec.field_for(key)
        return self._key_cache[key]

    def set_default(self, name: str, value: str) -> None:
        """``--default``: the value of field ``name`` where a row leaves it blank or the file lacks the
        column, read as a cell is read (raises :class:`InvalidValue`)."""
        problems: list[Problem] = []
        converted = self._convert(self.spec.by_name[name], value.strip(), 0, problems)
        if any(p.severity == "error" for p in problems):
            first = problems[0]
            raise InvalidValue(first.template or first.message, **(first.params or {}))
        self._defaults[name] = converted
        self.operator_defaults.add(name)

    # --- rows ---

    def validate(self, raw: RawRow) -> tuple[ValidRow | None, list[Problem]]:
        """The validated row, or None and the problems that reject it (warnings come with either)."""
        if raw.error is not None:
            return None, [Problem(raw.line, ROW, raw.error)]
        problems: list[Problem] = []
        values = dict(self._defaults)
        line = raw.line
        convert = self._convert
        # the hot path: one pass over the cells the header mapped, blanks skipped early
        for name, cell in self._cells(raw, problems):
            if cell is None:
                continue
            if cell.__class__ is str:
                cell = cell.strip()
                if not cell:
                    continue
            try:
                values[name] = convert(self.spec.by_name[name], cell, line, problems)
            except InvalidValue as exc:
                problems.append(Problem.of(line, name, exc))
        if not values["source_unit"]:
            values["source_unit"] = self.source_unit
        if not values["source_unit_uscc"]:
            values["source_unit_uscc"] = self.source_unit_uscc
        for name in self._required:
            if values[name] is None and not any(p.field == name for p in problems):
                problems.append(Problem.say(line, name, N_("required ({label})"), label=self.spec.by_name[name].label))
        subject, held = self._cross_checks(values, line, problems)
        if any(p.severity == "error" for p in problems):
            return None, problems
        if self.spec.kind == "subject":
            assert subject is not None
            key: tuple[Any, ...] = (subject.natural_key,)
        else:
            key = tuple(values[k] for k in self.spec.key)
        return ValidRow(line, values, key, subject, held, problems), problems

    def _cells(self, raw: RawRow, problems: list[Problem]) -> list[tuple[str, Any]]:
        """(field, cell) pairs of a row."""
        if raw.cells is not None:
            cells = raw.cells
            if len(cells) > len(self.columns) and any(_present(c) for c in cells[len(self.columns) :]):
                problems.append(
                    Problem.say(
                        raw.line,
                        ROW,
                        N_("{cells} cells but the header has {columns} columns"),
                        cells=len(cells),
                        columns=len(self.columns),
                    )
                )
            n = len(cells)
            return [(name, cells[i]) for i, name in self._plan if i < n]
        given: list[tuple[str, Any]] = []
        seen: set[str] = set()
        for key, cell in (raw.mapping or {}).items():
            name = self._field_of_key(str(key))
            if name is None:
                if str(key) not in self.unknown and str(key).strip() not in IGNORED_HEADERS:
                    self.unknown.add(str(key))
                    problems.append(
                        Problem.say(
                            raw.line,
                            FILE,
                            N_("key {key} is not a {kind} field: ignored"),
                            "warning",
                            key=repr(str(key)),
                            kind=self.spec.kind,
                        )
                    )
                continue
            if name in seen:
                problems.append(Problem.say(raw.line, name, N_("given twice under different names")))
                continue
            seen.add(name)
            given.append((name, cell))
        return given

    def _convert(self, spec: FieldSpec, cell: Any, line: int, problems: list[Problem]) -> Any:
        t = spec.type
        if t is FieldType.DATE:
            return v.parse_date(cell)
        if t is FieldType.AMOUNT:
            return v.parse_amount(cell)
        text = _as_text(cell, exact=t in _EXACT)
        if t is FieldType.TEXT:
            return v.parse_text(text, spec.max_len)
        if t is FieldType.LONGTEXT:
            return v.parse_text(text, LONGTEXT_MAX, multiline=True)
        if t is FieldType.ENUM:
            assert spec.vocab is not None
            return v.parse_enum(text, spec.vocab)
        if t is FieldType.ENUM_LIST:
            assert spec.vocab is not None
            codes = v.parse_enum_list(text, spec.vocab)
            if len(codes) > spec.max_len:
                raise InvalidValue(N_("too many values (at most {max_len} characters of codes)"), max_len=spec.max_len)
            return codes
        if t is FieldType.USCC:
            code = v.check_uscc(text)
            warning = v.uscc_org_code_warning(code)
            if warning:
                problems.append(Problem(line, spec.name, warning, "warning"))
            return code
        if t is FieldType.ORG_CODE:
            code, warning = v.check_org_code(text)
            if warning:
                problems.append(Problem(line, spec.name, warning, "warning"))
            return code
        if t is FieldType.COMMITMENT_CODE:
            return v.check_commitment_code(text)
        return v.parse_text(text, spec.max_len)  # ID_NO: checked with its type in _cross_checks

    # --- rules across fields ---

    def _cross_checks(
        self, values: dict[str, Any], line: int, problems: list[Problem]
    ) -> tuple[SubjectData | None, str | None]:
        kind = self.spec.kind
        for later, earlier in DATE_ORDER.get(kind, ()):
            a, b = values.get(later), values.get(earlier)
            if isinstance(a, date) and isinstance(b, date) and a < b:
                problems.append(
                    Problem.say(
                        line,
                        later,
                        N_("{date} is before {other} {other_date}"),
                        date=a.isoformat(),
                        other=earlier,
                        other_date=b.isoformat(),
                    )
                )
        if kind == "list_entry" and values.get("list_type") == "dishonest" and not values.get("basis"):
            problems.append(Problem.say(line, "basis", N_("required for a serious-dishonesty listing (认定依据)")))
        self._id_pair(values, "legal_rep_id_type", "legal_rep_id_no", line, problems)
        if kind == "subject":
            return self._subject_row(values, line, problems), None
        if kind == "gov_credit":
            uscc = values.get("department_uscc")
            if uscc is None:
                return None, None
            return SubjectData(
                f"uscc:{uscc}", {"name": values.get("department"), "category": "government", "uscc": uscc}
            ), None
        return self._party(values, line, problems)

    def _id_pair(
        self, values: dict[str, Any], type_field: str, no_field: str, line: int, problems: list[Problem]
    ) -> date | None:
        """Check an ID number against its type (a blank type with a number means a resident ID)."""
        number = values.get(no_field)
        if number is None:
            return None
        if values.get(type_field) is None:
            values[type_field] = "resident_id"
        if values[type_field] != "resident_id":
            return None
        try:
            values[no_field] = v.check_resident_id(number)
        except InvalidValue as exc:
            problems.append(Problem.of(line, no_field, exc))
            return None
        return v.resident_id_birth_date(values[no_field])

    def _party(
        self, values: dict[str, Any], line: int, problems: list[Problem]
    ) -> tuple[SubjectData | None, str | None]:
        category = values.get("party_category")
        born = self._id_pair(values, "party_id_type", "party_id_no", line, problems)
        common = {
            "name": values.get("party_name"),
            "category": category,
            "legal_rep": values.get("legal_rep"),
            "legal_rep_id_type": values.get("legal_rep_id_type"),
            "legal_rep_id_no": values.get("legal_rep_id_no"),
        }
        if category in ("legal_person", "individual_business"):
            uscc = values.get("party_uscc")
            if uscc is None:
                if not any(p.field == "party_uscc" for p in problems):
                    problems.append(
                        Problem.say(
                            line,
                            "party_uscc",
                            N_("required for a {category} (统一社会信用代码)"),
                            category=category.replace("_", " "),
                        )
                    )
                return None, None
            return SubjectData(f"uscc:{uscc}", {**common, "uscc": uscc}), None
        if category == "natural_person":
            number = values.get("party_id_no")
            if number is None:
                return None, HELD_NO_ID
            id_type = values["party_id_type"]
            return SubjectData(
                f"id:{id_type}:{number}",
                {
                    "name": values.get("party_name"),
                    "category": category,
                    "id_type": id_type,
                    "id_no": number,
                    "birth_date": born,
                },
            ), None
        return None, None  # category missing or invalid: already reported

    def _subject_row(self, values: dict[str, Any], line: int, problems: list[Problem]) -> SubjectData | None:
        category = values.get("category")
        born = self._id_pair(values, "id_type", "id_no", line, problems)
        if born is not None:
            values["birth_date"] = born
        data = {k: values.get(k) for k in SUBJECT_FIELDS}
        if category == "natural_person":
            if values.get("id_no") is None:
                problems.append(Problem.say(line, "id_no", N_("required for a natural person subject (证件号码)")))
                return None
            return SubjectData(f"id:{values['id_type']}:{values['id_no']}", data)
        if category is not None:
            if values.get("uscc") is None:
                if not any(p.field == "uscc" for p in problems):
                    problems.append(
                        Problem.say(
                            line, "uscc", N_("required for a subject other than a natural person (统一社会信用代码)")
                        )
                    )
                return None
            return SubjectData(f"uscc:{values['uscc']}", data)
        return None


def _present(cell: Any) -> bool:
    if cell is None:
        return False
    if isinstance(cell, str):
        return bool(cell.strip())
    return True


def _as_text(cell: Any, *, exact: bool) -> str:
    """A cell as text. Identifiers stored as spreadsheet numbers are refused: 18 digits do not
    survive a float (1.10105E+17), and a leading zero is gone."""
    if isinstance(cell, str):
        return cell
    if isinstance(cell, bool):
        raise InvalidValue(N_("expected text, got {value}"), value=repr(cell))
    if isinstance(cell, float):
        if exact:
            raise InvalidValue(N_("stored as a number, which loses digits: format the column as text"))
        return str(int(cell)) if cell.is_integer() else repr(cell)
    if isinstance(cell, int | Decimal):
        return str(cell)
    if isinstance(cell, datetime | date):
        return cell.isoformat()
    raise InvalidValue(N_("expected text, got {value}"), value=type(cell).__name__)
