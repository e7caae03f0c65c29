"""`TypedModule`: Equinox modules whose methods are shape-checked at every call.

jaxtyping checks one function call at a time: its dimension names live as long as that call
and never see the module's own fields. `TypedModule` closes that gap. Each method of a
subclass whose annotations mention arrays (and each such static method, class method and
property getter) is wrapped so that, on every call, in a fresh dimension scope:

1. the module's array fields are checked against their annotations, binding their dims
   (a `Linear` whose `weight` is `Float[Array, "out in"]` binds `out` and `in`); a static
   or class method has no module, so no fields;
2. the arguments are checked against theirs, in the same scope, each item of `*args` and
   `**kwargs` against the annotation they share;
3. the method runs (nested calls open scopes of their own);
4. the return value is checked.

Annotations are evaluated on the first call, each on its own. One that cannot be, as a name
imported only under `if TYPE_CHECKING:`, is not checked; if it names one of jaxtyping's
array types, that would switch its checks off unseen, so the call raises `TypeError` instead.

A mismatch raises `ShapeError`, a `jaxtyping.TypeCheckError`, whose message names the module
by its attribute path from the outermost checked call (`GPT.blocks[*].attn.qkv_proj`), the
conflicting axis, the two places that bound it, and the expected and received shapes in the
dimension vocabulary. Under `jax.jit` the checks run once, while tracing, and read only
shapes and dtypes: the compiled program is the same with checks on or off. Eager calls pay
for the checks; `set_checks(False)` (or the environment variable `TYPEDGPT_CHECKS=0`)
switches them off.
"""

import ast
import contextlib
import dataclasses
import functools
import inspect
import os
import sys
import threading
import types
import typing
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import equinox as eqx
import jax
import jaxtyping
import numpy as np
from jaxtyping._storage import pop_shape_memo, push_shape_memo

from ._shape_error import (
    Failure,
    ShapeError,
    UnboundSymbolicDim,
    get_shape_memo,
    mentions_array,
    mismatch,
    shape_error,
)
from ._shape_error import describe as describe

_OFF, _ON = {"0", "false", "off", "no"}, {"", "1", "true", "on", "yes"}


def _checks_from_environment(environ: Mapping[str, str]) -> bool:
    """Whether `TYPEDGPT_CHECKS` leaves checks on: off for 0, false, off or no; a value that is
    none of these nor 1, true, on or yes is warned about, and leaves them on."""
    value = environ.get("TYPEDGPT_CHECKS", "1")
    if value.strip().lower() in _OFF:
        return False
    if value.strip().lower() not in _ON:
        warnings.warn(
            f"TYPEDGPT_CHECKS={value!r} is not understood, so shape checks stay on: set it "
            "to 0 (or false, off, no) to turn them off, or to 1 (true, on, yes)",
            stacklevel=2,
        )
    return True


_enabled = _checks_from_environment(os.environ)
_local = threading.local()

_F = TypeVar("_F", bound=Callable[..., Any])


def set_checks(enabled: bool) -> bool:
    """Switch call-time shape checks on or off for every `TypedModule`; returns the old setting.

    Checks are on by default; `TYPEDGPT_CHECKS=0` (or `false`, `off`, `no`) in the environment
    turns them off at import. They cost nothing inside `jax.jit` after tracing, so switching
    them off only speeds up eager calls. The setting is global, not per thread; anything
    but `True` or `False` raises `TypeError`.
    """
    global _enabled
    if not isinstance(enabled, bool):
        raise TypeError(f"set_checks expects True or False, got {enabled!r}")
    previous, _enabled = _enabled, enabled
    return previous


def checks_enabled() -> bool:
    """Whether call-time shape checks are on."""
    return _enabled


# Module paths: which module a checked call runs on, named from the outermost checked call.


