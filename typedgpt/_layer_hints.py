"""Array annotations for `typedgpt.testing`: the dims they name, and why a value breaks one.

`mismatch` says why a result does not fit its annotation at the drawn sizes, or "" when it
does: a drawn dim must have its drawn size, and a dim the layer decides by itself need only
agree with itself. `hint_name` and `describe` write annotations and values as the messages
show them (`Float[Array, 'seq embed']`, `float32[4, 16]`).
"""

import builtins
import collections
import collections.abc
import contextlib
import dataclasses
import inspect
import re
import types
import typing
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
from beartype.door import is_bearable
from jaxtyping import AbstractArray
from jaxtyping._pytree_type import _MetaPyTree

from ._dim_sizes import Sizes, parse
from ._hints import field_hints, method_hints
from ._typed import TypedModule


def is_array(value: Any) -> bool:
    """An array, or an abstract one."""
    return isinstance(value, jax.Array | jax.ShapeDtypeStruct)


def _is_array_hint(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, AbstractArray)


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def array_hint(hint: Any) -> Any:
    """The array type of an annotation (the first array member of a union), or None."""
    if _is_array_hint(hint):
        return hint
    if _is_union(hint):
        return next((m for m in typing.get_args(hint) if _is_array_hint(m)), None)
    return None


def name_list(hint: Any) -> list[str]:
    """The named and variadic dims of an array annotation, with repeats."""
    return [d.text for d in parse(hint.dim_str) if d.kind in ("named", "variadic")]


def names(hint: Any) -> set[str]:
    return set(name_list(hint))


def return_dims(hint: Any) -> set[str]:
    """The dims an annotation names, in its arrays, lists, tuples, dicts and PyTrees, as
    `check_layer`'s `dims` names them (`*name` for a variadic dim)."""
    array: Any = getattr(hint, "leaftype", None) if isinstance(hint, _MetaPyTree) else hint
    if _is_array_hint(array):
        dims = parse(array.dim_str)
        return {("*" if d.kind == "variadic" else "") + d.text for d in dims if d.text}
    return set().union(*(return_dims(arg) for arg in typing.get_args(hint)))


def annotated_dims(layer: Any) -> set[str]:
    """The dims named in the annotations of `layer` and the typed modules inside it: their
    fields, methods, static and class methods and properties."""
    found: set[str] = set()
    for cls in {type(module) for module in _modules(layer)}:
        found |= set().union(*(return_dims(hint) for _, hint in field_hints(cls)))
        for value in [v for base in cls.__mro__[:-1] for v in vars(base).values()]:
            value = value.fget if isinstance(value, property) else value
            value = getattr(value, "__func__", value)  # a static or class method's
            if inspect.isfunction(value):
                with contextlib.suppress(TypeError):  # one that does not evaluate: no dims
                    found |= set().union(*map(return_dims, method_hints(cls, value).values()))
    return found


def shared_dims(layer: TypedModule | None, hints: list[tuple[Any, int]]) -> set[str]:
    """Dims a method binds in two places: array fields of the layer (`None` for a static
    or class method, which checks none) and array arguments, `(hint, count)` (2 for the items
    of `*name`). A dim named twice in one value is not shared: one larger there is one larger
    in both places."""
    counts: collections.Counter[str] = collections.Counter()
    fields = dict(field_hints(type(layer))) if layer is not None else {}
    for field in dataclasses.fields(layer) if layer is not None else ():
        hint = array_hint(fields.get(field.name))
        if hint is not None and is_array(getattr(layer, field.name)):
            counts.update(names(hint))
    for hint, count in hints:
        for _ in range(count):
            counts.update(names(hint))
    return {name for name, count in counts.items() if count >= 2}


def broadcastable_dims(layer: Any, hints: list[Any]) -> set[str]:
    """The dims written `#name` in `hints` (array annotations or None) or in the array fields
    of `layer` and of the typed modules inside it."""
    arrays = [h for h in hints if h is not None]
    found = {d.text for h in arrays for d in parse(h.dim_str) if d.broadcastable}
    for module in _modules(layer):
        for _, field_hint in field_hints(type(module)):
            array = array_hint(field_hint)
            if array is not None:
                found |= {d.text for d in parse(array.dim_str) if d.broadcastable}
    return found


def _modules(node: Any) -> Iterator[TypedModule]:
    """`node` and every typed module inside its fields, lists, tuples and dicts."""
    if isinstance(node, TypedModule):
        yield node
        children: Any = [getattr(node, f.name, None) for f in dataclasses.fields(node)]
    elif isinstance(node, list | tuple | dict):
        children = node.values() if isinstance(node, dict) else node
    else:
        return
    for child in children:
        yield from _modules(child)


def hint_name(hint: Any) -> str:
    """An annotation as written: `Float[Array, 'seq embed']`, not jaxlib's class names."""
    if hint is None:
        return "(none)"
    name = hint.__name__ if isinstance(hint, type) and not _is_union(hint) else repr(hint)
    name = re.sub(r"\b(?:jax\.)?(?:jaxlib\._jax\.)?Array\b", "Array", name)
    return re.sub(r"\b(?:jaxtyping|typing)\.", "", name).replace("NoneType", "None")


def describe(value: Any) -> str:
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"{dtype}[{', '.join(str(s) for s in shape)}]"
    if isinstance(value, tuple):
        return "(" + ", ".join(describe(v) for v in value) + ")"
    return type(value).__qualname__


# --------------------------------------------------------------------------------------------
# A result against its annotation, at the drawn sizes
# --------------------------------------------------------------------------------------------


