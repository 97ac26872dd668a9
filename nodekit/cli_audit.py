"""The ``audit`` commands both node programs have: ``verify``, ``show``, ``export`` and ``checkpoint``."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import orjson

from nodekit.auditlog import (
    AuditError,
    LogFilter,
    load_against,
    log_segments,
    own_public_keys,
    pinned_keys,
    rows_with_base,
    select_entries,
    sign_log_checkpoint,
    verify_node_log,
)
from nodekit.cli import NodeContext, emit, json_option, pass_node_context, table
from nodekit.evidence import export_bundle
from nodekit.i18n import N_, Shown, _
from nodekit.text import printable
from transfer.checkpoint import Checkpoint
from transfer.errors import LogVerificationError
from transfer.logverify import StoredEntry, UndecodableEntry


def _when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            "expected a date or time such as 2026-11-26 or 2026-11-26T08:00Z", param_hint=option
        ) from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _subject(entry: StoredEntry) -> str:
    if not isinstance(entry.subject, dict) or not isinstance(entry.counts, dict):  # an edited row, as stored
        shown = orjson.dumps([entry.subject, entry.counts], default=str).decode()
        return f"(as stored) subject, counts={shown}"
    parts = [f"{k}={v}" for k, v in entry.subject.items() if k not in ("digest", "root", "known_root")]
    if "digest" in entry.subject:
        parts.append(f"digest={str(entry.subject['digest'])[:16]}")
    parts += [f"{k}:{v}" for k, v in entry.counts.items()]
    return " ".join(parts)


# Other logs a node keeps beside its transfer log, verified by ``audit verify`` too (the public node's
# web audit log): per root command, (name, check) where check(node config) returns a summary, or None
# when the log is not in use, and raises LogVerificationError naming the first bad entry.
ExtraLog = tuple[str, Callable[[Any], dict[str, Any] | None]]
_EXTRA_LOGS: dict[int, list[ExtraLog]] = {}


def add_log(root: click.Group, name: str, check: Callable[[Any], dict[str, Any] | None]) -> None:
    """Have ``audit verify`` of ``root`` also verify the log ``name`` with ``check``."""
    _EXTRA_LOGS.setdefault(id(root), []).append((name, check))


def register(root: click.Group) -> None:
    @root.group("audit")
    def audit() -> None:
        """The tamper-evident transfer log: verify it, show it, export evidence, sign a checkpoint."""

    @audit.command("verify")
    @click.option(
        "--against",
        metavar="FILE|latest-peer",
        help="Also prove the log still extends this checkpoint of it held by the peer (a file from the peer's "
        "`audit export`, or latest-peer: the newest one a peer acknowledged in a signed receipt).",
    )
    @click.option(
        "--key-fingerprint",
        "fingerprints",
        multiple=True,
        metavar="FP",
        help="Trust only this key fingerprint (repeatable) instead of the keys stored with the node.",
    )
    @click.option(
        "--base",
        type=click.Path(path_type=Path, file_okay=False),
        metavar="BUNDLE",
        help="The evidence bundle (`audit export`) the oldest entries were archived in: verify it, then the "
        "live log as its continuation (docs/OPERATIONS.md, 'Keeping the log').",
    )
    @json_option
    @pass_node_context
    def verify_cmd(
        nctx: NodeContext, against: str | None, fingerprints: tuple[str, ...], base: Path | None, as_json: bool
    ) -> None:
        """Verify the whole log: every entry's hash and link, and every checkpoint's tree hash and signature.

        Exit 4 naming the first bad entry (edited, deleted, inserted, reordered, truncated)."""
        node = nctx.node()
        identity = nctx.identity()
        keys = own_public_keys(identity)
        if fingerprints:
            keys = pinned_keys(keys, fingerprints)
        with node.sessions() as s:
            held = load_against(s, identity.node_id, against) if against else None
            try:
                segs = log_segments(s)
                restored = _abandoned_head(segs, held)
                # a peer-held checkpoint of the log this node lost in a restore, recorded by channel recover:
                # the restored log is verified on its own, and the checkpoint shown as the abandoned head
                result = verify_node_log(
                    s, identity.node_id, keys, against=None if restored is not None else held, base=base
                )
            except LogVerificationError as exc:
                emit(
                    {"ok": False, "index": exc.index, "reason": exc.reason, "message": str(exc)},
                    None,
                    as_json=as_json,
                )
                raise LogVerificationError(
                    N_("transfer log: {problem}"), index=exc.index, reason=exc.reason, params={"problem": exc}
                ) from None
        data = {**result.as_dict(), "segments": segs}
        if restored is not None:
            data["against_abandoned"] = restored
        extra: dict[str, dict[str, Any] | None] = {}
        for name, check in _EXTRA_LOGS.get(id(root), []):
            try:
                extra[name] = check(node.config)
            except LogVerificationError as exc:
                emit({"ok": False, "log": name, "index": exc.index, "reason": exc.reason, "message": str(exc)},
                     None, as_json=as_json)  # fmt: skip
                raise LogVerificationError(
                    N_("{name}: {problem}"),
                    index=exc.index,
                    reason=exc.reason,
                    params={"name": Shown(name, name), "problem": exc},
                ) from None
        data.update({name.replace(" ", "_"): summary for name, summary in extra.items()})

        def human() -> None:
            click.echo(
                _(
                    "transfer log VERIFIED: {entries} entries, {checkpoints} checkpoints (the last covers {covered}; "
                    "{tail} entries after it), root {root}"
                ).format(
                    entries=data["entries"],
                    checkpoints=data["checkpoints"],
                    covered=data["covered"],
                    tail=data["unsigned_tail"],
                    root=data["root"],
                )
            )
            keys = ", ".join(result.keys)
            click.echo(
                "  "
                + (_("keys {keys} (pinned)") if fingerprints else _("keys {keys} (stored with the node)")).format(
                    keys=keys
                )
            )
            if result.base is not None:
                b = result.base
                click.echo(
                    "  "
                    + _(
                        "entries 0..{last} from the archived bundle {folder} ({size} entries, its last checkpoint "
                        "covers {covered}); entries from {archived} from the database"
                    ).format(last=b.archived - 1, folder=b.folder, size=b.size, covered=b.covered, archived=b.archived)
                    if b.archived
                    else "  "
                    + _("the database still holds every entry; it extends the bundle {folder} ({size} entries)").format(
                        folder=b.folder, size=b.size
                    )
                )
            for seg in segs:
                click.echo(
                    "  "
                    + _(
                        "a new segment starts at entry {start} ({at}): channel {channel} recovered ({side}), "
                        "seq {old} -> {new}; reason: {why}"
                    ).format(
                        start=seg["start"],
                        at=seg["at"],
                        channel=seg["channel"],
                        side=seg["side"],
                        old=seg["old"]["seq"],
                        new=seg["new"]["seq"],
                        why=seg["why"],
                    )
                )
            if restored is not None:
                click.echo(
                    "  "
                    + _(
                        "the peer-held checkpoint of {size} entries is of the log abandoned when this node was "
                        "restored from a backup (recorded by channel recover at entry {start})"
                    ).format(size=restored["size"], start=restored["start"])
                )
            for name, summary in extra.items():
                click.echo(
                    _("{name} VERIFIED: {entries} entries, checkpoints cover {covered}, root {root}").format(
                        name=_(name), entries=summary["entries"], covered=summary["covered"], root=summary["root"]
                    )
                    if summary
                    else _("{name}: not in use").format(name=_(name))
                )
            if result.against is not None:
                click.echo(
                    "  "
                    + _(
                        "extends the peer-held checkpoint of {size} entries signed {at} (consistency proof of "
                        "{hashes} hashes)"
                    ).format(
                        size=result.against.size,
                        at=f"{result.against.at:%Y-%m-%dT%H:%M:%SZ}",
                        hashes=len(result.proof or []),
                    )
                )

        emit(data, human, as_json=as_json)

    @audit.command("show")
    @click.option("--since", help="Entries at or after this time (ISO 8601; UTC unless a zone is given).")
    @click.option("--until", help="Entries before this time.")
    @click.option("--event", "events", multiple=True, help="Event code, or a prefix ending in '.' (repeatable).")
    @click.option("--seq", type=int, help="Entries about this package sequence number.")
    @click.option("--result", help="Entries with this result (ok, applied, rejected, alarm, …).")
    @click.option("--limit", type=int, help="Only the last N matching entries.")
    @click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")
    @json_option
    @pass_node_context
    def show_cmd(
        nctx: NodeContext, since: str | None, until: str | None, events: tuple[str, ...], seq: int | None,
        result: str | None, limit: int | None, as_csv: bool, as_json: bool,
    ) -> None:  # fmt: skip
        """Show transfer-log entries (table, --json or --csv)."""
        f = LogFilter(_when(since, "--since"), _when(until, "--until"), events, seq, result)
        node = nctx.node()
        with node.sessions() as s:
            found = list(select_entries(s, f))
        if limit is not None:
            found = found[-limit:] if limit > 0 else []
        if as_csv and not as_json:
            click.echo(_csv(found), nl=False)
            return
        docs = [{**e.document(), "leaf_hash": h, **_problem(e)} for e, h in found]
        rows = [
            [e.index, e.at.strftime("%Y-%m-%d %H:%M:%S"), printable(e.actor, 30), printable(str(e.event), 40),
             printable(e.result, 32), printable(e.reason, 30), printable(_subject(e), 2000)]
            for e, _ in found
        ]  # fmt: skip
        emit(
            {"entries": docs},
            lambda: click.echo(
                table(rows, ["#", _("at (UTC)"), _("actor"), _("event"), _("result"), _("reason"), _("subject")])
            ),
            as_json=as_json,
        )

    @audit.command("export")
    @click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path), help="A new folder.")
    @click.option(
        "--base",
        type=click.Path(path_type=Path, file_okay=False),
        metavar="BUNDLE",
        help="The bundle the oldest entries were archived in: verify it and write the whole log again, its "
        "entries first, so the new bundle is complete.",
    )
    @json_option
    @pass_node_context
    def export_cmd(nctx: NodeContext, out: Path, base: Path | None, as_json: bool) -> None:
        """Write a self-contained evidence bundle: entries, checkpoints, public keys, receipts, peer
        checkpoints and a standalone verifier (Python + cryptography only)."""
        node = nctx.node()
        identity = nctx.identity()
        with node.sessions() as s:
            rows = None
            if base is not None:
                keys = own_public_keys(identity)
                rows = rows_with_base(s, base, identity.node_id, keys)[1]
            fresh = not out.exists()
            try:
                info = export_bundle(s, identity, out, now=node.clock(), role=node.config.role, rows=rows)
            except LogVerificationError as exc:  # the live log does not continue the base: no half bundle
                if fresh:
                    shutil.rmtree(out, ignore_errors=True)
                raise LogVerificationError(
                    N_("transfer log: {problem}"), index=exc.index, reason=exc.reason, params={"problem": exc}
                ) from None
        emit(
            info,
            _("evidence bundle {path}: {entries} entries, {checkpoints} checkpoints").format(
                path=out, entries=info["entries"], checkpoints=info["checkpoints"]
            )
            + "\n  "
            + _("verify anywhere with: {command}").format(command=f"{info['verify']} --key-fingerprint FP"),
            as_json=as_json,
        )

    @audit.command("checkpoint")
    @json_option
    @pass_node_context
    def checkpoint_cmd(nctx: NodeContext, as_json: bool) -> None:
        """Sign a checkpoint over the whole log now (the next package carries it to the peer)."""
        node = nctx.node()
        identity = nctx.identity()
        with node.transaction() as s:
            cp = sign_log_checkpoint(s, identity.current_secret(), identity.node_id, node.clock())
        data: dict[str, Any] = {"size": cp.size, "root": cp.root, "key": cp.key, "at": cp.at.isoformat()}
        emit(
            data,
            _("checkpoint at {size} entries, root {root}, key {key}").format(size=cp.size, root=cp.root, key=cp.key),
            as_json=as_json,
        )


def _abandoned_head(segs: list[dict[str, Any]], held: Checkpoint | None) -> dict[str, Any] | None:
    """The recovery that recorded ``held`` as the head of this node's abandoned log, if one did."""
    if held is None:
        return None
    for seg in segs:
        head = seg.get("abandoned_head")
        if isinstance(head, dict) and head.get("size") == held.size and head.get("root") == held.root:
            return {"size": held.size, "root": held.root, "start": seg["start"]}
    return None


def _problem(e: StoredEntry) -> dict[str, str]:
    # an entry that does not decode is shown as stored, with what is wrong with it
    return {"problem": e.problem} if isinstance(e, UndecodableEntry) else {}


def _csv(found: list[tuple[StoredEntry, str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["index", "at", "actor", "event", "result", "reason", "subject", "counts", "prev", "leaf_hash"])
    for e, h in found:
        d = e.document()
        w.writerow(
            [_cell(v) for v in (
                d["index"], d["at"], d["actor"], d["event"], d["result"], d["reason"],
                orjson.dumps(d["subject"], option=orjson.OPT_SORT_KEYS).decode(),
                orjson.dumps(d["counts"], option=orjson.OPT_SORT_KEYS).decode(), d["prev"], h,
            )]
        )  # fmt: skip
    return buf.getvalue()


def _cell(value: object) -> object:
    # subjects hold names read from the medium: never let a spreadsheet run one as a formula
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


__all__ = ["AuditError", "register"]
