"""`ShapeError` and its message: why a value breaks its annotation, in the dim vocabulary.

A message names, in three to five short lines: the method and the module's path; the
conflicting axis with the two places that bound it (an argument, a field or the return
value) and their shapes; and what was expected, as dims with their sizes, against what
came. It never shows jaxtyping's or jaxlib's internal names.

```text
Linear.__call__ at GPT.blocks[*].attn.qkv_proj:
  axis "in" is 16 from field "weight" (float32[48, 16]) but 12 in argument "x" (float32[12])
  argument "x": expected (in,) = (16,), got float32[12]
  (GPT.blocks[*]: the layer lax.scan traces once for the 4 stacked layers)
```
"""

import collections.abc
import dataclasses
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
from beartype.door import is_bearable
from jaxtyping import TypeCheckError
from jaxtyping._array_types import (
    _anonymous_dim,
    _FixedDim,
    _MetaAbstractArray,
    _NamedDim,
    _NamedVariadicDim,
    _SymbolicDim,
)
from jaxtyping._pytree_type import _MetaPyTree
from jaxtyping._storage import get_shape_memo as _untyped_get_shape_memo

# jaxtyping's dim memo for the current call: (single dims, variadic dims, pytree dims, args).
get_shape_memo: Callable[[], tuple[dict[str, int], dict[str, tuple[bool, Any]], Any, Any]] = (
    _untyped_get_shape_memo
)


class ShapeError(TypeCheckError):
    """A call to a `TypedModule` method broke its annotations: a shape, a dtype or a type.

    A subclass of `jaxtyping.TypeCheckError`, so handlers of that keep working. Besides the
    message, it carries the facts for programs to read:

    Attributes:
        path: the module's attribute path from the outermost checked call, such as
            `"GPT.blocks[2].attn.qkv_proj"`; `[*]` marks stacked layers run by `lax.scan`.
        method: the method whose check failed, such as `"Linear.__call__"`.
        what: the value that failed: `'argument "x"'`, `'field "weight"'`,
            `"the return value"`, `"item 1 of the return value"` (of a tuple or list),
            `"item 'b' of argument \"xs\""` (of a dict) or `"leaf ['b'] of argument \"xs\""`
            (of a `PyTree`).
        axis: the conflicting axis (`"embed"`, `"*batch"`, `"3*embed"`), or `None` when the
            problem is not one axis (a wrong rank, dtype or type).
        expected: the size `axis` was bound to (a tuple for `*` axes), or `None`.
        received: the size `what` has on that axis, or `None`.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str = "",
        method: str = "",
        what: str = "",
        axis: str | None = None,
        expected: Any = None,
        received: Any = None,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.method = method
        self.what = what
        self.axis = axis
        self.expected = expected
        self.received = received

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self),), self.__dict__


# What a value is, and why it does not match its hint.


def is_array_hint(hint: Any) -> bool:
    return isinstance(hint, _MetaAbstractArray)


def mentions_array(hint: Any) -> bool:
    if is_array_hint(hint):
        return True
    return any(mentions_array(arg) for arg in typing.get_args(hint))


def hint_name(hint: Any) -> str:
    if is_array_hint(hint):
        name = hint.__name__
    elif isinstance(hint, type):
        name = hint.__qualname__
    else:
        name = repr(hint)
    name = re.sub(r"\bjaxlib\._jax\.Array\b|\bjax\.Array\b", "Array", name)
    return re.sub(r"\b(?:jaxtyping|typing)\.", "", name).replace("NoneType", "None")


def dtype_name(dtype: Any) -> str:
    """`float32`; `key<fry>` for a JAX PRNG key, which NumPy has no dtype for."""
    try:
        return str(np.dtype(dtype).name)
    except TypeError:
        return str(dtype)


def describe(value: Any) -> str:
    """A short description of a value for messages: `float32[3, 5]`, `int`, `None`."""
    if value is None:
        return "None"
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        plain = isinstance(value, jax.Array | jax.ShapeDtypeStruct)
        kind = "" if plain else f"{type(value).__module__.split('.')[0]} "
        return f"{kind}{dtype_name(dtype)}[{', '.join(str(s) for s in shape)}]"
    if isinstance(value, tuple):
        return "(" + ", ".join(describe(v) for v in value) + ")"
    if isinstance(value, list) and value:
        kinds = {describe(v) for v in value}
        return f"list of {len(value)} {kinds.pop()}" if len(kinds) == 1 else "list"
    return type(value).__qualname__


@dataclass(frozen=True)
class Failure:
    """The value that failed (an item, inside a tuple), its hint, and why."""

    value: Any
    hint: Any
    reason: str
    item: str = ""  # "item 1 of " for an item of a tuple
    # The value is an array of the hint's kind, and `reason` is jaxtyping's, about its dtype
    # or shape.
    of_array: bool = False


_SEQUENCES = (list, tuple, collections.abc.Sequence, collections.abc.MutableSequence)
_MAPPINGS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


def _within(failure: Failure, item: str) -> Failure:
    """`failure` of a value found at `item` ("item 1") of an outer one."""
    return dataclasses.replace(failure, item=f"{failure.item}{item} of ")


class UnboundSymbolicDim(TypeError):
    """An annotation's symbolic axis (`2*embed`) uses a dim that nothing has bound yet."""


