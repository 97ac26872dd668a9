"""Hypothesis properties of the package format: round trips, any bit flip or truncation rejected, and the
opener raising only the package's own error types whatever bytes it is given."""

from __future__ import annotations

import os
from datetime import date

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.unit.transfer.conftest import Pair, manifest, open_all
from transfer.errors import PackageRejected, TransferError
from transfer.opener import PackageOpener

EXAMPLES = int(os.environ.get("CREDGAP_HYPOTHESIS_EXAMPLES", "300"))
PAIR = Pair()
CTX = PAIR.public_ctx()

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)
value = st.one_of(st.none(), text, st.integers(-(2**53) + 1, 2**53 - 1))
# The same languages as the regexes [a-z][a-z0-9_]{0,20} and [0-9a-f]{32}, drawn without the regex
# engine, which took most of the round trip's time and kept the CI example count low.
_LOWER = "abcdefghijklmnopqrstuvwxyz"
field = st.builds(str.__add__, st.sampled_from(_LOWER), st.text(_LOWER + "0123456789_", max_size=20))
hex32 = st.binary(min_size=16, max_size=16).map(bytes.hex)


@st.composite
def records(draw: st.DrawFn) -> dict[str, object]:
    row = draw(st.dictionaries(field, value, max_size=12))
    row.update(
        subject_key=draw(hex32),
        subject_name=draw(text),
        subject_category="legal_person",
        uscc=None,
        doc_no=draw(st.one_of(st.none(), text)),
        publish_until=draw(st.one_of(st.none(), st.dates(min_value=date(1900, 1, 1)).map(lambda d: d.isoformat()))),
        source_unit=draw(text),
    )
    if draw(st.booleans()):
        return {"kind": "record", "op": "upsert", "table": "penalty", "key": draw(hex32),
                "version": draw(st.integers(1, 2**31)), "row": row}  # fmt: skip
    return {"kind": "record", "op": "withdraw", "table": "licence", "key": "0" * 32, "version": 1, "reason": "expired"}


payloads = st.lists(records(), max_size=30).map(
    lambda rs: [manifest(), *rs] if rs else [manifest(), {"kind": "heartbeat"}]
)

SMALL, _ = PAIR.seal([manifest(), {"kind": "heartbeat"}])
MEDIUM, _ = PAIR.seal([manifest()] + [{"kind": "record", "op": "withdraw", "table": "penalty", "key": f"{i:032x}", "version": 1,
                                         "reason": "expired"} for i in range(300)])  # fmt: skip


def open_bytes(data: bytes) -> None:
    opener = PackageOpener((data[i : i + 4096] for i in range(0, len(data), 4096)), CTX, file_size=len(data))
    opener.header()
    for _ in opener.items():
        pass


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads)
def test_round_trip(items: list[dict[str, object]]) -> None:
    data, sealed = PAIR.seal(items)
    assert sealed.size == len(data)
    assert open_all(data, CTX, piece=997) == items


@settings(max_examples=EXAMPLES * 4, deadline=None)
@given(st.sampled_from([SMALL, MEDIUM]), st.data())
def test_any_single_bit_flip_is_rejected(pkg: bytes, data: st.DataObject) -> None:
    pos = data.draw(st.integers(0, len(pkg) * 8 - 1))
    flipped = bytearray(pkg)
    flipped[pos // 8] ^= 1 << (pos % 8)
    try:
        open_bytes(bytes(flipped))
    except PackageRejected:
        return
    raise AssertionError(f"bit {pos} flipped and the package still opened")


def test_every_byte_of_the_prefix_is_protected() -> None:
    """Exhaustively: flipping any byte of magic, length, header or signature is rejected."""
    prefix = 19 + 4 + int.from_bytes(SMALL[19:23], "big") + 64
    for i in range(prefix):
        flipped = bytearray(SMALL)
        flipped[i] ^= 0x80
        try:
            open_bytes(bytes(flipped))
        except PackageRejected:
            continue
        raise AssertionError(f"byte {i} flipped and the package still opened")


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.sampled_from([SMALL, MEDIUM]), st.data())
def test_any_truncation_is_rejected(pkg: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(pkg) - 1))
    try:
        open_bytes(pkg[:cut])
    except PackageRejected:
        return
    raise AssertionError(f"cut at {cut} of {len(pkg)} and the package still opened")


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.binary(max_size=3000), st.integers(0, 3000), st.booleans())
def test_opener_raises_only_its_own_errors(junk: bytes, at: int, splice: bool) -> None:
    data = (SMALL[: min(at, len(SMALL))] + junk) if splice else junk
    assume(data != SMALL)
    try:
        open_bytes(data)
    except TransferError:
        return
    # nothing else may escape; opening garbage successfully would be a failure too
    raise AssertionError("arbitrary bytes opened as a package")
