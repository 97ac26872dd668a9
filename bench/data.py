"""The bench's data: the sample generator's department files for about N published records, cached
under ``bench/.cache/`` by N and seed, and the change files derived from them (1% of the records
changed, and the stream of 1k-record changes the latency run sends)."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.homes import BIN

CACHE = Path(__file__).resolve().parent / ".cache"
RECORDS_PER_SUBJECT = 1.7  # published records per generated subject (subject rows included)
# Changes are made to legal persons' registered address (住所): a published field of the subject row
# (and only of it), so each changed row gives exactly one new item, while the refresh still projects
# the subject's records again, as any change of a subject does.
CHANGE_FILE = "samr-subjects.csv"  # UTF-8 CSV with the standard's Chinese headers
CHANGE_KIND = "subject"
CHANGED_FIELD = "住所"
PUBLISHED_ROW = {"主体类别": {"法人及非法人组织"}, "公开类型": {"", "可向社会公开"}, "信息状态": {""}, "撤下原因": {""}}


@dataclass(frozen=True)
class Dataset:
    n: int
    seed: int
    folder: Path
    manifest: list[dict[str, Any]]

    @property
    def dept(self) -> Path:
        return self.folder / "dept"

    @property
    def rows(self) -> int:
        return sum(int(m["rows"]) for m in self.manifest)

    @property
    def bytes(self) -> int:
        return sum((self.dept / m["file"]).stat().st_size for m in self.manifest)

    def change_source(self) -> dict[str, Any]:
        return next(m for m in self.manifest if m["file"] == CHANGE_FILE)


def subjects_for(n: int) -> int:
    return max(1, round(n / RECORDS_PER_SUBJECT))


def ensure(n: int, seed: int, *, say: Any = print) -> Dataset:
    """The cached department files for ``n`` records and ``seed``, generated once."""
    folder = CACHE / f"n{n}-s{seed}"
    done = folder / "complete"
    if not done.exists():
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        subjects = subjects_for(n)
        say(f"  generating department files for {subjects:,} subjects (seed {seed}) into {folder} (cached)")
        subprocess.run(
            [str(BIN / "internal-node"), "sample-data", "--subjects", str(subjects), "--seed", str(seed),
             "--out", str(folder / "dept")],
            check=True, capture_output=True,
        )  # fmt: skip
        done.write_text("ok\n")
    manifest = json.loads((folder / "dept" / "manifest.json").read_text())
    return Dataset(n, seed, folder, manifest)


def _change_rows(ds: Dataset) -> tuple[list[str], list[list[str]]]:
    """Header and the rows of the change source whose change is published (see :data:`PUBLISHED_ROW`)."""
    with (ds.dept / CHANGE_FILE).open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        checks = [(header.index(name), allowed) for name, allowed in PUBLISHED_ROW.items()]
        rows = [r for r in reader if all(r[at].strip() in allowed for at, allowed in checks)]
    return header, rows


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(header)
        w.writerows(rows)


def changed(header: list[str], row: list[str], mark: str) -> list[str]:
    out = list(row)
    at = header.index(CHANGED_FIELD)
    out[at] = f"{out[at]}（{mark}）"
    return out


def change_file(ds: Dataset, count: int, out: Path) -> int:
    """Write ``count`` changed rows (spread over the source file) to ``out``; return how many."""
    header, rows = _change_rows(ds)
    if not rows:
        raise RuntimeError(f"{CHANGE_FILE} has no published legal person to change")
    stride = max(1, len(rows) // max(1, count))
    picked = [changed(header, r, "更正") for r in rows[::stride][:count]]
    _write(out, header, picked)
    return len(picked)


def change_stream(ds: Dataset, packages: int, size: int, out: Path) -> Iterator[Path]:
    """``packages`` files of ``size`` changed rows each, cycling over the source (a row changed again
    gets another mark, so every file really changes what it names)."""
    header, rows = _change_rows(ds)
    out.mkdir(parents=True, exist_ok=True)
    pos = 0
    for i in range(packages):
        chunk: list[list[str]] = []
        while len(chunk) < size:
            lap, at = divmod(pos, len(rows))
            chunk.append(changed(header, rows[at], f"更正{lap + 1}"))
            pos += 1
            if len(chunk) >= len(rows):
                break  # a file never names the same record twice
        path = out / f"change-{i:04d}.csv"
        _write(path, header, chunk)
        yield path
