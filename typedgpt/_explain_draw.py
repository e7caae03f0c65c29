"""Drawing an `Explanation` as text: one line per checked call, below its caller in a tree
of bars, with its arguments and result as `float32[seq=5, embed=16]`, each dim sized where a
line first names it, wrapped between arguments (and a module's fields) at `_WIDTH` columns.
`Explanation.__str__` imports it when it draws, since this module imports `LayerCall` from
`_explain`."""

import dataclasses
import types
import typing
from typing import Any

import equinox as eqx
import jax
from jaxtyping._pytree_type import _MetaPyTree

from . import _hints
from ._explain import LayerCall, is_array
from ._mismatch import describe, dtype_name, is_array_hint

_WIDTH = 100  # a line longer than this wraps between arguments


def draw(call: LayerCall, indent: str, lines: list[str]) -> None:
    for index, child in enumerate(call.calls):
        last = index == len(call.calls) - 1
        connector, below = ("└─ ", "   ") if last else ("├─ ", "│  ")
        lines.extend(wrap(pieces(child, call), indent + connector, indent + below, child))
        draw(child, indent + below, lines)


def wrap(pieces: list[str], first: str, below: str, call: LayerCall) -> list[str]:
    """Join `pieces` into lines of at most `_WIDTH` columns where they allow it; continued
    lines keep the tree's bars and indent past the connector."""
    prefix = below + ("│  " if call.calls else "   ") + "  "
    widths = [_WIDTH - len(first)] + [_WIDTH - len(prefix)] * (len(pieces) - 1)
    pieces = [
        part for piece, width in zip(pieces, widths, strict=True) for part in _split(piece, width)
    ]
    lines = [first + pieces[0]]
    for piece in pieces[1:]:
        if len(lines[-1]) + 1 + len(piece) <= _WIDTH:
            lines[-1] += " " + piece
        else:
            lines.append(prefix + piece.lstrip())
    return lines


def _split(piece: str, width: int) -> list[str]:
    """`piece`, when longer than `width`, cut after each comma at its outermost level that
    has any: between the fields of a module it shows (`KVCache(keys: ..., values: ...)`)."""
    if len(piece) <= width:
        return [piece]
    depth, cuts = 0, []
    for index, char in enumerate(piece):
        depth += (char in "([{") - (char in ")]}")
        if piece.startswith(", ", index):
            cuts.append((depth, index + 1))
    if not cuts:
        return [piece]
    outermost = min(depth for depth, _ in cuts)
    ends = [end for depth, end in cuts if depth == outermost]
    starts = [0, *ends]
    return [
        piece[start:end].strip() for start, end in zip(starts, [*ends, len(piece)], strict=True)
    ]


def _label(call: LayerCall, parent: LayerCall | None) -> str:
    method = "" if call.method == "__call__" else f".{call.method}"
    if parent is None:
        return f"{call.path}{method}"
    if call.path == parent.path:
        return call.method  # another method of the caller's own module
    prefix = parent.path + "."
    if call.path.startswith(parent.path + "["):
        prefix = parent.path
    # A module not found among the caller's fields (rebuilt inside a lax.scan of the
    # caller's own) has no path below it: `?`, not a guess.
    relative = call.path[len(prefix) :] if call.path.startswith(prefix) else "?"
    return f"{relative}: {call.module}{method}"


def pieces(call: LayerCall, parent: LayerCall | None) -> list[str]:
    """The line of one call, in the pieces it may wrap between."""
    if "return" not in call.hints:  # running when the trace raised: no shapes recorded
        outer = bool(call.calls) and "return" not in call.calls[-1].hints
        return [f"{_label(call, parent)}(...)" + ("" if outer else "  <- raised here")]
    names = _Names(call.dims)
    groups: list[tuple[list[str], Any, Any]] = []
    for name, value in call.arguments.items():
        hint = call.hints.get(name)
        if groups and _same(groups[-1][1], value) and groups[-1][2] == hint:
            groups[-1][0].append(name)
        else:
            groups.append(([name], value, hint))
    arguments = [
        f"{', '.join(labels)}: {_shape(value, hint, names)}," for labels, value, hint in groups
    ]
    if arguments:
        arguments[0] = f"{_label(call, parent)}({arguments[0]}"
        arguments[-1] = f"{arguments[-1][:-1]})"
    else:
        arguments = [f"{_label(call, parent)}()"]
    items = _items(call.result, call.hints.get("return"), names) or ["()"]
    if len(items) == 1:
        arguments.append(f"-> {items[0]}")
    else:
        arguments += [f"-> ({items[0]},", *(f"{item}," for item in items[1:-1]), f"{items[-1]})"]
    rest = [f"{name}={_size(size)}" for name, size in call.dims.items() if name not in names.seen]
    if rest:
        arguments.append(f" [{', '.join(rest)}]")
    if call.scan_length is not None:
        count = call.scan_length
        arguments.append(f" × {count} layer{'' if count == 1 else 's'} (lax.scan)")
    return arguments


class _Names:
    """The dims a line has named so far: each is sized where the line first names it, and an
    axis whose size is not its dim's (a broadcast `#embed` of 1) shows its size alone."""

    def __init__(self, dims: dict[str, Any]) -> None:
        self.dims = dims
        self.seen: set[str] = set()

    def name(self, name: str, size: Any) -> str:
        if _size(self.dims.get(name, size)) != _size(size):
            return str(size)
        if name in self.seen:
            return name
        self.seen.add(name)
        return f"{name}={_size(size)}"


