"""The deployment's approval policies: a document of named rules, and kickoff against it.

The document (YAML, or JSON, which YAML reads too) is the deployment's, not the
requester's: on AWS an SSM parameter, locally a file under the stack's home. A request
names a policy (`--policy prod-deploy`) or, where the document allows it, lists its
approvers ad hoc. Kickoff resolves either into a `StartRequest` whose approvers are all
known — the groups' members looked up once, through Slack — and that is what the record
keeps (see docs/architecture.md, "Groups are a snapshot").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from signoff.errors import BackendError, ConfigError, ValidationError
from signoff.model import (
    _ID_RE,
    MAX_APPROVERS,
    MAX_GROUPS,
    MAX_MEMBERS,
    StartRequest,
    format_duration,
    group_problem,
    parse_duration,
    person_problem,
)

DOCUMENT_KEYS = ("allow_ad_hoc", "admins", "policies", "groups")
RULE_KEYS = (
    "description",
    "approvers",
    "approver_groups",
    "min_approvals",
    "allow_self_approval",
    "remind_every",
    "escalate_after",
    "escalate_to",
)
MAX_DESCRIPTION = 300
MIN_REMINDER = timedelta(minutes=1)


@dataclass(frozen=True)
class Rule:
    """One named policy: who may approve, how many must, and the reminders."""

    name: str
    approvers: tuple[str, ...] = ()
    approver_groups: tuple[str, ...] = ()
    min_approvals: int = 1
    allow_self_approval: bool = False
    description: str = ""
    remind_every: timedelta | None = None
    escalate_after: timedelta | None = None
    escalate_to: str = ""

    def to_json(self) -> dict[str, Any]:
        """The rule as the document writes it (what `parse` reads back)."""
        rule: dict[str, Any] = {
            "description": self.description,
            "approvers": list(self.approvers),
            "approver_groups": list(self.approver_groups),
            "min_approvals": self.min_approvals,
            "allow_self_approval": self.allow_self_approval,
        }
        if self.remind_every:
            rule["remind_every"] = format_duration(self.remind_every)
        if self.escalate_after:
            rule["escalate_after"] = format_duration(self.escalate_after)
            rule["escalate_to"] = self.escalate_to
        return rule


@dataclass(frozen=True)
class PolicyBook:
    """The deployment's policy document, parsed and checked."""

    policies: Mapping[str, Rule] = field(default_factory=dict)
    allow_ad_hoc: bool = True
    admins: tuple[str, ...] = ()
    # Local stack only: the user groups the Slack stand-in serves (Slack holds them on AWS).
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, *, source: str, local: bool = False) -> PolicyBook:
        """Parse a YAML or JSON document; ConfigError lists everything wrong with it."""
        import yaml  # type: ignore[import-untyped]

        try:
            data = yaml.safe_load(text) if text.strip() else {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source} is not valid YAML or JSON: {exc}") from None
        return cls.from_data(data, source=source, local=local)

    @classmethod
    def from_data(cls, data: Any, *, source: str, local: bool = False) -> PolicyBook:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"{source} must be a mapping with a `policies` section")
        problems: list[str] = []
        allowed = DOCUMENT_KEYS if local else DOCUMENT_KEYS[:3]
        unknown = [str(k) for k in data if k not in allowed]
        if unknown:
            problems.append(
                f"unknown key(s) {', '.join(map(repr, unknown))} (known: {', '.join(allowed)})"
            )
        allow_ad_hoc = data.get("allow_ad_hoc", True)
        if not isinstance(allow_ad_hoc, bool):
            problems.append("allow_ad_hoc must be true or false")
            allow_ad_hoc = True
        admins = _people(data.get("admins", []), "admins", problems)
        groups: dict[str, tuple[str, ...]] = {}
        raw_groups = data.get("groups", {}) if local else {}
        if not isinstance(raw_groups, dict):
            problems.append("groups must map a user group id to a list of user ids")
        else:
            for group_id, members in raw_groups.items():
                where = f"group {group_id!r}"
                problem = group_problem("group", str(group_id))
                if problem:
                    problems.append(problem)
                groups[str(group_id)] = _people(members, where, problems)
        policies: dict[str, Rule] = {}
        raw_policies = data.get("policies", {})
        if not isinstance(raw_policies, dict):
            problems.append("policies must map a policy name to its rules")
        else:
            for name, raw in raw_policies.items():
                rule = _rule(str(name), raw, problems)
                if rule is not None:
                    policies[rule.name] = rule
        if problems:
            raise ConfigError(f"{source}: " + "; ".join(problems))
        return cls(policies, allow_ad_hoc, admins, groups)

    def names(self) -> list[str]:
        return sorted(self.policies)

    def rule(self, name: str) -> Rule:
        try:
            return self.policies[name]
        except KeyError:
            known = ", ".join(self.names()) or "none are defined"
            raise ValidationError(f"no policy named {name!r} (known policies: {known})") from None

    def check(self, request: StartRequest) -> Rule | None:
        """What needs no lookup: the policy exists, ad-hoc lists are allowed, no mixing.

        Returns the named rule (None for an ad-hoc request); ValidationError says why not.
        """
        if request.policy:
            if request.approvers or request.approver_groups or request.min_approvals != 1:
                raise ValidationError(
                    "a named policy sets the approvers and the quorum: drop --approver, "
                    "--approver-group and --min-approvals, or drop --policy"
                )
            return self.rule(request.policy)
        if not self.allow_ad_hoc:
            known = ", ".join(self.names()) or "none are defined"
            raise ValidationError(
                "this deployment does not allow ad-hoc approvers: name a policy with --policy "
                f"(known policies: {known})"
            )
        return None

    def to_json(self) -> dict[str, Any]:
        """The document as JSON (local groups left out); `from_data` reads it back."""
        return {
            "allow_ad_hoc": self.allow_ad_hoc,
            "admins": list(self.admins),
            "policies": {n: self.policies[n].to_json() for n in self.names()},
        }


