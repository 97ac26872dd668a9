#!/usr/bin/env bash
# The whole exchange, end to end, on embedded defaults: SQLite databases and a local transfer folder,
# all under ./demo-run (recreated on every run). Run it with `make demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO=${CREDGAP_DEMO_DIR:-demo-run}
rm -rf "$DEMO"
mkdir -p "$DEMO/medium" "$DEMO/secrets" "$DEMO/dept"
DEMO=$(cd "$DEMO" && pwd)
MEDIUM="$DEMO/medium"
INT="$DEMO/internal"
PUB="$DEMO/public"
# narration in the operator's language (LANG=zh_CN.UTF-8 make demo): the catalogue the programs use
say() { python3 -c 'import sys; from nodekit import i18n; i18n.activate(i18n.resolve()); print(i18n._(sys.argv[1]))' "$*"; }
# bold step titles on a terminal only: a log or a pipe gets plain text, no escape codes
if [ -t 1 ]; then BOLD=$'\033[1m'; PLAIN=$'\033[0m'; else BOLD=; PLAIN=; fi
step() { printf '\n%s== %s%s\n' "$BOLD" "$(say "$*")" "$PLAIN"; }
note() { printf '   %s\n' "$(say "$*")"; }

# Each node unlocks its private key with its own passphrase, read from a file the way a systemd
# credential or a secrets mount provides it. (Real Argon2id: each unlock takes a moment.)
head -c 24 /dev/urandom | base64 > "$DEMO/secrets/internal.pass"
head -c 24 /dev/urandom | base64 > "$DEMO/secrets/public.pass"
chmod 600 "$DEMO/secrets/"*.pass
inode() { internal-node --home "$INT" --passphrase-file "$DEMO/secrets/internal.pass" "$@"; }
pnode() { public-node --home "$PUB" --passphrase-file "$DEMO/secrets/public.pass" "$@"; }

step "1. two node homes: each its own database and keys; the transfer folder is the only shared path"
inode init --name "昆明市信用信息基础数据库" --medium "$MEDIUM"
pnode init --name "信用昆明公共网络平台" --medium "$MEDIUM"

step "2. identities: key pairs encrypted at rest, identity cards exchanged and checked by fingerprint"
inode keys init
pnode keys init
inode keys export-card -o "$DEMO/internal.card" >/dev/null
pnode keys export-card -o "$DEMO/public.card" >/dev/null
FP_INT=$(inode keys show --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key_id"])')
FP_PUB=$(pnode keys show --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key_id"])')
note "(the operators read the fingerprints to each other out of band)"
pnode keys trust "$DEMO/internal.card" --fingerprint "$FP_INT"
inode keys trust "$DEMO/public.card" --fingerprint "$FP_PUB"
note "a card whose fingerprint does not match is refused:"
pnode keys trust "$DEMO/internal.card" --fingerprint "0000 0000 0000 0000 0000 0000 0000 0000" 2>&1 | sed 's/^/   /' || true

step "3. department data: files from several units, in UTF-8, GB18030, JSON Lines and XLSX"
inode sample-data --subjects 300 --seed 7 --out "$DEMO/dept" | tail -n 4
python3 - "$DEMO/dept" <<'PY' > "$DEMO/dept/files.txt"
import json, sys, pathlib
for f in json.loads((pathlib.Path(sys.argv[1]) / "manifest.json").read_text()):
    print(f["file"], f["kind"], f["source"], f["source_uscc"] or "")
PY
while read -r file kind source uscc; do
  note "$file:"
  inode ingest "$DEMO/dept/$file" --kind "$kind" --source "$source" ${uscc:+--source-uscc "$uscc"} 2>&1 | sed 's/^/     /'
done < "$DEMO/dept/files.txt"
note "a malformed department file is rejected whole, each bad row named:"
printf '行政相对人名称,行政相对人类别,统一社会信用代码,行政处罚决定书文号,违法行为类型,违法事实,处罚依据,处罚类别,处罚内容,处罚决定日期,处罚机关,处罚机关统一社会信用代码,严重程度\n昆明错误示例有限公司,法人及非法人组织,91530100MA6K5XXX99,昆市监罚〔2026〕999号,虚假宣传,事实,依据,罚款,罚款,2026-13-45,昆明市市场监督管理局,11530100015235021M,严重\n' > "$DEMO/dept/bad.csv"
inode ingest "$DEMO/dept/bad.csv" --kind penalty --source "昆明市市场监督管理局" 2>&1 | sed 's/^/   /' || note "(exit code $? : input rejected, nothing written)"

step "4. the disclosure policy, and exactly what would be published (masked, with a digest)"
inode policy check
DIGEST=$(inode export --dry-run --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["peers"][0]["digest"])')
inode export --dry-run --limit 3
note "the reviewed content digest, the one export --expect wants: $DIGEST"

step "5. the public node watches the medium (filesystem events + periodic rescan)"
# exec: $! is then the watcher itself, which SIGTERM stops cleanly (not a shell around it)
(exec public-node --home "$PUB" --passphrase-file "$DEMO/secrets/public.pass" watch > "$DEMO/watch.log" 2>&1) &
WATCH=$!
trap 'kill $WATCH 2>/dev/null || true' EXIT
sleep 2

step "6. export exactly the reviewed content: signed, encrypted, written atomically to the medium"
inode export --expect "$DIGEST"
for _ in $(seq 1 60); do
  grep -q "applied" "$DEMO/watch.log" && break
  sleep 0.5
done
note "watcher: $(grep -m1 applied "$DEMO/watch.log" || echo 'not yet applied')"

step "7. the watcher stops cleanly on SIGTERM"
kill -TERM $WATCH; wait $WATCH && note "watcher exit code 0"
trap - EXIT
grep -E "^stopped" "$DEMO/watch.log" | sed 's/^/   /'

step "8. a tampered package is quarantined with a reason and changes nothing; the resent original applies"
inode export | tail -n 1
PKG=$(find "$MEDIUM" -name 'p000000000002-*.cgp' | head -n 1)
python3 - "$PKG" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read()); b[-40] ^= 1; open(p, "wb").write(bytes(b))
PY
pnode import || note "(exit code $?: a package was rejected)"
ls "$PUB/quarantine" | sed 's/^/   quarantine: /'
note "the lost package is sent again with its original bytes from the internal archive:"
inode export --resend 2 | sed 's/^/   /'
pnode import

step "9. the public platform answers queries (fail-safe expiry applied)"
pnode query search 昆明 --limit 5
NAME=$(pnode query list dishonest --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["items"][0]["subject_key"] if d["items"] else "")')
[ -n "$NAME" ] && pnode query subject "$NAME"

step "10. the return channel: signed receipts go back; every exported package reconciles"
pnode export
inode import
inode audit reconcile
note "the internal node acknowledges the return packages in its next package:"
inode export | tail -n 1
pnode import

step "11. security staff verify both transfer logs (hash chain, Merkle checkpoints, signatures),"
note "each against the checkpoint the other node acknowledged (a log cut back is caught)"
inode audit verify --against latest-peer
pnode audit verify --against latest-peer

pnode audit show --event package.rejected | tail -n 3
pnode audit export -o "$DEMO/evidence" | tail -n 1

step "12. status of both nodes"
inode status
pnode status

step "13. the public credit platform: pages (zh-CN) and the /api/v1 JSON API over the published database"
PORT=${DEMO_PORT:-8080}
note "a page and an API call, from a short-lived server:"
(exec public-node --home "$PUB" serve --port "$PORT" --workers 2 > "$DEMO/serve.log" 2>&1) &
SERVE=$!
trap 'kill $SERVE 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$PORT/api/v1/freshness', timeout=2)" 2>/dev/null && break
  sleep 0.2
