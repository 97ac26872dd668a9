"""The disclosure policy file: the loader's errors, resolution, floors, the digest, the default file
and the ``policy`` commands."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from internal_node.policy import (
    DEFAULT_POLICY_TOML,
    FIELDS,
    KINDS,
    Period,
    PolicyError,
    default_policy,
    load_policy,
    parse_policy,
    write_default_policy,
)
from nodekit.errors import ExitCode
from tests.helpers import run_cli

V = "version = 1\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "policy.toml: version: missing (expected version = 1)"),
        ("version = 2", "policy.toml: version: unsupported policy version 2 (expected 1)"),
        ("version = 1\nversion = 1", "policy.toml: not valid TOML:"),
        (V + "colour = 'red'", "policy.toml: colour: unknown setting"),
        (V + "[kinds.fine]", "policy.toml: kinds.fine: unknown kind (known: subject, licence"),
        (V + "[kinds.penalty]\nphone = 'drop'", "policy.toml: kinds.penalty.phone: unknown field of penalty"),
        (V + "[party]\nname = 'drop'", "policy.toml: party.name: unknown field of party fields"),
        (V + "[party]\ndefault = 'drop'", "policy.toml: party.default: unknown field of party fields"),
        (
            V + "[kinds.penalty]\ndecision_no = 'mask:blur'",
            "policy.toml: kinds.penalty.decision_no: unknown masking rule 'blur' (known: id_number, name,",
        ),
        (
            V + "[kinds.penalty]\ndecision_no = 'hide'",
            "policy.toml: kinds.penalty.decision_no: expected 'publish', 'drop' or 'mask:<rule>', found 'hide'",
        ),
        (
            V + "[kinds.penalty]\ndecision_no = 1",
            "policy.toml: kinds.penalty.decision_no: expected a string, found an integer",
        ),
        (V + "[kinds.penalty.robot]\ncontent = 'drop'", "policy.toml: kinds.penalty.robot: unknown category"),
        (
            V + "[kinds.penalty]\nversion = 'publish'",
            "policy.toml: kinds.penalty.version: not configurable: record metadata",
        ),
        (
            V + "[kinds.penalty]\npublish_until = 'publish'",
            "policy.toml: kinds.penalty.publish_until: not configurable: computed",
        ),
        (V + "[periods.penalty]\nminor = '3x'", "policy.toml: periods.penalty.minor: bad duration '3x'"),
        (V + "[periods.penalty]\nminor = '-3m'", "policy.toml: periods.penalty.minor: bad duration '-3m'"),
        (V + "[periods.penalty]\nminor = 3", "policy.toml: periods.penalty.minor: expected a string, found an integer"),
        (V + "[periods.penalty]\nmild = '3m'", "policy.toml: periods.penalty.mild: unknown severity"),
        (V + "[periods]\nsubject = '1y'", "policy.toml: periods.subject: subject records have no publication period"),
        (V + "[periods]\nfine = '1y'", "policy.toml: periods.fine: unknown kind"),
        (
            V + "[export]\nclasses = ['shared']",
            "policy.toml: export.classes: disclosure class 'shared' is never exported",
        ),
        (
            V + "[export]\nclasses = ['not_public']",
            "policy.toml: export.classes: disclosure class 'not_public' is never",
        ),
        (V + "[export]\nclasses = ['secret']", "policy.toml: export.classes: unknown disclosure class 'secret'"),
        (V + "[export]\nclasses = 'public'", "policy.toml: export.classes: expected an array"),
        (V + "[minors]\nunknown_age = 'ignore'", "policy.toml: minors.unknown_age: expected 'hold' or 'publish'"),
        (V + "[minors]\npublish_minors = true", "policy.toml: minors.publish_minors: unknown setting"),
        (V + "[withdrawal]\nforgotten = 'x'", "policy.toml: withdrawal.forgotten: unknown reason"),
        (V + "[withdrawal]\nexpired = ' '", "policy.toml: withdrawal.expired: the label must not be empty"),
        # the floors: no file can publish these
        (
            V + "[kinds.subject]\nid_no = 'publish'",
            "policy.toml: kinds.subject.id_no: publish is not allowed for subject id_no of a legal_person",
        ),
        (
            V + "[party.natural_person]\nparty_id_no = 'publish'",
            "policy.toml: party.natural_person.party_id_no: publish is not allowed for licence party_id_no",
        ),
        (
            V + "[party]\nlegal_rep_id_no = 'mask:id_number'",
            "policy.toml: party.legal_rep_id_no: mask:id_number is not allowed for licence legal_rep_id_no",
        ),
        (
            V + "[kinds.subject]\nphone = 'publish'",
            "policy.toml: kinds.subject.phone: publish is not allowed for subject phone of a natural_person",
        ),
        (
            V + "[kinds.subject.natural_person]\naddress = 'publish'",
            "policy.toml: kinds.subject.natural_person.address: publish is not allowed",
        ),
        (
            V + "[kinds.penalty]\ndefault = 'publish'",
            "policy.toml: kinds.penalty.default: publish is not allowed for penalty legal_rep_id_no",
        ),
    ],
)
def test_loader_errors_name_the_file_and_the_key(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(text)
    assert str(err.value).startswith(message), str(err.value)
    assert "\n" not in str(err.value)
    assert err.value.exit_code == ExitCode.REJECTED


def test_what_the_file_does_not_say_is_dropped() -> None:
    policy = parse_policy(V)
    for kind in KINDS:
        for field in FIELDS[kind]:
            for category in ("legal_person", "natural_person", "individual_business", "government"):
                assert str(policy.action(kind, field, category)) == "drop"
    assert policy.export_classes == {"public"}


def test_resolution_order() -> None:
    policy = parse_policy(
        V
        + """
