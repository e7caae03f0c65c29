"""The annotations of a `TypedModule`: its array fields, and what to check for each method.

Annotations are evaluated on the first call, each on its own. One that cannot be, as a name
imported only under `if TYPE_CHECKING:`, is not checked; if it names one of jaxtyping's
array types, that would switch its checks off unseen, so the call raises `TypeError` instead.
"""

import ast
import dataclasses
import inspect
import sys
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import jaxtyping
from jaxtyping._array_types import _SymbolicDim

from ._mismatch import mentions_array

# Reading the annotations. Each is evaluated on its own, as `typing.get_type_hints` would, so
# that one which cannot be (a name imported only under `if TYPE_CHECKING:`) leaves the others
# checked. It is skipped, unless it names an array type: then skipping it would silently switch
# off the checks it asks for, and the first call says so instead.

# jaxtyping's array types by name, as an annotation that cannot be evaluated still shows them.
_ARRAY_TYPES = frozenset(
    name
    for name, value in vars(jaxtyping).items()
    if isinstance(value, type) and issubclass(value, jaxtyping.AbstractDtype)
) | {"PRNGKeyArray"}


def _names_an_array_type(annotation: Any) -> bool:
    """Whether `annotation`, evaluated or not, names one of jaxtyping's array types."""
    if isinstance(annotation, typing.ForwardRef):
        annotation = annotation.__forward_arg__
    if not isinstance(annotation, str):
        args = typing.get_args(annotation)
        return mentions_array(annotation) or any(_names_an_array_type(arg) for arg in args)
    try:
        tree = ast.parse(annotation, mode="eval")
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in _ARRAY_TYPES:
            return True
        if isinstance(node, ast.Attribute) and node.attr in _ARRAY_TYPES:
            return True
    return False


def _evaluate(
    annotation: Any,
    globalns: dict[str, Any],
    localns: Mapping[str, Any] | None,
    *,
    is_class: bool,
    what: str,
) -> Any:
    """`annotation` evaluated as `typing.get_type_hints` would, or `None` (which no evaluated
    annotation is) when it cannot be and names no array type. `what` names it in the error."""
    if isinstance(annotation, str):
        annotation = typing.ForwardRef(annotation, is_argument=not is_class, is_class=is_class)
    holder = types.SimpleNamespace(__annotations__={"hint": annotation})
    try:
        return typing.get_type_hints(holder, globalns, localns)["hint"]
    except Exception as error:
        if not _names_an_array_type(annotation):
            return None
        text = getattr(annotation, "__forward_arg__", annotation)
        missing = getattr(error, "name", None) if isinstance(error, NameError) else None
        names = f"`{missing}`" if missing else "the names it uses"
        raise TypeError(
            f"{what} cannot be checked: its annotation `{text}` does not evaluate "
            f"({type(error).__name__}: {error}): import {names} at run time, "
            "not only under `if TYPE_CHECKING:`"
        ) from error


def field_hints(cls: type) -> tuple[tuple[str, Any], ...]:
    """The array fields of `cls` with their annotations, in field order, those with a
    symbolic axis (`"2*mlp embed"`) last: it may use a dim that a later field binds."""
    fields = [f.name for f in dataclasses.fields(cls)]
    annotated: dict[str, tuple[Any, type]] = {}
    for base in reversed(cls.__mro__):  # a subclass's annotation of a field wins
        for name, annotation in inspect.get_annotations(base).items():
            if name in fields:
                annotated[name] = (annotation, base)
    hints = []
    for name in fields:
        if name not in annotated:
            continue
        annotation, base = annotated[name]
        module = getattr(sys.modules.get(base.__module__), "__dict__", {})
        # As typing.get_type_hints reads a class: its module's names first, then its own.
        what = f'{cls.__name__}: field "{name}"'
        hint = _evaluate(annotation, dict(vars(base)), module, is_class=True, what=what)
        if mentions_array(hint):
            hints.append((name, hint))
    return tuple(sorted(hints, key=lambda item: _symbolic(item[1])))


def _symbolic(hint: Any) -> bool:
    """Whether `hint`, or one of its members or arguments, has a symbolic axis."""
    dims = getattr(hint, "dims", None)
    if isinstance(dims, tuple):
        return any(isinstance(dim, _SymbolicDim) for dim in dims)
    return any(_symbolic(argument) for argument in typing.get_args(hint))


