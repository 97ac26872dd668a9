"""Realistic, deterministic department files for tests, the demo and benchmarks
(``internal-node sample-data``): subjects of Kunming with valid credit codes and ID numbers, and their
licences, penalties, list entries, commitments and government-credit records, written by several
departments in the formats and encodings they really use. Same seed and options, same bytes."""

from __future__ import annotations

import csv
import random
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import orjson

from internal_node import sample_words as w
from internal_node.columns import KINDS
from internal_node.sample_xlsx import SheetWriter
from internal_node.validate import USCC_ALPHABET, org_code_check_char, resident_id_check_char, uscc_check_char
from nodekit.i18n import _, ngettext
from nodekit.runtime import Node

LONG_TERM = date(2099, 12, 31)


# --- identifiers --------------------------------------------------------------------------------


def make_uscc(prefix: str, region: str, org_body: str, *, bad_org_check: bool = False) -> str:
    """A USCC with a correct GB 32100 check character (and GB 11714 inner check, unless asked not to)."""
    org_check = org_code_check_char(org_body)
    if bad_org_check:
        org_check = "1" if org_check != "1" else "2"
    body = prefix + region + org_body + org_check
    return body + uscc_check_char(body)


def _org_body(index: int, modern: bool) -> str:
    """A unique organisation-code body per index: ``MA`` + 6 characters for codes issued since 2015,
    8 digits for older ones (both bijective in the index, so no two subjects share a code)."""
    if modern:
        n = (index * 48_271 + 1_234_567) % 31**6
        chars = []
        for _ in range(6):
            n, r = divmod(n, 31)
            chars.append(USCC_ALPHABET[r])
        return "MA" + "".join(reversed(chars))
    return f"{(index * 7_919 + 12_345_678) % 10**8:08d}"


def make_resident_id(region: str, born: date, seq: int) -> str:
    body = f"{region}{born:%Y%m%d}{seq:03d}"
    return body + resident_id_check_char(body)


@dataclass(frozen=True)
class Department:
    key: str
    name: str
    uscc: str
    abbrev: str


def _dept(key: str, name: str, body: str, abbrev: str) -> Department:
    return Department(key, name, make_uscc("11", "530100", body), abbrev)


DEPARTMENTS = {
    d.key: d
    for d in (
        _dept("samr", "昆明市市场监督管理局", "01523456", "昆市监"),
        _dept("tax", "国家税务总局昆明市税务局", "01523471", "昆税"),
        _dept("eco", "昆明市生态环境局", "01523489", "昆环"),
        _dept("housing", "昆明市住房和城乡建设局", "01523497", "昆住建"),
        _dept("urban", "昆明市城市管理局", "01523502", "昆城管"),
        _dept("ndrc", "昆明市发展和改革委员会", "01523510", "昆发改"),
        _dept("zwfw", "昆明市政务服务管理局", "01523529", "昆政务"),
        _dept("finance", "昆明市财政局", "01523537", "昆财"),
        _dept("education", "昆明市教育体育局", "01523545", "昆教体"),
        _dept("transport", "昆明市交通运输局", "01523553", "昆交运"),
    )
}


@dataclass(frozen=True)
class FileSpec:
    """One department file: who delivers it, which kind, and how it is written."""

    name: str
    dept: str
    kind: str
    encoding: str | None  # None: XLSX; else the CSV/JSONL text encoding
    headers: str = "zh"  # "zh": the standard's Chinese labels; "en": field names
    date_style: str = "iso"  # how dates are written in text files: iso, slash, compact

    @property
    def fmt(self) -> str:
        return "xlsx" if self.name.endswith(".xlsx") else "jsonl" if self.name.endswith(".jsonl") else "csv"


