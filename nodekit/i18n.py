"""The operator's language: the gettext catalogue (English message ids, zh-CN translations) of the
CLI's messages and help texts, click's own messages and the demo; the web platform's catalogue falls
back to it.

Wrap a message a person reads in ``_()`` (``ngettext`` for a count, ``N_`` to mark a constant that is
translated where it is shown). What scripts and auditors read stays English and is never wrapped:
``node.log``, the transfer log, ``--json`` documents and their reason codes. ``make i18n`` extracts the
ids (``scripts/i18n.py``), merges them into ``locale/zh_CN/LC_MESSAGES/credgap.po`` and compiles the
``.mo`` that the package ships; ``tests/unit/nodekit/test_i18n.py`` checks that every id is translated
and that the compiled catalogue is current (docs/adr/0016-operator-language.md)."""

from __future__ import annotations

import gettext
import inspect
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DOMAIN = "credgap"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
ENGLISH = "en"
CHINESE = "zh_CN"
LANGUAGES = (ENGLISH, CHINESE)
# gettext's own order of precedence (GNU gettext ignores LANGUAGE under the C locale, and so do we)
_ENV_ORDER = ("LC_ALL", "LC_MESSAGES", "LANG")

_active: gettext.NullTranslations = gettext.NullTranslations()
_active_language = ENGLISH


class UnknownLanguage(ValueError):
    """A ``--lang`` value this program has no catalogue for."""


def normalise(value: str) -> str | None:
    """The catalogue a locale name asks for (``zh_CN.UTF-8``, ``zh-CN``, ``zh`` → ``zh_CN``;
    ``C``, ``POSIX``, ``en_US.UTF-8`` → ``en``), or None for a language without a catalogue."""
    tag = value.split(".", 1)[0].split("@", 1)[0].replace("-", "_").strip()
    lower = tag.lower()
    if lower in ("", "c", "posix") or lower == "en" or lower.startswith("en_"):
        return ENGLISH
    if lower in ("zh", "zh_cn", "zh_sg", "zh_hans") or lower.startswith("zh_hans"):
        return CHINESE
    return None


def resolve(requested: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The language to speak: ``--lang`` when given (an unknown one raises :class:`UnknownLanguage`),
    else the locale (``LANGUAGE``'s first known entry, then ``LC_ALL``, ``LC_MESSAGES``, ``LANG``),
    else English."""
    if requested is not None:
        chosen = normalise(requested)
        if chosen is None:
            raise UnknownLanguage(requested)
        return chosen
    env = os.environ if environ is None else environ
    locale_value = next((env[k] for k in _ENV_ORDER if env.get(k)), "")
    if env.get("LANGUAGE") and locale_value.split(".", 1)[0] not in ("", "C", "POSIX"):
        for entry in env["LANGUAGE"].split(":"):
            found = normalise(entry) if entry else None
            if found is not None:
                return found
    return normalise(locale_value) or ENGLISH


def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``language`` (English: the message ids themselves). The zh-CN one is
    shipped in the package: a missing one is a packaging error, raised rather than silently English."""
    if language == ENGLISH:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[language])


def activate(language: str) -> None:
    """Speak ``language`` from now on, in our messages and in click's (which call the standard
    library's ``gettext`` in its current domain)."""
    global _active, _active_language
    _active, _active_language = translations(language), language
    gettext.bindtextdomain(DOMAIN, str(LOCALE_DIR))
    gettext.textdomain(DOMAIN)
    # click's gettext reads the language from the environment at each call; LANGUAGE wins there
    os.environ["LANGUAGE"] = language


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """Speak ``language`` inside the block and restore the previous language (and environment) after."""
    previous, saved = _active_language, os.environ.get("LANGUAGE")
    activate(language)
    try:
        yield
    finally:
        activate(previous)
        if saved is None:
            os.environ.pop("LANGUAGE", None)
        else:
            os.environ["LANGUAGE"] = saved


def active() -> gettext.NullTranslations:
    """The catalogue now spoken (``gettext``/``ngettext`` methods, for code that picks its catalogue)."""
    return _active


def language() -> str:
    """The language now spoken (``en`` or ``zh_CN``)."""
    return _active_language


def _(message: str) -> str:
    """``message`` (an English message id) in the operator's language."""
    return _active.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of ``singular``/``plural`` for ``n`` in the operator's language."""
    return _active.ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it here (it is translated where shown)."""
    return message


class Shown:
    """A parameter of an error read one way in English (``str``: logs, --json) and as a message id in
    the operator's language (``shown``): ``Shown(with_article(role), role)`` is "an internal" in the
    log and 内网 on a Chinese operator's screen; ``params`` fill in the translated message id."""

    def __init__(self, english: str, message_id: str, params: Mapping[str, object] | None = None) -> None:
        self.english = english
        self.message_id = message_id
        self.params = dict(params) if params else {}

    def __str__(self) -> str:
        return self.english

    def shown(self) -> str:
        if _active_language == ENGLISH:
            return self.english
        return _(self.message_id).format(**self.params) if self.params else _(self.message_id)


def help_id(text: str) -> str:
    """The message id of a click help text: the text as click shows it (``inspect.cleandoc``)."""
    return inspect.cleandoc(text)


def translate_help(command: Any) -> None:
    """Show the help texts of ``command`` and everything under it (commands, options, arguments,
    epilogs) in the active language. The English ids are kept aside, so this can run again in
    another language (tests run many programs in one process)."""
    import click

    seen: set[int] = set()

    def visit(cmd: click.Command) -> None:
        if id(cmd) in seen:
            return
        seen.add(id(cmd))
        _swap(cmd, ("help", "short_help", "epilog"))
        for param in cmd.params:
            _swap(param, ("help",))
        if isinstance(cmd, click.Group):
            for sub in cmd.commands.values():
                visit(sub)

    visit(command)


def _swap(obj: Any, attributes: tuple[str, ...]) -> None:
    ids: dict[str, str | None] = obj.__dict__.setdefault("_credgap_help_ids", {})
    for name in attributes:
        if name not in ids:
            ids[name] = getattr(obj, name, None)
        original = ids[name]
        if isinstance(original, str) and original:
            setattr(obj, name, _(help_id(original)))


def help_ids(command: Any) -> Iterator[str]:
    """Every help text under ``command`` as a message id (for the catalogue)."""
    import click

    seen: set[int] = set()
    stack = [command]
    while stack:
        cmd = stack.pop()
        if id(cmd) in seen:
            continue
        seen.add(id(cmd))
        for obj, names in [(cmd, ("help", "short_help", "epilog")), *((p, ("help",)) for p in cmd.params)]:
            kept = obj.__dict__.get("_credgap_help_ids", {})
            for name in names:
                text = kept.get(name, getattr(obj, name, None))
                if isinstance(text, str) and text.strip():
                    yield help_id(text)
        if isinstance(cmd, click.Group):
            stack.extend(cmd.commands.values())
