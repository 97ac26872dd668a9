"""Benchmark of the public node's read model: bulk apply of published rows and the search-index fill,
on SQLite or PostgreSQL, next to the alternatives docs/adr/0002-cjk-search-index.md compares.

    .venv/bin/python -m bench.read_model --n 200000                       # SQLite in a temp dir
    .venv/bin/python -m bench.read_model --n 200000 --url postgresql+psycopg://postgres@127.0.0.1/postgres

With a PostgreSQL URL a scratch UTF-8 database is created next to it and dropped afterwards. Prints
rows/s per stage; times are wall clock on whatever else the machine is doing, so run it twice.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from nodekit.runtime import Node, init_home
from public_node import SPEC, search, store
from public_node.search import Source, normalise, text_tokens

TODAY = date(2026, 11, 26)
REGIONS = [
    "昆明",
    "云南",
    "北京",
    "上海",
    "广州",
    "深圳",
    "成都",
    "重庆",
    "杭州",
    "南京",
    "武汉",
    "西安",
    "玉溪",
    "曲靖",
    "大理",
    "丽江",
    "楚雄",
    "红河",
    "文山",
    "保山",
]
CORE = "华兴盛达鑫源泰丰宏昌隆恒瑞祥和福安康嘉信诚金银海天龙凤宝明光辉新中国东方南北远博创智联通众合德润佳美永志凯佰仟万鼎峰云滇春城湖晨星阳睿思航际"
INDUSTRY = [
    "科技",
    "商贸",
    "建筑工程",
    "房地产开发",
    "餐饮管理",
    "物流",
    "农业发展",
    "医药",
    "电子",
    "信息技术",
    "环保科技",
    "文化传媒",
    "教育咨询",
    "汽车服务",
    "食品",
    "矿业",
    "能源",
    "劳务",
    "装饰工程",
    "旅游开发",
]
SUFFIX = ["有限公司", "有限责任公司", "股份有限公司", "经营部", "合作社"]


def company_names(n: int, seed: int = 1) -> list[str]:
    rnd = random.Random(seed)
    return [
        rnd.choice(REGIONS)
        + "".join(rnd.choice(CORE) for _ in range(rnd.choice((2, 2, 3, 4))))
        + rnd.choice(INDUSTRY)
        + rnd.choice(SUFFIX)
        for _ in range(n)
    ]


def k(label: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_OID, label).hex


def penalty_items(n: int, subjects: int, version: int = 1) -> Iterator[dict[str, Any]]:
    """n penalty upserts (about 440 bytes of row each) over ``subjects`` subjects."""
    names = company_names(subjects)
    for i in range(n):
        s = i % subjects
        yield {
            "kind": "record",
            "op": "upsert",
            "table": "penalty",
            "key": k(f"p{i}"),
            "version": version,
            "row": {
                "subject_key": k(f"s{s}"),
                "subject_name": names[s],
                "subject_category": "legal_person",
                "uscc": f"91530100MA6K{s:06d}",
                "doc_no": f"昆市监罚〔2024〕{i}号",
                "publish_until": "2027-06-30",
                "source_unit": "昆明市市场监督管理局",
                "violation_type": "违反食品安全法",
                "violation_facts": "经营超过保质期的食品，货值金额较小",
                "legal_basis": "《中华人民共和国食品安全法》第一百二十四条",
                "penalty_types": "warning;fine",
                "content": "警告，罚款人民币五千元",
                "fine_amount": "0.500000",
                "decision_date": "2024-06-01",
                "severity": "general",
                "authority": "昆明市市场监督管理局",
                "authority_uscc": "11530100MB0P12345X",
            },
        }


@contextmanager
def scratch_node(url: str | None) -> Iterator[Node]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-read-model-"))
    handle = None
    if url is None:
        db_url = f"sqlite:///{tmp / 'public.db'}"
    else:
        handle = f"bench_rm_{uuid.uuid4().hex[:10]}"
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f"CREATE DATABASE {handle} ENCODING 'UTF8' TEMPLATE template0"))
        admin.dispose()
        db_url = make_url(url).set(database=handle).render_as_string(hide_password=False)
    node = init_home(tmp / "home", SPEC, name="bench", database_url=db_url)
    try:
        yield node
    finally:
        node.close()
        if handle is not None:
            admin = create_engine(url or "", isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f"DROP DATABASE IF EXISTS {handle} WITH (FORCE)"))
            admin.dispose()


def timed(label: str, n: int, fn: Callable[[], Any]) -> float:
    """Run ``fn`` and print rows/s by wall clock and by this process's CPU time (the second is
    steadier on a busy machine; on PostgreSQL it leaves out the server's own work)."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"  {label:66s} {dt:7.2f} s {n / dt:9,.0f} rows/s   (cpu {cpu:6.2f} s, {n / cpu:9,.0f} rows/cpu-s)", flush=True
    )
    return dt


