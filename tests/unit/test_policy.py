"""The policy document and kickoff against it: plain Python, no servers."""

from __future__ import annotations

import re
import tracemalloc
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from signoff import policy
from signoff.errors import ConfigError, ValidationError
from signoff.policy import FilePolicies, PolicyBook, resolve
from tests.factories import start_request

DOCUMENT = """
allow_ad_hoc: false
admins: [U0ADMIN]
policies:
  prod-deploy:
    description: Production deploys
    approver_groups: [S0DBA]
    min_approvals: 2
    remind_every: 30m
    escalate_after: 2h
    escalate_to: S0ONCALL
  feature-flag:
    approvers: [U0ALICE, U0BOB]
    allow_self_approval: true
groups:
  S0DBA: [U0ALICE, U0BOB, U0CAROL]
"""


@dataclass
class Groups:
    known: dict[str, tuple[str, ...]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def members(self, group_id: str) -> tuple[str, ...]:
        self.asked.append(group_id)
        if group_id not in self.known:
            raise ValidationError(f"the user group {group_id} cannot be resolved")
        return self.known[group_id]


def book(text: str = DOCUMENT, local: bool = True) -> PolicyBook:
    return PolicyBook.parse(text, source="policies.yaml", local=local)


def test_a_realistic_document_parses() -> None:
    parsed = book()
    assert parsed.names() == ["feature-flag", "prod-deploy"]
    assert parsed.allow_ad_hoc is False and parsed.admins == ("U0ADMIN",)
    prod = parsed.rule("prod-deploy")
    assert (prod.approver_groups, prod.min_approvals) == (("S0DBA",), 2)
    assert prod.remind_every == timedelta(minutes=30)
    assert (prod.escalate_after, prod.escalate_to) == (timedelta(hours=2), "S0ONCALL")
    assert parsed.groups == {"S0DBA": ("U0ALICE", "U0BOB", "U0CAROL")}
    # JSON out, the same document back in (what /local/policies and `policies --json` serve).
    assert PolicyBook.from_data(parsed.to_json(), source="x").policies == parsed.policies


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("polices: {}", "unknown key(s) 'polices'"),
        ("policies: {p-1: {approvers: [U0A], aprovers: [U0B]}}", "unknown key(s) 'aprovers'"),
        ("policies: {p-1: {approvers: [U0A], remind_every: soon}}", "remind_every 'soon' is not"),
        ("policies: {p-1: {approvers: [U0A], remind_every: 10s}}", "at least 1m"),
        ("policies: {p-1: {approvers: [U0A, U0B], min_approvals: 3}}", "only 2 approver(s)"),
        ("policies: {p-1: {approvers: [U0A], min_approvals: 0}}", "min_approvals must be"),
        ("policies: {p-1: {approvers: []}}", "name approvers, approver_groups, or both"),
        ("policies: {p-1: {approver_groups: [dba]}}", "must be a Slack user group id"),
        ("policies: {p-1: {approvers: [U0A], escalate_after: 1h}}", "go together"),
        ("policies: {P 1: {approvers: [U0A]}}", "must be 3-64 lowercase"),
        ("policies: {p-1: {approvers: [U0A], allow_self_approval: sure}}", "true or false"),
        ("allow_ad_hoc: maybe", "allow_ad_hoc must be true or false"),
        ("admins: U0A", "admins must be a list"),
        ("[1, 2]", "must be a mapping"),
        ("policies: {p-1: [", "not valid YAML or JSON"),
    ],
)
def test_each_problem_is_said(text: str, says: str) -> None:
    with pytest.raises(ConfigError) as info:
        book(text)
    assert says in str(info.value)
    assert str(info.value).startswith("policies.yaml")


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        book("polices: {}\nadmins: U0A\npolicies: {p-1: {approvers: [U0A], min_approvals: 2}}")
    assert str(info.value).count(";") >= 2


def test_groups_are_a_local_section_only() -> None:
    with pytest.raises(ConfigError, match="unknown key"):
        book("groups: {S0DBA: [U0A]}", local=False)


def test_a_missing_file_means_no_policies(tmp_path) -> None:
    assert FilePolicies(tmp_path / "nope.yaml").load() == PolicyBook()
    (tmp_path / "p.json").write_text('{"policies": {"ops": {"approvers": ["U0A"]}}}')
    assert FilePolicies(tmp_path / "p.json").load().names() == ["ops"]


# -- kickoff ---------------------------------------------------------------------------


def test_a_named_policy_sets_the_rules_and_resolves_its_groups() -> None:
    groups = Groups({"S0DBA": ("U0ALICE", "U0BOB", "U0CAROL")})
    asked = start_request(approvers=(), policy="prod-deploy", requester="U0ALICE")
    resolved = resolve(asked, book(), groups)
    assert resolved.members == ("U0ALICE", "U0BOB", "U0CAROL")
    assert (resolved.min_approvals, resolved.approver_groups) == (2, ("S0DBA",))
    assert resolved.allow_self_approval is False
    assert groups.asked == ["S0DBA"]