def _bind_for_symbolic(hint: Any, shape: tuple[int, ...]) -> None:
    """Bind the named dims of `hint` from `shape` before jaxtyping reads it, so that a
    symbolic axis may use a dim named after it in the same annotation (`"2*embed embed"`,
    which jaxtyping alone cannot evaluate); raise `UnboundSymbolicDim` for one that uses a
    dim bound nowhere yet."""
    symbolic = [dim for dim in hint.dims if isinstance(dim, _SymbolicDim)]
    if not symbolic:
        return
    memo = get_shape_memo()[0]
    for dim, size in _pairs(hint, shape):
        named = isinstance(dim, _NamedDim) and not dim.treepath
        if named and not (dim.broadcastable and size == 1):
            memo.setdefault(dim.name, size)
    for dim in symbolic:
        try:
            eval(dim.elem, dict(memo))
        except NameError as error:
            raise UnboundSymbolicDim(
                f'axis "{dim.elem}" uses {error.name}, which is not bound before it: '
                f"a symbolic axis may use only dims of the fields, of earlier arguments or "
                "of its own annotation"
            ) from None


def _pairs(hint: Any, shape: tuple[int, ...]) -> list[tuple[Any, int]]:
    """Each dim of `hint` but a variadic one, with its size in `shape`; none for a shape of
    another rank."""
    dims, index = hint.dims, hint.index_variadic
    if index is None:
        return list(zip(dims, shape, strict=True)) if len(shape) == len(dims) else []
    if len(shape) < len(dims) - 1:
        return []
    after = len(dims) - index - 1
    pairs = [*zip(dims[:index], shape[:index], strict=True)]
    return pairs + list(zip(dims[index + 1 :], shape[len(shape) - after :], strict=True))


def _array_mismatch(value: Any, hint: Any) -> Failure | None:
    array_type = hint.array_type  # jax.Array, or np.ndarray for one member of ArrayLike
    if isinstance(array_type, type):
        right_kind = isinstance(value, array_type)
    else:
        right_kind = is_bearable(value, array_type)
    if not right_kind:
        if array_type is not jax.Array:
            reason = f"expected {hint_name(hint)}, got {describe(value)}"
        elif hasattr(value, "shape") and hasattr(value, "dtype"):
            reason = (
                f"expected a JAX array, got {describe(value)}: convert it with jax.numpy.asarray"
            )
        else:
            reason = f"expected an array, got {describe(value)}"
        return Failure(value, hint, reason)
    shaped = hasattr(value, "shape") and hasattr(value, "dtype")
    if shaped:
        _bind_for_symbolic(hint, tuple(value.shape))
    reason = hint.__instancecheck_str__(value)
    if not reason:
        return None
    return Failure(value, hint, reason, of_array=shaped)