def mismatch(value: Any, hint: Any, sizes: Sizes, bound: dict[str, Any]) -> str:
    """Why `value` does not fit `hint` at the drawn sizes, or "" when it does.

    Dims that were not drawn (the layer decides them by itself) are bound, in `bound`, by
    their first occurrence.
    """
    if hint is Any:
        return ""
    if hint is None or hint is type(None):
        return "" if value is None else f"expected None, got {describe(value)}"
    if _is_array_hint(hint):
        return _array_mismatch(value, hint, sizes, bound)
    if typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        if args and args[-1] is not Ellipsis:
            if not isinstance(value, tuple) or len(value) != len(args):
                return f"expected a tuple of {len(args)} values, got {describe(value)}"
            for index, (item, item_hint) in enumerate(zip(value, args, strict=True)):
                reason = mismatch(item, item_hint, sizes, bound)
                if reason:
                    return f"item {index}: {reason}"
            return ""
    if _is_union(hint):
        reasons = [mismatch(value, m, sizes, dict(bound)) for m in typing.get_args(hint)]
        return "" if "" in reasons else reasons[0]
    items = _items(value, hint)
    if items is not None:
        for label, item, item_hint in items:
            reason = mismatch(item, item_hint, sizes, bound)
            if reason:
                return f"{label}: {reason}"
        return ""
    if isinstance(hint, type) and issubclass(hint, TypedModule):
        if not isinstance(value, hint):
            return f"expected {hint.__name__}, got {describe(value)}"
        hints = dict(field_hints(hint))
        scope: dict[str, Any] = {}  # a module's fields bind dims in a scope of their own
        for field in dataclasses.fields(hint):
            field_hint = hints.get(field.name)
            if array_hint(field_hint) is not None:
                reason = mismatch(getattr(value, field.name), field_hint, sizes, scope)
                if reason:
                    return f"field {field.name!r}: {reason}"
        return ""
    if isinstance(value, jax.ShapeDtypeStruct) and isinstance(hint, type):
        fits = issubclass(jax.Array, hint)  # an abstract array stands for an array
    else:
        fits = is_bearable(value, hint)
    return "" if fits else f"expected {hint_name(hint)}, got {describe(value)}"


def _items(value: Any, hint: Any) -> list[tuple[str, Any, Any]] | None:
    """The items of a list, a `tuple[X, ...]`, a dict or a `PyTree` of arrays that `value`
    should be, each with its label and annotation (their arrays are abstract, which beartype
    would not accept); `None` for any other annotation or a value of another kind."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    leaftype = getattr(hint, "leaftype", None)
    if isinstance(hint, _MetaPyTree) and array_hint(leaftype) is not None:
        leaves = jax.tree_util.tree_flatten_with_path(value)[0]
        return [(f"leaf {jax.tree_util.keystr(path)}", leaf, leaftype) for path, leaf in leaves]
    if isinstance(hint, type) and issubclass(hint, tuple) and hasattr(hint, "_fields"):
        if isinstance(value, hint):  # a NamedTuple: each field against its annotation
            fields = typing.get_type_hints(hint)
            return [(f"field {n!r}", getattr(value, n), fields.get(n, Any)) for n in hint._fields]
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis and isinstance(value, tuple):
        return [(f"item {index}", item, args[0]) for index, item in enumerate(value)]
    if origin in (list, collections.abc.Sequence) and len(args) == 1:
        if isinstance(value, list | tuple):
            return [(f"item {index}", item, args[0]) for index, item in enumerate(value)]
    if origin in (dict, collections.abc.Mapping) and len(args) == 2:
        if isinstance(value, dict):
            return [(f"item {key!r}", item, args[1]) for key, item in value.items()]
    return None


def _array_mismatch(value: Any, hint: Any, sizes: Sizes, bound: dict[str, Any]) -> str:
    if not is_array(value):
        return f"expected a JAX array, got {describe(value)}"
    dtypes = hint.dtypes
    is_key = jnp.issubdtype(value.dtype, jax.dtypes.prng_key)
    if isinstance(dtypes, tuple) and value.dtype.name not in dtypes:
        if not (is_key and "prng_key" in dtypes):
            return f"expected a dtype of {hint.__name__}, got {value.dtype}"
    dims = parse(hint.dim_str)
    shape = tuple(value.shape)
    split = next((i for i, d in enumerate(dims) if d.kind.endswith("variadic")), None)
    if split is None:
        if len(shape) != len(dims):
            return f"expected {len(dims)} axes ({hint.dim_str.strip()}), got shape {shape}"
        pairs = list(zip(dims, shape, strict=True))
    else:
        if len(shape) < len(dims) - 1:
            return f"expected at least {len(dims) - 1} axes ({hint.dim_str}), got shape {shape}"
        tail = len(dims) - split - 1
        middle = shape[split : len(shape) - tail]
        pairs = list(zip(dims[:split], shape[:split], strict=True))
        pairs += list(zip(dims[split + 1 :], shape[len(shape) - tail :], strict=True))
        variadic = dims[split]
        if variadic.kind == "variadic":
            name = variadic.text
            if name in sizes.variadics:
                expected = sizes.variadics[name]
            else:
                expected = bound.setdefault(f"*{name}", middle)
            if tuple(expected) != middle:
                return f"*{name} should be {tuple(expected)}, got {middle} (shape {shape})"
    known = sizes.known()
    for dim, size in pairs:
        if dim.kind == "named":
            expected_size = (
                known[dim.text] if dim.text in known else bound.setdefault(dim.text, size)
            )
        elif dim.kind == "fixed":
            expected_size = int(dim.text)
        elif dim.kind == "symbolic":
            try:
                expected_size = int(eval(dim.text, {"__builtins__": builtins}, known))
            except NameError:  # depends on a dim the layer decides
                continue
        else:
            continue
        if size != expected_size:
            return f"{dim.text} should be {expected_size}, got {size} (shape {shape})"
    return ""