FILES = (
    FileSpec("samr-subjects.csv", "samr", "subject", "utf-8-sig"),
    FileSpec("samr-licences.xlsx", "samr", "licence", None),
    FileSpec("samr-penalties.gb18030.csv", "samr", "penalty", "gb18030", date_style="slash"),
    FileSpec("tax-red-list.jsonl", "tax", "list_entry", "utf-8", headers="en"),
    FileSpec("tax-penalties.jsonl", "tax", "penalty", "utf-8"),
    FileSpec("eco-licences.csv", "eco", "licence", "utf-8", headers="en", date_style="compact"),
    FileSpec("eco-penalties.xlsx", "eco", "penalty", None),
    FileSpec("housing-licences.gbk.csv", "housing", "licence", "gb18030", date_style="slash"),
    FileSpec("housing-penalties.csv", "housing", "penalty", "utf-8"),
    FileSpec("urban-penalties.csv", "urban", "penalty", "utf-8-sig"),
    FileSpec("ndrc-dishonest-list.csv", "ndrc", "list_entry", "utf-8-sig"),
    FileSpec("ndrc-gov-credit.jsonl", "ndrc", "gov_credit", "utf-8"),
    FileSpec("zwfw-commitments.xlsx", "zwfw", "commitment", None),
    FileSpec("finance-gov-credit.gb18030.csv", "finance", "gov_credit", "gb18030"),
)


# --- writers ------------------------------------------------------------------------------------


class _Writer:
    """Streams one file's rows to disk in the file's format, encoding and header style."""

    def __init__(self, spec: FileSpec, out: Path) -> None:
        self.spec = spec
        self.path = out / spec.name
        kind = KINDS[spec.kind]
        self.fields = [f.name for f in kind.fields]
        self.labels = [f.label if spec.headers == "zh" else f.name for f in kind.fields]
        self.rows = 0
        self._fh: IO[str] | None = None
        self._csv: Any = None
        self._ws: SheetWriter | None = None
        if spec.fmt == "xlsx":
            self._ws = SheetWriter(self.path, sheet="数据", creator=DEPARTMENTS[spec.dept].name)
            self._ws.append(self.labels)
        else:
            self._fh = self.path.open("w", encoding=spec.encoding, newline="")
            if spec.fmt == "csv":
                self._csv = csv.writer(self._fh, lineterminator="\r\n")
                self._csv.writerow(self.labels)

    def _text(self, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, date):
            style = self.spec.date_style
            if style == "slash":
                return f"{value.year}/{value.month}/{value.day}"
            return value.strftime("%Y%m%d") if style == "compact" else value.isoformat()
        return str(value)

    def write(self, row: dict[str, Any]) -> None:
        self.rows += 1
        values = [row.get(f) for f in self.fields]
        if self._ws is not None:
            self._ws.append(values)
        elif self._csv is not None:
            self._csv.writerow([self._text(v) for v in values])
        else:
            assert self._fh is not None
            doc = {label: _json_value(v) for label, v in zip(self.labels, values, strict=True) if v is not None}
            self._fh.write(orjson.dumps(doc).decode() + "\n")

    def close(self) -> None:
        if self._ws is not None:
            self._ws.close()
        elif self._fh is not None:
            self._fh.close()


def _json_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        # a JSON number, exact: amounts have at most 15 significant digits
        return float(value)
    return value


# --- the generator ------------------------------------------------------------------------------


@dataclass
class _Party:
    name: str
    category: str
    uscc: str | None = None
    id_no: str | None = None
    id_type: str | None = None
    legal_rep: str | None = None
    legal_rep_id: str | None = None
    industry: w.Industry | None = None


@dataclass
class _State:
    rng: random.Random
    as_of: date
    counters: dict[tuple[str, ...], int] = field(default_factory=dict)
    used_ids: set[str] = field(default_factory=set)
    recent_firms: list[_Party] = field(default_factory=list)

    def serial(self, *key: str) -> int:
        n = self.counters.get(key, 0) + 1
        self.counters[key] = n
        return n

    def day(self, back_days: int, min_back: int = 1) -> date:
        return self.as_of - timedelta(days=self.rng.randint(min_back, back_days))

    def amount(self, low: float, high: float, places: int) -> Decimal:
        value = Decimal(str(round(self.rng.uniform(low, high), places)))
        return value.quantize(Decimal(1).scaleb(-places))


