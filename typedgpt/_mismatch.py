"""Why a value does not match its annotation, in jaxtyping's dim scope of the current call.

`mismatch` checks a value against its hint by jaxtyping's rules, with beartype for what is
not an array, and returns a `Failure` (the item that failed, its hint, and why) or `None`.
Lists, `tuple[X, ...]`, dicts and `PyTree`s of arrays are checked item by item; a member of a
union that fails binds no dims; a symbolic axis (`2*embed`) may use a dim named later in its
own annotation, and the call's arguments by name (`{self.num_heads}`, `seq-k`).
"""

import collections.abc
import contextlib
import dataclasses
import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
from beartype.door import is_bearable
from jaxtyping._array_types import _MetaAbstractArray, _NamedDim, _SymbolicDim
from jaxtyping._pytree_type import _MetaPyTree
from jaxtyping._storage import get_shape_memo as _untyped_get_shape_memo
from jaxtyping._storage import set_shape_memo

# jaxtyping's dim memo for the current call: (single dims, variadic dims, pytree dims, args).
get_shape_memo: Callable[[], tuple[dict[str, int], dict[str, tuple[bool, Any]], Any, Any]] = (
    _untyped_get_shape_memo
)


# What a value is, and why it does not match its hint.


def is_array_hint(hint: Any) -> bool:
    return isinstance(hint, _MetaAbstractArray)


def mentions_array(hint: Any) -> bool:
    if isinstance(hint, _MetaPyTree):  # `PyTree[Float[Array, " n"]]` has no typing args
        hint = getattr(hint, "leaftype", None)
    return is_array_hint(hint) or any(mentions_array(arg) for arg in typing.get_args(hint))


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
    """`float32`; `key<fry>` for a JAX PRNG key (NumPy has none); `int64` for `torch.int64`."""
    try:
        return str(np.dtype(dtype).name)
    except TypeError:
        return str(dtype).rpartition(".")[2]


def describe(value: Any) -> str:
    """A short description of a value for messages: `float32[3, 5]`, `int`, `None`."""
    if value is None:
        return "None"
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
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
    of_array: bool = False  # an array of the hint's kind: `reason` is jaxtyping's


_SEQUENCES = (list, tuple, collections.abc.Sequence, collections.abc.MutableSequence)
_MAPPINGS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


def _within(failure: Failure, item: str) -> Failure:
    """`failure` of a value found at `item` ("item 1") of an outer one."""
    return dataclasses.replace(failure, item=f"{failure.item}{item} of ")


_Found = dict[str, tuple[str, Any]]  # dims an item bound: where the item is, and the item


class UnboundSymbolicDim(TypeError):
    """An annotation's symbolic axis (`2*embed`) uses a dim that nothing has bound yet."""


def symbolic_size(elem: str, dims: Mapping[str, Any]) -> Any:
    """The size symbolic axis `elem` asks for, as jaxtyping computes it: `{...}` parts are
    formatted with the call's arguments (`{self.num_heads}`), then the expression is evaluated
    with `dims` and, for names that are no dim, the arguments (`seq-k` with an int `k`)."""
    arguments = get_shape_memo()[3]
    return eval(eval(f"f'{elem}'", dict(arguments)), {**arguments, **dims})


def _bind_for_symbolic(hint: Any, shape: tuple[int, ...]) -> None:
    """Bind the named dims of `hint` from `shape` before jaxtyping reads it, so that a
    symbolic axis may use a dim named after it in the same annotation (`"2*embed embed"`,
    which jaxtyping alone cannot evaluate); raise `UnboundSymbolicDim` for one that uses a
    name bound nowhere yet, or that is no size."""
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
            size = symbolic_size(dim.elem, memo)
        except NameError as error:
            raise UnboundSymbolicDim(
                f'axis "{dim.elem}" uses {error.name}, which is not bound before it: '
                f"a symbolic axis may use only dims of the fields, of earlier arguments or "
                "of its own annotation"
            ) from None
        if not isinstance(size, int | np.integer) or isinstance(size, bool):
            raise UnboundSymbolicDim(
                f'axis "{dim.elem}" is {describe(size)}, not a size: a symbolic axis must '
                "compute an int (under jax.jit, make the arguments it uses static)"
            )