def bench_apply(url: str | None, n: int, subjects: int) -> None:
    print(f"apply_changes: {n:,} penalty upserts over {subjects:,} subjects")
    with scratch_node(url) as node:
        items = list(penalty_items(n, subjects))
        with node.transaction() as s:
            pragmas(s.connection())
            timed("first load (insert), search index included", n, lambda: store.apply_changes(s, items, today=TODAY))
        items = list(penalty_items(n, subjects, version=2))
        with node.transaction() as s:
            timed("same records, newer version (update)", n, lambda: store.apply_changes(s, items, today=TODAY))
        with node.transaction() as s:
            timed("same again (all unchanged)", n, lambda: store.apply_changes(s, items, today=TODAY))
        query_latency(node)
    with scratch_node(url) as node:
        real = search.index_applied
        search.index_applied = lambda conn, applied: None  # type: ignore[assignment]
        try:
            items = list(penalty_items(n, subjects))
            with node.transaction() as s:
                timed(
                    "first load, records only (search maintenance off)",
                    n,
                    lambda: store.apply_changes(s, items, today=TODAY),
                )
        finally:
            search.index_applied = real


CACHE_MB = 0


def pragmas(conn: Any) -> None:
    """``--cache-mb``: a larger SQLite page cache for the connection (nodekit's default is 2 MB)."""
    if CACHE_MB and conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA cache_size = -{CACHE_MB * 1024}")


def bench_peer(url: str | None, n: int, subjects: int) -> None:
    """The database's own floor for the same rows: prepared tuples (parsing done beforehand, not
    timed) written by the driver alone, executemany on SQLite and COPY on PostgreSQL, same schema."""
    from public_node.changes import Upsert, parse_change

    rows = [parse_change(item, TODAY) for item in penalty_items(n, subjects)]
    with scratch_node(url) as node, node.transaction() as s:
        conn = s.connection()
        pragmas(conn)
        cols = ", ".join(f'"{c}"' for c in Upsert._fields)
        if conn.dialect.name == "sqlite":
            sql = f"INSERT INTO published_record ({cols}) VALUES ({', '.join('?' for _ in Upsert._fields)})"
            timed(
                "peer: driver executemany of prepared rows, no Python work", n, lambda: conn.exec_driver_sql(sql, rows)
            )
        else:
            from public_node import bulk

            copy = f"COPY published_record ({cols}) FROM STDIN"
            timed("peer: COPY of prepared rows, no Python work", n, lambda: bulk.copy_rows(conn, copy, rows))


def query_latency(node: Node) -> None:
    names = company_names(2000, seed=1)
    rnd = random.Random(5)
    with node.transaction() as s:
        for length in (1, 2, 3, 4):
            times = []
            totals = []
            for name in rnd.sample(names, 30):
                start = rnd.randrange(0, max(1, len(name) - length))
                q = name[start : start + length]
                t0 = time.perf_counter()
                page = store.search(s, q, today=TODAY, limit=20)
                times.append(time.perf_counter() - t0)
                totals.append(page.total)
            print(
                f"  search, {length}-character queries: median {statistics.median(times) * 1000:7.1f} ms, "
                f"max {max(times) * 1000:7.1f} ms (median {statistics.median(totals):,.0f} matches)"
            )


