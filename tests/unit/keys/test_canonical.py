"""The canonical encoding's value check: its fast path for exact types accepts and refuses exactly what
the plain rule does (subclasses, depth limits and integer bounds included)."""

from __future__ import annotations

import enum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import canonical
from keys.errors import EncodingError


def reference(value: Any, depth: int = 0) -> None:
    """The rule as first written: one isinstance chain per value."""
    if depth > 32:
        raise EncodingError("document nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        if not -canonical.MAX_SAFE_INT <= value <= canonical.MAX_SAFE_INT:
            raise EncodingError("integer outside the canonical range")
        return
    if isinstance(value, list):
        for item in value:
            reference(item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not key.isascii():
                raise EncodingError("key")
            reference(item, depth + 1)
        return
    raise EncodingError("type")


def verdict(check: Any, value: Any) -> bool:
    try:
        check(value)
    except EncodingError:
        return False
    return True


class Colour(enum.StrEnum):
    RED = "red"


class Count(int):
    pass


scalars = st.one_of(
    st.none(), st.booleans(), st.text(max_size=5), st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=False), st.just(Colour.RED), st.builds(Count, st.integers(-5, 5)), st.binary(max_size=3),
)  # fmt: skip
keys_ = st.one_of(st.text(max_size=4), st.integers(0, 3), st.just(Colour.RED))
documents = st.recursive(
    scalars, lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(keys_, children, max_size=3))
)


@settings(max_examples=400)
@given(documents)
def test_the_fast_check_agrees_with_the_rule(value: Any) -> None:
    assert verdict(canonical._check, value) == verdict(reference, value)


def nested(depth: int, leaf: Any) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize("depth", [31, 32, 33])
@pytest.mark.parametrize("leaf", [None, "x", 1, {}, [], {"b": "c"}, ["d"]])
def test_depth_limit_is_the_same(depth: int, leaf: Any) -> None:
    value = nested(depth, leaf)
    assert verdict(canonical._check, value) == verdict(reference, value)


def test_refusals_name_the_problem() -> None:
    with pytest.raises(EncodingError, match="ASCII"):
        canonical.encode({"é": 1})
    with pytest.raises(EncodingError, match="outside the canonical range"):
        canonical.encode({"a": 2**53})
    with pytest.raises(EncodingError, match="float"):
        canonical.encode({"a": [1.5]})
    with pytest.raises(EncodingError, match="nested too deeply"):
        canonical.encode(nested(33, "x"))
    assert canonical.encode({"b": [1, None, True], "a": "é"}) == '{"a":"é","b":[1,null,true]}'.encode()