class _Frame:
    """One active checked call: its module (`None` for a static or class method), and (when
    recording) what it bound and made."""

    def __init__(
        self,
        module: Any,
        method: str,
        parent: "_Frame | None",
        name: str | None,
        scan_length: int | None,
        *,
        owner: type | None = None,
        defined_in: type | None = None,
    ) -> None:
        self.module = module
        # The class named in messages. A static or class method has no module: its class
        # (`owner`) names it, as its path too. A base class's method that the module's class
        # overrides, run through `super()`, is named by the base class (`defined_in`).
        named = owner or defined_in
        self.owner = type(module).__name__ if named is None else named.__name__
        self.method = method
        self.parent = parent
        self.name = name  # given by `submodule()`: the attribute path below the parent
        self.scan_length = scan_length
        self._path: str | None = None if owner is None else self.owner
        # Filled only while recording for `explain`.
        self.calls: list[_Frame] | None = None
        self.dims: dict[str, Any] = {}
        self.arguments: dict[str, Any] = {}
        self.result: Any = None
        self.hints: dict[str, Any] = {}  # the annotations of `arguments`, and "return"

    @property
    def where(self) -> str:
        """`Class.method`."""
        return f"{self.owner}.{self.method}"

    @property
    def path(self) -> str:
        """The module's attribute path from the outermost checked call, found on first use."""
        if self._path is None:
            self._path = _path_of(self)
        return self._path


def _path_of(frame: _Frame) -> str:
    parent = frame.parent
    if parent is None:
        return type(frame.module).__name__
    base = parent.path
    if frame.name is not None:
        return base + (frame.name if frame.name.startswith("[") else f".{frame.name}")
    if frame.module is parent.module:
        return base  # another method of the same module
    found = _find(parent.module, frame.module)
    if found is not None:
        return base + found
    if type(frame.module) is type(parent.module):
        return base  # the same module rebuilt, as when a method runs itself under jax.jit
    return f"{base} > {type(frame.module).__name__}"


def _submodules(node: Any, prefix: str, depth: int) -> Iterator[tuple[str, Any]]:
    """Each module inside `node`'s fields, lists, tuples and dicts, with its path suffix."""
    if depth == 0:
        return
    if isinstance(node, eqx.Module):
        items: list[tuple[str, Any]] = [
            (f"{prefix}.{f.name}", getattr(node, f.name, None)) for f in dataclasses.fields(node)
        ]
    elif isinstance(node, (list, tuple)):
        items = [(f"{prefix}[{i}]", item) for i, item in enumerate(node)]
    elif isinstance(node, dict):
        items = [(f"{prefix}[{key!r}]", item) for key, item in node.items()]
    else:
        return
    for suffix, child in items:
        if isinstance(child, eqx.Module):
            yield suffix, child
        if isinstance(child, (eqx.Module, list, tuple, dict)):
            yield from _submodules(child, suffix, depth - 1)


def _find(parent: Any, module: Any) -> str | None:
    """Where `module` lies inside `parent`: by identity, else the one module of its type and
    shapes (a copy, as `eqx.filter_vmap` makes); `None` when neither finds it."""
    candidates = list(_submodules(parent, "", depth=8))
    for suffix, child in candidates:
        if child is module:
            return suffix
    signature = _shapes(module)
    alike = [
        suffix
        for suffix, child in candidates
        if type(child) is type(module) and _shapes(child) == signature
    ]
    return alike[0] if len(alike) == 1 else None


def _shapes(module: Any) -> tuple[Any, ...]:
    leaves, treedef = jax.tree.flatten(module)
    return (treedef, *((getattr(x, "shape", None), getattr(x, "dtype", None)) for x in leaves))


def _stack() -> list[_Frame]:
    stack: list[_Frame] | None = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


@contextlib.contextmanager
def submodule(name: str, *, scan_length: int | None = None) -> Iterator[None]:
    """Name the module of the next checked call made inside this block, for messages.

    For a module rebuilt on the fly, which cannot be found among the caller's fields:
    `with submodule("blocks[2]"):` names a layer unstacked from `blocks`, and
    `with submodule("blocks[*]", scan_length=12):` the one layer that `lax.scan` traces for
    12 stacked layers. Wrap exactly the one call.
    """
    stack = _stack()
    previous = getattr(_local, "pending", None)
    _local.pending = (stack[-1] if stack else None, name, scan_length)
    try:
        yield
    finally:
        _local.pending = previous


# Recording the calls, for `explain`.