def _items_mismatch(value: Any, hint: Any) -> Failure | None:
    """Why a list, a `tuple[X, ...]`, a dict or a `PyTree` of arrays does not match `hint`,
    item by item (beartype would check one item, chosen at random), or None when it does."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in _MAPPINGS:
        if not isinstance(value, collections.abc.Mapping):
            return Failure(value, hint, f"expected {hint_name(hint)}, got {describe(value)}")
        for key, item in value.items():
            failure = mismatch(key, args[0])
            if failure is None:
                failure = mismatch(item, args[1])
            if failure is not None:
                return _within(failure, f"item {key!r}")
        return None
    if origin in _SEQUENCES:
        if not isinstance(value, origin) or isinstance(value, str | bytes):
            return Failure(value, hint, f"expected {hint_name(hint)}, got {describe(value)}")
        for index, item in enumerate(value):
            failure = mismatch(item, args[0])
            if failure is not None:
                return _within(failure, f"item {index}")
        return None
    leaves = jax.tree_util.tree_flatten_with_path(value)[0]
    for path, leaf in leaves:
        failure = mismatch(leaf, hint.leaftype)
        if failure is not None:
            return _within(failure, f"leaf {jax.tree_util.keystr(path)}")
    return None


def _has_items_of_arrays(hint: Any) -> bool:
    """Whether `hint` is a list, a `tuple[X, ...]`, a dict or a `PyTree` of arrays, whose
    items `_items_mismatch` checks one by one."""
    if isinstance(hint, _MetaPyTree):
        leaftype: Any = getattr(hint, "leaftype", None)
        # Tree-path dims (`?n`) and structures ("T") need jaxtyping's own PyTree check.
        return (
            is_array_hint(leaftype)
            and getattr(hint, "structure", None) is None
            and not any(getattr(dim, "treepath", False) for dim in leaftype.dims)
        )
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        return len(args) == 2 and args[1] is Ellipsis and mentions_array(args[0])
    if origin in _SEQUENCES:
        return len(args) == 1 and mentions_array(args[0])
    return origin in _MAPPINGS and len(args) == 2 and mentions_array(args[1])


def mismatch(value: Any, hint: Any) -> Failure | None:
    """Why `value` does not match `hint` in the current dim scope, or None when it does."""
    if is_array_hint(hint):
        return _array_mismatch(value, hint)
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        failures = []
        for member in typing.get_args(hint):
            failure = mismatch(value, member)
            if failure is None:
                return None
            failures.append(failure)
        # The member whose kind of array the value is says most, then any array member.
        arrays = [f for f in failures if f.of_array] or [
            f for f in failures if mentions_array(f.hint)
        ]
        return (arrays or failures)[0]
    if origin is tuple:
        args = typing.get_args(hint)
        if args and args[-1] is not Ellipsis:
            if not isinstance(value, tuple) or len(value) != len(args):
                reason = f"expected a tuple of {len(args)} values, got {describe(value)}"
                return Failure(value, hint, reason)
            for index, (item, item_hint) in enumerate(zip(value, args, strict=True)):
                failure = mismatch(item, item_hint)
                if failure is not None:
                    return _within(failure, f"item {index}")
            return None
    if _has_items_of_arrays(hint):
        return _items_mismatch(value, hint)
    if hint is Any or is_bearable(value, hint):
        return None
    return Failure(value, hint, f"expected {hint_name(hint)}, got {describe(value)}")


# The message.


@dataclass(frozen=True)
class _Conflict:
    axis: str
    expected: Any
    received: Any
    kind: str  # "named", "same value", "fixed" or "symbolic"


def _conflict(hint: Any, shape: tuple[int, ...], memo: dict[str, int], variadic: Any) -> Any:
    """The first axis of `shape` that breaks `hint` given the dims bound so far, or None."""
    dims, index = hint.dims, hint.index_variadic
    pairs = _pairs(hint, shape)
    if not pairs and dims:
        return None
    local = dict(memo)
    for dim, size in pairs:
        if dim is _anonymous_dim or (dim.broadcastable and size == 1):
            continue
        if isinstance(dim, _FixedDim):
            if dim.size != size:
                return _Conflict(str(dim.size), dim.size, size, "fixed")
        elif isinstance(dim, _SymbolicDim):
            try:
                want = eval(dim.elem, dict(local))
            except Exception:
                continue
            if want != size:
                return _Conflict(dim.elem, want, size, "symbolic")
        elif isinstance(dim, _NamedDim):
            if dim.name not in local:
                local[dim.name] = size
            elif local[dim.name] != size:
                kind = "named" if dim.name in memo else "same value"
                return _Conflict(dim.name, local[dim.name], size, kind)
    if index is not None and isinstance(dims[index], _NamedVariadicDim):
        name = dims[index].name
        got = tuple(shape[index : len(shape) - (len(dims) - index - 1)])
        if name in variadic and tuple(variadic[name][1]) != got:
            return _Conflict(f"*{name}", tuple(variadic[name][1]), got, "named")
    return None


def _expected(hint: Any, memo: dict[str, int], variadic: Any) -> str:
    """`(seq, embed) = (5, 16)`: the hint's dims, with the sizes bound so far."""
    if not hint.dims:
        return "a scalar"
    names, sizes = [], []
    for dim in hint.dims:
        if dim is _anonymous_dim:
            names.append("_")
            sizes.append("?")
        elif isinstance(dim, _FixedDim):
            names.append(str(dim.size))
            sizes.append(str(dim.size))
        elif isinstance(dim, _SymbolicDim):
            names.append(dim.elem)
            try:
                sizes.append(str(eval(dim.elem, dict(memo))))
            except Exception:
                sizes.append("?")
        elif isinstance(dim, _NamedDim):
            names.append(dim.name)
            sizes.append(str(memo[dim.name]) if dim.name in memo else "?")
        elif isinstance(dim, _NamedVariadicDim):
            bound = variadic.get(dim.name)
            if bound is not None and not bound[1]:
                continue  # bound to no axes at all
            names.append(f"*{dim.name}")
            sizes.append(", ".join(str(s) for s in bound[1]) if bound else "...")
        else:
            names.append("...")
            sizes.append("...")
    text = _tuple(names)
    if names != sizes and any(s not in ("?", "...") for s in sizes):
        text += f" = {_tuple([s for s in sizes if s])}"
    return text


