"""A version held for review never enters a package: whatever mix of clean and doubtful versions a
record goes through, the publication's items (what every delta and snapshot is made of) carry only
clean versions, and the last clean one stays published while a doubtful one waits."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, insert, select
from sqlalchemy.orm import Session

from internal_node.models import Base
from internal_node.policy import default_policy
from internal_node.projection import Publish, Review, project
from internal_node.publication import GuardSeal, RefreshReport, _Existing
from internal_node.pubmodels import PUBLICATION, PUBLICATION_META
from tests.unit.internal_node.disclosure_samples import PSEUDONYM_KEY, party, penalty
from tests.unit.internal_node.test_freetext import CLASSIFICATION_CATCHES, LEGITIMATE, PERSONAL_CATCHES

POLICY = default_policy()
TODAY = date(2026, 11, 26)
DOUBTFUL = CLASSIFICATION_CATCHES + [t for t, _ in PERSONAL_CATCHES]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 10_000)), min_size=1, max_size=8))
def test_a_held_version_never_enters_a_package(versions: list[tuple[bool, int]]) -> None:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    published_text: str | None = None
    with Session(engine) as s, s.begin():
        s.execute(insert(PUBLICATION_META).values(key="pseudonym_key", value=PSEUDONYM_KEY.hex()))
        for n, (doubtful, pick) in enumerate(versions, start=1):
            text = DOUBTFUL[pick % len(DOUBTFUL)] if doubtful else LEGITIMATE[pick % len(LEGITIMATE)]
            rec: dict[str, Any] = {**penalty(**party("legal_person")), "version": n, "violation_facts": text}
            out = project("penalty", rec, None, POLICY, today=TODAY, pseudonym_key=PSEUDONYM_KEY)
            assert isinstance(out, Review if doubtful else Publish), (text, out)
            existing = _Existing(s.connection(), RefreshReport(), GuardSeal(PSEUDONYM_KEY), today=TODAY, at=None,
                                 preview=False)  # fmt: skip
            existing.apply(out, 1)
            existing.flush()
            if not doubtful:
                published_text = text
            items = [r[0] for r in s.execute(select(PUBLICATION.c.item).where(PUBLICATION.c.item.is_not(None)))]
            sealed = "".join(items)
            assert all(t not in sealed for t in DOUBTFUL if t != published_text)
            if published_text is not None:
                assert published_text in sealed, "the last clean version stays published"
            else:
                assert items == []
    engine.dispose()
