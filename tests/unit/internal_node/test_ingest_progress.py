"""``internal-node ingest`` draws a progress bar on a terminal, and never under ``--json`` or when
stderr is not a terminal (a log file, a pipe)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from internal_node import SPEC as INTERNAL
from tests.helpers import run_cli
from tests.nodes import Clock, make_home
from tests.unit.internal_node.ingest_support import SAMR, row, write_csv

pytestmark = pytest.mark.db


def test_ingest_shows_a_bar_on_a_terminal_only_and_never_with_json(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    medium = tmp_path / "medium"
    medium.mkdir()
    home = make_home(tmp_path, INTERNAL, "int", medium, Clock(), database_url)
    rows = [row("penalty", decision_no=f"昆市监处罚〔2025〕{n}号") for n in range(1, 51)]
    path = write_csv(tmp_path / "penalties.csv", "penalty", rows)

    def ingest(*extra: str) -> tuple[int, str, str]:
        r = run_cli("internal-node", "--home", str(home.node.config.home), "ingest", str(path), "--kind", "penalty",
                    "--source", SAMR.name, *extra)  # fmt: skip
        return r.code, r.out, r.err

    try:
        code, _, err = ingest()  # the test runner's stderr is no terminal: no bar
        assert code == 0 and "ingest penalties.csv" not in err, err

        # a terminal: stderr is one, and click draws on it
        monkeypatch.setattr("nodekit.cli.on_terminal", lambda: True)
        monkeypatch.setattr("click._termui_impl.isatty", lambda _f: True)
        code, out, err = ingest("--json")
        assert code == 0 and err == "", "--json: nothing but the document"
        assert orjson.loads(out)["counts"]["unchanged"] == 50
        code, _, err = ingest()
        assert code == 0, err
        assert "ingest penalties.csv" in err and "100%" in err, err
    finally:
        home.node.close()
