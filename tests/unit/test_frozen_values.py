"""`model.frozen` makes the same value types as `@dataclass(frozen=True)`, without
compiling their methods when they are defined (the cold start's cost).

Each check runs the same class made both ways and asks for the same behaviour.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
from collections.abc import Mapping
from dataclasses import FrozenInstanceError, dataclass, field
from datetime import UTC, datetime

import pytest

from signoff.frozen import frozen
from signoff.model import AuditEvent, AuditKind, Policy


def _next_id() -> str:
    _next_id.count += 1  # type: ignore[attr-defined]
    return f"id-{_next_id.count}"  # type: ignore[attr-defined]


_next_id.count = 0  # type: ignore[attr-defined]


@frozen(kw_only=True)
class Kw:
    name: str
    size: int = 1
    tags: Mapping[str, str] = field(default_factory=dict)
    ref: str = field(default_factory=_next_id, compare=False)
    secret: str = field(default="", repr=False)


@dataclass(frozen=True, kw_only=True)
class KwDataclass:
    name: str
    size: int = 1
    tags: Mapping[str, str] = field(default_factory=dict)
    ref: str = field(default_factory=_next_id, compare=False)
    secret: str = field(default="", repr=False)


@frozen(kw_only=True)
class Ref:
    name: str
    ref: str = field(default_factory=_next_id, compare=False)


@dataclass(frozen=True, kw_only=True)
class RefDataclass:
    name: str
    ref: str = field(default_factory=_next_id, compare=False)


@frozen
class Pos:
    first: str
    second: int = 2

    def __post_init__(self) -> None:
        if not self.first:
            raise ValueError("first is empty")


@dataclass(frozen=True)
class PosDataclass:
    first: str
    second: int = 2

    def __post_init__(self) -> None:
        if not self.first:
            raise ValueError("first is empty")


def test_fields_defaults_and_factories_are_those_of_a_dataclass() -> None:
    ours, theirs = Kw(name="a"), KwDataclass(name="a")
    assert [f.name for f in dataclasses.fields(ours)] == [
        f.name for f in dataclasses.fields(theirs)
    ]
    assert (ours.name, ours.size, ours.tags, ours.secret) == ("a", 1, {}, "")
    assert ours.tags is not Kw(name="b").tags  # a fresh dict each time, not shared
    assert ours.ref != Kw(name="a").ref  # the factory runs per instance
    assert dataclasses.asdict(ours).keys() == dataclasses.asdict(theirs).keys()
    assert dataclasses.is_dataclass(Kw)


def test_equality_and_hash_follow_the_compared_fields() -> None:
    one, other = Kw(name="a", size=2), Kw(name="a", size=2)
    assert one.ref != other.ref
    assert one == other  # ref is compare=False, as on the dataclass
    assert hash(Ref(name="a")) == hash(Ref(name="a")) == hash(RefDataclass(name="a"))
    assert one != Kw(name="a", size=3)
    elsewhere: object = KwDataclass(name="a", size=2)
    assert one != elsewhere  # another class is never equal
    text: object = "a"
    assert (one == text) is False
    assert hash(Pos("x", 3)) == hash(PosDataclass("x", 3))  # the same fields' tuple
    with pytest.raises(TypeError, match="unhashable"):
        hash(Kw(name="a", tags={"k": "v"}))  # a dict field: unhashable, as on a dataclass
    assert len({Pos("x", 3), Pos("x", 3), Pos("y", 3)}) == 2


def test_repr_is_the_dataclass_repr() -> None:
    ours = Kw(name="a", size=2, ref="r1", secret="s")
    theirs = KwDataclass(name="a", size=2, ref="r1", secret="s")
    assert repr(ours) == repr(theirs).replace("KwDataclass", "Kw")
    assert "s'" not in repr(ours).split("ref=")[1]  # repr=False stays out


def test_instances_are_frozen() -> None:
    ours = Kw(name="a")
    with pytest.raises(FrozenInstanceError):
        ours.name = "b"  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del ours.name
    with pytest.raises(FrozenInstanceError):
        ours.other = 1  # type: ignore[attr-defined]
    assert ours.name == "a"


def test_replace_copy_and_pickle_work_as_on_a_dataclass() -> None:
    ours = Kw(name="a", tags={"k": "v"})
    changed = dataclasses.replace(ours, size=5)
    assert (changed.name, changed.size, changed.tags, changed.ref) == ("a", 5, {"k": "v"}, ours.ref)
    assert copy.copy(ours) == ours
    assert copy.deepcopy(ours) == ours
    assert pickle.loads(pickle.dumps(ours)) == ours


def test_arguments_are_checked_as_a_dataclass_checks_them() -> None:
    with pytest.raises(TypeError, match="name"):
        Kw()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="colour"):
        Kw(name="a", colour="red")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="positional"):
        Kw("a")  # type: ignore[misc]
    with pytest.raises(TypeError):
        KwDataclass("a")  # type: ignore[misc]


def test_positional_fields_and_post_init() -> None:
    assert Pos("x") == Pos(first="x", second=2)
    assert (Pos("x", 3).first, Pos("x", 3).second) == (PosDataclass("x", 3).first, 3)
    assert repr(Pos("x", 3)) == repr(PosDataclass("x", 3)).replace("PosDataclass", "Pos")
    assert Pos.__match_args__ == PosDataclass.__match_args__ == ("first", "second")
    for made in (Pos, PosDataclass):
        with pytest.raises(ValueError, match="first is empty"):
            made("")
        with pytest.raises(TypeError, match="multiple values"):
            made("x", first="y")  # type: ignore[misc]
        with pytest.raises(TypeError):
            made("x", 2, 3)  # type: ignore[call-arg]


def test_a_class_that_defines_its_own_methods_is_refused() -> None:
    with pytest.raises(TypeError, match="__eq__"):

        @frozen
        class Odd:
            x: int

            def __eq__(self, other: object) -> bool:
                return True

            __hash__ = None  # type: ignore[assignment]


def test_the_model_values_are_made_this_way() -> None:
    # The domain's values are frozen values, not compiled dataclasses (their cost).
    for cls in (Policy, AuditEvent):
        assert "__frozen_spec__" in vars(cls)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    event = AuditEvent(kind=AuditKind.CREATED, at=at, actor="U1")
    assert event == AuditEvent(kind=AuditKind.CREATED, at=at, actor="U1")  # ref not compared