@contextlib.contextmanager
def recording() -> Iterator[list[_Frame]]:
    """Record every checked call made inside the block, with checks on; yields the outermost
    calls, each with `calls`, `dims`, `arguments` and `result` filled in."""
    global _enabled
    previous, previous_enabled = getattr(_local, "recording", None), _enabled
    calls: list[_Frame] = []
    _local.recording, _enabled = calls, True
    try:
        yield calls
    finally:
        _local.recording, _enabled = previous, previous_enabled


def _abstract(value: Any) -> Any:
    """`value` with every array replaced by a `jax.ShapeDtypeStruct`."""

    def leaf(x: Any) -> Any:
        if isinstance(x, jax.Array | np.ndarray):
            return jax.ShapeDtypeStruct(x.shape, x.dtype)  # type: ignore[no-untyped-call]
        return x

    return jax.tree.map(leaf, value)


def _record(frame: _Frame, arguments: "list[_Argument]", returns: Any, out: Any) -> None:
    frame.dims = _bound_dims()
    frame.hints = {label: hint for label, _, hint, _ in arguments}
    frame.hints["return"] = returns
    frame.arguments = {label: _abstract(value) for label, value, _, _ in arguments}
    frame.result = _abstract(out)
    # lax.scan may trace its body twice; the layer it stands for ran once.
    siblings = frame.parent.calls if frame.parent is not None else None
    if frame.scan_length is not None and siblings is not None:
        for other in siblings:
            if other is frame:
                break
            if (other.path, other.method, repr(other.arguments)) == (
                frame.path,
                frame.method,
                repr(frame.arguments),
            ):
                siblings.remove(frame)
                break


# Checking values.


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


def _bound_dims() -> dict[str, Any]:
    single, variadic, _, _ = get_shape_memo()
    dims: dict[str, Any] = dict(single)
    dims.update({f"*{name}": shape for name, (_, shape) in variadic.items()})
    return dims


def _check(value: Any, hint: Any, what: str, frame: _Frame, sources: dict[str, Any]) -> None:
    """Check one value in the current dim scope; note the dims it binds in `sources`."""
    single, variadic, _, _ = get_shape_memo()
    before = len(single) + len(variadic)
    try:
        failure = mismatch(value, hint)
    except UnboundSymbolicDim as error:
        raise TypeError(f"{frame.where}: {what} cannot be checked: {error}") from None
    if failure is not None and not failure.item:
        raise _error(failure, what, frame, sources)
    # An item of a list, tuple or dict may fail on a dim an earlier item of it bound.
    single, variadic, _, _ = get_shape_memo()
    if len(single) + len(variadic) != before:
        for name in single:
            sources.setdefault(name, (what, value))
        for name in variadic:
            sources.setdefault(f"*{name}", (what, value))
    if failure is not None:
        raise _error(failure, what, frame, sources)


# The message.


def _error(
    failure: Failure, what: str, frame: _Frame, sources: dict[str, tuple[str, Any]]
) -> ShapeError:
    notes = []
    outer: _Frame | None = frame
    while outer is not None:
        if outer.scan_length is not None:
            count = outer.scan_length
            layers = f"{count} stacked layer{'' if count == 1 else 's'}"
            notes.append(f"{outer.path}: the layer lax.scan traces once for the {layers}")
        outer = outer.parent
    return shape_error(
        failure, what, path=frame.path, method=frame.where, sources=sources, notes=notes
    )


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
    """The array fields of `cls` with their annotations, in field order."""
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
    return tuple(hints)


# Wrapping the methods.

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


def _push(module: Any, method: str, defined_in: type | None) -> _Frame:
    """Start a checked call: its frame, named from the caller's frame, on the stack."""
    stack = _stack()
    parent = stack[-1] if stack else None
    name = scan_length = None
    pending = getattr(_local, "pending", None)
    if pending is not None and parent is not None and pending[0] is parent:
        _, name, scan_length = pending
    frame = _Frame(module, method, parent, name, scan_length, defined_in=defined_in)
    calls: list[_Frame] | None = getattr(_local, "recording", None)
    if calls is not None:
        frame.calls = []
        if parent is not None and parent.calls is not None:
            calls = parent.calls
        calls.append(frame)
    stack.append(frame)
    return frame