# How a function sits in its class: a method or a property getter takes the module, a class
# method its class, a static method neither.
_Kind = Literal["method", "property", "classmethod", "staticmethod"]


def _signature_name(parameter: inspect.Parameter) -> str:
    """`x`, `*xs` or `**xs`, as the signature writes it."""
    if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
        return f"*{parameter.name}"
    if parameter.kind is inspect.Parameter.VAR_KEYWORD:
        return f"**{parameter.name}"
    return parameter.name


def method_hints(cls: type, fn: Callable[..., Any]) -> dict[str, Any]:
    """The annotations of `fn`, a function of `cls`, each evaluated on its own (`_evaluate`):
    those that cannot be evaluated and name no array type are left out."""
    globalns = getattr(inspect.unwrap(fn), "__globals__", {})
    hints = {}
    for name, annotation in inspect.get_annotations(fn).items():
        value = "the return value" if name == "return" else f'argument "{name}"'
        what = f"{cls.__name__}.{fn.__name__}: {value}"
        hint = _evaluate(annotation, globalns, None, is_class=False, what=what)
        if hint is not None:
            hints[name] = hint
    return hints


@dataclass(frozen=True)
class _Plan:
    """What to check for one method: resolved once, on its first checked call."""

    fields: tuple[tuple[str, Any], ...]  # none for a static or class method
    # (name, hint) of the annotated parameters in signature order, self or cls excluded;
    # `*xs` and `**xs` are named as in the signature
    params: tuple[tuple[str, Any], ...]
    positional: tuple[str, ...]  # names that may be passed positionally, in order
    keywords: frozenset[str]  # names that may be passed by keyword
    # the default of each parameter annotated with an array type that has one (not None)
    defaults: dict[str, Any]
    returns: Any  # the return hint, or None when there is none to check


# An argument of one call: its name, value and hint, and how messages name it.
_Argument = tuple[str, Any, Any, str]


def _arguments(plan: _Plan, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[_Argument]:
    """The annotated arguments of one call, in signature order. Each item of `*xs` is its own
    argument, `xs[0]`, `xs[1]`, ...; each of `**xs` goes by its keyword. A default the call
    leaves in place is an argument too: the method computes with it."""
    given = dict(zip(plan.positional, args, strict=False))
    given.update((key, value) for key, value in kwargs.items() if key in plan.keywords)
    found: list[_Argument] = []
    for name, hint in plan.params:
        if name.startswith("**"):
            found += [
                (key, v, hint, f'argument "{key}"')
                for key, v in kwargs.items()
                if key not in plan.keywords
            ]
        elif name.startswith("*"):
            extra = args[len(plan.positional) :]
            for index, v in enumerate(extra):
                label = f"{name[1:]}[{index}]"
                found.append((label, v, hint, f'argument "{label}"'))
        elif name in given:
            found.append((name, given[name], hint, f'argument "{name}"'))
        elif name in plan.defaults:
            found.append((name, plan.defaults[name], hint, f'argument "{name}" (its default)'))
    return found


def _make_plan(cls: type, fn: Callable[..., Any], kind: _Kind) -> _Plan | None:
    hints = method_hints(cls, fn)
    params = list(inspect.signature(fn).parameters.values())
    if kind != "staticmethod":
        params = params[1:]  # self or cls
    positional = tuple(
        p.name
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    )
    keywords = frozenset(
        p.name
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    )
    checked = tuple((_signature_name(p), hints[p.name]) for p in params if p.name in hints)
    returns = hints.get("return")
    if not any(mentions_array(hint) for _, hint in checked) and not mentions_array(returns):
        return None
    return _Plan(
        fields=field_hints(cls) if kind in ("method", "property") else (),
        params=checked,
        positional=positional,
        keywords=keywords,
        defaults={
            p.name: p.default
            for p in params
            if p.name in hints
            and mentions_array(hints[p.name])
            and p.default is not inspect.Parameter.empty
            and p.default is not None
        },
        returns=returns if returns is not None and returns is not type(None) else None,
    )
