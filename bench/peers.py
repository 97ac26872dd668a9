"""The pipelines a user would otherwise script by hand, on the same data: dump the prepared items with
the database's own CLI, ``zstd -3 | age -r`` and ``minisign -S`` (or ``gpg --sign --encrypt``) to
export; ``minisign -V``, ``age -d | zstd -d`` into the CLI's bulk load (``sqlite3 .import`` /
``psql \\copy``), an upsert into the published table on its unique key, and the public node's search
index (docs/adr/0002: subject entries with character bigrams and the last character, in FTS5 or a
GIN-indexed tsvector) filled with ``INSERT ... SELECT`` — or ``gpg --decrypt``, which does no database
work at all. Tools come from Debian's packages (:func:`install`)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.homes import libpq_url

TOOLS = ("age", "age-keygen", "minisign", "gpg", "zstd", "sqlite3", "psql")
PACKAGES = ("age", "minisign", "gnupg", "zstd", "sqlite3", "time", "postgresql-client")


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


def install(say: object = print) -> list[str]:
    """Install the peer tools from Debian's packages if any is missing; return what is still missing."""
    missing = missing_tools()
    if not missing:
        return []
    if shutil.which("apt-get") is None:
        say(f"  peers: apt-get is not available; missing {', '.join(missing)}: those peers are skipped")  # type: ignore[operator]
        return missing
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    say(f"  peers: installing {' '.join(PACKAGES)} with apt-get")  # type: ignore[operator]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in ([*sudo, "apt-get", "update", "-qq"], [*sudo, "apt-get", "install", "-y", "-qq", *PACKAGES]):
        if subprocess.run(cmd, capture_output=True, env=env).returncode != 0:
            break
    still = missing_tools()
    if still:
        say(f"  peers: could not install {', '.join(still)}: those peers are skipped")  # type: ignore[operator]
    return still


@dataclass(frozen=True)
class PeerKeys:
    folder: Path
    age_key: Path
    age_recipient: str
    minisign_sec: Path
    minisign_pub: Path
    gnupg_home: Path
    gpg_id: str = "bench@credgap.invalid"

    def gpg(self) -> str:
        return (
            f"gpg --homedir {shlex.quote(str(self.gnupg_home))} --batch --yes --quiet --trust-model always "
            "--pinentry-mode loopback --passphrase ''"
        )

    def close(self) -> None:
        subprocess.run(["gpgconf", "--homedir", str(self.gnupg_home), "--kill", "gpg-agent"], capture_output=True)


def make_keys(folder: Path) -> PeerKeys:
    """Fresh keys for the peers: an age identity, a minisign key pair, and a gpg key (Ed25519 + Cv25519)."""
    folder.mkdir(parents=True, exist_ok=True)
    age_key = folder / "age.key"
    age_key.unlink(missing_ok=True)
    subprocess.run(["age-keygen", "-o", str(age_key)], check=True, capture_output=True)
    recipient = next(line.split(":", 1)[1].strip() for line in age_key.read_text().splitlines() if "public key" in line)
    sec, pub = folder / "minisign.key", folder / "minisign.pub"
    subprocess.run(["minisign", "-G", "-f", "-W", "-p", str(pub), "-s", str(sec)], check=True, capture_output=True)
    home = folder / "gnupg"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(mode=0o700)
    keys = PeerKeys(folder, age_key, recipient, sec, pub, home)
    subprocess.run(
        f"{keys.gpg()} --quick-gen-key 'bench <{keys.gpg_id}>' future-default default 1d",
        shell=True, check=True, capture_output=True,
    )  # fmt: skip
    return keys


# --------------------------------------------------------------------------- export


def _items_query(since: int, full: bool) -> str:
    state = " AND state = 'publish'" if full else ""
    return f"SELECT item FROM publication WHERE item IS NOT NULL AND pub_seq > {since}{state} ORDER BY pub_seq"