def _tuple(items: list[str]) -> str:
    """`(seq, embed)`, and `(embed,)` for one item, as the static checker writes dims."""
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


def _rank_note(hint: Any, shape: tuple[int, ...]) -> str:
    want = len(hint.dims)
    if hint.index_variadic is None and len(shape) != want:
        return f" ({len(shape)} {'axis' if len(shape) == 1 else 'axes'}, not {want})"
    if hint.index_variadic is not None and len(shape) < want - 1:
        return f" ({len(shape)} {'axis' if len(shape) == 1 else 'axes'}, not {want - 1} or more)"
    return ""


def shape_error(
    failure: Failure,
    what: str,
    *,
    path: str,
    method: str,
    sources: dict[str, tuple[str, Any]],
    notes: list[str],
) -> ShapeError:
    """The error for `failure` of `what` in `method` (`"Linear.__call__"`) at `path`, with
    the dims bound so far in the current scope and the places (`sources`) that bound them."""
    value, hint = failure.value, failure.hint
    what = failure.item + what
    memo, variadic, _, _ = get_shape_memo()
    header = method if path == method.partition(".")[0] else f"{method} at {path}"
    lines = [f"{header}:"]
    conflict = None
    if not failure.of_array:
        lines.append(f"  {what}: {failure.reason}")
    elif failure.reason.startswith("this array has dtype"):
        kind = hint.dtype.__name__
        article = "an" if kind[0] in "AEIOU" else "a"
        lines.append(f"  {what}: expected {article} {kind} array, got {describe(value)}")
    else:
        conflict = _conflict(hint, value.shape, memo, variadic)
        if conflict is not None:
            lines.append(f"  {_conflict_line(conflict, what, value, sources)}")
        lines.append(
            f"  {what}: expected {_expected(hint, memo, variadic)}, "
            f"got {describe(value)}{_rank_note(hint, value.shape)}"
        )
    lines += [f"  ({note})" for note in notes]
    return ShapeError(
        "\n".join(lines),
        path=path,
        method=method,
        what=what,
        axis=None if conflict is None else conflict.axis,
        expected=None if conflict is None else conflict.expected,
        received=None if conflict is None else conflict.received,
    )


def _conflict_line(conflict: _Conflict, what: str, value: Any, sources: dict[str, Any]) -> str:
    here = f"{what} ({describe(value)})"
    axis, expected, received = conflict.axis, conflict.expected, conflict.received
    if conflict.kind == "fixed":
        return f"an axis of fixed size {expected} is {received} in {here}"
    if conflict.kind == "symbolic":
        return f'axis "{axis}" should be {expected} but is {received} in {here}'
    if conflict.kind == "same value":
        return f'axis "{axis}" is both {expected} and {received} in {here}'
    noun, verb = ("axes", "are") if axis.startswith("*") else ("axis", "is")
    if axis in sources:
        source, source_value = sources[axis]
        origin = f"from {source} ({describe(source_value)})"
    else:
        origin = "earlier in this call"
    return f'{noun} "{axis}" {verb} {_size(expected)} {origin} but {_size(received)} in {here}'


def _size(size: Any) -> str:
    return str(size) if not isinstance(size, tuple) else str(tuple(int(s) for s in size))
