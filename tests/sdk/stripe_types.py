"""Check a Stripe object against the types stripe-python declares for it (its class
annotations, generated from Stripe's OpenAPI spec): every field the simulator sent must have
the declared type, a Literal field one of its values. stripe's objects accept anything at run
time, so this is what makes the SDK a judge of field types."""

import types
import typing
from typing import Any

import stripe


class _Names(dict[str, Any]):
    """stripe-python's annotations name its classes lazily; a name it does not export (a
    private resource) is left unchecked."""

    def __missing__(self, name: str) -> Any:
        try:
            return getattr(stripe, name)
        except AttributeError:
            return Any


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, localns=_Names())


def type_errors(value: Any, declared: Any, where: str) -> list[str]:
    """Where `value` does not fit the declared type (an empty list when it does)."""
    origin, args = typing.get_origin(declared), typing.get_args(declared)
    if declared is Any:
        return []
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return [] if type(None) in args else [f"{where}: null, declared {declared}"]
        # stripe declares an enum as Union[Literal[...], str] so that a newer API's values do
        # not break it; the simulator speaks a pinned version, so it must send a listed value.
        listed = [
            v for a in args if typing.get_origin(a) is typing.Literal for v in typing.get_args(a)
        ]
        if listed and isinstance(value, str):
            return [] if value in listed else [f"{where}: {value!r} is not one of {listed}"]
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return type_errors(value, options[0], where)
        if all(type_errors(value, arg, where) for arg in options):
            return [f"{where}: {value!r} is none of {declared}"]
        return []
    if declared is type(None):
        return [] if value is None else [f"{where}: {value!r} is not null"]
    if value is None:
        return [f"{where}: null, declared {declared}"]
    if origin is typing.Literal:
        return [] if value in args else [f"{where}: {value!r} is not one of {args}"]
    if origin in (list, typing.List):  # noqa: UP006
        if not isinstance(value, list):
            return [f"{where}: {value!r} is not a list"]
        return [e for i, v in enumerate(value) for e in type_errors(v, args[0], f"{where}[{i}]")]
    if origin in (dict, typing.Dict):  # noqa: UP006
        if not isinstance(value, dict):
            return [f"{where}: {value!r} is not an object"]
        return [e for k, v in value.items() for e in type_errors(v, args[1], f"{where}.{k}")]
    if isinstance(declared, type) and issubclass(declared, stripe.StripeObject):
        if not isinstance(value, dict):
            return [f"{where}: {value!r} is not a {declared.__name__}"]
        return object_errors(value, declared, where)
    if declared is int and isinstance(value, bool):
        return [f"{where}: {value!r} is a bool, declared int"]
    if isinstance(declared, type) and not isinstance(value, declared):
        return [f"{where}: {value!r} is not {declared.__name__}"]
    return []


def object_errors(obj: dict[str, Any], cls: type, where: str = "") -> list[str]:
    hints = _hints(cls)
    where = where or cls.__name__
    return [
        error
        for key, value in obj.items()
        if key in hints
        for error in type_errors(value, hints[key], f"{where}.{key}")
    ]