[party]
party_name = "publish"
legal_rep = "mask:name"
[party.natural_person]
party_name = "mask:name"
[kinds.penalty]
default = "publish"
legal_rep_id_no = "drop"
legal_rep = "publish"
party_id_no = "mask:id_number"
[kinds.penalty.individual_business]
legal_rep = "mask:full"
"""
    )
    assert str(policy.action("penalty", "party_name", "natural_person")) == "mask:name"  # party.C
    assert str(policy.action("penalty", "party_name", "legal_person")) == "publish"  # party
    assert str(policy.action("penalty", "legal_rep", "legal_person")) == "publish"  # kinds.K beats party
    assert str(policy.action("penalty", "legal_rep", "individual_business")) == "mask:full"  # kinds.K.C
    assert str(policy.action("licence", "legal_rep", "legal_person")) == "mask:name"  # party
    assert str(policy.action("penalty", "violation_facts", "legal_person")) == "publish"  # kinds.K default
    assert str(policy.action("licence", "content", "legal_person")) == "drop"  # nothing said
    assert str(policy.action("penalty", "no_such_field", "legal_person")) == "drop"
    # an unknown category gets the natural person's rules
    assert str(policy.action("penalty", "party_name", "alien")) == "mask:name"


def test_the_default_policy_is_safe() -> None:
    policy = default_policy()
    assert policy.export_classes == {"public"}
    for kind in ("licence", "penalty", "list_entry", "commitment"):
        assert str(policy.action(kind, "party_id_no", "natural_person")) == "mask:id_number"
        assert str(policy.action(kind, "party_name", "natural_person")) == "mask:name"
        assert str(policy.action(kind, "legal_rep_id_no", "legal_person")) == "drop"
        assert str(policy.action(kind, "party_tax_no", "natural_person")) == "drop"
        assert str(policy.action(kind, "remarks", "legal_person")) == "drop"
    assert str(policy.action("subject", "name", "natural_person")) == "mask:name"
    assert str(policy.action("subject", "id_no", "natural_person")) == "mask:id_number"
    for field in ("address", "phone", "birth_date", "legal_rep_id_no"):
        assert str(policy.action("subject", field, "natural_person")) == "drop"
    assert str(policy.action("gov_credit", "counterparty", "government")) == "drop"
    assert {k: str(v) for k, v in policy.penalty_periods.items()} == {"minor": "3m", "general": "1y", "serious": "3y"}
    assert policy.unknown_age == "hold"


def test_digest_ignores_comments_layout_and_restated_defaults() -> None:
    base = default_policy().digest
    reformatted = "\n".join(
        line.split("#")[0].strip() for line in DEFAULT_POLICY_TOML.splitlines() if not line.lstrip().startswith("#")
    )
    assert parse_policy("# a new comment\n\n" + reformatted).digest == base
    # restating what is already the default changes nothing either
    restated = V + (
        "[export]\nclasses = ['public', 'public']\n[periods]\nlicence = 'none'\n[periods.penalty]\nminor = '3m'\n"
        "[minors]\nunknown_age = 'hold'\n[withdrawal]\nexpired = '公示期满'\n"
        "[kinds.penalty]\ndefault = 'drop'\nremarks = 'drop'\n[kinds.penalty.natural_person]\ncontent = 'drop'\n"
    )
    assert parse_policy(restated).digest == parse_policy(V).digest
    assert len(base) == 64 and int(base, 16) >= 0


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('serious = "3y"', 'serious = "2y"'),
        ('party_org_code = "publish"', 'party_org_code = "drop"'),
        ('classes = ["public"]', "classes = []"),
        ('unknown_age = "hold"', 'unknown_age = "publish"'),
        ('expired = "公示期满"', 'expired = "已过公示期"'),
        ('[kinds.subject.natural_person]\nname = "mask:name"', '[kinds.subject.natural_person]\nname = "mask:full"'),
    ],
)
def test_digest_changes_with_behaviour(old: str, new: str) -> None:
    assert old in DEFAULT_POLICY_TOML
    changed = parse_policy(DEFAULT_POLICY_TOML.replace(old, new, 1))
    assert changed.digest != default_policy().digest


def test_period_end_counts_calendar_months() -> None:
    assert Period(3, "m").end(date(2025, 1, 15)) == date(2025, 4, 15)
    assert Period(1, "m").end(date(2025, 1, 31)) == date(2025, 2, 28)  # no 31 February: its last day
    assert Period(1, "y").end(date(2024, 2, 29)) == date(2025, 2, 28)
    assert Period(3, "y").end(date(2025, 6, 1)) == date(2028, 6, 1)
    assert Period(90, "d").end(date(2025, 1, 1)) == date(2025, 4, 1)
    assert Period(None).end(date(2025, 1, 1)) is None
    assert str(parse_policy(V + "[periods.penalty]\nminor = '2w'").penalty_periods["minor"]) == "14d"
    assert str(parse_policy(V + "[periods]\nlicence = '5y'").kind_periods["licence"]) == "5y"


def test_load_policy_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    with pytest.raises(PolicyError, match=r"policy\.toml: missing; write the default with `internal-node policy init`"):
        load_policy(path)
    path.write_bytes(b"\xef\xbb\xbf" + DEFAULT_POLICY_TOML.encode())  # a BOM from a Windows editor is fine
    assert load_policy(path).digest == default_policy().digest
    path.write_bytes(b"\xff\xfe bad")
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(path)
    path.write_text(V + "[kinds.penalty]\nphone = 'drop'\n", encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert str(err.value) == f"{path}: kinds.penalty.phone: unknown field of penalty"


def test_write_default_policy_never_clobbers(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "policy.toml"
    assert write_default_policy(path) is True
    assert path.read_text(encoding="utf-8") == DEFAULT_POLICY_TOML
    path.write_text("mine", encoding="utf-8")
    assert write_default_policy(path) is False
    assert path.read_text(encoding="utf-8") == "mine"
    assert write_default_policy(path, overwrite=True) is True
    assert path.read_text(encoding="utf-8") == DEFAULT_POLICY_TOML
    assert sorted(os.listdir(path.parent)) == ["policy.toml"]  # no temporary file left behind


# --- the commands ------------------------------------------------------------------------------


def test_init_writes_the_default_policy_and_check_accepts_it(tmp_path: Path) -> None:
    home = tmp_path / "h"
    assert run_cli("internal-node", "--home", str(home), "init").code == 0
    assert (home / "policy.toml").read_text(encoding="utf-8") == DEFAULT_POLICY_TOML
    r = run_cli("internal-node", "--home", str(home), "policy", "check")
    assert r.code == 0, r.err
    assert r.out == f"{home / 'policy.toml'}: ok\n  digest {default_policy().digest}\n"
    r = run_cli("internal-node", "--home", str(home), "policy", "check", "--json")
    data = r.json()
    assert isinstance(data, dict)
    assert data["ok"] is True and data["digest"] == default_policy().digest
    assert data["periods"]["penalty"] == {"general": "1y", "minor": "3m", "serious": "3y"}


def test_init_keeps_a_policy_file_put_there_first(tmp_path: Path) -> None:
    home = tmp_path / "h"
    home.mkdir()
    (home / "policy.toml").write_text(V, encoding="utf-8")
    assert run_cli("internal-node", "--home", str(home), "init").code == 0
    assert (home / "policy.toml").read_text(encoding="utf-8") == V


def test_policy_check_reports_a_bad_file(tmp_path: Path) -> None:
    home = tmp_path / "h"
    assert run_cli("internal-node", "--home", str(home), "init").code == 0
    (home / "policy.toml").write_text(V + "[kinds.penalty]\ndecision_no = 'mask:blur'\n", encoding="utf-8")
    r = run_cli("internal-node", "--home", str(home), "policy", "check")
    assert r.code == ExitCode.REJECTED
    assert r.err.strip() == (
        f"internal-node: error: {home / 'policy.toml'}: kinds.penalty.decision_no: unknown masking rule 'blur' "
        "(known: id_number, name, phone, address, bank_account, full)"
    )
    r = run_cli("internal-node", "--home", str(home), "policy", "check", "--json")
    assert r.json() == {"ok": False, "error": {"reason": "policy", "message": r.err.split("error: ", 1)[1].strip()}}


def test_policy_check_file_option_needs_no_home(tmp_path: Path) -> None:
    path = tmp_path / "candidate.toml"
    path.write_text(DEFAULT_POLICY_TOML, encoding="utf-8")
    r = run_cli("internal-node", "policy", "check", "--file", str(path), env={"CREDGAP_HOME": None})
    assert r.code == 0 and default_policy().digest in r.out


def test_policy_init_and_show_default(tmp_path: Path) -> None:
    home = tmp_path / "h"
    assert run_cli("internal-node", "--home", str(home), "init").code == 0
    r = run_cli("internal-node", "--home", str(home), "policy", "init")
    assert r.code == ExitCode.USAGE and "already exists; pass --force" in r.err
    (home / "policy.toml").write_text(V, encoding="utf-8")
    r = run_cli("internal-node", "--home", str(home), "policy", "init", "--force")
    assert r.code == 0 and (home / "policy.toml").read_text(encoding="utf-8") == DEFAULT_POLICY_TOML
    r = run_cli("internal-node", "policy", "show-default")
    assert r.code == 0 and r.out == DEFAULT_POLICY_TOML
