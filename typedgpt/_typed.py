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

A mismatch raises `ShapeError`, a `jaxtyping.TypeCheckError`, whose message names the module
by its attribute path from the outermost checked call (`GPT.blocks[*].attn.qkv_proj`), the
conflicting axis, the two places that bound it, and the expected and received shapes in the
dimension vocabulary. Under `jax.jit` the checks run once, while tracing, and read only
shapes and dtypes: the compiled program is the same with checks on or off. Eager calls pay
for the checks; `set_checks(False)` (or the environment variable `TYPEDGPT_CHECKS=0`)
switches them off.
"""

import contextlib
import functools
import inspect
import os
import types
import typing
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import equinox as eqx
from equinox._jit import _JitWrapper
from jaxtyping._storage import pop_shape_memo, push_shape_memo

from ._frames import _Frame, _local, _open, _record, _stack
from ._hints import _arguments, _Kind, _make_plan, _names_an_array_type, _Plan
from ._mismatch import Failure, UnboundSymbolicDim, get_shape_memo, hint_name, mismatch
from ._shape_error import ShapeError, module_hash, shape_error

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


def is_recording() -> bool:
    """Whether `explain` records: compiled calls run as Python (a cached trace records none)."""
    return getattr(_local, "recording", None) is not None


def _check(value: Any, hint: Any, what: str, frame: _Frame, sources: dict[str, Any]) -> None:
    """Check one value in the current dim scope; note the dims it binds in `sources`."""
    single, variadic, _, _ = get_shape_memo()
    before = len(single) + len(variadic)
    found: dict[str, Any] = {}  # the dims an item of `value` bound, with the item
    try:
        failure = mismatch(value, hint, found)
    except UnboundSymbolicDim as error:
        raise TypeError(f"{frame.where}: {what} cannot be checked: {error}") from None
    except Exception as error:  # a symbolic axis that fails: `{self.typo}`, `n//0`
        raise TypeError(
            f"{frame.where}: {what} cannot be checked: its annotation "
            f"{hint_name(hint)} raised {type(error).__name__}: {error}: fix the annotation"
        ) from error
    if failure is not None and not failure.item:
        raise _error(failure, what, frame, sources)
    # An item of a list, tuple or dict may fail on a dim an earlier item of it bound.
    single, variadic, _, _ = get_shape_memo()
    if len(single) + len(variadic) != before:  # credited to the item that bound them
        for name in [*single, *(f"*{name}" for name in variadic)]:
            at, item = found.get(name, ("", value))
            sources.setdefault(name, (at + what, item))
    if failure is not None:
        raise _error(failure, what, frame, sources)


# The message.


def _error(
    failure: Failure, what: str, frame: _Frame, sources: dict[str, tuple[str, Any]]
) -> ShapeError:
    notes = []
    outer: _Frame | None = frame
    while outer is not None:
        if outer.path and outer.lost is not None:
            notes.append(f"{outer.path}: called from {outer.lost}, not found among its fields")
        if outer.scan_length is not None:
            count = outer.scan_length
            layers = f"{count} stacked layer{'' if count == 1 else 's'}"
            notes.append(f"{outer.path}: the layer lax.scan traces once for the {layers}")
        outer = outer.parent
    return shape_error(
        failure, what, path=frame.path, method=frame.where, sources=sources, notes=notes
    )


# Wrapping the methods.


def _checked(fn: _F, run: Callable[..., Any], owner: type, name: str, kind: _Kind) -> _F:
    """Wrap `fn`, a `kind` of function `owner` defines as `name` (an alias too), so each
    call checks fields, arguments and return in one dim scope; it runs `run` (`fn`, or a jit)."""
    plans: dict[type, _Plan | None] = {}
    bound = kind != "staticmethod"  # takes the module or class first
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if not _enabled or (bound and not args):
            return run(*args, **kwargs)  # unchecked, or a call that Python refuses
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
            return run(*args, **kwargs)
        # Not the method `cls` has under this name: a base class's, run through super().
        overridden = kind == "method" and getattr(cls, name, None) is not checked
        frame = _open(first, cls, name, kind, owner if overridden else None)
        push_shape_memo(_by_name(signature, args, kwargs))
        try:
            sources: dict[str, tuple[str, Any]] = {}
            for field, hint in plan.fields:
                _check(getattr(first, field), hint, f'field "{field}"', frame, sources)
            arguments = _arguments(plan, args[1:] if bound else args, kwargs)
            for _, value, hint, what in arguments:
                _check(value, hint, what, frame, sources)
            out = (fn if frame.calls is not None else run)(*args, **kwargs)
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


def _by_name(signature: inspect.Signature, args: Any, kwargs: Any) -> dict[str, Any]:
    """The call's arguments by parameter name (`self` too), defaults included, for symbolic
    axes such as `{self.num_heads}` or `seq-k`; none for a call Python will refuse."""
    try:
        call = signature.bind(*args, **kwargs)
    except TypeError:
        return {}
    call.apply_defaults()
    return call.arguments


def _wrappable(fn: Any) -> typing.TypeGuard[types.FunctionType]:
    """Whether `fn` is a function with annotations, not wrapped yet."""
    return (
        isinstance(fn, types.FunctionType)
        and bool(fn.__annotations__)
        and not getattr(fn, "__typedgpt_checked__", False)
    )


def _target(value: Any, owner: type, name: str) -> tuple[Any, Callable[..., Any]] | None:
    """The function to read annotations from and what to run: `value` itself, or the
    function `eqx.filter_jit` wraps, checked outside the jit (the jit keeps every shape, so
    the checks read the same shapes the function gets). Any other wrapper that hides array
    annotations may change the shapes it is called with: it raises `TypeError`."""
    if isinstance(value, _JitWrapper):
        return (value.__wrapped__, value) if _wrappable(value.__wrapped__) else None
    if _wrappable(value):
        return value, value
    if isinstance(value, types.FunctionType) or not hasattr(value, "__wrapped__"):
        return None
    inner = inspect.unwrap(value)
    annotations = getattr(inner, "__annotations__", None) or {}
    if any(_names_an_array_type(hint) for hint in annotations.values()):
        raise TypeError(
            f"{owner.__name__}.{name} cannot be checked: it is wrapped by "
            f"{type(value).__name__}, which may change the shapes it is called with: apply "
            "the transform where the method is called, or inside it; a jit may also be "
            "@eqx.filter_jit, which is checked outside the jit"
        )
    return None


def _wrap(value: Any, owner: type, name: str) -> Any:
    """`value`, an attribute `name` of `owner`, with its function checked; `None` if it has
    none."""
    if isinstance(value, property):
        target = _target(value.fget, owner, name)
        return None if target is None else value.getter(_checked(*target, owner, name, "property"))
    if isinstance(value, staticmethod | classmethod):
        kind: _Kind = "staticmethod" if isinstance(value, staticmethod) else "classmethod"
        target = _target(value.__func__, owner, name)
        return None if target is None else type(value)(_checked(*target, owner, name, kind))
    target = _target(value, owner, name)
    return None if target is None else _checked(*target, owner, name, "method")


class TypedModule(eqx.Module):
    """An Equinox module whose annotated methods are shape-checked at every call.

    Subclass it as you would `eqx.Module`. Every method whose annotations mention arrays
    (`__call__` and any other public or private method, static method, class method or
    property, its own or a plain mixin's; not other dunders) is checked by jaxtyping's
    rules with beartype, and the module's own array fields bind their dims into each call:

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

    __hash__ = module_hash  # arrays cannot be hashed: say what to do instead (jax.jit(module))

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Its own methods, and those it inherits from plain classes (mixins, not modules).
        sources = [cls, *(base for base in cls.__mro__ if not issubclass(base, eqx.Module))]
        fields = {name for base in sources for name in inspect.get_annotations(base)}
        for name, value in [item for base in sources for item in vars(base).items()]:
            if (name.startswith("__") and name != "__call__") or name in fields:
                continue
            if inspect.getattr_static(cls, name) is not value:
                continue  # overridden, or checked already where a base module inherits it
            checked = _wrap(value, cls, name)
            if checked is not None:
                setattr(cls, name, checked)
