"""Drawing an `Explanation` as text: one line per checked call, below its caller in a tree
of bars, with its arguments and result as `float32[seq=5, embed=16]`, each dim sized where a
line first names it, wrapped between arguments (and a module's fields) at `_WIDTH` columns.
`Explanation.__str__` imports it when it draws, since this module imports `LayerCall` from
`_explain`."""

import dataclasses
import typing
from typing import Any

import equinox as eqx
import jax

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
        depth += (char in "([") - (char in ")]")
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
    relative = call.path[len(prefix) :] if call.path.startswith(prefix) else call.path
    return f"{relative}: {call.module}{method}"


def pieces(call: LayerCall, parent: LayerCall | None) -> list[str]:
    """The line of one call, in the pieces it may wrap between."""
    seen: set[str] = set()
    groups: list[tuple[list[str], Any, Any]] = []
    for name, value in call.arguments.items():
        hint = call.hints.get(name)
        if groups and _same(groups[-1][1], value) and groups[-1][2] == hint:
            groups[-1][0].append(name)
        else:
            groups.append(([name], value, hint))
    arguments = [
        f"{', '.join(names)}: {_shape(value, hint, seen)}," for names, value, hint in groups
    ]
    if arguments:
        arguments[0] = f"{_label(call, parent)}({arguments[0]}"
        arguments[-1] = f"{arguments[-1][:-1]})"
    else:
        arguments = [f"{_label(call, parent)}()"]
    items = _items(call.result, call.hints.get("return"), seen)
    if len(items) == 1:
        arguments.append(f"-> {items[0]}")
    else:
        arguments += [f"-> ({items[0]},", *(f"{item}," for item in items[1:-1]), f"{items[-1]})"]
    rest = [f"{name}={_size(size)}" for name, size in call.dims.items() if name not in seen]
    if rest:
        arguments.append(f" [{', '.join(rest)}]")
    if call.scan_length is not None:
        count = call.scan_length
        arguments.append(f" × {count} layer{'' if count == 1 else 's'} (lax.scan)")
    return arguments


def _same(a: Any, b: Any) -> bool:
    structure: Any = jax.tree.structure(a)
    same: bool = structure == jax.tree.structure(b) and all(
        x == y for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )
    return same


def _size(size: Any) -> str:
    return str(size) if not isinstance(size, tuple) else str(tuple(int(s) for s in size))


def _array_hint(hint: Any) -> Any:
    """The array annotation in `hint` (a member of a union), or None."""
    if is_array_hint(hint):
        return hint
    for member in typing.get_args(hint):
        if is_array_hint(member):
            return member
    return None


def _items(value: Any, hint: Any, seen: set[str]) -> list[str]:
    """The items of a tuple, each as `_shape` writes it; `[_shape(value)]` for a non-tuple.
    A tuple of like items is one item, `float32[seq=5, embed=16] × 3`."""
    if not isinstance(value, tuple) or not value:
        return [_shape(value, hint, seen)]
    hints = typing.get_args(hint) if typing.get_origin(hint) is tuple else ()
    hints = hints if len(hints) == len(value) else (None,) * len(value)
    if len(value) > 1 and all(_same(v, value[0]) for v in value) and len(set(hints)) == 1:
        return [f"{_shape(value[0], hints[0], seen)} × {len(value)}"]
    return [_shape(item, item_hint, seen) for item, item_hint in zip(value, hints, strict=True)]


def _shape(value: Any, hint: Any, seen: set[str]) -> str:
    """`float32[seq=5, embed=16]`: each dim sized where a line first names it."""
    if isinstance(value, jax.ShapeDtypeStruct):
        return _named(value, _array_hint(hint), seen)
    if isinstance(value, tuple):
        return "(" + ", ".join(_items(value, hint, seen)) + ")"
    if isinstance(value, eqx.Module) and any(is_array(x) for x in jax.tree.leaves(value)):
        fields = dict(_hints.field_hints(type(value)))
        parts = [
            f"{f.name}: {_shape(getattr(value, f.name), fields.get(f.name), seen)}"
            for f in dataclasses.fields(value)
            if is_array(getattr(value, f.name, None))
        ]
        return f"{type(value).__name__}({', '.join(parts)})"
    return describe(value)


def _named(value: jax.ShapeDtypeStruct, hint: Any, seen: set[str]) -> str:
    dtype = dtype_name(value.dtype)
    shape = tuple(value.shape)
    names: list[str | None] = [None] * len(shape)
    if hint is not None:
        dims = hint.dims
        index = hint.index_variadic
        if index is None and len(dims) == len(shape):
            names = [getattr(dim, "name", None) for dim in dims]
        elif index is not None and len(shape) >= len(dims) - 1:
            after = len(dims) - index - 1
            middle = len(shape) - index - after
            names = [getattr(dim, "name", None) for dim in dims[:index]]
            names += [None] * middle
            names += [getattr(dim, "name", None) for dim in dims[index + 1 :]]
            seen.add(f"*{getattr(dims[index], 'name', '')}")
    parts = []
    for name, size in zip(names, shape, strict=True):
        if name is None:
            parts.append(str(size))
        elif name in seen:
            parts.append(name)
        else:
            seen.add(name)
            parts.append(f"{name}={size}")
    return f"{dtype}[{', '.join(parts)}]"
