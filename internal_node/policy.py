"""The disclosure policy: which fields of each record kind are published, masked or dropped, which
disclosure classes may be exported, and how long negative information stays published.

The policy is a declarative TOML file (``policy.toml`` in the node home, docs/POLICY.md). The loader
is strict: an unknown kind, field, rule, class or duration is an error naming the file and the key.
What the file does not say is dropped; the floors in :data:`FLOORS` cannot be lowered by any file.
The digest is a SHA-256 over the canonical encoding of the *resolved* policy, so comments, layout
and restating a default do not change it, and every change of behaviour does.
"""

from __future__ import annotations

import calendar
import hashlib
import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

from internal_node.masking import RULES
from internal_node.policy_default import DEFAULT_POLICY_TOML
from internal_node.policy_fields import (
    CATEGORIES,
    DISCLOSURE_CLASSES,
    FIELDS,
    KINDS,
    NEVER_EXPORTED,
    PARTY_FIELDS,
    PARTY_KINDS,
    RESERVED_FIELDS,
    SEVERITIES,
    WITHDRAWAL_REASONS,
)
from keys import canonical
from nodekit.errors import ExitCode, NodeError
from nodekit.i18n import N_

POLICY_FORMAT = "credgap-policy/1"

Op = Literal["publish", "mask", "drop"]


class PolicyError(NodeError):
    """The policy file is missing, unreadable or invalid; the message names the file and the key."""

    exit_code = ExitCode.REJECTED
    reason = "policy"


@dataclass(frozen=True)
class Action:
    """What happens to one field: published as is, masked by a rule, or dropped from the row."""

    op: Op
    rule: str = ""

    def __str__(self) -> str:
        return f"mask:{self.rule}" if self.op == "mask" else self.op


PUBLISH = Action("publish")
DROP = Action("drop")


@dataclass(frozen=True)
class Period:
    """A publication period counted from a decision date: days, months or years, or no end (None)."""

    count: int | None
    unit: Literal["d", "m", "y", ""] = ""

    def __str__(self) -> str:
        return "none" if self.count is None else f"{self.count}{self.unit}"

    def end(self, start: date) -> date | None:
        """The last day of publication: the day corresponding to ``start`` after the period (a month
        without that day ends on its last day), as the Civil Code counts periods (民法典 art. 201–203)."""
        if self.count is None:
            return None
        if self.unit == "d":
            return start + timedelta(days=self.count)
        months = self.count * (12 if self.unit == "y" else 1)
        year, month = divmod(start.month - 1 + months, 12)
        year += start.year
        if year > 9999:
            return date.max
        return date(year, month + 1, min(start.day, calendar.monthrange(year, month + 1)[1]))


NO_END = Period(None)

# Fields whose raw value is personal data no policy may publish as is (checked on the resolved policy).
FLOORS: tuple[tuple[str, frozenset[str], frozenset[str], str], ...] = (
    ("id_no", frozenset(CATEGORIES), frozenset({"mask", "drop"}), "ID numbers are never published in full"),
    ("party_id_no", frozenset(CATEGORIES), frozenset({"mask", "drop"}), "ID numbers are never published in full"),
    (
        "legal_rep_id_no",
        frozenset(CATEGORIES),
        frozenset({"drop"}),
        "legal representatives' ID numbers are shared within government only",
    ),
    (
        "phone",
        frozenset({"natural_person", "individual_business"}),
        frozenset({"mask", "drop"}),
        "natural persons' contact details are never published in full",
    ),
    (
        "address",
        frozenset({"natural_person", "individual_business"}),
        frozenset({"mask", "drop"}),
        "natural persons' home addresses are never published in full",
    ),
)


# Licence and decision numbers of 18 digits (construction permits: region 6 + date 8 + serial 4) look
# like ID numbers; a number of this format is one only if the database holds it (docs/POLICY.md).
DEFAULT_NUMBER_FORMATS = {"licence": "[0-9]{18}", "penalty": "", "list_entry": "", "gov_credit": ""}


