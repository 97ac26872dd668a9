"""The content digest of a batch of items is the digest of the same items one by one (``--expect``
compares digests computed either way)."""

from __future__ import annotations

import hashlib

from internal_node.export import ContentDigest


def test_a_batch_digests_as_its_items_one_by_one() -> None:
    bodies = [b'{"a":1}', b"", '{"n":"昆明"}'.encode(), b"x" * 70_000]
    one, many, mixed = ContentDigest(), ContentDigest(), ContentDigest()
    for body in bodies:
        one.update(body)
    many.update_many(bodies)
    mixed.update_many(bodies[:2])
    mixed.update(bodies[2])
    mixed.update_many(bodies[3:])
    assert one.hexdigest() == many.hexdigest() == mixed.hexdigest()
    other = ContentDigest()
    other.update_many([bodies[1], bodies[0], *bodies[2:]])
    assert other.hexdigest() != one.hexdigest(), "order matters"


def test_the_digest_is_the_one_docs_policy_md_states() -> None:
    # written out from the text of docs/POLICY.md, "Digests", not from the code
    bodies = [b'{"kind":"record","op":"withdraw"}', b"{}", "昆明".encode()]
    stated = hashlib.sha256(b"credgap-content/1\n")
    for body in bodies:
        stated.update(len(body).to_bytes(4, "big") + body)
    d = ContentDigest()
    d.update_many(bodies)
    assert d.hexdigest() == stated.hexdigest()
    assert ContentDigest().hexdigest() == hashlib.sha256(b"credgap-content/1\n").hexdigest(), "nothing to send"