def _same(a: Any, b: Any) -> bool:
    structure: Any = jax.tree.structure(a)
    same: bool = structure == jax.tree.structure(b) and all(
        x == y for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )
    return same


def _size(size: Any) -> str:
    if not isinstance(size, tuple):
        return str(size)
    return str(int(size[0])) if len(size) == 1 else str(tuple(int(s) for s in size))


def _member(hint: Any, value: Any) -> Any:
    """The annotation of `value` in `hint`: the member of a union that matches its kind (an
    array, a list, a tuple, a dict, a PyTree), else `hint` itself."""
    if typing.get_origin(hint) not in (typing.Union, types.UnionType):
        return hint
    for member in typing.get_args(hint):
        if isinstance(member, _MetaPyTree):
            return member
        if is_array_hint(member):
            if isinstance(value, jax.ShapeDtypeStruct):
                return member
            continue
        origin = typing.get_origin(member) or member
        if isinstance(origin, type) and isinstance(value, origin):
            return member
    return None


def _children(hint: Any, value: Any, count: int) -> tuple[Any, ...]:
    """The annotations of the `count` items of `value`, a list, tuple or dict, by `hint`."""
    if isinstance(hint, _MetaPyTree):
        return (hint,) * count  # every item of a PyTree is a PyTree of the same leaves
    args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return (args[0],) * count
    if isinstance(value, dict) and len(args) == 2:
        return (args[1],) * count
    if isinstance(value, list) and len(args) == 1:
        return (args[0],) * count
    return args if origin is tuple and len(args) == count else (None,) * count


def _items(value: Any, hint: Any, names: _Names) -> list[str]:
    """The items of a tuple, each as `_shape` writes it; `[_shape(value)]` for a non-tuple.
    A tuple of like items is one item, `float32[seq=5, embed=16] × 3`."""
    hint = _member(hint, value)
    if not isinstance(value, tuple | list):
        return [_shape(value, hint, names)]
    if not value:
        return []
    hints = _children(hint, value, len(value))
    if len(value) > 1 and all(_same(v, value[0]) for v in value) and len(set(hints)) == 1:
        return [f"{_shape(value[0], hints[0], names)} × {len(value)}"]
    return [_shape(item, item_hint, names) for item, item_hint in zip(value, hints, strict=True)]


def _shape(value: Any, hint: Any, names: _Names) -> str:
    """`float32[seq=5, embed=16]`: each dim sized where a line first names it; a list, a
    tuple or a dict of arrays item by item, by the annotation of its items."""
    hint = _member(hint, value)
    if isinstance(value, jax.ShapeDtypeStruct):
        leaf = getattr(hint, "leaftype", None) if isinstance(hint, _MetaPyTree) else hint
        return _named(value, leaf, names)
    arrays = any(is_array(x) for x in jax.tree.leaves(value))
    if isinstance(value, tuple):
        items = _items(value, hint, names)
        return f"({items[0]},)" if len(value) == 1 else "(" + ", ".join(items) + ")"
    if isinstance(value, list) and (arrays or not value):
        return "[" + ", ".join(_items(value, hint, names)) + "]"
    if isinstance(value, dict) and (arrays or not value):
        hints = _children(hint, value, len(value))
        parts = [
            f"{key!r}: {_shape(item, item_hint, names)}"
            for (key, item), item_hint in zip(value.items(), hints, strict=True)
        ]
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, eqx.Module) and arrays:
        fields = dict(_hints.field_hints(type(value)))
        parts = [
            f"{f.name}: {_shape(getattr(value, f.name), fields.get(f.name), names)}"
            for f in dataclasses.fields(value)
            if is_array(getattr(value, f.name, None))
        ]
        return f"{type(value).__name__}({', '.join(parts)})"
    return describe(value)


def _named(value: jax.ShapeDtypeStruct, hint: Any, names: _Names) -> str:
    dtype = dtype_name(value.dtype)
    shape = tuple(int(size) for size in value.shape)
    parts = [str(size) for size in shape]
    if is_array_hint(hint):
        dims = hint.dims
        index = hint.index_variadic
        if index is None and len(dims) == len(shape):
            parts = [_dim(dim, size, names) for dim, size in zip(dims, shape, strict=True)]
        elif index is not None and len(shape) >= len(dims) - 1:
            after = len(shape) - (len(dims) - index - 1)
            middle = shape[index:after]
            parts = [
                _dim(dim, size, names)
                for dim, size in zip(dims[:index], shape[:index], strict=True)
            ]
            name = getattr(dims[index], "name", None)
            if name is None:  # `...`: anonymous axes
                parts += [str(size) for size in middle]
            elif middle:
                parts.append(names.name(f"*{name}", middle))
            parts += [
                _dim(dim, size, names)
                for dim, size in zip(dims[index + 1 :], shape[after:], strict=True)
            ]
    return f"{dtype}[{', '.join(parts)}]"


def _dim(dim: Any, size: int, names: _Names) -> str:
    name = getattr(dim, "name", None)
    return str(size) if name is None else names.name(name, size)