def _open(first: Any, cls: type, method: str, kind: _Kind, defined_in: type | None) -> _Frame:
    """The frame of a checked call. Only a method's goes on the stack, to name the calls it
    makes and be recorded for `explain`; a property read, a static or a class method's frame
    names the failure only. `defined_in` names a method run through `super()`."""
    if kind == "method":
        return _push(first, method, defined_in)
    stack = _stack()
    parent = stack[-1] if stack else None
    if kind == "property":
        return _Frame(first, method, parent, None, None)
    return _Frame(None, method, parent, None, None, owner=cls)


def _checked(fn: _F, owner: type, kind: _Kind) -> _F:
    """Wrap `fn`, a `kind` of function defined in `owner`, so each call checks fields,
    arguments and return in one dim scope."""
    plans: dict[type, _Plan | None] = {}
    bound = kind != "staticmethod"  # takes the module or class first

    @functools.wraps(fn)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if not _enabled or (bound and not args):
            return fn(*args, **kwargs)  # unchecked, or a call that Python refuses
        first: Any = args[0] if bound else None  # the module, its class, or nothing
        if kind == "staticmethod":
            cls = owner
        else:
            cls = first if kind == "classmethod" else type(first)
        try:
            plan = plans[cls]
        except KeyError:
            plan = plans[cls] = _make_plan(cls, fn, kind)
        if plan is None:
            return fn(*args, **kwargs)
        # Not the method `cls` has under this name: a base class's, run through super().
        overridden = kind == "method" and getattr(cls, fn.__name__, None) is not checked
        frame = _open(first, cls, fn.__name__, kind, owner if overridden else None)
        push_shape_memo({})
        try:
            sources: dict[str, tuple[str, Any]] = {}
            for name, hint in plan.fields:
                _check(getattr(first, name), hint, f'field "{name}"', frame, sources)
            arguments = _arguments(plan, args[1:] if bound else args, kwargs)
            for _, value, hint, what in arguments:
                _check(value, hint, what, frame, sources)
            out = fn(*args, **kwargs)
            if plan.returns is not None:
                _check(out, plan.returns, "the return value", frame, sources)
            if frame.calls is not None:
                _record(frame, arguments, plan.returns, out)
            return out
        finally:
            pop_shape_memo()
            if kind == "method":
                _stack().pop()

    checked.__typedgpt_checked__ = True  # type: ignore[attr-defined]
    return typing.cast(_F, checked)


def _wrappable(fn: Any) -> typing.TypeGuard[types.FunctionType]:
    """Whether `fn` is a function with annotations, not wrapped yet."""
    return (
        isinstance(fn, types.FunctionType)
        and bool(fn.__annotations__)
        and not getattr(fn, "__typedgpt_checked__", False)
    )


def _wrap(value: Any, owner: type) -> Any:
    """`value`, an attribute of `owner`, with its function checked; `None` if it has none."""
    if isinstance(value, property) and _wrappable(value.fget):
        return value.getter(_checked(value.fget, owner, "property"))
    if isinstance(value, staticmethod) and _wrappable(value.__func__):
        return staticmethod(_checked(value.__func__, owner, "staticmethod"))
    if isinstance(value, classmethod) and _wrappable(value.__func__):
        return classmethod(_checked(value.__func__, owner, "classmethod"))
    if _wrappable(value):
        return _checked(value, owner, "method")
    return None


class TypedModule(eqx.Module):
    """An Equinox module whose annotated methods are shape-checked at every call.

    Subclass it as you would `eqx.Module`. Every method whose annotations mention arrays
    (`__call__` and any other public or private method, static method, class method or
    property; not other dunders) is checked by jaxtyping's rules with beartype, and the
    module's own array fields bind their dims into each call:

    ```python
    class Scale(tg.TypedModule):
        weight: Float[Array, " embed"]

        def __call__(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
            return x * self.weight[None, :]
    ```

    Calling `Scale` with an `x` whose last axis differs from `weight`'s raises
    `tg.ShapeError` (a `jaxtyping.TypeCheckError`) naming the axis `embed`, the field that
    bound it, and the module's path from the outermost checked call.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            if name.startswith("__") and name != "__call__":
                continue
            checked = _wrap(value, cls)
            if checked is not None:
                setattr(cls, name, checked)
