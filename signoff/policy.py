"""The deployment's approval policies: a document of named rules, and kickoff against it.

The document (YAML, or JSON, which YAML reads too) is the deployment's, not the
requester's: on AWS an SSM parameter, locally a file under the stack's home. A request
names a policy (`--policy prod-deploy`) or, where the document allows it, lists its
approvers ad hoc. Kickoff resolves either into a `StartRequest` whose approvers are all
known — the groups' members looked up once, through Slack — and that is what the record
keeps (see docs/architecture.md, "Groups are a snapshot").
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from signoff.errors import BackendError, ConfigError, ValidationError
from signoff.limits import reminder_problem
from signoff.model import (
    MAX_APPROVERS,
    MAX_GROUPS,
    MAX_MEMBERS,
    StartRequest,
    duration_problem,
    format_duration,
    found,
    group_problem,
    name_problem,
    parse_duration,
    person_problem,
    shown,
)
from signoff.text import visible

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
# A generous bound on what a deployment's rules take (the SSM parameter holds at most 8 KB;
# 64 KiB is some 1,000 policies), and on a first parse: a few hundred milliseconds with
# libyaml (benchmarks/policy_parse.py); later reads of the same bytes are not parsed again.
MAX_DOCUMENT_BYTES = 64 * 1024
# A document is a mapping of mappings of lists: anything nested deeper is not one.
MAX_DEPTH = 16
MAX_PROBLEMS = 20  # listed in one error; the rest are counted
MAX_PROBLEM = 300  # characters of one YAML error, which may quote the document


@dataclass(frozen=True, kw_only=True)
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


@dataclass(frozen=True, kw_only=True)
class PolicyBook:
    """The deployment's policy document, parsed and checked."""

    policies: Mapping[str, Rule] = field(default_factory=dict)
    allow_ad_hoc: bool = True
    admins: tuple[str, ...] = ()
    # Local stack only: the user groups the Slack stand-in serves (Slack holds them on AWS).
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | bytes, *, source: str, local: bool = False) -> PolicyBook:
        """Parse a YAML or JSON document; ConfigError lists everything wrong with it.

        Parsed once per content: the same bytes again (a file re-read at each use, a
        parameter re-fetched) return the book, or the error, found the first time.
        """
        raw = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
        key = (hashlib.sha256(raw).digest(), source, local)
        with _PARSED_LOCK:
            found = _PARSED.get(key)
        if found is None:
            try:
                found = cls.from_data(_load_yaml(raw, source), source=source, local=local)
            except ConfigError as exc:
                found = exc
            with _PARSED_LOCK:
                _PARSED[key] = found
                while len(_PARSED) > _PARSED_KEEP:
                    _PARSED.popitem(last=False)
        if isinstance(found, ConfigError):
            raise ConfigError(str(found))
        return found

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
                f"unknown key(s) {', '.join(map(shown, unknown))} (known: {', '.join(allowed)})"
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
                where = f"group {shown(str(group_id))}"
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
            listed = problems[:MAX_PROBLEMS]
            if len(problems) > MAX_PROBLEMS:
                listed.append(f"and {len(problems) - MAX_PROBLEMS} more problem(s)")
            raise ConfigError(f"{source}: " + "; ".join(listed))
        return cls(policies=policies, allow_ad_hoc=allow_ad_hoc, admins=admins, groups=groups)

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
    problems += found(*(person_problem(f"{where}: user", v) for v in value))
    if len(set(value)) != len(value):
        problems.append(f"{where} names someone more than once")
    return tuple(value)


def _groups(value: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(g, str) for g in value):
        problems.append(f"{where}: approver_groups must be a list of Slack user group ids")
        return ()
    problems += found(*(group_problem(f"{where}: approver group", g) for g in value))
    return tuple(value)


def _duration(raw: Any, where: str, problems: list[str]) -> timedelta | None:
    if raw is None:
        return None
    try:
        if not isinstance(raw, str | int) or isinstance(raw, bool):
            raise ValidationError("not a duration")
        value = parse_duration(str(raw))
    except (ValidationError, OverflowError, ValueError):
        quoted = shown(str(raw)) if isinstance(raw, str | int | float) else "(not text)"
        problems.append(f"{where} {quoted} is not a duration (e.g. 30m, 2h, 1d)")
        return None
    problem = duration_problem(where, value, MIN_REMINDER)
    if problem:
        problems.append(problem)
        return None
    return value


