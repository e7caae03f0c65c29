"""`TypedModule`: Equinox modules whose methods are shape-checked at every call.

jaxtyping checks one function call at a time: its dimension names live as long as that call
and never see the module's own fields. `TypedModule` closes that gap. Each method of a
subclass that has annotations is wrapped so that, on every call, in a fresh dimension scope:

1. the module's array fields are checked against their annotations, binding their dims
   (a `Linear` whose `weight` is `Float[Array, "out in"]` binds `out` and `in`);
2. the arguments are checked against theirs, in the same scope;
3. the method runs (nested calls open scopes of their own);
4. the return value is checked.

A mismatch raises `jaxtyping.TypeCheckError` naming the method, the argument, field or return
value, the axis, its size, and where that axis was bound. Under `jax.jit` the checks run once,
while tracing, and read only shapes and dtypes: the compiled program is the same with checks
on or off. Eager calls pay for the checks; `set_checks(False)` (or the environment variable
`TYPEDGPT_CHECKS=0`) switches them off.
"""

import dataclasses
import functools
import inspect
import os
import re
import threading
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import equinox as eqx
import jax
import numpy as np
from beartype.door import is_bearable
from jaxtyping import TypeCheckError
from jaxtyping._array_types import _MetaAbstractArray
from jaxtyping._storage import get_shape_memo as _untyped_get_shape_memo
from jaxtyping._storage import pop_shape_memo, push_shape_memo

# jaxtyping's dim memo for the current call: (single dims, variadic dims, pytree dims, args).
get_shape_memo: Callable[[], tuple[dict[str, int], dict[str, tuple[bool, Any]], Any, Any]] = (
    _untyped_get_shape_memo
)

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


@dataclass(frozen=True)
class _Plan:
    """What to check for one method: resolved once, on its first checked call."""

    fields: tuple[tuple[str, Any], ...]
    params: tuple[tuple[str, Any], ...]  # (name, hint) in signature order, self excluded
    positional: tuple[str, ...]  # names that may be passed positionally, in order
    returns: Any  # the return hint, or None when there is none to check


def _is_array_hint(hint: Any) -> bool:
    return isinstance(hint, _MetaAbstractArray)


def _mentions_array(hint: Any) -> bool:
    if _is_array_hint(hint):
        return True
    return any(_mentions_array(arg) for arg in typing.get_args(hint))


def _hint_name(hint: Any) -> str:
    if _is_array_hint(hint):
        name = hint.__name__
    elif isinstance(hint, type):
        name = hint.__qualname__
    else:
        name = repr(hint)
    name = re.sub(r"\bjaxlib\._jax\.Array\b|\bjax\.Array\b", "Array", name)
    return re.sub(r"\b(?:jaxtyping|typing)\.", "", name).replace("NoneType", "None")


def describe(value: Any) -> str:
    """A short description of a value for error messages: `float32[3, 5]`, `int`, `None`."""
    if value is None:
        return "None"
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        kind = "" if isinstance(value, jax.Array) else f"{type(value).__module__.split('.')[0]} "
        return f"{kind}{np.dtype(dtype).name}[{', '.join(str(s) for s in shape)}]"
    if isinstance(value, tuple):
        return "(" + ", ".join(describe(v) for v in value) + ")"
    return type(value).__qualname__