def dump_command(engine: str, url: str, *, since: int = 0, full: bool = True) -> str:
    """The shell command that writes the prepared items as JSON Lines, with the database's own CLI."""
    q = _items_query(since, full)
    if engine == "sqlite":
        path = url.removeprefix("sqlite:///")
        return f"sqlite3 -batch -readonly {shlex.quote(path)} {shlex.quote(q)}"
    # FETCH_COUNT makes psql read through a cursor instead of holding the whole result in memory
    return f"psql -X -q -At -v FETCH_COUNT=5000 {shlex.quote(libpq_url(url))} -c {shlex.quote(q)}"


def export_age(keys: PeerKeys, dump: str, out: Path) -> str:
    o = shlex.quote(str(out))
    return (
        f"{dump} | zstd -3 -q -c | age -r {keys.age_recipient} -o {o} && "
        f"minisign -S -s {shlex.quote(str(keys.minisign_sec))} -m {o} >/dev/null"
    )


def export_gpg(keys: PeerKeys, dump: str, out: Path) -> str:
    return f"{dump} | {keys.gpg()} -u {keys.gpg_id} -r {keys.gpg_id} --sign --encrypt -o {shlex.quote(str(out))}"


# --------------------------------------------------------------------------- import


def decrypt_gpg(keys: PeerKeys, package: Path) -> str:
    return f"{keys.gpg()} --decrypt -o /dev/null {shlex.quote(str(package))}"


def _open_age(keys: PeerKeys, package: Path) -> str:
    return f"age -d -i {shlex.quote(str(keys.age_key))} {shlex.quote(str(package))} | zstd -d -q -c"


def verify_age(keys: PeerKeys, package: Path) -> str:
    return f"minisign -V -q -p {shlex.quote(str(keys.minisign_pub))} -m {shlex.quote(str(package))}"


def open_age(keys: PeerKeys, package: Path) -> str:
    """Verify, decrypt and decompress only (the part of the import that does no database work)."""
    return f"{verify_age(keys, package)} && {_open_age(keys, package)} >/dev/null"


# What the public node derives from each item, in SQL: the same columns, with the same choice of the
# search entry's record (the subject row, else the newest record) and the same tokens (the name's
# bigrams and its last character, then the whole credit code as one token: docs/adr/0002). Normalisation is
# simplified (ASCII lower case, common punctuation and masking asterisks removed; the node applies NFKC
# and case folding), which only makes the peer's work lighter.
_RECORD_DATE = {
    "licence": "decision_date",
    "penalty": "decision_date",
    "list_entry": "listed_date",
    "commitment": "commitment_date",
    "gov_credit": "occurred_date",
}
_STRIP = ("*", "(", ")", "（", "）", " ", "·", "-", "〔", "〕", "[", "]", "、", ".", ",")


def _sqlite_norm(expr: str) -> str:
    for ch in _STRIP:
        expr = f"replace({expr}, '{ch}', '')"
    return f"lower({expr})"