class Generator:
    """Generates the rows of every file, one subject at a time (nothing accumulates but counters)."""

    def __init__(self, seed: int, as_of: date) -> None:
        self.st = _State(random.Random(seed), as_of)  # noqa: S311 - reproducible sample data, not secrets
        # shifts the organisation codes so that two seeds do not give the same codes to different firms
        self.code_offset = random.Random(f"codes-{seed}").randrange(1 << 24)  # noqa: S311

    # people and firms

    def person_name(self) -> str:
        r = self.st.rng
        return r.choice(w.SURNAMES) + "".join(r.choice(w.GIVEN) for _ in range(r.choice((1, 2, 2))))

    def resident_id(self, *, min_age: int, max_age: int) -> str:
        r = self.st.rng
        while True:
            born = self.st.as_of - timedelta(days=r.randint(min_age * 365 + 5, max_age * 365 - 5))
            candidate = make_resident_id(r.choice(w.REGIONS)[0], born, r.randint(1, 999))
            if candidate not in self.st.used_ids:
                self.st.used_ids.add(candidate)
                return candidate

    def party(self, index: int) -> _Party:
        r = self.st.rng
        roll = r.random()
        if roll < 0.62:
            industry = r.choice(w.INDUSTRIES)
            prefix = r.choice(("昆明", "昆明", "昆明市", "云南"))
            name = f"{prefix}{r.choice(w.BRAND_WORDS)}{industry.word}{r.choice(w.ORG_FORMS)}"
            region = r.choice(w.REGIONS)[0]
            uscc = make_uscc(
                "91", region, _org_body(index + self.code_offset, r.random() < 0.7), bad_org_check=r.random() < 0.01
            )
            rep = self.person_name()
            p = _Party(name, "legal_person", uscc=uscc, legal_rep=rep, industry=industry)
            p.legal_rep_id = self.resident_id(min_age=25, max_age=70)
            self.st.recent_firms = [*self.st.recent_firms[-49:], p]
            return p
        if roll < 0.80:
            region, district = r.choice(w.REGIONS)
            owner = self.person_name()
            name = f"{district}{owner[0]}{r.choice(('记', '氏', '家', ''))}{r.choice(w.SHOPS)}"
            uscc = make_uscc("92", region, _org_body(index + self.code_offset, True))
            return _Party(name, "individual_business", uscc=uscc, legal_rep=owner, industry=w.SHOP_INDUSTRY)
        name = self.person_name()
        kind = r.random()
        if kind < 0.10:
            return _Party(name, "natural_person")  # no ID number: the ingest holds its records
        if kind < 0.18:
            return _Party(name, "natural_person", id_type="resident_id", id_no=self.resident_id(min_age=14, max_age=17))
        if kind < 0.20:
            legacy = self.resident_id(min_age=47, max_age=75)
            return _Party(name, "natural_person", id_type="resident_id", id_no=legacy[:6] + legacy[8:17])
        return _Party(name, "natural_person", id_type="resident_id", id_no=self.resident_id(min_age=18, max_age=80))

    def party_fields(self, p: _Party) -> dict[str, Any]:
        return {
            "party_name": p.name,
            "party_category": {"legal_person": "法人及非法人组织", "individual_business": "个体工商户"}.get(
                p.category, "自然人"
            ),
            "party_uscc": p.uscc,
            "legal_rep": p.legal_rep if p.category == "legal_person" else None,
            "party_id_type": "身份证" if p.id_no else None,
            "party_id_no": p.id_no,
        }

    def common(self, dept: Department) -> dict[str, Any]:
        r = self.st.rng
        roll = r.random()
        return {
            "source_unit": dept.name,
            "source_unit_uscc": dept.uscc,
            "disclosure": "特定范围内公开" if roll < 0.02 else "不可公开" if roll < 0.03 else "可向社会公开",
        }

    # records

    def subject_row(self, p: _Party) -> dict[str, Any]:
        r = self.st.rng
        _region, district = r.choice(w.REGIONS)
        samr = DEPARTMENTS["samr"]
        return {
            "name": p.name,
            "category": "法人及非法人组织" if p.category == "legal_person" else "个体工商户",
            "uscc": p.uscc,
            "legal_rep": p.legal_rep,
            "legal_rep_id_type": "身份证" if p.legal_rep_id else None,
            "legal_rep_id_no": p.legal_rep_id,
            "registration_authority": samr.name if r.random() < 0.5 else f"昆明市{district}市场监督管理局",
            "address": f"云南省昆明市{district}{r.choice(w.ROADS)}{r.randint(1, 999)}号",
            "phone": f"0871-6{r.randint(0, 9_999_999):07d}"
            if r.random() < 0.6
            else f"1{r.choice('3589')}{r.randint(0, 999_999_999):09d}",
            "source_unit": samr.name,
            "source_unit_uscc": samr.uscc,
        }

    def licence(self, p: _Party, dept: Department) -> dict[str, Any]:
        r = self.st.rng
        kind = w.LICENCES[dept.key]
        decided = self.st.day(1500, 10)
        year = decided.year
        n = self.st.serial("licence", dept.key, str(year))
        valid_to = LONG_TERM if kind.long_term and r.random() < 0.3 else decided + timedelta(days=365 * kind.years)
        return {
            **self.party_fields(p),
            "decision_doc_title": kind.title,
            "decision_doc_no": f"{dept.abbrev}{kind.doc_tag}〔{year}〕{n}号",
            "licence_category": kind.category,
            "certificate_name": kind.certificate,
            "licence_no": kind.number(p.uscc or "", decided, n),
            "content": r.choice(kind.contents),
            "decision_date": decided,
            "valid_from": decided,
            "valid_to": valid_to,
            "authority": dept.name,
            "authority_uscc": dept.uscc,
            "licence_status": "有效" if valid_to >= self.st.as_of and r.random() < 0.95 else "无效",
            **self.common(dept),
        }

    def penalty(self, p: _Party, dept: Department) -> dict[str, Any]:
        r = self.st.rng
        violation = r.choice(w.VIOLATIONS[dept.key])
        severity = r.choices(("轻微", "一般", "严重"), weights=(3, 5, 2))[0]
        decided = self.st.day(1100, 3)
        n = self.st.serial("penalty", dept.key, str(decided.year))
        types, fine, confiscation = ["罚款"], None, None
        if severity == "轻微":
            types = r.choice((["警告"], ["罚款"], ["警告", "罚款"]))
            if "罚款" in types:
                fine = self.st.amount(0.02, 0.5, 2)
        elif severity == "一般":
            fine = self.st.amount(0.5, 10, 2)
            if r.random() < 0.3:
                types.append("没收违法所得")
                confiscation = self.st.amount(0.1, 5, 4)
        else:
            fine = self.st.amount(10, 200, 1)
            types.append(r.choice(("没收违法所得", "吊销许可证件", "责令停产停业", "降低资质等级")))
            if "没收违法所得" in types:
                confiscation = self.st.amount(1, 80, 4)
        period = {"轻微": 90, "一般": 365, "严重": 1095}[severity]
        row = {
            **self.party_fields(p),
            "decision_no": f"{dept.abbrev}{w.PENALTY_TAG[dept.key]}〔{decided.year}〕{n}号",
            "violation_type": violation.type,
            "violation_facts": violation.facts.format(name=p.name, date=f"{decided.year}年{decided.month}月"),
            "legal_basis": violation.basis,
            "penalty_types": ";".join(types),
            "content": "、".join(types) + (f"，罚款人民币{fine * 10000:.0f}元" if fine is not None else ""),
            "fine_amount": fine,
            "confiscation_amount": confiscation,
            "suspended_licence": f"{w.LICENCES['samr'].certificate} {p.uscc}" if "吊销许可证件" in types else None,
            "decision_date": decided,
            "publish_until": decided + timedelta(days=period) if r.random() < 0.3 else None,
            "severity": severity,
            "authority": dept.name,
            "authority_uscc": dept.uscc,
            **self.common(dept),
        }
        if r.random() < 0.01:
            row["withdrawal_reason"] = "信用修复"
        return row

    def red_entry(self, p: _Party) -> dict[str, Any]:
        tax = DEPARTMENTS["tax"]
        year = self.st.as_of.year - self.st.rng.randint(1, 3)
        n = self.st.serial("red", str(year))
        return {
            **self.party_fields(p),
            "list_type": "red",
            "list_name": "纳税信用A级纳税人",
            "reason": f"{year}年度纳税信用评价结果为A级",
            "basis": "《纳税信用管理办法》",
            "deciding_dept": tax.name,
            "doc_no": f"{tax.abbrev}A级〔{year + 1}〕第{n:05d}号",
            "listed_date": date(year + 1, 4, self.st.rng.randint(1, 28)),
            "valid_until": date(year + 1, 12, 31),
            "measures": "发票领用按需供应；纳税服务绿色通道",
            **self.common(tax),
        }

    def dishonest_entry(self, p: _Party) -> dict[str, Any]:
        r = self.st.rng
        ndrc = DEPARTMENTS["ndrc"]
        listed = self.st.day(900, 5)
        n = self.st.serial("dishonest", str(listed.year))
        removed = listed + timedelta(days=r.randint(200, 700)) if r.random() < 0.2 else None
        if removed is not None and removed >= self.st.as_of:
            removed = None
        return {
            **self.party_fields(p),
            "list_type": "dishonest",
            "list_name": "严重失信主体名单",
            "reason": r.choice(w.DISHONEST_REASONS),
            "basis": "《国务院办公厅关于进一步完善失信约束制度构建诚信建设长效机制的指导意见》（国办发〔2020〕49号）",
            "deciding_dept": ndrc.name,
            "doc_no": f"{ndrc.abbrev}信用〔{listed.year}〕{n}号",
            "listed_date": listed,
            "valid_until": listed + timedelta(days=1095),
            "removed_date": removed,
            "removal_reason": "完成信用修复" if removed else None,
            "measures": "限制参与政府采购；限制享受财政补贴；列为重点监管对象",
            **self.common(ndrc),
        }

    def commitment(self, p: _Party) -> dict[str, Any]:
        r = self.st.rng
        zwfw = DEPARTMENTS["zwfw"]
        made = self.st.day(800, 2)
        n = self.st.serial("commitment", made.isoformat())
        ctype = r.choice(w.COMMITMENT_TYPES)
        valid_until = made + timedelta(days=365)
        fulfilment = (
            "未到期"
            if valid_until >= self.st.as_of
            else r.choices(("全部履行", "部分履行", "全部未履行"), (8, 1, 1))[0]
        )
        return {
            **self.party_fields(p),
            "commitment_code": f"530100{made:%Y%m%d}{n:06d}",
            "commitment_type": ctype.label,
            "matter": ctype.matter,
            "content": ctype.content,
            "liability": "如违反承诺，自愿接受相关部门依法作出的处理，并承担相应法律责任",
            "commitment_date": made,
            "valid_until": valid_until,
            "fulfilment": fulfilment,
            "determined_date": valid_until if fulfilment != "未到期" else None,
            "determined_by": zwfw.name if fulfilment != "未到期" else None,
            "accepting_unit": zwfw.name,
            **self.common(zwfw),
        }

    def gov_credit(self, dept: Department) -> dict[str, Any]:
        r = self.st.rng
        item = r.choice(w.GOV_ITEMS[dept.key])
        subject = DEPARTMENTS[r.choice(item.departments)]
        occurred = self.st.day(1000, 30)
        n = self.st.serial("gov", dept.key, str(occurred.year))
        firm = r.choice(self.st.recent_firms) if self.st.recent_firms and item.counterparty else None
        outcome = r.choices(item.outcomes, item.weights)[0]
        resolved = occurred + timedelta(days=r.randint(10, 300)) if outcome in ("已履行", "已清偿") else None
        if resolved is not None and resolved > self.st.as_of:
            resolved = self.st.as_of
        return {
            "record_no": f"ZWCX-{dept.abbrev}-{occurred.year}-{n:06d}",
            "department": subject.name,
            "department_uscc": subject.uscc,
            "credit_area": item.area,
            "item_type": item.item_type,
            "title": item.title.format(firm=firm.name if firm else "", dept=subject.name),
            "description": item.description,
            "counterparty": firm.name if firm else None,
            "counterparty_uscc": firm.uscc if firm else None,
            "amount": self.st.amount(*item.amount, 2) if item.amount else None,
            "occurred_date": occurred,
            "due_date": occurred + timedelta(days=r.choice((30, 60, 90, 180))),
            "outcome": outcome,
            "resolved_date": resolved,
            "accountability_action": r.choice(w.ACCOUNTABILITY) if item.item_type == "问责" else None,
            **self.common(dept),
        }

    def records(self, index: int) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every row subject ``index`` brings, tagged with the file it goes to."""
        r = self.st.rng
        p = self.party(index)
        industry = p.industry
        if p.category != "natural_person":
            yield "samr-subjects.csv", self.subject_row(p)
        if industry is not None and industry.licence and r.random() < 0.7:
            yield _file_for("licence", industry.licence), self.licence(p, DEPARTMENTS[industry.licence])
        if p.category == "natural_person":
            if r.random() < 0.6:
                yield "urban-penalties.csv", self.penalty(p, DEPARTMENTS["urban"])
        elif r.random() < 0.3:
            dept = industry.penalty if industry and r.random() < 0.7 else r.choice(("samr", "tax"))
            yield _file_for("penalty", dept), self.penalty(p, DEPARTMENTS[dept])
            if r.random() < 0.1:
                yield "tax-penalties.jsonl", self.penalty(p, DEPARTMENTS["tax"])
        if p.category == "legal_person" and r.random() < 0.06:
            yield "tax-red-list.jsonl", self.red_entry(p)
        if r.random() < 0.03:
            yield "ndrc-dishonest-list.csv", self.dishonest_entry(p)
        if r.random() < (0.25 if p.category == "legal_person" else 0.08):
            yield "zwfw-commitments.xlsx", self.commitment(p)
        if index % 20 == 0:
            dept = r.choice(("ndrc", "finance"))
            name = "ndrc-gov-credit.jsonl" if dept == "ndrc" else "finance-gov-credit.gb18030.csv"
            yield name, self.gov_credit(DEPARTMENTS[dept])


def _file_for(kind: str, dept: str) -> str:
    for spec in FILES:
        if spec.kind == kind and spec.dept == dept:
            return spec.name
    raise KeyError((kind, dept))


# --- running ------------------------------------------------------------------------------------


def generate(out: Path, *, subjects: int, seed: int, as_of: date) -> list[dict[str, Any]]:
    """Write every department file and ``manifest.json`` into ``out``; return the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    gen = Generator(seed, as_of)
    with ExitStack() as stack:
        writers = {spec.name: _Writer(spec, out) for spec in FILES}
        for writer in writers.values():
            stack.callback(writer.close)
        for index in range(1, subjects + 1):
            for name, row in gen.records(index):
                writers[name].write(row)
    manifest = [
        {
            "file": spec.name,
            "kind": spec.kind,
            "source": DEPARTMENTS[spec.dept].name,
            "source_uscc": DEPARTMENTS[spec.dept].uscc,
            "format": spec.fmt,
            "encoding": spec.encoding,
            "rows": writers[spec.name].rows,
        }
        for spec in FILES
    ]
    (out / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
    return manifest


@contextmanager
def _folder(out: Path | None) -> Iterator[Path]:
    if out is not None:
        yield out
        return
    with tempfile.TemporaryDirectory(prefix="credgap-sample-") as tmp:
        yield Path(tmp)


def run(*, subjects: int, seed: int, out: Path | None, as_of: date, node: Node | None) -> dict[str, Any]:
    """``internal-node sample-data``: generate into ``out`` and, with a node, ingest every file."""
    from internal_node.ingest import ingest_file

    with _folder(out) as folder:
        manifest = generate(folder, subjects=subjects, seed=seed, as_of=as_of)
        loaded = []
        if node is not None:
            for item in manifest:
                report = ingest_file(
                    node,
                    folder / item["file"],
                    kind=item["kind"],
                    source=item["source"],
                    source_uscc=item["source_uscc"],
                    show_progress=True,
                )
                loaded.append({"file": item["file"], **report.event_counts()})
    return {
        "ok": True,
        "out": str(out) if out else None,
        "seed": seed,
        "subjects": subjects,
        "files": manifest,
        "rows": sum(m["rows"] for m in manifest),
        "loaded": loaded,
    }


def describe(result: dict[str, Any]) -> str:
    """The summary an operator reads (in their language; --json has the same facts in English)."""
    lines = [
        _("sample data: {subjects} subjects, seed {seed}, {rows} rows").format(
            subjects=result["subjects"], seed=result["seed"], rows=result["rows"]
        )
    ]
    for item in result["files"]:
        enc = f", {item['encoding']}" if item["encoding"] else ""
        rows = ngettext("{n} row", "{n} rows", item["rows"]).format(n=item["rows"])
        lines.append(f"  {item['file']:<34} {item['kind']:<11} {rows:>13}  ({item['source']}{enc})")
    if result["out"]:
        lines.append(_("written to {out} (manifest.json lists kind and source of each file)").format(out=result["out"]))
    if result["loaded"]:
        total = sum(x["inserted"] + x["updated"] for x in result["loaded"])
        held = sum(x["held"] for x in result["loaded"])
        lines.append(
            _("loaded into the node database: {total} records written, {held} held for review").format(
                total=total, held=held
            )
        )
    return "\n".join(lines)
