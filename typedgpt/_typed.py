"""`TypedModule`: Equinox modules whose methods are shape-checked at every call.

jaxtyping checks one function call at a time: its dimension names live as long as that call
and never see the module's own fields. `TypedModule` closes that gap. Each method of a
subclass that has annotations is wrapped so that, on every call, in a fresh dimension scope:

1. the module's array fields are checked against their annotations, binding their dims
   (a `Linear` whose `weight` is `Float[Array, "out in"]` binds `out` and `in`);
2. the arguments are checked against theirs, in the same scope;
3. the method runs (nested calls open scopes of their own);
4. the return value is checked.

A mismatch raises `ShapeError`, a `jaxtyping.TypeCheckError`, whose message names the module
by its attribute path from the outermost checked call (`GPT.blocks[*].attn.qkv_proj`), the
conflicting axis, the two places that bound it, and the expected and received shapes in the
dimension vocabulary. Under `jax.jit` the checks run once, while tracing, and read only
shapes and dtypes: the compiled program is the same with checks on or off. Eager calls pay
for the checks; `set_checks(False)` (or the environment variable `TYPEDGPT_CHECKS=0`)
switches them off.
"""

import contextlib
import dataclasses
import functools
import inspect
import os
import threading
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import equinox as eqx
import jax
import numpy as np
from jaxtyping._storage import pop_shape_memo, push_shape_memo

from ._shape_error import Failure, ShapeError, get_shape_memo, mentions_array, mismatch, shape_error
from ._shape_error import describe as describe

_enabled = os.environ.get("TYPEDGPT_CHECKS", "1").strip().lower() not in {"0", "false", "off"}
_local = threading.local()

_F = TypeVar("_F", bound=Callable[..., Any])


def set_checks(enabled: bool) -> bool:
    """Switch call-time shape checks on or off for every `TypedModule`; returns the old setting.

    Checks are on by default (`TYPEDGPT_CHECKS=0` in the environment turns them off at import).
    They cost nothing inside `jax.jit` after tracing, so switching them off only speeds up
    eager calls.
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
    """One active checked call: its module, and (when recording) what it bound and made."""

    def __init__(
        self,
        module: Any,
        method: str,
        parent: "_Frame | None",
        name: str | None,
        scan_length: int | None,
    ) -> None:
        self.module = module
        self.method = method
        self.parent = parent
        self.name = name  # given by `submodule()`: the attribute path below the parent
        self.scan_length = scan_length
        self._path: str | None = None
        # Filled only while recording for `explain`.
        self.calls: list[_Frame] | None = None
        self.dims: dict[str, Any] = {}
        self.arguments: dict[str, Any] = {}
        self.result: Any = None
        self.hints: dict[str, Any] = {}  # the annotations of `arguments`, and "return"

    @property
    def where(self) -> str:
        """`Class.method`."""
        return f"{type(self.module).__name__}.{self.method}"

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


def _record(frame: _Frame, plan: "_Plan", values: dict[str, Any], out: Any) -> None:
    frame.dims = _bound_dims()
    frame.hints = {name: hint for name, hint in plan.params if name in values}
    frame.hints["return"] = plan.returns
    frame.arguments = {name: _abstract(values[name]) for name in frame.hints if name in values}
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

    fields: tuple[tuple[str, Any], ...]
    params: tuple[tuple[str, Any], ...]  # (name, hint) in signature order, self excluded
    positional: tuple[str, ...]  # names that may be passed positionally, in order
    returns: Any  # the return hint, or None when there is none to check


def _bound_dims() -> dict[str, Any]:
    single, variadic, _, _ = get_shape_memo()
    dims: dict[str, Any] = dict(single)
    dims.update({f"*{name}": shape for name, (_, shape) in variadic.items()})
    return dims


def _check(value: Any, hint: Any, what: str, frame: _Frame, sources: dict[str, Any]) -> None:
    """Check one value in the current dim scope; note the dims it binds in `sources`."""
    single, variadic, _, _ = get_shape_memo()
    before = len(single) + len(variadic)
    failure = mismatch(value, hint)
    if failure is not None:
        raise _error(failure, what, frame, sources)
    single, variadic, _, _ = get_shape_memo()
    if len(single) + len(variadic) != before:
        for name in single:
            sources.setdefault(name, (what, value))
        for name in variadic:
            sources.setdefault(f"*{name}", (what, value))


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


# Wrapping the methods.


def _field_hints(cls: type) -> tuple[tuple[str, Any], ...]:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    return tuple((name, hints[name]) for name in names if mentions_array(hints.get(name)))


def _make_plan(cls: type, fn: Callable[..., Any]) -> _Plan | None:
    hints = typing.get_type_hints(fn)
    signature = inspect.signature(fn)
    params = list(signature.parameters.values())[1:]  # drop self
    positional = tuple(
        p.name
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    )
    checked = tuple((p.name, hints[p.name]) for p in params if p.name in hints)
    returns = hints.get("return")
    if not any(mentions_array(hint) for _, hint in checked) and not mentions_array(returns):
        return None
    return _Plan(
        fields=_field_hints(cls),
        params=checked,
        positional=positional,
        returns=returns if returns is not None and returns is not type(None) else None,
    )


def _push(module: Any, method: str) -> _Frame:
    """Start a checked call: its frame, named from the caller's frame, on the stack."""
    stack = _stack()
    parent = stack[-1] if stack else None
    name = scan_length = None
    pending = getattr(_local, "pending", None)
    if pending is not None and parent is not None and pending[0] is parent:
        _, name, scan_length = pending
    frame = _Frame(module, method, parent, name, scan_length)
    calls: list[_Frame] | None = getattr(_local, "recording", None)
    if calls is not None:
        frame.calls = []
        if parent is not None and parent.calls is not None:
            calls = parent.calls
        calls.append(frame)
    stack.append(frame)
    return frame


def _checked(fn: _F) -> _F:
    """Wrap a method so each call checks fields, arguments and return in one dim scope."""
    plans: dict[type, _Plan | None] = {}

    @functools.wraps(fn)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not _enabled:
            return fn(self, *args, **kwargs)
        cls = type(self)
        try:
            plan = plans[cls]
        except KeyError:
            plan = plans[cls] = _make_plan(cls, fn)
        if plan is None:
            return fn(self, *args, **kwargs)
        frame = _push(self, fn.__name__)
        push_shape_memo({})
        try:
            sources: dict[str, tuple[str, Any]] = {}
            for name, hint in plan.fields:
                _check(getattr(self, name), hint, f'field "{name}"', frame, sources)
            values = dict(zip(plan.positional, args, strict=False))
            values.update(kwargs)
            for name, hint in plan.params:
                if name in values:
                    _check(values[name], hint, f'argument "{name}"', frame, sources)
            out = fn(self, *args, **kwargs)
            if plan.returns is not None:
                _check(out, plan.returns, "the return value", frame, sources)
            if frame.calls is not None:
                _record(frame, plan, values, out)
            return out
        finally:
            pop_shape_memo()
            _stack().pop()

    method.__typedgpt_checked__ = True  # type: ignore[attr-defined]
    return typing.cast(_F, method)


class TypedModule(eqx.Module):
    """An Equinox module whose annotated methods are shape-checked at every call.

    Subclass it as you would `eqx.Module`. Every method with annotations (`__call__` and
    any other public or private method; not other dunders) is checked by jaxtyping's rules
    with beartype, and the module's own array fields bind their dims into each call:

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
            if not isinstance(value, types.FunctionType) or not value.__annotations__:
                continue
            if getattr(value, "__typedgpt_checked__", False):
                continue
            setattr(cls, name, _checked(value))