def test_unknown_policy_lists_the_known_ones() -> None:
    with pytest.raises(ValidationError) as info:
        resolve(start_request(approvers=(), policy="prod"), book(), Groups())
    assert str(info.value) == "no policy named 'prod' (known policies: feature-flag, prod-deploy)"


def test_ad_hoc_approvers_where_the_deployment_forbids_them() -> None:
    with pytest.raises(ValidationError, match="does not allow ad-hoc approvers"):
        resolve(start_request(), book(), Groups())
    assert resolve(start_request(), PolicyBook(), Groups()).approvers == ("U0A",)


def test_a_policy_cannot_be_bent_by_the_request() -> None:
    with pytest.raises(ValidationError, match="a named policy sets the approvers"):
        resolve(start_request(policy="feature-flag"), book(), Groups())
    # Self-approval comes from the policy alone: an ad-hoc request never has it.
    forged = start_request(approvers=("U0REQ", "U0A"), allow_self_approval=True)
    assert resolve(forged, PolicyBook(), Groups()).allow_self_approval is False
    assert resolve(
        start_request(approvers=(), policy="feature-flag", requester="U0ALICE"),
        book(),
        Groups(),
    ).allow_self_approval


def test_an_unresolvable_or_empty_group_is_refused() -> None:
    with pytest.raises(ValidationError, match="S0GONE cannot be resolved"):
        resolve(start_request(approver_groups=("S0GONE",)), PolicyBook(), Groups())
    with pytest.raises(ValidationError, match="has no members"):
        resolve(start_request(approver_groups=("S0EMPTY",)), PolicyBook(), Groups({"S0EMPTY": ()}))


def test_a_quorum_nobody_could_reach_is_refused_once_the_members_are_known() -> None:
    groups = Groups({"S0DBA": ("U0ALICE", "U0REQ")})
    asked = start_request(approvers=(), approver_groups=("S0DBA",), min_approvals=2)
    with pytest.raises(ValidationError, match="2 approvals are needed but only 1 person"):
        resolve(asked, PolicyBook(), groups)


# -- hostile documents ---------------------------------------------------------------


def laughs(levels: int, then: str = "") -> str:
    """The "billion laughs": each level an anchor holding nine aliases of the one before,
    a few hundred bytes that expand to 9**levels strings."""
    lines = ["groups:", '  S0A0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"  S0A{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n" + then


@pytest.mark.parametrize(
    "text",
    [
        # Its error message quoted the expansion (25 MB at 7 levels, and on).
        laughs(7, "policies: {p-1: {approvers: [U0A], remind_every: *a6}}\n"),
        # Read as YAML, left to the rules to refuse (and to whatever walks it first).
        laughs(7),
    ],
    ids=["in-an-error", "as-group-members"],
)
def test_an_alias_bomb_is_refused_short_and_without_expanding(text: str) -> None:
    assert len(text.encode()) < 500
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError) as info:
            book(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    said = str(info.value)
    assert said.startswith("policies.yaml, line 2, column ")
    assert "aliases (*name)" in said and len(said) < 300
    assert peak < 2_000_000, f"{peak:,} bytes at the peak"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("admins: &boss [U0A]\n", "line 1, column 9: anchors (&name)"),
        ("policies:\n  <<: {p-1: {approvers: [U0A]}}\n", "line 2, column 3: anchors (&name)"),
        (
            "policies:\n  p-1: {approvers: [U0A]}\n  p-1: {approvers: [U0B]}\n",
            "line 3, column 3: the key 'p-1' is given twice (first on line 2)",
        ),
        ('{"admins": ["U0A"], "admins": []}', "line 1, column 21: the key 'admins' is given twice"),
        ("policies: {p-1: {approvers: [U0A], min_approvals: 1, min_approvals: 2}}", "twice"),
        ("a: " + "[" * 60_000, "nest"),  # libyaml stops at 1,000 levels, signoff at 16
        ("a:\n" + "".join(f"{'  ' * i}- k:\n" for i in range(1, 20)), "nested deeper than 16"),
        ("policies: {p-1: {approvers: [U0A], min_approvals: " + "9" * 5000 + "}}", "line 1, col"),
        ("policies: {p-1: {approvers: [U0A], description: 2026-13-45}}", "month must be in"),
        ("policies: {p-1:\x00}", "line 1: character U+0000 is not allowed"),
        ("policies:\n  p-1: [\n", "line 3, column 1: not valid YAML or JSON (while parsing"),
        ("a: 1\n---\nb: 2\n", "line 2, column 1: expected a single document"),
    ],
)
def test_what_a_policy_document_has_no_use_for_is_refused_in_one_line(text: str, says: str) -> None:
    with pytest.raises(ConfigError) as info:
        book(text)
    said = str(info.value)
    assert said.startswith("policies.yaml, ") and says in said
    assert "\n" not in said and "\\n" not in said and len(said) < 400


