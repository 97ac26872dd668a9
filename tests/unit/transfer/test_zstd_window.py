"""The zstd window bound (docs/FORMAT.md §6.4): a frame that needs more than an 8 MiB window is refused
as the package's fault, from its frame header, before the decoder allocates the window."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import zstandard

from keys import KeyStatus, SecretKeys, TrustedKey, TrustState, canonical
from keys.errors import KeyStoreError
from tests.vectors import generate
from transfer.errors import PackageRejected
from transfer.limits import MAX_WINDOW_LOG
from transfer.opener import OpenContext, PackageOpener

ITEMS = [generate.manifest(), generate.checkpoint(), {"kind": "heartbeat"}]


def package(window_log: int) -> bytes:
    bodies = [canonical.encode(i) for i in ITEMS]
    return generate.raw_seal(
        generate.stream_of(bodies),
        counts={"manifest": 1, "checkpoint": 1, "heartbeat": 1},
        window_log=window_log,
        seed="window",
    )


def context() -> OpenContext:
    sender, me = generate.keys("int-a"), generate.keys("pub-b")

    def own_keys(key_id: str) -> SecretKeys:
        if key_id != me.key_id:
            raise KeyStoreError("not ours", reason="unknown-recipient-key")
        return me

    trust = TrustState(
        [
            TrustedKey(
                key_id=sender.key_id, node_id="int-a", node_name="int-a", role="internal", public=sender.public,
                status=KeyStatus.TRUSTED, created=datetime(2026, 1, 1, tzinfo=UTC),
                expires=datetime(2028, 1, 1, tzinfo=UTC),
            )
        ]
    )  # fmt: skip
    return OpenContext(own_node="pub-b", own_role="public", trust=trust, own_keys=own_keys, now=generate.NOW)


def test_the_bound_is_8_mib() -> None:
    assert 1 << MAX_WINDOW_LOG == 8 * 1024 * 1024


def test_a_frame_at_the_bound_opens() -> None:
    data = package(MAX_WINDOW_LOG)
    assert zstandard.get_frame_parameters(generate.zstd_frame(b"x" * 100, MAX_WINDOW_LOG)).window_size == 8 << 20
    opener = PackageOpener([data], context(), file_size=len(data))
    assert list(opener.items()) == ITEMS


@pytest.mark.parametrize("window_log", [MAX_WINDOW_LOG + 1, 27])
def test_a_frame_that_needs_a_larger_window_is_refused(window_log: int) -> None:
    # the frame is a few dozen bytes whatever window it declares: what must be refused is the window
    assert zstandard.get_frame_parameters(generate.zstd_frame(b"x" * 100, window_log)).window_size == 1 << window_log
    data = package(window_log)
    assert len(data) < 1500  # header, signature, checkpoint: no room for an 8 MiB window
    opener = PackageOpener([data], context(), file_size=len(data))
    yielded = []
    with pytest.raises(PackageRejected, match="does not decompress") as err:
        for item in opener.items():
            yielded.append(item)
    assert err.value.reason == "bad-payload"
    assert yielded == []  # refused from the frame header, before any item
