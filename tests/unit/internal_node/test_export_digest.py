"""The content digest of a batch of items is the digest of the same items one by one (``--expect``
compares digests computed either way)."""

from __future__ import annotations

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