def test_problems_quote_long_values_short_and_are_counted_past_twenty() -> None:
    names = "".join(f"  {'x' * 1000}{i}: {{approvers: [U0A]}}\n" for i in range(50))
    with pytest.raises(ConfigError) as info:
        book(f"policies:\n{names}")
    said = str(info.value)
    assert said.endswith("; and 30 more problem(s)")
    assert len(said) < 5000


def test_a_document_over_64_kib_is_refused_before_it_is_parsed(tmp_path) -> None:
    big = "policies:\n" + "".join(f"  p-{i:06d}: {{approvers: [U0A]}}\n" for i in range(250_000))
    assert len(big) > 7_000_000
    with pytest.raises(ConfigError, match=r"^policies.yaml is [0-9,]+ bytes; .* at most 64 KiB"):
        book(big)
    path = tmp_path / "policies.yaml"
    path.write_text(big)
    with pytest.raises(ConfigError, match=rf"^{path} is [0-9,]+ bytes; .* at most 64 KiB"):
        FilePolicies(path).load()
    # 64 KiB of policies is well within what a document may be.
    rule = "{approvers: [U0ALICE, U0BOB], min_approvals: 2}"
    fits = "policies:\n" + "".join(f"  p-{i:04d}: {rule}\n" for i in range(1100))
    assert 60_000 < len(fits) <= policy.MAX_DOCUMENT_BYTES
    assert len(book(fits).names()) == 1100


def test_a_file_that_is_not_utf8_is_refused_naming_it_and_the_line(tmp_path) -> None:
    path = tmp_path / "policies.yaml"
    path.write_bytes("admins: [U0A]\n# caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        FilePolicies(path).load()
    assert str(info.value) == (
        f"{path}, line 2: not UTF-8 text (byte 0xe9); save the policy document as UTF-8"
    )


def test_a_file_named_on_the_command_line_must_exist(tmp_path) -> None:
    missing = tmp_path / "typo.yaml"
    with pytest.raises(ValidationError, match=f"the policy file {missing} does not exist"):
        FilePolicies(missing, required=True).load()
    with pytest.raises(ConfigError, match="cannot read the policy file"):
        FilePolicies(tmp_path, required=True).load()  # a directory


def test_a_document_is_parsed_once_per_content(tmp_path, monkeypatch) -> None:
    parsed: list[bytes] = []
    real = policy._load_yaml

    def counting(raw: bytes, source: str) -> object:
        parsed.append(raw)
        return real(raw, source)

    monkeypatch.setattr(policy, "_load_yaml", counting)
    path = tmp_path / "policies.yaml"
    path.write_text("admins: [U0A]\n")
    source = FilePolicies(path)
    first = source.load()
    assert source.load() is first and source.load() is first
    path.write_text("admins: [U0B]\n")  # an edit applies at the next use
    assert source.load().admins == ("U0B",)
    path.write_text("admins: [U0A, U0A]\n")  # a broken one is not parsed again either
    for _ in range(3):
        with pytest.raises(ConfigError, match="names someone more than once"):
            source.load()
    assert len(parsed) == 3


def test_without_libyaml_the_same_documents_are_refused_the_same_way(monkeypatch) -> None:
    import yaml  # type: ignore[import-untyped]

    monkeypatch.setattr(yaml, "__with_libyaml__", False)
    policy._strict_loader.cache_clear()
    monkeypatch.setattr(policy, "_PARSED", type(policy._PARSED)())
    try:
        assert policy._strict_loader().__bases__ == (yaml.SafeLoader,)
        assert book().names() == ["feature-flag", "prod-deploy"]
        for text, says in [
            (laughs(7), "aliases (*name)"),
            ("policies:\n  p-1: {approvers: [U0A]}\n  p-1: {approvers: [U0B]}\n", "twice"),
            ("a: " + "[" * 60_000, "line 1, column 19: nested deeper than 16 levels"),
            ("policies: {p-1: {approvers: [U0A], description: 2026-13-45}}", "month must be"),
        ]:
            with pytest.raises(ConfigError, match=re.escape(says)):
                book(text)
    finally:
        policy._strict_loader.cache_clear()


def test_a_policy_file_removed_while_in_use_is_an_error_not_no_policies(tmp_path: Path) -> None:
    path = tmp_path / "policies.yaml"
    path.write_text("allow_ad_hoc: false\npolicies:\n  prod-db:\n    approvers: [U0ALICE]\n")
    source = FilePolicies(path)
    assert source.load().allow_ad_hoc is False
    path.unlink()
    with pytest.raises(ConfigError, match="was removed while signoff used it"):
        source.load()
    # A file that never existed is still "no document" (the default path is optional).
    assert FilePolicies(tmp_path / "never.yaml").load().allow_ad_hoc is True