def sqlite_import_script(keys: PeerKeys, package: Path, *, snapshot: bool) -> str:
    """A sqlite3 CLI script: one transaction (synchronous=FULL, as the node commits) that loads the
    package's items, upserts the published records and rebuilds the search entries of their subjects."""
    j = "stage.line"
    date_case = " ".join(f"WHEN '{k}' THEN json_extract({j}, '$.row.{f}')" for k, f in _RECORD_DATE.items())
    doc = f"json_extract({j}, '$.row.doc_no')"
    cols = "kind, key, version, subject_key, subject_name, subject_category, uscc, doc_no, doc_key, publish_until, list_type, record_date, row"
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols.split(", ")[2:])
    return f"""PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
BEGIN IMMEDIATE;
CREATE TEMP TABLE stage(line TEXT);
.mode ascii
.separator "\\037" "\\n"
.import '|{_open_age(keys, package)}' stage
{"DELETE FROM published_record; INSERT INTO search_fts(search_fts) VALUES ('delete-all'); DELETE FROM search_subject;" if snapshot else ""}
INSERT INTO published_record ({cols})
SELECT json_extract({j}, '$.table'), json_extract({j}, '$.key'), json_extract({j}, '$.version'),
       json_extract({j}, '$.row.subject_key'), json_extract({j}, '$.row.subject_name'),
       json_extract({j}, '$.row.subject_category'), upper(json_extract({j}, '$.row.uscc')), {doc},
       nullif({_sqlite_norm(doc)}, ''), json_extract({j}, '$.row.publish_until'),
       json_extract({j}, '$.row.list_type'), CASE json_extract({j}, '$.table') {date_case} END,
       json_extract({j}, '$.row')
FROM stage WHERE json_extract({j}, '$.op') = 'upsert'
ON CONFLICT (kind, key) DO UPDATE SET {updates} WHERE excluded.version > published_record.version;
CREATE TEMP TABLE touched AS SELECT DISTINCT json_extract({j}, '$.row.subject_key') AS subject_key FROM stage;
INSERT INTO search_fts(search_fts, rowid, grams)
  SELECT 'delete', id, grams FROM search_subject WHERE subject_key IN (SELECT subject_key FROM touched);
DELETE FROM search_subject WHERE subject_key IN (SELECT subject_key FROM touched);
CREATE TEMP TABLE picked AS
  SELECT subject_key, subject_name, subject_category, uscc, kind, key,
         {_sqlite_norm("subject_name")} AS a, {_sqlite_norm("coalesce(uscc, '')")} AS b
  FROM (SELECT r.*, row_number() OVER (PARTITION BY r.subject_key
                                       ORDER BY r.kind = 'subject' DESC, r.version DESC, r.kind DESC, r.key DESC) AS rn
        FROM published_record r WHERE r.subject_key IN (SELECT subject_key FROM touched))
  WHERE rn = 1;
WITH RECURSIVE g(rid, a, b, i, acc) AS (
  SELECT rowid, a, b, 1, '' FROM picked
  UNION ALL
  SELECT rid, a, b, i + 1, acc || ' ' || substr(a, i, 2) FROM g WHERE i <= length(a))
INSERT INTO search_subject (subject_key, name, category, uscc, name_norm, code_norm, source_kind, source_key, grams)
SELECT p.subject_key, p.subject_name, p.subject_category, p.uscc, g.a, g.b, p.kind, p.key,
       ltrim(g.acc || CASE WHEN g.b <> '' THEN ' ' || g.b ELSE '' END)
FROM g JOIN picked p ON p.rowid = g.rid WHERE g.i = length(g.a) + 1;
INSERT INTO search_fts(rowid, grams)
  SELECT id, grams FROM search_subject WHERE subject_key IN (SELECT subject_key FROM touched);
COMMIT;
"""


def _pg_norm(expr: str) -> str:
    return f"regexp_replace(lower({expr}), '[ *()（）·.,、〔〕\\[\\]-]', '', 'g')"


