"""`explain`: every checked layer call of a model, as a tree of shapes, with no FLOPs spent.

The model runs under `jax.eval_shape`, which traces it with abstract arrays and computes
nothing, while `TypedModule`'s checks record each call they make: the module's path, the
method, the dims the call bound and the shapes that went in and came out. The model itself
may be abstract (`eqx.filter_eval_shape(tg.GPT, config, key=key)`), so even GPT-2 XL is
explained in seconds without a byte of its weights.
"""

import dataclasses
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import numpy as np

from . import _hints, _typed
from ._gpt import GPT
from ._mismatch import describe, dtype_name, is_array_hint
from ._typed import TypedModule

# Methods that compile themselves with a jit whose traces are cached (a second trace would
# record nothing), and the method each one compiles, which explain runs instead.
_UNJITTED: dict[tuple[type, str], str] = {
    (GPT, "__call__"): "forward",
    (GPT, "decode"): "forward_cached",
}


@dataclass(frozen=True)
class LayerCall:
    """One checked call: which module, which method, what went in and what came out.

    Attributes:
        path: the module's attribute path, as in error messages: `"GPT.blocks[*].attn"`.
        module: the module's class name, such as `"CausalSelfAttention"`.
        method: the method called, such as `"__call__"` or `"decode"`.
        dims: every dim the call bound, with its size (a tuple for `*` dims).
        arguments: the annotated arguments, arrays as `jax.ShapeDtypeStruct`s.
        result: the return value, arrays as `jax.ShapeDtypeStruct`s.
        hints: the annotations of `arguments`, and of the result under `"return"`.
        scan_length: for stacked layers run by `lax.scan` (`blocks[*]`), how many layers
            this one traced call stands for; `None` otherwise.
        calls: the checked calls this one made, in order.
    """

    path: str
    module: str
    method: str
    dims: dict[str, Any]
    arguments: dict[str, Any]
    result: Any
    hints: dict[str, Any] = dataclasses.field(repr=False)
    scan_length: int | None
    calls: tuple["LayerCall", ...]

    def walk(self) -> Iterator["LayerCall"]:
        """This call, then every call inside it, depth first."""
        yield self
        for call in self.calls:
            yield from call.walk()


@dataclass(frozen=True)
class Explanation:
    """What `explain` found: the outermost checked calls, each holding the calls it made.

    `str(explanation)` draws the tree, one call per line: the module's path below its
    caller, its class and method, its arguments and result with each dim named and sized
    once per line (`float32[seq=5, embed=16]`), and in brackets the dims bound only by
    the module's fields.

    Attributes:
        calls: the outermost checked calls (usually one: the model's).
        result: what the model returned, arrays as `jax.ShapeDtypeStruct`s.
    """

    calls: tuple[LayerCall, ...]
    result: Any

    def walk(self) -> Iterator[LayerCall]:
        """Every recorded call, depth first."""
        for call in self.calls:
            yield from call.walk()

    def __str__(self) -> str:
        lines: list[str] = []
        for call in self.calls:
            lines.extend(_wrap(_pieces(call, None), "", "", call))
            _draw(call, "", lines)
        return "\n".join(lines)


def explain(
    model: TypedModule, *inputs: Any, method: str = "__call__", **kwargs: Any
) -> Explanation:
    """Trace `model.method(*inputs, **kwargs)` with `jax.eval_shape` and record every
    checked layer call: no FLOPs are spent and nothing is compiled.

    ```python
    config = tg.GPTConfig.gpt2()
    model = eqx.filter_eval_shape(tg.GPT, config, key=jax.random.key(0))  # no weights
    tokens = jax.ShapeDtypeStruct((1024,), jnp.int32)
    print(tg.explain(model, tokens))
    ```

    **Arguments:**

    - `model`: a `TypedModule`. Its arrays may be real or `jax.ShapeDtypeStruct`s, as
      `eqx.filter_eval_shape` builds them.
    - `inputs`, `kwargs`: the method's arguments; arrays may be `jax.ShapeDtypeStruct`s.
    - `method`: the method to explain. A `GPT`'s `__call__` and `decode` compile through a
      cached jit, so explain runs the methods they compile, `forward` and `forward_cached`.

    **Returns:** an `Explanation`: print it for the tree, or read its `calls`.

    A call that breaks its annotations raises `tg.ShapeError`, as a real call would. A
    `model` that is not a `TypedModule` raises `TypeError`, a `method` it lacks
    `ValueError`.
    """
    if not isinstance(model, TypedModule):
        raise TypeError(
            f"explain expects a TypedModule such as tg.GPT, got {type(model).__qualname__}"
        )
    name = _UNJITTED.get((type(model), method), method)
    if not callable(getattr(model, name, None)):
        raise ValueError(f"{type(model).__name__} has no method {method!r} to explain")
    dynamic, static = eqx.partition((model, inputs, kwargs), _is_array)

    def run(dynamic: Any) -> Any:
        module, args, keywords = eqx.combine(dynamic, static)
        return getattr(module, name)(*args, **keywords)

    with _typed.recording() as frames:
        result = jax.eval_shape(run, dynamic)
    return Explanation(calls=tuple(_call(frame) for frame in frames), result=result)


def _is_array(value: Any) -> bool:
    return isinstance(value, jax.Array | np.ndarray | jax.ShapeDtypeStruct)


def _call(frame: Any) -> LayerCall:
    return LayerCall(
        path=frame.path,
        module=type(frame.module).__name__,
        method=frame.method,
        dims=dict(frame.dims),
        arguments=dict(frame.arguments),
        result=frame.result,
        hints=dict(frame.hints),
        scan_length=frame.scan_length,
        calls=tuple(_call(child) for child in frame.calls or ()),
    )


# Drawing the tree.

_WIDTH = 100  # a line longer than this wraps between arguments


def _draw(call: LayerCall, indent: str, lines: list[str]) -> None:
    for index, child in enumerate(call.calls):
        last = index == len(call.calls) - 1
        connector, below = ("└─ ", "   ") if last else ("├─ ", "│  ")
        lines.extend(_wrap(_pieces(child, call), indent + connector, indent + below, child))
        _draw(child, indent + below, lines)


def _wrap(pieces: list[str], first: str, below: str, call: LayerCall) -> list[str]:
    """Join `pieces` into lines of at most `_WIDTH` columns where they allow it; continued
    lines keep the tree's bars and indent past the connector."""
    prefix = below + ("│  " if call.calls else "   ") + "  "
    lines = [first + pieces[0]]
    for piece in pieces[1:]:
        if len(lines[-1]) + 1 + len(piece) <= _WIDTH:
            lines[-1] += " " + piece
        else:
            lines.append(prefix + piece.lstrip())
    return lines


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


def _pieces(call: LayerCall, parent: LayerCall | None) -> list[str]:
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
    if isinstance(value, eqx.Module) and any(_is_array(x) for x in jax.tree.leaves(value)):
        fields = dict(_hints.field_hints(type(value)))
        parts = [
            f"{f.name}: {_shape(getattr(value, f.name), fields.get(f.name), seen)}"
            for f in dataclasses.fields(value)
            if _is_array(getattr(value, f.name, None))
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