@dataclass(frozen=True)
class DisclosurePolicy:
    """A loaded, resolved policy. Build with :func:`parse_policy` or :func:`load_policy`."""

    source: str
    export_classes: frozenset[str]
    penalty_periods: Mapping[str, Period]
    kind_periods: Mapping[str, Period]
    unknown_age: Literal["hold", "publish"]
    withdrawal_labels: Mapping[str, str]
    rules: Mapping[str, Mapping[str, Mapping[str, Action]]] = field(repr=False)
    number_formats: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_NUMBER_FORMATS))

    def number_format_matches(self, kind: str, number: str) -> bool:
        """Whether ``number`` has the kind's declared licence/decision-number format (``[numbers]``);
        False when the kind declares none."""
        pattern = self.number_formats.get(kind, "")
        return bool(pattern) and re.fullmatch(pattern, number, re.ASCII) is not None

    def action(self, kind: str, field_name: str, category: str | None) -> Action:
        """The action for ``field_name`` of ``kind`` when the subject is of ``category``; an unknown
        category is treated as a natural person (the strictest), an unknown field is dropped."""
        cat = category if category in CATEGORIES else "natural_person"
        return self.rules[kind][cat].get(field_name, DROP)

    def period(self, kind: str, severity: str | None = None) -> Period:
        if kind == "penalty":
            return self.penalty_periods.get(severity or "", NO_END)
        return self.kind_periods.get(kind, NO_END)

    def label(self, reason: str) -> str:
        return self.withdrawal_labels.get(reason, reason)

    def document(self) -> dict[str, Any]:
        """The resolved policy as a canonical document (what the digest covers)."""
        return {
            "format": POLICY_FORMAT,
            "export_classes": sorted(self.export_classes),
            "periods": {
                "penalty": {sev: str(p) for sev, p in sorted(self.penalty_periods.items())},
                **{kind: str(p) for kind, p in sorted(self.kind_periods.items())},
            },
            "minors": {"unknown_age": self.unknown_age},
            "withdrawal": dict(sorted(self.withdrawal_labels.items())),
            "numbers": dict(sorted(self.number_formats.items())),
            "rules": {
                kind: {cat: {f: str(a) for f, a in sorted(fields.items())} for cat, fields in sorted(cats.items())}
                for kind, cats in sorted(self.rules.items())
            },
        }

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of the canonical encoding of :meth:`document`."""
        return hashlib.sha256(canonical.encode(self.document())).hexdigest()


DEFAULT_PENALTY_PERIODS = {"minor": Period(3, "m"), "general": Period(1, "y"), "serious": Period(3, "y")}
DEFAULT_KIND_PERIODS = {"licence": NO_END, "list_entry": NO_END, "commitment": NO_END, "gov_credit": NO_END}


# --- parsing -------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> PolicyError:
        where = f"{self.source}: {key}: " if key else f"{self.source}: "
        return PolicyError(where + problem)

    def table(self, value: object, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table, found {_describe(value)}")
        return value

    def string(self, value: object, key: str) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"expected a string, found {_describe(value)}")
        return value

    def action(self, value: object, key: str) -> Action:
        text = self.string(value, key).strip()
        if text in ("publish", "drop"):
            return Action(text)  # type: ignore[arg-type]
        if text.startswith("mask:"):
            rule = text[5:].strip()
            if rule not in RULES:
                raise self.fail(key, f"unknown masking rule {rule!r} (known: {', '.join(RULES)})")
            return Action("mask", rule)
        raise self.fail(key, f"expected 'publish', 'drop' or 'mask:<rule>', found {text!r}")

    def period(self, value: object, key: str) -> Period:
        text = self.string(value, key).strip().lower()
        if text == "none":
            return NO_END
        number, unit = text[:-1], text[-1:]
        if not number.isascii() or not number.isdigit() or unit not in ("d", "w", "m", "y") or len(number) > 5:
            raise self.fail(
                key, f"bad duration {text!r}: expected a number and d, w, m or y (e.g. 90d, 3m, 1y), or 'none'"
            )
        if unit == "w":
            return Period(int(number) * 7, "d")
        return Period(int(number), unit)  # type: ignore[arg-type]

    def field_rules(
        self, table: Mapping[str, Any], key: str, allowed: tuple[str, ...], what: str
    ) -> dict[str, tuple[Action, str]]:
        out: dict[str, tuple[Action, str]] = {}
        for name, value in table.items():
            where = f"{key}.{name}"
            if name in RESERVED_FIELDS:
                raise self.fail(where, f"not configurable: {RESERVED_FIELDS[name]}")
            if name not in allowed:
                raise self.fail(where, f"unknown field of {what}")
            out[name] = (self.action(value, where), where)
        return out


def _describe(value: object) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean", int: "an integer"}.get(
        type(value), type(value).__name__
    )


def parse_policy(text: str, *, source: str = "policy.toml") -> DisclosurePolicy:
    """Parse and resolve a policy file's text; raise :class:`PolicyError` naming ``source`` and the key."""
    p = _Parser(source)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise p.fail("", f"not valid TOML: {exc}") from exc
    known = ("version", "export", "periods", "minors", "withdrawal", "numbers", "party", "kinds")
    for name in raw:
        if name not in known:
            raise p.fail(name, f"unknown setting (known: {', '.join(known)})")
    if "version" not in raw:
        raise p.fail("version", "missing (expected version = 1)")
    if raw["version"] != 1 or isinstance(raw["version"], bool):
        raise p.fail("version", f"unsupported policy version {raw['version']!r} (expected 1)")

    export = p.table(raw.get("export", {}), "export")
    for name in export:
        if name != "classes":
            raise p.fail(f"export.{name}", "unknown setting (known: classes)")
    classes_raw = export.get("classes", ["public"])
    if not isinstance(classes_raw, list):
        raise p.fail("export.classes", f"expected an array of disclosure classes, found {_describe(classes_raw)}")
    classes: set[str] = set()
    for item in classes_raw:
        cls = p.string(item, "export.classes")
        if cls not in DISCLOSURE_CLASSES:
            raise p.fail("export.classes", f"unknown disclosure class {cls!r} (known: {', '.join(DISCLOSURE_CLASSES)})")
        if cls in NEVER_EXPORTED:
            raise p.fail("export.classes", f"disclosure class {cls!r} is never exported (only 'public' may be)")
        classes.add(cls)

    penalty_periods = dict(DEFAULT_PENALTY_PERIODS)
    kind_periods = dict(DEFAULT_KIND_PERIODS)
    for name, value in p.table(raw.get("periods", {}), "periods").items():
        where = f"periods.{name}"
        if name == "penalty":
            for sev, dur in p.table(value, where).items():
                if sev not in SEVERITIES:
                    raise p.fail(f"{where}.{sev}", f"unknown severity (known: {', '.join(SEVERITIES)})")
                penalty_periods[sev] = p.period(dur, f"{where}.{sev}")
        elif name in kind_periods:
            kind_periods[name] = p.period(value, where)
        elif name in KINDS:
            raise p.fail(where, f"{name} records have no publication period")
        else:
            raise p.fail(where, f"unknown kind (known: penalty, {', '.join(kind_periods)})")

    minors = p.table(raw.get("minors", {}), "minors")
    unknown_age = "hold"
    for name, value in minors.items():
        if name != "unknown_age":
            raise p.fail(f"minors.{name}", "unknown setting (known: unknown_age)")
        unknown_age = p.string(value, "minors.unknown_age")
        if unknown_age not in ("hold", "publish"):
            raise p.fail("minors.unknown_age", f"expected 'hold' or 'publish', found {unknown_age!r}")

    labels = dict(WITHDRAWAL_REASONS)
    for name, value in p.table(raw.get("withdrawal", {}), "withdrawal").items():
        if name not in WITHDRAWAL_REASONS:
            raise p.fail(f"withdrawal.{name}", f"unknown reason (known: {', '.join(WITHDRAWAL_REASONS)})")
        label = p.string(value, f"withdrawal.{name}").strip()
        if not label:
            raise p.fail(f"withdrawal.{name}", "the label must not be empty")
        labels[name] = label

    numbers = dict(DEFAULT_NUMBER_FORMATS)
    for name, value in p.table(raw.get("numbers", {}), "numbers").items():
        where = f"numbers.{name}"
        if name not in DEFAULT_NUMBER_FORMATS:
            raise p.fail(where, f"unknown kind (known: {', '.join(DEFAULT_NUMBER_FORMATS)})")
        pattern = p.string(value, where).strip()
        try:
            re.compile(pattern, re.ASCII)
        except re.error as exc:
            raise p.fail(where, f"not a valid regular expression: {exc}") from None
        numbers[name] = pattern

    party = _layer(
        p, p.table(raw.get("party", {}), "party"), "party", PARTY_FIELDS, "party fields", allow_default=False
    )
    kinds: dict[str, tuple[dict[str, tuple[Action, str]], dict[str, dict[str, tuple[Action, str]]], Action]] = {}
    for kind, value in p.table(raw.get("kinds", {}), "kinds").items():
        if kind not in KINDS:
            raise p.fail(f"kinds.{kind}", f"unknown kind (known: {', '.join(KINDS)})")
        kinds[kind] = _layer(p, p.table(value, f"kinds.{kind}"), f"kinds.{kind}", FIELDS[kind], kind)

    rules = _resolve(p, party, kinds)
    return DisclosurePolicy(
        source=source,
        export_classes=frozenset(classes),
        penalty_periods=penalty_periods,
        kind_periods=kind_periods,
        unknown_age=unknown_age,  # type: ignore[arg-type]
        withdrawal_labels=labels,
        rules=rules,
        number_formats=numbers,
    )


