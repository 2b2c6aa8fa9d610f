"""The policy document and kickoff against it: plain Python, no servers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest

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
        ("policies: {P 1: {approvers: [U0A]}}", "a name is 3-64 lowercase"),
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