def _people(value: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{where} must be a list of Slack user ids")
        return ()
    problems += [p for v in value if (p := person_problem(f"{where}: user", v)) is not None]
    if len(set(value)) != len(value):
        problems.append(f"{where} names someone more than once")
    return tuple(value)


def _duration(raw: Any, where: str, problems: list[str]) -> timedelta | None:
    if raw is None:
        return None
    try:
        value = parse_duration(str(raw))
    except (ValidationError, OverflowError, ValueError):
        problems.append(f"{where} {raw!r} is not a duration (e.g. 30m, 2h, 1d)")
        return None
    if value < MIN_REMINDER:
        problems.append(f"{where} must be at least {format_duration(MIN_REMINDER)}")
        return None
    return value


def _rule(name: str, raw: Any, problems: list[str]) -> Rule | None:
    where = f"policy {name!r}"
    if not _ID_RE.match(name):
        problems.append(f"{where}: a name is 3-64 lowercase letters, digits or '-'")
    if not isinstance(raw, dict):
        problems.append(f"{where} must be a mapping of rules")
        return None
    unknown = [str(k) for k in raw if k not in RULE_KEYS]
    if unknown:
        problems.append(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(RULE_KEYS)})"
        )
    approvers = _people(raw.get("approvers", []), f"{where}: approvers", problems)
    groups_raw = raw.get("approver_groups", [])
    groups: tuple[str, ...] = ()
    if not isinstance(groups_raw, list) or not all(isinstance(g, str) for g in groups_raw):
        problems.append(f"{where}: approver_groups must be a list of Slack user group ids")
    else:
        groups = tuple(groups_raw)
        problems += [
            p for g in groups if (p := group_problem(f"{where}: approver group", g)) is not None
        ]
    if len(approvers) > MAX_APPROVERS:
        problems.append(f"{where}: at most {MAX_APPROVERS} approvers")
    if len(groups) > MAX_GROUPS:
        problems.append(f"{where}: at most {MAX_GROUPS} approver groups")
    if not approvers and not groups:
        problems.append(f"{where}: name approvers, approver_groups, or both")
    quorum = raw.get("min_approvals", 1)
    if isinstance(quorum, bool) or not isinstance(quorum, int) or not 1 <= quorum <= MAX_APPROVERS:
        problems.append(f"{where}: min_approvals must be a whole number from 1 to {MAX_APPROVERS}")
        quorum = 1
    allow_self = raw.get("allow_self_approval", False)
    if not isinstance(allow_self, bool):
        problems.append(f"{where}: allow_self_approval must be true or false")
        allow_self = False
    if not groups and quorum > len(approvers) > 0:
        problems.append(
            f"{where}: min_approvals is {quorum} but only {len(approvers)} approver(s) are named"
        )
    description = raw.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        problems.append(
            f"{where}: description must be text of at most {MAX_DESCRIPTION} characters"
        )
        description = ""
    remind = _duration(raw.get("remind_every"), f"{where}: remind_every", problems)
    escalate = _duration(raw.get("escalate_after"), f"{where}: escalate_after", problems)
    escalate_to = raw.get("escalate_to", "")
    if not isinstance(escalate_to, str):
        problems.append(f"{where}: escalate_to must be a Slack user group id")
        escalate_to = ""
    elif escalate_to:
        problem = group_problem(f"{where}: escalate_to", escalate_to)
        if problem:
            problems.append(problem)
    if bool(escalate) != bool(escalate_to):
        problems.append(f"{where}: escalate_after and escalate_to go together")
    return Rule(
        name,
        approvers,
        groups,
        quorum,
        allow_self,
        description,
        remind,
        escalate,
        escalate_to,
    )