@contextlib.contextmanager
def _arguments_as_dims(hint: Any) -> Iterator[None]:
    """While jaxtyping checks `hint`, let its symbolic axes read the call's arguments by name,
    as `symbolic_size` does: each argument that no dim is named after stands in the memo."""
    single, _, _, arguments = get_shape_memo()
    symbolic = any(isinstance(dim, _SymbolicDim) for dim in hint.dims)
    added = [name for name in arguments if name not in single] if symbolic else []
    single.update((name, arguments[name]) for name in added)
    try:
        yield
    finally:
        single = get_shape_memo()[0]  # jaxtyping puts a copy back when a check fails
        for name in added:
            single.pop(name, None)


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
    shaped = hasattr(value, "shape") and hasattr(value, "dtype")
    if not right_kind:
        if array_type is not jax.Array:
            reason = f"expected {hint_name(hint)}, got {describe(value)}"
        elif shaped or isinstance(value, list | tuple | int | float):  # these convert
            fix = "convert it with jax.numpy.asarray"
            if isinstance(value, jax.ShapeDtypeStruct):  # shapes alone: it can only be traced
                fix = "an abstract array holds no values: trace the call with tg.explain"
            kind = "a JAX array" if shaped else "an array"
            reason = f"expected {kind}, got {describe(value)}: {fix}"
        else:
            reason = f"expected an array, got {describe(value)}"
        return Failure(value, hint, reason)
    if shaped:
        _bind_for_symbolic(hint, tuple(value.shape))
    with _arguments_as_dims(hint):
        reason = hint.__instancecheck_str__(value)
    if not reason:
        return None
    return Failure(value, hint, reason, of_array=shaped)


def _items_mismatch(value: Any, hint: Any, found: _Found, at: str) -> Failure | None:
    """Why a list, a `tuple[X, ...]`, a dict or a `PyTree` of arrays does not match `hint`,
    item by item (beartype would check one item, chosen at random), or None when it does."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in _MAPPINGS:
        if not isinstance(value, collections.abc.Mapping):
            return Failure(value, hint, f"expected {hint_name(hint)}, got {describe(value)}")
        for key, item in value.items():
            failure = mismatch(key, args[0])
            if failure is None:
                failure = mismatch(item, args[1], found, f"item {key!r} of {at}")
            if failure is not None:
                return _within(failure, f"item {key!r}")
        return None
    if origin in _SEQUENCES:
        if not isinstance(value, origin) or isinstance(value, str | bytes):
            return Failure(value, hint, f"expected {hint_name(hint)}, got {describe(value)}")
        for index, item in enumerate(value):
            failure = mismatch(item, args[0], found, f"item {index} of {at}")
            if failure is not None:
                return _within(failure, f"item {index}")
        return None
    leaves = jax.tree_util.tree_flatten_with_path(value)[0]
    for path, leaf in leaves:
        failure = mismatch(leaf, hint.leaftype, found, f"leaf {jax.tree_util.keystr(path)} of {at}")
        if failure is not None:
            return _within(failure, f"leaf {jax.tree_util.keystr(path)}")
    return None


def _has_items_of_arrays(hint: Any) -> bool:
    """Whether `hint` is a list, `tuple[X, ...]`, dict or `PyTree` of arrays (item by item)."""
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


def mismatch(value: Any, hint: Any, found: _Found | None = None, at: str = "") -> Failure | None:
    """Why `value` does not match `hint` in the current dim scope, or None when it does.
    Each dim bound by an item (`at`, "item 1 of ") of `value` is noted in `found`, with it."""
    found = {} if found is None else found
    if is_array_hint(hint):
        failure = _array_mismatch(value, hint)
        single, variadic, _, _ = get_shape_memo()
        for name in [*single, *(f"*{name}" for name in variadic)] if at else ():
            found.setdefault(name, (at, value))
        return failure
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        # Each member binds on a copy of the memo: only the one that matches keeps its dims.
        before, noted = tuple(dict(memo) for memo in get_shape_memo()), dict(found)
        failures: list[tuple[Failure, tuple[Any, ...], _Found]] = []
        for member in typing.get_args(hint):
            failure = mismatch(value, member, found, at)
            if failure is None:
                return None
            failures.append((failure, get_shape_memo(), dict(found)))
            set_shape_memo(*(dict(memo) for memo in before))
            found.clear()
            found.update(noted)
        # The member whose kind of array the value is says most, then any array member.
        arrays = [f for f in failures if f[0].of_array] or [
            f for f in failures if mentions_array(f[0].hint)
        ]
        chosen, memos, noted = (arrays or failures)[0]
        set_shape_memo(*memos)  # the dims it bound, and where, for the message only
        found.update(noted)
        return chosen
    named = isinstance(hint, type) and issubclass(hint, tuple) and hasattr(hint, "_fields")
    if origin is tuple or named:  # a NamedTuple's fields are checked as a tuple's items
        args = tuple(typing.get_type_hints(hint).values()) if named else typing.get_args(hint)
        if args and args[-1] is not Ellipsis:
            if not isinstance(value, hint if named else tuple) or len(value) != len(args):
                kind = hint_name(hint) if named else f"a tuple of {len(args)} values"
                return Failure(value, hint, f"expected {kind}, got {describe(value)}")
            for index, (item, item_hint) in enumerate(zip(value, args, strict=True)):
                name = f" ({hint._fields[index]})" if named else ""
                failure = mismatch(item, item_hint, found, f"item {index}{name} of {at}")
                if failure is not None:
                    return _within(failure, f"item {index}{name}")
            return None
    if _has_items_of_arrays(hint):
        return _items_mismatch(value, hint, found, at)
    if hint is Any or is_bearable(value, hint):
        return None
    return Failure(value, hint, f"expected {hint_name(hint)}, got {describe(value)}")
