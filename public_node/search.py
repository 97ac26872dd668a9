"""Name and credit-code search over published subjects: text normalisation, the bigram tokens, the
maintenance of the search entries and their full-text index, and the search query itself.

Design (docs/adr/0002-cjk-search-index.md): a subject's normalised name is turned into overlapping
character bigrams plus its last character alone, followed by its whole normalised credit code as
one token; the full-text index of each engine holds them as tokens with positions (SQLite: FTS5
``ascii`` tokenizer over space-separated tokens; PostgreSQL: a ``tsvector`` literal under a GIN
index). A query of n >= 2 characters is the phrase of its n-1 bigrams, which matches exactly the
names that contain it, or a prefix query, which matches the codes that start with it; a 1-character
query is a prefix query over all tokens. Both engines answer from the index with the same rows.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Integer,
    Select,
    Text,
    bindparam,
    case,
    cast,
    column,
    delete,
    exists,
    func,
    literal_column,
    or_,
    select,
    table,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import TSQUERY

from public_node import bulk
from public_node.errors import BadQuery
from public_node.models import FTS_TABLE, RECORD_TABLE, SEARCH_TABLE, tsvector_literal
from public_node.views import Keyset, Page, Reader, SubjectSummary, check_page, dialect_name, record_is_live

MAX_QUERY_CHARS = 64  # a credit code is 18, long company names about 40

_NOT_WORD = re.compile(r"[\W_]+")


def normalise(value: str) -> str:
    """The searchable form of a text: NFKC with case folding (full-width and half-width forms, upper
    and lower case compare equal), keeping letters and digits only (punctuation, spaces, brackets and
    masking asterisks are dropped, so "(中国)" and "（中国）" and "中国" compare equal)."""
    if value.isascii():  # NFKC leaves ASCII as it is, and casefold is lower there
        return _NOT_WORD.sub("", value.lower())
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
    return _NOT_WORD.sub("", folded)


def search_code(uscc: str | None) -> str:
    """The form a credit code is searched in: normalised, and only if it is ASCII letters and digits
    as every real code is ('' otherwise, and for no code)."""
    code = normalise(uscc or "")
    return code if code.isascii() else ""


def normalise_code(value: str | None) -> str | None:
    """A credit code as stored and looked up: NFKC, trimmed, upper case (a full-width or lower-case
    code is the same code); None for no code."""
    if value is None:
        return None
    return unicodedata.normalize("NFKC", value).strip().upper() or None


def text_tokens(norm: str) -> list[str]:
    """Overlapping bigrams of a normalised name, then its last character alone.

    The trailing single character lets a 1-character query (a prefix query) find a character that
    only ends a name, and it ends the name's bigrams: no bigram phrase can match across it into the
    credit code that follows.
    """
    if not norm:
        return []
    return [norm[i : i + 2] for i in range(len(norm) - 1)] + [norm[-1]]


def subject_tokens(name_norm: str, code_norm: str) -> tuple[str, ...]:
    """The tokens of a subject: its name's bigrams, then its whole credit code as one token (a code
    is searched from its start, by a prefix query, so one token serves where 18 bigrams would)."""
    return (*text_tokens(name_norm), code_norm) if code_norm else tuple(text_tokens(name_norm))


def sqlite_match(norm: str) -> str:
    """FTS5 query for a normalised search text: the phrase of its bigrams (names containing it), or,
    for ASCII text, a prefix query on the whole text (codes starting with it; a Chinese query cannot
    start a code and would only blur the planner's estimate); for one character, a prefix query over
    all tokens. Tokens hold letters and digits only, never a quote."""
    if len(norm) == 1:
        return f'"{norm}"*'
    phrase = '"' + " ".join(text_tokens(norm)[:-1]) + '"'
    return f'{phrase} OR "{norm}"*' if norm.isascii() else phrase


def pg_tsquery(norm: str) -> str:
    """tsquery literal for a normalised search text, the same query as :func:`sqlite_match`; read
    by the tsquery input function (no text-search parser, no locale)."""
    if len(norm) == 1:
        return f"'{norm}':*"
    phrase = " <-> ".join(f"'{tok}'" for tok in text_tokens(norm)[:-1])
    return f"({phrase}) | '{norm}':*" if norm.isascii() else phrase


# --------------------------------------------------------------------------- queries


def search(session: Reader, query: str, *, today: date, limit: int = 20, offset: int = 0) -> Page[SubjectSummary]:
    """Subjects whose name contains ``query``, or whose credit code starts with it (after
    normalisation), and which have at least one record still published on ``today``.

    Order: exact name or code first, then names or codes that start with the query, then the rest;
    within each group shorter names first, then by name (code point order) and subject key, so that
    both engines return the same page.
    """
    check_page(limit, offset)
    norm = normalise(query)
    if len(norm) > MAX_QUERY_CHARS:
        raise BadQuery(f"search text: expected at most {MAX_QUERY_CHARS} letters or digits, got {len(norm)}")
    if not norm:
        return Page(items=[], total=0, limit=limit, offset=offset)
    dialect = dialect_name(session)
    stmt = search_statement(dialect, norm, today=today).limit(limit).offset(offset)
    rows = session.execute(stmt).all()
    if rows:
        total = int(rows[0].total)
    elif offset:
        total = int(
            session.execute(
                select(func.count()).select_from(search_statement(dialect, norm, today=today).subquery())
            ).scalar_one()
        )
    else:
        total = 0
    items = [SubjectSummary(r.subject_key, r.name, r.category, r.uscc) for r in rows]
    return Page(items=items, total=total, limit=limit, offset=offset)


def search_statement(dialect: str, norm: str, *, today: date) -> Select[Any]:
    """The search query for a normalised text, without paging (exposed for EXPLAIN in tests)."""
    s = SEARCH_TABLE.c
    q: BindParameter[str] = bindparam("q", norm, type_=Text)
    n: BindParameter[int] = bindparam("n", len(norm), type_=Integer)
    exact = or_(s.name_norm == q, s.code_norm == q)
    starts = or_(func.substr(s.name_norm, 1, n) == q, func.substr(s.code_norm, 1, n) == q)
    rank = case((exact, 0), (starts, 1), else_=2)
    # Same order on both engines: code point order is SQLite's BINARY and PostgreSQL's "C".
    name_order = s.name_norm.collate("C") if dialect == "postgresql" else s.name_norm
    live = exists().where(RECORD_TABLE.c.subject_key == s.subject_key, record_is_live(today))
    cols = (
        s.subject_key,
        s.name,
        s.category,
        s.uscc,
        func.count().over().label("total"),
        rank.label("rank"),
        func.length(s.name_norm).label("name_len"),
        s.name_norm,
    )
    if dialect == "postgresql":
        match: ColumnElement[bool] = s.grams.bool_op("@@")(cast(bindparam("tsq", pg_tsquery(norm)), TSQUERY))
        stmt = select(*cols).where(match)
    else:
        fts = table(FTS_TABLE, column("rowid", Integer))
        match = literal_column(FTS_TABLE).op("MATCH")(bindparam("fts", sqlite_match(norm)))
        stmt = select(*cols).select_from(fts).join(SEARCH_TABLE, s.id == fts.c.rowid).where(match)
    return stmt.where(live).order_by(rank, func.length(s.name_norm), name_order, s.subject_key)


def search_page(
    session: Reader, query: str, *, today: date, limit: int = 20, after: Sequence[Any] | None = None
) -> Keyset[SubjectSummary]:
    """The same search as :func:`search`, paginated by keyset: ``after`` is the sort key of the last
    subject of the previous page (``Keyset.after``), so a later page costs no more than the first
    (no OFFSET to skip). The total is counted on the first page only.

    A sort key is (rank, name length, normalised name, subject key): the order of :func:`search`.
    """
    check_page(limit, 0)
    norm = normalise(query)
    if len(norm) > MAX_QUERY_CHARS:
        raise BadQuery(f"search text: expected at most {MAX_QUERY_CHARS} letters or digits, got {len(norm)}")
    if not norm:
        return Keyset(items=[], after=None, total=0 if after is None else None)
    dialect = dialect_name(session)
    sub = search_statement(dialect, norm, today=today).subquery("hits")
    name_key = sub.c.name_norm.collate("C") if dialect == "postgresql" else sub.c.name_norm
    order = (sub.c.rank, sub.c.name_len, name_key, sub.c.subject_key)
    stmt = select(sub).order_by(*order).limit(limit + 1)
    if after is not None:
        rank, length, name_norm, subject_key = _check_after(after)
        stmt = stmt.where(
            tuple_(*order)
            > tuple_(
                bindparam("a_rank", rank, type_=Integer),
                bindparam("a_len", length, type_=Integer),
                bindparam("a_name", name_norm, type_=Text),
                bindparam("a_key", subject_key, type_=Text),
            )
        )
    rows = session.execute(stmt).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [SubjectSummary(r.subject_key, r.name, r.category, r.uscc) for r in rows]
    last = (int(rows[-1].rank), int(rows[-1].name_len), rows[-1].name_norm, rows[-1].subject_key) if more else None
    total = None if after is not None else (int(rows[0].total) if rows else 0)
    return Keyset(items=items, after=last, total=total)


def _check_after(after: Sequence[Any]) -> tuple[int, int, str, str]:
    """A search sort key as handed back by a caller (from an authenticated cursor, but still checked)."""
    if (
        len(after) != 4
        or type(after[0]) is not int
        or type(after[1]) is not int
        or not isinstance(after[2], str)
        or not isinstance(after[3], str)
    ):
        raise BadQuery("search page: the position to continue from is malformed")
    return after[0], after[1], after[2], after[3]


# --------------------------------------------------------------------------- maintenance


@dataclass(frozen=True, slots=True)
class Source:
    """A record a search entry can take its subject's name and code from."""

    kind: str
    key: str
    version: int
    subject_key: str
    name: str
    category: str
    uscc: str | None

    @property
    def ref(self) -> tuple[str, str]:
        return (self.kind, self.key)


@dataclass(frozen=True, slots=True)
class _Entry:
    id: int
    source: tuple[str, str]
    name: str
    category: str
    uscc: str | None


def _best(sources: Iterable[Source]) -> Source:
    """The record a new entry is taken from: the subject row if there is one, else the newest record."""
    return max(sources, key=lambda s: (s.kind == "subject", s.version, s.kind, s.key))


def _load_entries(conn: Connection, subject_keys: Sequence[str]) -> dict[str, _Entry]:
    s = SEARCH_TABLE.c
    cols = (s.id, s.subject_key, s.source_kind, s.source_key, s.name, s.category, s.uscc)
    out: dict[str, _Entry] = {}
    dialect = conn.dialect.name
    for chunk in bulk.chunks(subject_keys, dialect):
        for r in conn.execute(select(*cols).where(bulk.member_of(s.subject_key, chunk, dialect))).all():
            out[r.subject_key] = _Entry(r.id, (r.source_kind, r.source_key), r.name, r.category, r.uscc)
    return out


def index_applied(conn: Connection, applied: Sequence[Source]) -> None:
    """Bring the search entries of the subjects of ``applied`` (records just inserted or replaced,
    in order) up to date.

    An entry keeps the record it took its name from (the subject row when one is published, else
    the newest record at the time) until that record goes; a newer version of it updates the entry.
    """
    by_subject: dict[str, list[Source]] = defaultdict(list)
    for src in applied:
        by_subject[src.subject_key].append(src)
    existing = _load_entries(conn, list(by_subject))
    plan: list[tuple[_Entry | None, Source]] = []
    for subject_key, sources in by_subject.items():
        current = existing.get(subject_key)
        subject_rows = [src for src in sources if src.kind == "subject"]
        if subject_rows:
            chosen = subject_rows[-1]
        elif current is None:
            chosen = _best(sources)
        elif current.source[0] == "subject":
            continue
        else:
            same = [src for src in sources if src.ref == current.source]
            if not same:
                continue
            chosen = same[-1]
        plan.append((current, chosen))
    _write(conn, plan)


def refresh_subjects(conn: Connection, subject_keys: Iterable[str]) -> None:
    """Recompute the search entries of subjects whose records were removed: drop the entry of a
    subject with no record left, and take another record's name when the entry's source is gone."""
    keys = sorted(set(subject_keys))
    r = RECORD_TABLE.c
    dialect = conn.dialect.name
    for chunk in bulk.chunks(keys, dialect):
        existing = _load_entries(conn, chunk)
        remaining: dict[str, list[Source]] = defaultdict(list)
        rows = conn.execute(
            select(r.kind, r.key, r.version, r.subject_key, r.subject_name, r.subject_category, r.uscc).where(
                bulk.member_of(r.subject_key, chunk, dialect)
            )
        )
        for row in rows:
            remaining[row.subject_key].append(Source(*row))
        plan: list[tuple[_Entry | None, Source]] = []
        gone: list[_Entry] = []
        for subject_key in chunk:
            current = existing.get(subject_key)
            sources = remaining.get(subject_key)
            if not sources:
                if current is not None:
                    gone.append(current)
                continue
            keep = [src for src in sources if current is not None and src.ref == current.source]
            has_subject_row = any(src.kind == "subject" for src in sources)
            if keep and (keep[0].kind == "subject" or not has_subject_row):
                plan.append((current, keep[0]))
            else:
                plan.append((current, _best(sources)))
        _delete(conn, gone)
        _write(conn, plan)


def clear_index(conn: Connection) -> None:
    """Remove every search entry (a snapshot that replaces all published tables)."""
    if conn.dialect.name == "sqlite":
        conn.execute(table(FTS_TABLE, column(FTS_TABLE)).insert().values({FTS_TABLE: "delete-all"}))
    conn.execute(delete(SEARCH_TABLE))


def _values(src: Source) -> dict[str, Any]:
    name_norm = normalise(src.name)
    code_norm = search_code(src.uscc)
    return {
        "subject_key": src.subject_key,
        "name": src.name,
        "category": src.category,
        "uscc": src.uscc,
        "name_norm": name_norm,
        "code_norm": code_norm,
        "source_kind": src.kind,
        "source_key": src.key,
        "grams": subject_tokens(name_norm, code_norm),
    }


_INSERT_COLUMNS = (
    "subject_key",
    "name",
    "category",
    "uscc",
    "name_norm",
    "code_norm",
    "source_kind",
    "source_key",
    "grams",
)


def _insert_row(src: Source, postgresql: bool) -> tuple[Any, ...]:
    """A new entry as a bulk row in ``_INSERT_COLUMNS`` order, its tokens in the engine's form."""
    name_norm = normalise(src.name)
    code_norm = search_code(src.uscc)
    tokens = subject_tokens(name_norm, code_norm)
    grams = tsvector_literal(tokens) if postgresql else " ".join(tokens)
    return (src.subject_key, src.name, src.category, src.uscc, name_norm, code_norm, src.kind, src.key, grams)


def _write(conn: Connection, plan: Sequence[tuple[_Entry | None, Source]]) -> None:
    """Insert new entries and update changed ones, keeping the FTS5 index in step on SQLite (an
    external-content FTS5 table must be told the old tokens of a row before they change)."""
    t = SEARCH_TABLE
    inserts: list[Source] = []
    retokened: list[tuple[_Entry, dict[str, Any]]] = []
    relabelled: list[dict[str, Any]] = []
    for current, src in plan:
        if current is None:
            inserts.append(src)
            continue
        if current.source == src.ref and (current.name, current.category, current.uscc) == (
            src.name,
            src.category,
            src.uscc,
        ):
            continue
        values = _values(src) | {"entry_id": current.id}
        if normalise(current.name) == values["name_norm"] and search_code(current.uscc) == values["code_norm"]:
            del values["grams"]
            relabelled.append(values)
        else:
            retokened.append((current, values))
    sqlite = conn.dialect.name == "sqlite"
    c = t.c
    cols = ("name", "category", "uscc", "name_norm", "code_norm", "source_kind", "source_key")
    if relabelled:
        stmt = update(t).where(c.id == bindparam("entry_id")).values({k: bindparam(k) for k in cols})
        conn.execute(stmt, relabelled)
    if retokened:
        if sqlite:
            _fts_delete(conn, [old for old, _ in retokened])
        stmt = update(t).where(c.id == bindparam("entry_id")).values({k: bindparam(k) for k in (*cols, "grams")})
        conn.execute(stmt, [values for _, values in retokened])
        if sqlite:
            fts = [{"rowid": v["entry_id"], "grams": " ".join(v["grams"])} for _, v in retokened]
            conn.execute(_FTS.insert().values(rowid=bindparam("rowid"), grams=bindparam("grams")), fts)
    if inserts:
        # SQLite gives new rows ids above the current maximum, so one INSERT ... SELECT indexes
        # exactly the new entries (measured: about 3x faster than one statement per chunk of keys).
        floor = conn.execute(select(func.coalesce(func.max(c.id), 0))).scalar_one() if sqlite else 0
        pg = conn.dialect.name == "postgresql"
        bulk.insert_rows(conn, t, _INSERT_COLUMNS, (_insert_row(src, pg) for src in inserts))
        if sqlite:
            conn.execute(_FTS.insert().from_select(["rowid", "grams"], select(c.id, c.grams).where(c.id > floor)))


_FTS = table(FTS_TABLE, column(FTS_TABLE), column("rowid"), column("grams"))


def _delete(conn: Connection, entries: Sequence[_Entry]) -> None:
    if not entries:
        return
    if conn.dialect.name == "sqlite":
        _fts_delete(conn, entries)
    c = SEARCH_TABLE.c
    for chunk in bulk.chunks([e.id for e in entries], conn.dialect.name):
        conn.execute(delete(SEARCH_TABLE).where(bulk.member_of(c.id, chunk, conn.dialect.name)))


def _fts_delete(conn: Connection, entries: Sequence[_Entry]) -> None:
    """Remove entries' current tokens from the FTS5 index (its 'delete' command wants the old values,
    read here from the content table before it changes)."""
    c = SEARCH_TABLE.c
    for chunk in bulk.chunks([e.id for e in entries], "sqlite"):
        sel = select(literal_column("'delete'"), c.id, c.grams).where(c.id.in_(chunk))
        conn.execute(_FTS.insert().from_select([FTS_TABLE, "rowid", "grams"], sel))