# -- where the document comes from ---------------------------------------------------


class PolicySource(Protocol):
    def load(self) -> PolicyBook: ...


class NoPolicies:
    """A deployment without a policy document: ad-hoc approvers only, no admins."""

    def load(self) -> PolicyBook:
        return PolicyBook()


class FilePolicies:
    """The local stack's document: read at each use (it is small), so edits apply at once."""

    def __init__(self, path: Path, *, local: bool = True):
        self._path = path
        self._local = local

    def load(self) -> PolicyBook:
        try:
            text = self._path.read_text()
        except FileNotFoundError:
            return PolicyBook()
        except OSError as exc:
            raise ConfigError(f"cannot read the policy file {self._path}: {exc}") from exc
        return PolicyBook.parse(text, source=str(self._path), local=self._local)


class SsmPolicies:
    """The deployed document: one SSM parameter, read through Powertools Parameters.

    Cached for `max_age` seconds per sandbox, so a click or a kickoff costs no SSM call
    on a warm Lambda; an edit of the parameter applies within that time.
    """

    def __init__(self, name: str, client_factory: Callable[[], Any], max_age: int = 60):
        self._name = name
        self._client_factory = client_factory
        self._max_age = max_age
        self._provider: Any = None
        self._absent_until = 0.0  # monotonic time until which "no parameter" is believed

    def load(self) -> PolicyBook:
        """The document; none (ad-hoc approvers only) while the parameter does not exist."""
        from aws_lambda_powertools.utilities.parameters import SSMProvider
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        if self._absent_until > time.monotonic():
            return PolicyBook()
        if self._provider is None:
            self._provider = SSMProvider(boto3_client=self._client_factory())
        try:
            text = self._provider.get(self._name, max_age=self._max_age)
        except GetParameterError as exc:
            # Powertools wraps every error; the SSM error it wrapped is its context.
            if _parameter_not_found(exc.__context__):
                # `signoff policies push` creates the parameter: until then, no document.
                self._absent_until = time.monotonic() + self._max_age
                return PolicyBook()
            raise BackendError(f"cannot read the policy parameter {self._name}: {exc}") from exc
        return PolicyBook.parse(str(text), source=f"SSM parameter {self._name}")


def _parameter_not_found(exc: BaseException | None) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") == (
        "ParameterNotFound"
    )


# -- the deployed document as data: read with its version, pushed by the CLI --------------

# SSM parameter values: 4 KB in the Standard tier, 8 KB in the Advanced tier. The CLI
# writes with the Intelligent-Tiering tier: Standard (free) while the document fits,
# Advanced once it is larger.
MAX_PARAMETER_BYTES = 8192


@dataclass(frozen=True)
class PolicyDocument:
    """The deployed document as SSM holds it: parsed, with its version and when it changed."""

    book: PolicyBook
    parameter: str
    version: int
    modified: datetime | None
    text: str


@dataclass(frozen=True)
class PushResult:
    parameter: str
    version: int
    tier: str  # Standard or Advanced, as SSM chose it ("" when nothing was written)
    changed: bool  # False: the same text was already in force, nothing was written
    book: PolicyBook


def read_policies(client: Any, name: str) -> PolicyDocument | None:
    """The document in SSM parameter `name`; None when it does not exist (no document).

    ConfigError (naming the parameter and its version) when the document is broken,
    BackendError when SSM cannot be read.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        parameter = client.get_parameter(Name=name)["Parameter"]
    except ClientError as exc:
        if _parameter_not_found(exc):
            return None
        raise BackendError(f"cannot read the policy parameter {name}: {exc}") from exc
    except BotoCoreError as exc:
        raise BackendError(f"cannot read the policy parameter {name}: {exc}") from exc
    version = int(parameter.get("Version") or 0)
    text = str(parameter.get("Value", ""))
    book = PolicyBook.parse(text, source=f"SSM parameter {name} (version {version})")
    return PolicyDocument(book, name, version, parameter.get("LastModifiedDate"), text)


def check_document(text: str, source: str) -> PolicyBook:
    """A document as `policies push` accepts it: ValidationError lists every problem."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if not text.strip():
        raise ValidationError(
            f"{source} is empty; to allow ad-hoc approvers and nothing else, push a document "
            "that says `allow_ad_hoc: true`"
        )
    if size > MAX_PARAMETER_BYTES:
        raise ValidationError(
            f"{source} is {size:,} bytes; the SSM parameter holds at most "
            f"{MAX_PARAMETER_BYTES:,} bytes (8 KB, its Advanced tier)"
        )
    try:
        return PolicyBook.parse(text, source=source)
    except ConfigError as exc:
        raise ValidationError(str(exc)) from None


