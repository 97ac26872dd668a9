"""The demo's filer (scripts/demo.sh step 14): a person on the public platform, scripted with the
standard library against a running `public-node serve`. Signs up (solving the sign-up challenge as
static/pow.js does), logs in, and uses the filing API (/api/v1/bindings, /api/v1/applications) with the
session cookie and its CSRF token in X-CSRF-Token. The session is kept in STATE (a JSON file) between calls.

  demo_filer.py STATE BASE bind SUBJECTS_CSV   sign up, log in, ask to bind a company that has records
  demo_filer.py STATE BASE object              file an objection on that company's record
  demo_filer.py STATE BASE show ID             one filing's state and decision (a line)"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any


class Client:
    def __init__(self, base: str, cookies: dict[str, str]) -> None:
        self.base, self.cookies = base.rstrip("/"), cookies

    def call(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if not self.base.startswith(("http://", "https://")):
            raise SystemExit(f"not an http URL: {self.base}")
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=h)  # noqa: S310
        opener = urllib.request.build_opener(NoRedirect)
        try:
            resp = opener.open(req, timeout=30)
        except urllib.error.HTTPError as exc:
            resp = exc
        for header in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return resp.status, resp.read().decode("utf-8")

    def form(self, path: str, fields: dict[str, str]) -> int:
        status, _ = self.call("POST", path, urllib.parse.urlencode(fields).encode(),
                              {"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
        return int(status)

    def json(self, method: str, path: str, body: dict[str, Any] | None = None, csrf: str = "") -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "X-CSRF-Token": csrf} if body is not None else {}
        status, text = self.call(method, path, data, headers)
        out = json.loads(text)
        if status != 200:
            raise SystemExit(f"{method} {path}: {status} {out['error']['code']}: {out['error']['message']}")
        return out


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _csrf(client: Client, path: str) -> str:
    _, html = client.call("GET", path)
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if m is None:
        raise SystemExit(f"no CSRF token on {path}")
    return m.group(1)


def _solve(nonce: str, difficulty: int) -> str:
    n = 0
    while int.from_bytes(hashlib.sha256(f"{nonce}:{n}".encode()).digest(), "big") >> (256 - difficulty):
        n += 1
    return str(n)


def bind(client: Client, state: dict[str, Any], subjects_csv: Path) -> None:
    user, password = f"demo_{secrets.token_hex(3)}", "演示用的足够长口令 " + secrets.token_hex(4)
    _, html = client.call("GET", "/register")
    nonce = re.search(r'name="nonce" value="([0-9a-f]+)"', html)
    difficulty = re.search(r'data-difficulty="(\d+)"', html)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if nonce is None or difficulty is None or csrf is None:
        raise SystemExit("the sign-up form has no challenge")
    fields = {"csrf_token": csrf.group(1), "username": user, "password": password, "nonce": nonce.group(1),
              "pow": _solve(nonce.group(1), int(difficulty.group(1)))}  # fmt: skip
    if client.form("/register", fields) != 303:
        raise SystemExit("sign-up refused")
    if client.form("/login", {"csrf_token": _csrf(client, "/login"), "username": user, "password": password}) != 303:
        raise SystemExit("login refused")
    state["csrf"] = _csrf(client, "/applications/bind")
    print(f"   signed up and logged in as {user}")
    with subjects_csv.open(encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            if row["主体类别"] != "法人及非法人组织" or not row["法定代表人"]:
                continue
            q = urllib.parse.quote(row["主体名称"])
            hits = client.json("GET", f"/api/v1/search?q={q}&limit=5")["items"]
            for hit in hits:
                if hit["name"] != row["主体名称"]:
                    continue
                detail = client.json("GET", f"/api/v1/subjects/{hit['subject_key']}")
                records = [r for kind in ("penalty", "licence") for r in detail["records"].get(kind, [])]
                if records:
                    state["record"] = {"table": records[0]["kind"], "key": records[0]["key"],
                                       "subject_key": hit["subject_key"],
                                       "subject": row["主体名称"], "doc_no": records[0]["doc_no"]}  # fmt: skip
                    break
            if "record" in state:
                out = client.json("POST", "/api/v1/bindings", {
                    "category": "legal", "identifier": row["统一社会信用代码"], "name": row["主体名称"],
                    "legal_rep": row["法定代表人"], "contact": "13800000000"}, state["csrf"])  # fmt: skip
                state["binding"] = out["id"]
                print(f"   POST /api/v1/bindings ({row['主体名称']}): binding request {out['id']}")
                return
    raise SystemExit("no company with a published record to bind")


def object_(client: Client, state: dict[str, Any]) -> None:
    r = state["record"]
    out = client.json("POST", "/api/v1/applications", {
        "type": "objection", "table": r["table"], "key": r["key"], "category": "inaccurate",
        "statement": "该记录所载内容与事实不符（所涉决定已被依法撤销），申请更正。", "contact": "13800000000"}, state["csrf"])  # fmt: skip
    state["objection"] = out["id"]
    print(
        f"   POST /api/v1/applications: objection {out['id']} on {r['table']} {r['doc_no'] or r['key']} ({r['subject']})"
    )


def show(client: Client, state: dict[str, Any], which: str) -> None:
    ident = state.get(which, which)
    a = client.json("GET", f"/api/v1/applications/{ident}")
    where = "not yet sent" if not a["sent"] else "sent, awaiting decision" if a["decision"] is None else "decided"
    print(f"   GET /api/v1/applications/{ident}: {a['type']} {where}"
          + (f": {a['decision']} ({a['reason']})" if a["decision"] else ""))  # fmt: skip
    if which == "objection" and a["decision"] is not None:
        r = state["record"]
        detail = client.json("GET", f"/api/v1/subjects/{r['subject_key']}")
        published = any(x["key"] == r["key"] for xs in detail["records"].values() for x in xs)
        print(f"   GET /api/v1/subjects/{r['subject_key']}: the {r['table']} record "
              + ("is still published" if published else "is no longer published"))  # fmt: skip


def main() -> int:
    path, base, cmd, *args = sys.argv[1:]
    state_file = Path(path)
    state: dict[str, Any] = json.loads(state_file.read_text()) if state_file.exists() else {"cookies": {}}
    client = Client(base, state["cookies"])
    if cmd == "bind":
        bind(client, state, Path(args[0]))
    elif cmd == "object":
        object_(client, state)
    elif cmd == "show":
        show(client, state, args[0])
    state_file.write_text(json.dumps(state))
    return 0


if __name__ == "__main__":
    sys.exit(main())