def bench_index_fill(url: str | None, n: int) -> None:
    print(f"search index fill: {n:,} distinct subjects (names about 12 characters)")
    names = company_names(n, seed=2)
    sources = [
        Source("subject", k(f"s{i}"), 1, k(f"s{i}"), name, "legal_person", f"91530100MA6K{i:06d}")
        for i, name in enumerate(names)
    ]
    with scratch_node(url) as node, node.transaction() as s:
        conn = s.connection()
        timed(
            "bigram entries + FTS5/GIN (search.index_applied, chosen design)",
            n,
            lambda: search.index_applied(conn, sources),
        )
    tokens_only = [" ".join(text_tokens(normalise(x))) for x in names]
    timed("  of which Python normalisation + bigrams", n, lambda: [" ".join(text_tokens(normalise(x))) for x in names])
    with scratch_node(url) as node, node.transaction() as s:
        conn = s.connection()
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("CREATE TABLE alt_names (id INTEGER PRIMARY KEY, name TEXT, grams TEXT)")
            conn.exec_driver_sql(
                "INSERT INTO alt_names VALUES (?, ?, ?)", list(zip(range(1, n + 1), names, tokens_only, strict=True))
            )
            conn.exec_driver_sql(
                "CREATE VIRTUAL TABLE alt_tri USING fts5(name, tokenize='trigram', content='alt_names', content_rowid='id')"
            )
            timed(
                "alternative: FTS5 trigram over names (INSERT ... SELECT)",
                n,
                lambda: conn.exec_driver_sql("INSERT INTO alt_tri(rowid, name) SELECT id, name FROM alt_names"),
            )
            conn.exec_driver_sql(
                "CREATE VIRTUAL TABLE alt_bi USING fts5(grams, tokenize='ascii', content='alt_names', content_rowid='id')"
            )
            timed(
                "alternative: FTS5 bigram text, SQL only (INSERT ... SELECT)",
                n,
                lambda: conn.exec_driver_sql("INSERT INTO alt_bi(rowid, grams) SELECT id, grams FROM alt_names"),
            )
            conn.exec_driver_sql("CREATE TABLE alt_post (gram TEXT, subject INTEGER)")
            conn.exec_driver_sql("CREATE INDEX alt_post_ix ON alt_post (gram, subject)")
            posting = [(g, i) for i, x in enumerate(names, 1) for g in set(text_tokens(normalise(x)))]
            timed(
                f"alternative: naive bigram posting table + B-tree ({len(posting):,} postings)",
                n,
                lambda: conn.exec_driver_sql("INSERT INTO alt_post VALUES (?, ?)", posting),
            )
        else:
            conn.exec_driver_sql("CREATE TABLE alt_post (gram TEXT, subject INTEGER)")
            conn.exec_driver_sql("CREATE INDEX alt_post_ix ON alt_post (gram, subject)")
            posting = [(g, i) for i, x in enumerate(names, 1) for g in set(text_tokens(normalise(x)))]
            raw: Any = conn.connection.dbapi_connection

            def copy_postings() -> None:
                with raw.cursor() as cur, cur.copy("COPY alt_post (gram, subject) FROM STDIN") as cp:
                    for p in posting:
                        cp.write_row(p)

            timed(
                f"alternative: naive bigram posting table + B-tree via COPY ({len(posting):,} postings)",
                n,
                copy_postings,
            )
            has_trgm = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_trgm'"
            ).scalar_one()
            if not has_trgm:
                print(
                    "  alternative: pg_trgm not installed on this server (and cannot answer 2-character queries anyway)"
                )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--subjects", type=int, default=100_000)
    ap.add_argument("--url", default=None, help="PostgreSQL admin URL (default: SQLite in a temp dir)")
    ap.add_argument("--only", choices=("index", "apply"), default=None)
    ap.add_argument("--cache-mb", type=int, default=0, help="SQLite page cache for the apply connection")
    args = ap.parse_args()
    global CACHE_MB
    CACHE_MB = args.cache_mb
    print(f"engine: {'postgresql' if args.url else 'sqlite'}")
    if args.only in (None, "index"):
        bench_index_fill(args.url, args.n)
    if args.only in (None, "apply"):
        bench_apply(args.url, args.n, args.subjects)
        bench_peer(args.url, args.n, args.subjects)


if __name__ == "__main__":
    main()
