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

from dataclasses import dataclass
from typing import Any

import equinox as eqx
from jaxtyping import TypeCheckError
from jaxtyping._array_types import (
    _anonymous_dim,
    _FixedDim,
    _NamedDim,
    _NamedVariadicDim,
    _SymbolicDim,
)

from ._mismatch import Failure, _pairs, describe, get_shape_memo, symbolic_size


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
    if len(shape) < len(dims) - 1 or (index is None and len(shape) != len(dims)):
        return None  # another rank: no one axis to blame
    pairs = _pairs(hint, shape)
    local = dict(memo)
    for dim, size in pairs:
        if dim is _anonymous_dim or (dim.broadcastable and size == 1):
            continue
        if isinstance(dim, _FixedDim):
            if dim.size != size:
                return _Conflict(str(dim.size), dim.size, size, "fixed")
        elif isinstance(dim, _SymbolicDim):
            try:
                want = symbolic_size(dim.elem, local)
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
                sizes.append(str(symbolic_size(dim.elem, memo)))
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
            sizes += [str(s) for s in bound[1]] if bound else ["..."]
        else:
            names.append("...")
            sizes.append("...")
    text = _tuple(names)
    if names != sizes and any(s not in ("?", "...") for s in sizes):
        text += f" = {_tuple(sizes)}"
    return text


def _tuple(items: list[str]) -> str:
    """`(seq, embed)`, and `(embed,)` for one item, as the static checker writes dims."""
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


# The dtype to cast to, for an array of another kind than an annotation's.
_CASTS = {"Int": "jnp.int32", "Integer": "jnp.int32", "Float": "jnp.float32", "Bool": "bool"}


# The fix for a value with one axis more than its annotation, by what the value is. An
# argument's is most often a batch: the layers take one example, as Equinox's do. A field's is
# most often a stack of layers, as `GPT.blocks` holds them. A return value's is the method's
# own mistake: mapping the call would not fix it.
_EXTRA_AXIS_FIXES = {
    "argument": ": for a batch, map the call over its first axis with jax.vmap",
    "field": (
        ": if the module is a stack of layers (as GPT.blocks is), call one layer "
        "(GPT.unstacked_blocks() gives them) or map the call over the stack with eqx.filter_vmap"
    ),
}


def _rank_note(hint: Any, shape: tuple[int, ...], what: str) -> str:
    want = len(hint.dims)
    if hint.index_variadic is None and len(shape) != want:
        kind = what.rpartition(" of ")[2].partition(" ")[0]  # "argument", "field" or "the"
        extra = want and len(shape) == want + 1
        fix = _EXTRA_AXIS_FIXES.get(kind, "") if extra else ""
        return f" ({len(shape)} {'axis' if len(shape) == 1 else 'axes'}, not {want}){fix}"
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
        cast = _CASTS.get(kind)
        fix = f": cast it with .astype({cast})" if cast else ""
        lines.append(f"  {what}: expected {article} {kind} array, got {describe(value)}{fix}")
    else:
        conflict = _conflict(hint, value.shape, memo, variadic)
        if conflict is not None:
            lines.append(f"  {_conflict_line(conflict, what, value, sources)}")
        lines.append(
            f"  {what}: expected {_expected(hint, memo, variadic)}, "
            f"got {describe(value)}{_rank_note(hint, value.shape, what)}"
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


def module_hash(module: eqx.Module) -> int:
    """Equinox's hash of a module's fields; for one that holds arrays, which JAX cannot hash,
    a `TypeError` that says what asked for it and what to do instead."""
    try:
        return eqx.Module.__hash__(module)
    except TypeError:
        name = type(module).__qualname__
        raise TypeError(
            f"a {name} holds arrays, which cannot be hashed, as jax.jit(module) (it hashes the "
            "function it compiles), a static argument or a dict key would need: compile a "
            "function that takes the module as an argument, eqx.filter_jit(module)(x) or "
            "jax.jit(lambda m, x: m(x))(module, x) (a GPT's forward pass is compiled already: "
            "call model(tokens))"
        ) from None