def _mismatch(value: Any, hint: Any) -> str:
    """Why `value` does not match `hint` in the current dim scope, or "" when it does."""
    if _is_array_hint(hint):
        if not isinstance(value, jax.Array):
            if hasattr(value, "shape") and hasattr(value, "dtype"):
                return (
                    f"expected a JAX array but got a {type(value).__module__} array: "
                    "convert it with jax.numpy.asarray"
                )
            return f"expected an array but got {type(value).__qualname__}"
        reason: str = hint.__instancecheck_str__(value)
        return reason
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        reasons = []
        for member in typing.get_args(hint):
            reason = _mismatch(value, member)
            if not reason:
                return ""
            reasons.append(reason)
        arrays = [
            r for m, r in zip(typing.get_args(hint), reasons, strict=True) if _mentions_array(m)
        ]
        return (arrays or reasons)[0]
    if origin is tuple:
        args = typing.get_args(hint)
        if args and args[-1] is not Ellipsis:
            if not isinstance(value, tuple) or len(value) != len(args):
                return f"expected a tuple of {len(args)} values, got {describe(value)}"
            for index, (item, item_hint) in enumerate(zip(value, args, strict=True)):
                reason = _mismatch(item, item_hint)
                if reason:
                    return f"item {index}: {reason}"
            return ""
    if hint is Any or is_bearable(value, hint):
        return ""
    return f"expected {_hint_name(hint)}, got {describe(value)}"


def _bound_dims() -> dict[str, Any]:
    single, variadic, _, _ = get_shape_memo()
    dims: dict[str, Any] = dict(single)
    dims.update({f"*{name}": shape for name, (_, shape) in variadic.items()})
    return dims


_AXIS = re.compile(r"dimension (\S+) is|variadic dimensions '(\*\S+)'")


def _check(
    value: Any, hint: Any, what: str, where: str, sources: dict[str, tuple[str, Any]]
) -> None:
    single, variadic, _, _ = get_shape_memo()
    before = len(single) + len(variadic)
    reason = _mismatch(value, hint)
    if reason:
        raise TypeCheckError(_message(value, hint, what, where, reason, sources))
    single, variadic, _, _ = get_shape_memo()
    if len(single) + len(variadic) != before:
        for name in single:
            sources.setdefault(name, (what, value))
        for name in variadic:
            sources.setdefault(f"*{name}", (what, value))


def _message(
    value: Any, hint: Any, what: str, where: str, reason: str, sources: dict[str, tuple[str, Any]]
) -> str:
    bound = _bound_dims()
    lines = [
        f"{where}: {what} is {describe(value)}, which does not match {_hint_name(hint)}:",
        f"  {reason}.",
    ]
    match = _AXIS.search(reason)
    if match:
        axis = match.group(1) or match.group(2)
        if axis in sources:
            source, source_value = sources[axis]
            lines.append(
                f'  Axis "{axis}" = {bound[axis]} was bound by {source} ({describe(source_value)}).'
            )
    if bound:
        lines.append(
            f"  Dims bound in this call: {', '.join(f'{k}={v}' for k, v in bound.items())}."
        )
    stack = getattr(_local, "stack", [])
    if len(stack) > 1:
        lines.append(f"  Call path: {' > '.join(stack)}.")
    return "\n".join(lines)


def _field_hints(cls: type) -> tuple[tuple[str, Any], ...]:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    return tuple((name, hints[name]) for name in names if _mentions_array(hints.get(name)))


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
    if not any(_mentions_array(hint) for _, hint in checked) and not _mentions_array(returns):
        return None
    return _Plan(
        fields=_field_hints(cls),
        params=checked,
        positional=positional,
        returns=returns if returns is not None and returns is not type(None) else None,
    )


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
        where = f"{cls.__name__}.{fn.__name__}"
        stack = getattr(_local, "stack", None)
        if stack is None:
            stack = _local.stack = []
        stack.append(cls.__name__ if fn.__name__ == "__call__" else where)
        push_shape_memo({})
        try:
            sources: dict[str, tuple[str, Any]] = {}
            for name, hint in plan.fields:
                _check(getattr(self, name), hint, f'field "{name}"', where, sources)
            values = dict(zip(plan.positional, args, strict=False))
            values.update(kwargs)
            for name, hint in plan.params:
                if name in values:
                    _check(values[name], hint, f'argument "{name}"', where, sources)
            out = fn(self, *args, **kwargs)
            if plan.returns is not None:
                _check(out, plan.returns, "the return value", where, sources)
            return out
        finally:
            pop_shape_memo()
            stack.pop()

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
    `jaxtyping.TypeCheckError` naming the axis `embed` and the field that bound it.
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