def _rule(name: str, raw: Any, problems: list[str]) -> Rule | None:
    where = f"policy {shown(name)}"
    problems += found(name_problem("policy", name))
    if not isinstance(raw, dict):
        problems.append(f"{where} must be a mapping of rules")
        return None
    unknown = [str(k) for k in raw if k not in RULE_KEYS]
    if unknown:
        problems.append(
            f"{where}: unknown key(s) {', '.join(map(shown, unknown))} "
            f"(known: {', '.join(RULE_KEYS)})"
        )
    approvers = _people(raw.get("approvers", []), f"{where}: approvers", problems)
    groups = _groups(raw.get("approver_groups", []), where, problems)
    quorum = _quorum(raw, approvers, groups, where, problems)
    allow_self = raw.get("allow_self_approval", False)
    if not isinstance(allow_self, bool):
        problems.append(f"{where}: allow_self_approval must be true or false")
        allow_self = False
    description = raw.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        problems.append(
            f"{where}: description must be text of at most {MAX_DESCRIPTION} characters"
        )
        description = ""
    remind, escalate, escalate_to = _schedule(raw, where, problems)
    too_many = reminder_problem(remind, escalate, quorum)  # AWS's durable operations
    if too_many:
        problems.append(f"{where}: {too_many}")
    return Rule(
        name=name,
        approvers=approvers,
        approver_groups=groups,
        min_approvals=quorum,
        allow_self_approval=allow_self,
        description=description,
        remind_every=remind,
        escalate_after=escalate,
        escalate_to=escalate_to,
    )


def _quorum(
    raw: dict[Any, Any],
    approvers: tuple[str, ...],
    groups: tuple[str, ...],
    where: str,
    problems: list[str],
) -> int:
    """The rule's min_approvals (1 when it is not one), and whether the people fit it."""
    if len(approvers) > MAX_APPROVERS:
        problems.append(f"{where}: at most {MAX_APPROVERS} approvers")
    if len(groups) > MAX_GROUPS:
        problems.append(f"{where}: at most {MAX_GROUPS} approver groups")
    if not approvers and not groups:
        problems.append(f"{where}: name approvers, approver_groups, or both")
    quorum: int = 1
    asked = raw.get("min_approvals", 1)
    if isinstance(asked, bool) or not isinstance(asked, int) or not 1 <= asked <= MAX_APPROVERS:
        problems.append(f"{where}: min_approvals must be a whole number from 1 to {MAX_APPROVERS}")
    else:
        quorum = asked
    if not groups and quorum > len(approvers) > 0:
        problems.append(
            f"{where}: min_approvals is {quorum} but only {len(approvers)} approver(s) are named"
        )
    return quorum


def _schedule(
    raw: dict[Any, Any], where: str, problems: list[str]
) -> tuple[timedelta | None, timedelta | None, str]:
    """The rule's remind_every, escalate_after and escalate_to."""
    remind = _duration(raw.get("remind_every"), f"{where}: remind_every", problems)
    escalate = _duration(raw.get("escalate_after"), f"{where}: escalate_after", problems)
    escalate_to = raw.get("escalate_to", "")
    if not isinstance(escalate_to, str):
        problems.append(f"{where}: escalate_to must be a Slack user group id")
        escalate_to = ""
    elif escalate_to:
        problems += found(group_problem(f"{where}: escalate_to", escalate_to))
    if bool(escalate) != bool(escalate_to):
        problems.append(f"{where}: escalate_after and escalate_to go together")
    return remind, escalate, escalate_to


# -- reading a document ----------------------------------------------------------------

# What was parsed, by content: the book, or the error that content gets (a few kept).
_PARSED: OrderedDict[tuple[bytes, str, bool], PolicyBook | ConfigError] = OrderedDict()
_PARSED_LOCK = threading.Lock()
_PARSED_KEEP = 16


def _load_yaml(raw: bytes, source: str) -> Any:
    """The document's data; ConfigError (one line, naming `source` and the line) for a
    document too large, not UTF-8, not YAML, or using what a policy document has no use for:
    anchors and aliases (the "billion laughs" that expand a few hundred bytes into
    gigabytes), keys given twice (which YAML would quietly resolve as the last one) or deep
    nesting. Read with libyaml where PyYAML has it (7x faster), else in Python."""
    import yaml  # type: ignore[import-untyped]

    if len(raw) > MAX_DOCUMENT_BYTES:
        raise ConfigError(
            f"{source} is {len(raw):,} bytes; a policy document is at most "
            f"{MAX_DOCUMENT_BYTES // 1024} KiB"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{source}, line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
            "save the policy document as UTF-8"
        ) from None
    unprintable = yaml.reader.Reader.NON_PRINTABLE.search(text)
    if unprintable:
        line = text[: unprintable.start()].count("\n") + 1
        code = ord(unprintable.group())
        raise ConfigError(f"{source}, line {line}: character U+{code:04X} is not allowed in YAML")
    if not text.strip():
        return {}
    loader = None
    try:
        _check_events(yaml.parse(text, Loader=_strict_loader()))
        loader = _strict_loader()(text)
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        said = _said(", ".join(p for p in (exc.context, exc.problem) if p))
        if isinstance(exc, yaml.scanner.ScannerError | yaml.parser.ParserError):
            said = f"not valid YAML or JSON ({said})"
        mark = exc.problem_mark or exc.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{source}{where}: {said}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML or JSON: {_said(str(exc))}") from None
    finally:
        if loader is not None:
            loader.dispose()


