"""CI's check of what `make demo` printed (issue 18 point 15): plain text when not on a terminal, node
names rather than ids, each department file's ingest result, the digest `export --expect` wants and
the command that seals it, no Python repr, and (issue 17) an objection filed through the API shown
decided across the gap with its record withdrawn. Usage: python3 scripts/check_demo_log.py LOG"""

from __future__ import annotations

import re
import sys
from pathlib import Path

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def problems(text: str) -> list[str]:
    out: list[str] = []
    if "\x1b[" in text:
        out.append("ANSI escape codes in a log (colour only on a terminal)")
    for pattern, what in ((r"\{'", "a dict repr"), (r"\['", "a list repr"), (r"\bNone\b", "None")):
        m = re.search(pattern, text)
        if m:
            out.append(f"{what}: {text[max(0, m.start() - 80) : m.end() + 80]!r}")
    for m in re.finditer(rf"^(?:\s*)(sealed|delivered|applied) ({UUID})_to_", text, re.M):
        out.append(f"a channel by node ids, not names: {m.group(0)!r}")
    if not re.search(r"^(sealed|\s+watcher: applied) \S.* → \S.* seq 1 ", text, re.M):
        out.append("no 'sealed NAME → NAME seq 1' line")
    files = re.findall(r"^   (\S+\.(?:csv|xlsx|jsonl)):$", text, re.M)
    if len(files) < 5:
        out.append(f"the per-file ingest results are not shown (found {files})")
    for name in files:
        if not re.search(rf"^\s+(accepted|rejected) {re.escape(name)} ", text, re.M):
            out.append(f"no ingest result for {name}")
    wants = re.search(r"the one export --expect wants: ([0-9a-f]{64})$", text, re.M)
    if wants is None:
        out.append("the digest export --expect wants is not shown")
    elif not re.search(rf"^\s+internal-node .*export --expect {wants.group(1)}$", text, re.M):
        out.append("the dry run does not print the command that seals the reviewed digest")
    # issue 17: an objection filed through the API comes back decided, and its record is withdrawn
    filed = re.search(r"^   POST /api/v1/applications: objection ([0-9a-f]{32}) on ", text, re.M)
    if filed is None:
        out.append("no objection filed through the API (POST /api/v1/applications)")
    else:
        ident = filed.group(1)
        if not re.search(rf"^   GET /api/v1/applications/{ident}: objection decided: upheld \(\S", text, re.M):
            out.append(f"the objection {ident} is not shown decided (upheld, with its reason) across the gap")
        if not re.search(r"^   GET /api/v1/subjects/\S+: the \w+ record is no longer published$", text, re.M):
            out.append("the upheld objection's record is not shown withdrawn on the platform")
    return out


def main() -> int:
    text = Path(sys.argv[1]).read_text(encoding="utf-8", errors="replace")
    found = problems(text)
    for p in found:
        print(f"demo output: {p}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