def _layer(
    p: _Parser, table: Mapping[str, Any], key: str, allowed: tuple[str, ...], what: str, *, allow_default: bool = True
) -> tuple[dict[str, tuple[Action, str]], dict[str, dict[str, tuple[Action, str]]], Action]:
    """One ``[party]`` or ``[kinds.K]`` table: (field rules, per-category field rules, default)."""
    default = DROP
    plain: dict[str, Any] = {}
    per_category: dict[str, dict[str, tuple[Action, str]]] = {}
    for name, value in table.items():
        if name == "default" and allow_default:
            default = p.action(value, f"{key}.default")
        elif name in CATEGORIES:
            per_category[name] = p.field_rules(p.table(value, f"{key}.{name}"), f"{key}.{name}", allowed, what)
        elif isinstance(value, dict):
            raise p.fail(f"{key}.{name}", f"unknown category (known: {', '.join(CATEGORIES)})")
        else:
            plain[name] = value
    return p.field_rules(plain, key, allowed, what), per_category, default


def _resolve(
    p: _Parser,
    party: tuple[dict[str, tuple[Action, str]], dict[str, dict[str, tuple[Action, str]]], Action],
    kinds: Mapping[str, tuple[dict[str, tuple[Action, str]], dict[str, dict[str, tuple[Action, str]]], Action]],
) -> dict[str, dict[str, dict[str, Action]]]:
    """Resolve every (kind, category, field): kinds.K.C.F, kinds.K.F, party.C.F, party.F, kinds.K.default,
    drop — the first that is set wins — then check the floors."""
    party_plain, party_cat, _ = party
    rules: dict[str, dict[str, dict[str, Action]]] = {}
    for kind in KINDS:
        plain, per_cat, default = kinds.get(kind, ({}, {}, DROP))
        rules[kind] = {}
        for cat in CATEGORIES:
            resolved: dict[str, Action] = {}
            for name in FIELDS[kind]:
                layers = [per_cat.get(cat, {}), plain]
                if name in PARTY_FIELDS and kind in PARTY_KINDS:
                    layers += [party_cat.get(cat, {}), party_plain]
                found = next((layer[name] for layer in layers if name in layer), (default, f"kinds.{kind}.default"))
                _check_floor(p, kind, cat, name, *found)
                resolved[name] = found[0]
            rules[kind][cat] = resolved
    return rules