done
python3 - "$PORT" <<'PY'
import json, sys, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
fresh = json.load(urllib.request.urlopen(base + "/api/v1/freshness"))
records = ", ".join(f"{k} {v}" for k, v in fresh["records"].items())
print(f"   freshness: package {fresh['package_seq']}, records: {records}")
hits = json.load(urllib.request.urlopen(base + "/api/v1/search?q=%E6%98%86%E6%98%8E&limit=3"))
names = "、".join(s["name"] for s in hits["items"])
print(f"   /api/v1/search?q=昆明: {hits['total']} subjects, first: {names}")
PY
kill -TERM $SERVE; wait $SERVE || true
trap - EXIT

step "14. an objection filed through the platform's API, decided on the internal node, the decision back across the gap"
(exec public-node --home "$PUB" serve --port "$PORT" --workers 2 > "$DEMO/serve-apply.log" 2>&1) &
SERVE=$!
trap 'kill $SERVE 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$PORT/api/v1/freshness', timeout=2)" 2>/dev/null && break
  sleep 0.2
done
FILER="python3 scripts/demo_filer.py $DEMO/filer.json http://127.0.0.1:$PORT"
note "a company's authorised person signs up and asks to bind the account to the company:"
$FILER bind "$DEMO/dept/samr-subjects.csv"
BINDING=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["binding"])' "$DEMO/filer.json")
pnode export | tail -n 1
inode import | tail -n 1
note "the credit office checks the request against the full data and approves it:"
inode applications decide "$BINDING" --decision approved --reason "统一社会信用代码与法定代表人核对一致" --operator 审核员甲
inode export | tail -n 1
pnode import | tail -n 1
$FILER show binding
note "the bound account files an objection on the company's record through the API:"
$FILER object
OBJECTION=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["objection"])' "$DEMO/filer.json")
pnode export | tail -n 1
inode import | tail -n 1
inode applications list
inode applications decide "$OBJECTION" --upheld --reason "经核实，所涉决定已被撤销，该记录予以撤下" --operator 审核员乙
inode export | tail -n 1
pnode import | tail -n 1
note "back on the platform, the filer's API shows the decision:"
$FILER show objection
kill -TERM $SERVE; wait $SERVE || true
trap - EXIT

step "done: everything is under $DEMO"
if [ "${DEMO_SERVE:-1}" = "0" ]; then
  note "DEMO_SERVE=0: not starting the platform"
  exit 0
fi
note "the public credit platform runs at http://127.0.0.1:$PORT/ (API: http://127.0.0.1:$PORT/api/v1/, Ctrl-C stops it)"
exec public-node --home "$PUB" --passphrase-file "$DEMO/secrets/public.pass" serve --port "$PORT" --workers 2
