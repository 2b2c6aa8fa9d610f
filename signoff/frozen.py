"""Frozen value types defined without compiling code.

A frozen dataclass defined by `@dataclass` generates the source of its methods and compiles
it when the class is defined: about 3.5 M instructions a class, on every cold start of every
function. `frozen` makes the same value types without compiling anything (0.2 M):
`dataclasses` still collects the fields (so `fields`, `replace`, `asdict` and
`is_dataclass` work as before) and shared methods read them. It imports nothing of
signoff's, so every module of the domain may use it (tests/unit/test_layers.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, FrozenInstanceError, dataclass, field, fields
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform, overload

__all__ = ["frozen"]

_T = TypeVar("_T")


class _Spec:
    """What the shared methods of one `frozen` class read: its fields, in order."""

    __slots__ = ("compared", "fields", "hashed", "positional", "post_init", "shown")

    def __init__(self, cls: type) -> None:
        found = fields(cls)
        self.fields = tuple((f.name, f.default, f.default_factory, f.init) for f in found)
        self.positional = tuple(f.name for f in found if f.init and not f.kw_only)
        self.compared = _getter(tuple(f.name for f in found if f.compare))
        self.hashed = _getter(
            tuple(f.name for f in found if (f.compare if f.hash is None else f.hash))
        )
        self.shown = tuple(f.name for f in found if f.repr)
        self.post_init = hasattr(cls, "__post_init__")


def _getter(names: tuple[str, ...]) -> Callable[[object], tuple[object, ...]]:
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda value: (one(value),)
    return lambda value: ()


def _frozen_init(self: Any, *args: Any, **given: Any) -> None:
    cls = type(self)
    spec: _Spec = cls.__frozen_spec__
    if args:
        if len(args) > len(spec.positional):
            raise TypeError(
                f"{cls.__qualname__}() takes {len(spec.positional)} positional arguments "
                f"but {len(args)} were given"
            )
        for name, arg in zip(spec.positional, args, strict=False):
            if name in given:
                raise TypeError(f"{cls.__qualname__}() got multiple values for argument {name!r}")
            given[name] = arg
    values: dict[str, Any] = {}
    missing = []
    for name, default, factory, init in spec.fields:
        if init and name in given:
            values[name] = given.pop(name)
        elif default is not MISSING:
            values[name] = default
        elif factory is not MISSING:
            values[name] = factory()
        elif init:
            missing.append(repr(name))
    if given:
        raise TypeError(
            f"{cls.__qualname__}() got an unexpected keyword argument {next(iter(given))!r}"
        )
    if missing:
        raise TypeError(f"{cls.__qualname__}() missing argument(s): {', '.join(missing)}")
    self.__dict__.update(values)
    if spec.post_init:
        self.__post_init__()


def _frozen_repr(self: Any) -> str:
    shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__frozen_spec__.shown)
    return f"{type(self).__qualname__}({shown})"


def _frozen_eq(self: Any, other: object) -> object:
    if other.__class__ is not self.__class__:
        return NotImplemented
    compared = self.__frozen_spec__.compared
    return bool(compared(self) == compared(other))


def _frozen_hash(self: Any) -> int:
    return hash(self.__frozen_spec__.hashed(self))


def _frozen_setattr(self: Any, name: str, value: object) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


_FROZEN_METHODS = {
    "__init__": _frozen_init,
    "__repr__": _frozen_repr,
    "__eq__": _frozen_eq,
    "__hash__": _frozen_hash,
    "__setattr__": _frozen_setattr,
    "__delattr__": _frozen_delattr,
}


@overload
def frozen(cls: type[_T], /) -> type[_T]: ...


@overload
def frozen(*, kw_only: bool = False) -> Callable[[type[_T]], type[_T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def frozen(cls: type[_T] | None = None, /, *, kw_only: bool = False) -> Any:
    """`@dataclass(frozen=True)` (and `kw_only`), defined without compiling code: the same
    fields, defaults, `__post_init__`, equality, hash, repr and frozenness."""

    def define(cls: type[_T]) -> type[_T]:
        own = cls.__dict__
        clash = [name for name in _FROZEN_METHODS if name in own]
        if clash:
            raise TypeError(f"{cls.__qualname__} defines {', '.join(clash)}: use @dataclass")
        if not cls.__doc__:  # else dataclass would make one with inspect.signature (slow)
            cls.__doc__ = cls.__name__
        made = dataclass(init=False, repr=False, eq=False, kw_only=kw_only)(cls)
        for name, method in _FROZEN_METHODS.items():
            setattr(made, name, method)
        made.__frozen_spec__ = _Spec(made)  # type: ignore[attr-defined]
        return made

    return define if cls is None else define(cls)
