"""The catalogue: every message id in the templates and the platform's code has a zh-CN translation,
and the committed compiled catalogue (.mo) is the .po compiled (`make i18n` rebuilds both)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

babel = pytest.importorskip("babel", reason="Babel is a development dependency ([dev])")
from babel.messages.extract import extract_from_dir  # noqa: E402
from babel.messages.mofile import write_mo  # noqa: E402
from babel.messages.pofile import read_po  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "public_node" / "web"
CATALOGUE = WEB / "locale" / "zh_CN" / "LC_MESSAGES"
KEYWORDS = {"_": None, "gettext": None, "N_": None, "WebError": (3,)}
METHODS = [("templates/**.html", "jinja2"), ("**.py", "python")]


def _extracted() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(WEB), METHODS, options_map={"templates/**.html": {"extensions": "jinja2.ext.i18n"}}, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_message_id_has_a_translation() -> None:
    catalogue = read_po((CATALOGUE / "messages.po").open("rb"))
    translated = {m.id for m in catalogue if m.id and m.string}
    ids = _extracted()
    assert len(ids) > 100
    assert sorted(ids - translated) == []
    # `pybabel update` guesses a fuzzy translation for a new id from an old one; it is never compiled
    assert sorted(m.id for m in catalogue if m.id and m.fuzzy) == []


def test_the_compiled_catalogue_is_current() -> None:
    catalogue = read_po((CATALOGUE / "messages.po").open("rb"))
    buf = io.BytesIO()
    write_mo(buf, catalogue)
    assert (CATALOGUE / "messages.mo").read_bytes() == buf.getvalue(), "run `make i18n`"