def _said(problem: str | None) -> str:
    """A YAML error's sentence on one line, and short (it may quote the document)."""
    said = " ".join((problem or "not valid YAML or JSON").split())
    return visible(said if len(said) <= MAX_PROBLEM else said[: MAX_PROBLEM - 1] + "…")


_NO_SHORTHANDS = (
    "anchors (&name), aliases (*name) and merge keys (<<) are not allowed in a policy "
    "document: write each value out"
)


def _check_events(events: Iterable[Any]) -> None:
    """Refuse anchors, aliases and deep nesting from the parser's events, before any node
    is built (an alias bomb is a few hundred bytes of events)."""
    import yaml

    depth = 0
    for event in events:
        if getattr(event, "anchor", None):  # an alias, or a value that sets an anchor
            sign = "*" if isinstance(event, yaml.AliasEvent) else "&"
            raise yaml.composer.ComposerError(
                None, None, f"{_NO_SHORTHANDS} (found {sign}{event.anchor})", event.start_mark
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", event.start_mark
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


@functools.cache
def _strict_loader() -> type:
    """YAML's safe loader (libyaml's where PyYAML has it) refusing repeated keys, and
    values Python cannot build (a 5,000-digit number, 2026-13-45), with their line."""
    import yaml

    base = yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader

    class StrictLoader(base):  # type: ignore[misc, valid-type]
        def construct_object(self, node: Any, deep: bool = False) -> Any:
            try:
                return super().construct_object(node, deep)
            except (ValueError, OverflowError) as exc:
                raise yaml.constructor.ConstructorError(
                    None, None, f"cannot read this value: {exc}", node.start_mark
                ) from None

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            if isinstance(node, yaml.MappingNode):
                seen: dict[Any, Any] = {}
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        raise yaml.constructor.ConstructorError(
                            None, None, f"{_NO_SHORTHANDS} (found <<)", key_node.start_mark
                        )
                    key = self.construct_object(key_node, deep=True)
                    try:
                        first = seen.setdefault(key, key_node.start_mark)
                    except TypeError:
                        continue  # unhashable: the base class says so
                    if first is not key_node.start_mark:
                        raise yaml.constructor.ConstructorError(
                            None,
                            None,
                            f"the key {shown(str(key))} is given twice (first on line "
                            f"{first.line + 1}); give each key once",
                            key_node.start_mark,
                        )
            return super().construct_mapping(node, deep)

    return StrictLoader


# -- where the document comes from ---------------------------------------------------


class PolicySource(Protocol):
    def load(self) -> PolicyBook: ...


class NoPolicies:
    """A deployment without a policy document: ad-hoc approvers only, no admins."""

    def load(self) -> PolicyBook:
        return PolicyBook()


class FilePolicies:
    """The local stack's document: read at each use, so edits apply at once (parsed again
    only when the bytes change). A missing file is no document, unless it is `required`
    (named on the command line): then it is a ValidationError naming it."""

    def __init__(self, path: Path, *, local: bool = True, required: bool = False):
        self._path = path
        self._local = local
        self._required = required
        self._read = False  # a document was read from the file once

    def load(self) -> PolicyBook:
        try:
            with self._path.open("rb") as file:
                # One byte past the cap is enough to refuse it; a huge file is never read.
                raw = file.read(MAX_DOCUMENT_BYTES + 1)
                size = os.fstat(file.fileno()).st_size
        except FileNotFoundError:
            if self._required:
                raise ValidationError(
                    f"the policy file {self._path} does not exist: check the path "
                    "(or leave --policies out to have none)"
                ) from None
            if self._read:
                # Gone while in use: not "no policies" (ad hoc allowed, no admins) in silence.
                raise ConfigError(
                    f"the policy file {self._path} was removed while signoff used it: put it "
                    "back, or restart signoff dev to run without policies"
                ) from None
            return PolicyBook()
        except OSError as exc:
            raise ConfigError(
                f"cannot read the policy file {self._path}: {exc.strerror or exc}"
            ) from None
        if len(raw) > MAX_DOCUMENT_BYTES:
            raise ConfigError(
                f"{self._path} is {max(size, len(raw)):,} bytes; a policy document is at "
                f"most {MAX_DOCUMENT_BYTES // 1024} KiB"
            )
        book = PolicyBook.parse(raw, source=str(self._path), local=self._local)
        self._read = True
        return book


class SsmPolicies:
    """The deployed document: one SSM parameter, read through Powertools Parameters.

    Cached for `max_age` seconds per sandbox, so a click or a kickoff costs no SSM call
    on a warm Lambda; an edit of the parameter applies within that time. The text fetched
    again after that is parsed again only if it changed.
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