def pg_import_script(keys: PeerKeys, package: Path, *, snapshot: bool) -> str:
    """The same as :func:`sqlite_import_script` for psql: ``\\copy FROM PROGRAM``, jsonb, a tsvector."""
    date_case = " ".join(f"WHEN '{k}' THEN (j->'row'->>'{f}')" for k, f in _RECORD_DATE.items())
    cols = "kind, key, version, subject_key, subject_name, subject_category, uscc, doc_no, doc_key, publish_until, list_type, record_date, row"
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols.split(", ")[2:])
    program = _open_age(keys, package).replace("'", "''")
    return f"""\\set ON_ERROR_STOP on
BEGIN;
CREATE TEMP TABLE stage(line text) ON COMMIT DROP;
\\copy stage FROM PROGRAM '{program}' WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')
{"DELETE FROM published_record; DELETE FROM search_subject;" if snapshot else ""}
CREATE TEMP TABLE items ON COMMIT DROP AS SELECT line::jsonb AS j FROM stage;
INSERT INTO published_record ({cols})
SELECT j->>'table', j->>'key', (j->>'version')::bigint, j->'row'->>'subject_key', j->'row'->>'subject_name',
       j->'row'->>'subject_category', upper(j->'row'->>'uscc'), j->'row'->>'doc_no',
       nullif({_pg_norm("j->'row'->>'doc_no'")}, ''), (j->'row'->>'publish_until')::date,
       j->'row'->>'list_type',
       (CASE j->>'table' {date_case} END)::date, (j->'row')::text
FROM items WHERE j->>'op' = 'upsert'
ON CONFLICT (kind, key) DO UPDATE SET {updates} WHERE excluded.version > published_record.version;
CREATE TEMP TABLE touched ON COMMIT DROP AS SELECT DISTINCT j->'row'->>'subject_key' AS subject_key FROM items;
DELETE FROM search_subject WHERE subject_key IN (SELECT subject_key FROM touched);
INSERT INTO search_subject (subject_key, name, category, uscc, name_norm, code_norm, source_kind, source_key, grams)
SELECT subject_key, subject_name, subject_category, uscc, a, b, kind, key,
       (coalesce((SELECT string_agg('''' || substr(a, i, 2) || ''':' || i, ' ' ORDER BY i)
                  FROM generate_series(1, length(a)) AS i), '')
        || CASE WHEN b <> '' THEN ' ''' || b || ''':' || (length(a) + 1) ELSE '' END)::tsvector
FROM (SELECT r.*, {_pg_norm("r.subject_name")} AS a, {_pg_norm("coalesce(r.uscc, '')")} AS b,
             row_number() OVER (PARTITION BY r.subject_key
                                ORDER BY r.kind = 'subject' DESC, r.version DESC, r.kind DESC, r.key DESC) AS rn
      FROM published_record r WHERE r.subject_key IN (SELECT subject_key FROM touched)) picked
WHERE rn = 1;
COMMIT;
"""


def import_command(engine: str, url: str, script: Path) -> str:
    if engine == "sqlite":
        return f"sqlite3 -batch -bail {shlex.quote(url.removeprefix('sqlite:///'))} < {shlex.quote(str(script))}"
    return f"psql -X -q {shlex.quote(libpq_url(url))} -f {shlex.quote(str(script))}"


def count_records(engine: str, url: str) -> int:
    """Records in a (peer) published database, to check the peer really loaded what ours did."""
    q = "SELECT count(*) FROM published_record"
    if engine == "sqlite":
        cmd = ["sqlite3", "-readonly", url.removeprefix("sqlite:///"), q]
    else:
        cmd = ["psql", "-X", "-At", libpq_url(url), "-c", q]
    return int(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip())


def count_entries(engine: str, url: str) -> int:
    q = "SELECT count(*) FROM search_subject"
    if engine == "sqlite":
        cmd = ["sqlite3", "-readonly", url.removeprefix("sqlite:///"), q]
    else:
        cmd = ["psql", "-X", "-At", libpq_url(url), "-c", q]
    return int(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip())


def sample_grams(engine: str, url: str, limit: int = 20_000) -> dict[str, tuple[str, str, str]]:
    """(name, code, tokens) of the first ``limit`` search entries by subject key, to compare a peer's
    index with the node's (tokens as text: space-separated on SQLite, the tsvector's text on PostgreSQL)."""
    q = f"SELECT subject_key, name_norm, code_norm, grams FROM search_subject ORDER BY subject_key LIMIT {int(limit)}"
    if engine == "sqlite":
        import sqlite3

        with sqlite3.connect(f"file:{url.removeprefix('sqlite:///')}?mode=ro", uri=True) as conn:
            return {k: (n, c, str(g)) for k, n, c, g in conn.execute(q)}
    import psycopg

    with psycopg.connect(libpq_url(url)) as pg:
        return {k: (n, c, str(g)) for k, n, c, g in pg.execute(q.replace("grams FROM", "grams::text FROM"))}