def push_policies(client: Any, name: str, text: str, source: str) -> PushResult:
    """Check the document whole, then write it to SSM parameter `name` as a new version.

    Nothing is written when it has a problem (ValidationError lists them all) or when the
    same text is already in force (`changed` is False). Approvals already running keep
    the rules they started with: each record holds its own copy.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    book = check_document(text, source)
    try:
        current = client.get_parameter(Name=name)["Parameter"]
    except ClientError as exc:
        if not _parameter_not_found(exc):
            raise BackendError(f"cannot read the policy parameter {name}: {exc}") from exc
        current = None
    except BotoCoreError as exc:
        raise BackendError(f"cannot read the policy parameter {name}: {exc}") from exc
    if current is not None and current.get("Value") == text:
        return PushResult(name, int(current.get("Version") or 0), "", False, book)
    try:
        written = client.put_parameter(
            Name=name,
            Value=text,
            Type="String",
            Overwrite=True,
            Tier="Intelligent-Tiering",
            Description="signoff approval policies (written by `signoff policies push`)",
        )
    except (ClientError, BotoCoreError) as exc:
        raise BackendError(f"writing the policy parameter {name} failed: {exc}") from exc
    return PushResult(name, int(written["Version"]), str(written.get("Tier", "")), True, book)


# -- kickoff -------------------------------------------------------------------------


class GroupDirectory(Protocol):
    def members(self, group_id: str) -> tuple[str, ...]:
        """The group's members; ValidationError when the group cannot be resolved."""
        ...


class SlackGroups:
    """User groups through Slack's `usergroups.users.list` (the bot needs usergroups:read)."""

    def __init__(self, client_factory: Callable[[], Any]):
        self._client_factory = client_factory

    def members(self, group_id: str) -> tuple[str, ...]:
        from slack_sdk.errors import SlackApiError

        try:
            response = self._client_factory().usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            error = exc.response.get("error", "error")
            raise ValidationError(
                f"the user group {group_id} cannot be resolved (Slack says {error}): "
                "check the id, and that the bot may read user groups (usergroups:read)"
            ) from exc
        except OSError as exc:
            raise BackendError(f"Slack usergroups.users.list failed: {exc!r}") from exc
        users = response.get("users") or []
        return tuple(str(u) for u in users)


def resolve(request: StartRequest, book: PolicyBook, groups: GroupDirectory) -> StartRequest:
    """The request with its rules applied and every group's members known.

    A named policy supplies the approvers, groups, quorum and self-approval; an ad-hoc
    request keeps what it named and never allows self-approval. ValidationError (nothing
    is written) for an unknown policy, a forbidden ad-hoc list, a group that cannot be
    resolved or has no members, or a quorum nobody could reach.
    """
    rule = book.check(request)
    if rule is not None:
        request = replace(
            request,
            approvers=rule.approvers,
            approver_groups=rule.approver_groups,
            min_approvals=rule.min_approvals,
            allow_self_approval=rule.allow_self_approval,
            members=(),
            remind_every=rule.remind_every,
            escalate_after=rule.escalate_after,
            escalate_to=rule.escalate_to,
        )
    else:
        request = replace(
            request,
            allow_self_approval=False,
            members=(),
            remind_every=None,
            escalate_after=None,
            escalate_to="",
        )
    members: list[str] = []
    for group_id in request.approver_groups:
        found = groups.members(group_id)
        if not found:
            raise ValidationError(f"the user group {group_id} has no members: nobody could approve")
        members += found
    members = list(dict.fromkeys(members))
    if len(members) > MAX_MEMBERS:
        raise ValidationError(
            f"the approver groups hold {len(members)} people; at most {MAX_MEMBERS}"
        )
    # Validated again as a whole, with everyone known: the quorum must be reachable.
    return StartRequest(**{**_fields(request), "members": tuple(members)})


def _fields(request: StartRequest) -> dict[str, Any]:
    return {name: getattr(request, name) for name in request.__dataclass_fields__}
