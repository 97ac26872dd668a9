"""How often the review hold fires on realistic data: ``python -m internal_node.review_rates
--subjects N --seed S`` generates sample data (``internal-node sample-data``) into a temporary node
home, ingests it (which projects it), and prints, per record kind, the records and the versions held
for review, by rule. On sample data every hold is a false positive: it holds no personal data in free
text (docs/POLICY.md quotes the figures)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from datetime import date
from pathlib import Path

from sqlalchemy import func, select


def measure(subjects: int, seed: int) -> dict[str, dict[str, int]]:
    """Per kind: ``records`` and ``held``, and one count per rule that held something."""
    from internal_node import SPEC, sample_data
    from internal_node.models import RECORD_MODELS, Subject
    from internal_node.pubmodels import ReviewHold
    from nodekit.runtime import init_home

    with tempfile.TemporaryDirectory() as tmp:
        node = init_home(Path(tmp) / "home", SPEC, name="rates")
        try:
            sample_data.run(subjects=subjects, seed=seed, out=None, as_of=date(2026, 11, 1), node=node)
            out: dict[str, dict[str, int]] = {}
            with node.sessions() as s:
                for kind, model in {"subject": Subject, **RECORD_MODELS}.items():
                    total = s.scalar(select(func.count()).select_from(model)) or 0
                    rules: Counter[str] = Counter()
                    holds = s.scalars(select(ReviewHold).where(ReviewHold.table_name == kind)).all()
                    for h in holds:
                        rules.update(h.rules.split(","))
                    out[kind] = {"records": int(total), "held": len(holds), **dict(rules)}
        finally:
            node.close()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--subjects", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    for kind, counts in measure(args.subjects, args.seed).items():
        rate = counts["held"] / counts["records"] * 100 if counts["records"] else 0.0
        rules = ", ".join(f"{k} {v}" for k, v in counts.items() if k not in ("records", "held"))
        sys.stdout.write(f"{kind:<11} {counts['records']:>7} records {counts['held']:>5} held ({rate:.2f} %) {rules}\n")


if __name__ == "__main__":
    main()
