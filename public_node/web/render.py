"""Templates: a Jinja2 environment with autoescape and the i18n extension (English message ids, the
zh-CN catalogue by default), and the filters the pages use — highlighting a match safely (escape
first, then mark) and showing published fields."""

from __future__ import annotations

import gettext
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from nodekit import i18n
from public_node.search import normalise
from public_node.web.labels import CODE_LABELS, CODED_FIELDS, FIELD_LABELS, HIDDEN_FIELDS, KIND_LABELS

HERE = Path(__file__).resolve().parent
LOCALE_DIR = HERE / "locale"
DEFAULT_LANGUAGE = "zh_CN"


def translations(language: str = DEFAULT_LANGUAGE) -> gettext.GNUTranslations:
    """The compiled catalogue of ``language`` (shipped in the package: a missing one is a packaging
    error, raised here rather than silently showing English), falling back to the operators'
    catalogue (nodekit.i18n), so a message both sides show is translated once."""
    tr = gettext.translation("messages", localedir=LOCALE_DIR, languages=[language])
    tr.add_fallback(i18n.translations(language))
    return tr


def _norm_map(text: str) -> tuple[str, list[int]]:
    """The searchable form of ``text`` (``search.normalise``) and, for each of its characters, the
    index of the original character it came from."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        n = normalise(ch)
        if n:
            out.append(n)
            where.extend([i] * len(n))
    return "".join(out), where


def highlight(text: str, query: str) -> Markup:
    """``text`` escaped, with every match of ``query`` (compared as the search compares) in <mark>."""
    needle = normalise(query)
    if not needle:
        return escape(text)
    norm, where = _norm_map(text)
    pieces: list[Markup] = []
    pos = 0
    start = norm.find(needle)
    while start >= 0:
        a, b = where[start], where[start + len(needle) - 1] + 1
        pieces.append(escape(text[pos:a]))
        pieces.append(_MARK.format(text[a:b]))  # format() escapes its argument
        pos = b
        start = norm.find(needle, start + len(needle))
    pieces.append(escape(text[pos:]))
    return Markup("").join(pieces)


_MARK = Markup("<mark>{}</mark>")


def make_environment(timezone: str, language: str = DEFAULT_LANGUAGE) -> Environment:
    """The platform's Jinja2 environment (autoescape on for every template)."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates ship with the code: no stat() of every template on every page
    )
    tr = translations(language)
    env.install_gettext_translations(tr, newstyle=True)  # type: ignore[attr-defined]
    zone = ZoneInfo(timezone)

    def t(message: str) -> str:
        return tr.gettext(message)

    # every label a record shows, translated once here rather than once per field of every page
    field_labels = {name: t(label) for name, label in FIELD_LABELS.items() if label}
    code_labels = {code: t(label) for code, label in CODE_LABELS.items()}
    kind_labels = {kind: t(label) for kind, label in KIND_LABELS.items()}

    def field_label(name: str) -> str:
        return field_labels.get(name, name)

    def field_value(name: str, value: Any) -> str:
        if value is None:
            return ""
        if name in CODED_FIELDS and isinstance(value, str) and value in code_labels:
            return code_labels[value]
        return str(value)

    def local_time(value: datetime | None) -> str:
        return "" if value is None else value.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    env.filters.update(
        highlight=highlight,
        field_label=field_label,
        field_value=field_value,
        kind_label=lambda kind: kind_labels.get(kind, kind),
        code_label=lambda code: code_labels.get(code, code),
        local_time=local_time,
    )
    env.globals["shown_fields"] = lambda row: [(k, v) for k, v in sorted(row.items()) if k not in HIDDEN_FIELDS]
    env.globals["language"] = language.replace("_", "-")
    return env
