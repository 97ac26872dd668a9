"""Extract every message id of the operators' catalogue into a .pot (`make i18n` then merges it into
nodekit/locale/zh_CN/LC_MESSAGES/credgap.po and compiles the .mo).

The ids come from four places: the product's code outside the web platform (``_``, ``N_``,
``ngettext``), extracted with Babel (the platform's templates and code have their own catalogue,
public_node/web/locale, which falls back to this one); the help texts of both programs' click
commands and options, read from the command trees; click's own messages (usage errors, "Usage:",
"Options:"), extracted from the installed click with Babel; and the demo's narration (``step`` and
``note`` lines of scripts/demo.sh without a shell variable). tests/unit/nodekit/test_i18n.py calls :func:`catalogue` too."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import write_po

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("keys", "transfer", "nodekit", "exchange", "internal_node", "public_node")
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
CLICK_MODULES = ("core.py", "exceptions.py", "types.py", "parser.py", "formatting.py", "decorators.py", "termui.py")
DEMO = ROOT / "scripts" / "demo.sh"
_DEMO_LINE = re.compile(r"""^\s*(?:step|say|note)\s+(?:-n\s+)?(["'])(?P<text>(?:(?!\1).)*)\1""", re.MULTILINE)


def _add(catalog: Catalog, message: str | tuple[str, str], where: str) -> None:
    if not message or (isinstance(message, tuple) and not message[0]):
        return
    catalog.add(message, locations=[(where, 0)])


def catalogue() -> Catalog:
    """Every message id the operator can be shown, with where it was found."""
    catalog = Catalog(project="credgap", version="0.1.0", charset="utf-8")
    for package in PACKAGES:
        methods = [("web/**", "ignore"), ("**.py", "python")]
        for filename, _line, message, _comments, _context in extract_from_dir(
            str(ROOT / package), methods, keywords=KEYWORDS
        ):
            _add(catalog, message, f"{package}/{filename}")
    from internal_node.cli import cli as internal_cli
    from nodekit.i18n import help_ids
    from public_node.cli import cli as public_cli

    for program, root in (("internal-node", internal_cli), ("public-node", public_cli)):
        for text in help_ids(root):
            _add(catalog, text, f"{program} --help")
    import click

    click_dir = Path(click.__file__).resolve().parent
    for module in CLICK_MODULES:
        with (click_dir / module).open("rb") as fileobj:
            from babel.messages.extract import extract

            for _line, message, _comments, _context in extract(
                "python", fileobj, keywords={"_": None, "ngettext": (1, 2)}
            ):
                _add(catalog, message, f"click/{module}")
    if DEMO.exists():
        for match in _DEMO_LINE.finditer(DEMO.read_text(encoding="utf-8")):
            if "$" not in match["text"]:
                _add(catalog, match["text"], "scripts/demo.sh")
    return catalog


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "build/credgap.pot")
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as f:
        write_po(f, catalogue(), omit_header=False, sort_output=True, no_location=True, width=0)
    print(f"{out}: {len(catalogue())} message ids")