def _check_floor(p: _Parser, kind: str, cat: str, name: str, action: Action, origin: str) -> None:
    for floor_field, categories, allowed, why in FLOORS:
        if name == floor_field and cat in categories and action.op not in allowed:
            hint = "drop" if allowed == {"drop"} else "drop or mask:<rule>"
            raise p.fail(origin, f"{action} is not allowed for {kind} {name} of a {cat}: {why} (use {hint})")


def load_policy(path: Path) -> DisclosurePolicy:
    """Read and parse the policy file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise PolicyError(
            N_("{path}: missing; write the default with `internal-node policy init`"),
            params={"path": path},
            reason="policy-missing",
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(N_("{path}: cannot read: {problem}"), params={"path": path, "problem": exc}) from exc
    return parse_policy(text, source=str(path))


def write_default_policy(path: Path, *, overwrite: bool = False) -> bool:
    """Write :data:`DEFAULT_POLICY_TOML` to ``path`` atomically (a temporary file renamed into place).

    Returns False, writing nothing, when the file exists and ``overwrite`` is false."""
    if path.exists() and not overwrite:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".policy-", suffix=".tmp", dir=path.parent)
    tmp_path = Path(tmp)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(DEFAULT_POLICY_TOML)
            fh.flush()
            os.fsync(fh.fileno())
        tmp_path.chmod(0o644)
        if overwrite:
            tmp_path.replace(path)
        else:
            try:
                os.link(tmp_path, path)  # fails if the file appeared meanwhile: never clobber it
            except FileExistsError:
                return False
    finally:
        tmp_path.unlink(missing_ok=True)
    return True


def default_policy() -> DisclosurePolicy:
    """The policy :data:`DEFAULT_POLICY_TOML` describes."""
    return parse_policy(DEFAULT_POLICY_TOML, source="<default policy>")


__all__ = [
    "CATEGORIES",
    "DEFAULT_POLICY_TOML",
    "FIELDS",
    "KINDS",
    "PARTY_KINDS",
    "SEVERITIES",
    "WITHDRAWAL_REASONS",
    "Action",
    "DisclosurePolicy",
    "Period",
    "PolicyError",
    "check_policy",
    "default_policy",
    "init_policy",
    "load_policy",
    "parse_policy",
    "write_default_policy",
]


class PolicyExistsError(PolicyError):
    """``policy init`` would replace an existing policy file without ``--force``."""

    exit_code = ExitCode.USAGE
    reason = "policy-exists"


def check_policy(path: Path) -> dict[str, Any]:
    """Validate the policy file at ``path``: a summary with its digest (raises :class:`PolicyError`)."""
    policy = load_policy(path)
    document = policy.document()
    return {
        "ok": True,
        "file": str(path),
        "digest": policy.digest,
        "export_classes": document["export_classes"],
        "periods": document["periods"],
        "minors": document["minors"],
    }


def init_policy(path: Path, *, force: bool = False) -> dict[str, Any]:
    """Write the default policy file at ``path`` (refuses to replace one unless ``force``)."""
    if not write_default_policy(path, overwrite=force):
        raise PolicyExistsError(
            N_("{path}: already exists; pass --force to replace it with the default policy"), params={"path": path}
        )
    return {"ok": True, "file": str(path), "digest": default_policy().digest}
