"""Shape rules on `Dim` tuples, free of mypy: the array operations.

Every rule is conservative: where a dim or a rank is unknown it says nothing, so that only a
certain mismatch is reported. A rule returns its result shape, or raises `ShapeError` with a
message in terms of the dims.
"""

from collections.abc import Sequence

from ._dims import (
    ANY_DIM,
    ANY_DIMS,
    ANYVAR,
    GRADUAL,
    OWNVAR,
    SIZE,
    VAR,
    Dim,
    Shape,
    dims_count,
    normalise,
    same,
    show,
    variadic_index,
)


class ShapeError(Exception):
    """A certain shape mismatch; the message names the dims."""


# --------------------------------------------------------------------------- operations


def broadcast(shapes: Sequence[Shape], what: str) -> Shape:
    """NumPy broadcasting: right-aligned, a size-1 dim stretches, names must agree."""
    result = shapes[0]
    for other in shapes[1:]:
        result = _broadcast2(result, other, what, shapes)
    return result


def _broadcast2(a: Shape, b: Shape, what: str, shapes: Sequence[Shape]) -> Shape:
    out: list[Dim] = []
    i = 1
    while True:
        da = a[-i] if i <= len(a) else None
        db = b[-i] if i <= len(b) else None
        if da is None and db is None:
            break
        if da is None or db is None:
            rest = a[: len(a) - i + 1] if db is None else b[: len(b) - i + 1]
            return normalise([*rest, *reversed(out)])
        if da.kind in (VAR, ANYVAR, OWNVAR) or db.kind in (VAR, ANYVAR, OWNVAR):
            if da == db and da.kind == VAR and len(a) == len(b):
                return normalise([*a[: len(a) - i + 1], *reversed(out)])
            return normalise([ANY_DIMS, *reversed(out)])
        if da.kind == SIZE and da.value == 1:
            out.append(db)
        elif db.kind == SIZE and db.value == 1:
            out.append(da)
        elif not same(da, db):
            listed = " and ".join(show(s) for s in shapes)
            raise ShapeError(
                f"{what} broadcasts {listed}: dim {-i} is {da} in one, {db} in the other"
            )
        else:
            out.append(da if da.definite else db)
        i += 1
    return tuple(reversed(out))


def matmul(a: Shape, b: Shape) -> Shape:
    """`a @ b`: contracts the last dim of `a` with the first (or second-to-last) of `b`."""
    if not a or not b:
        raise ShapeError(f'"@" needs arrays of at least one dim, got {show(a)} @ {show(b)}')
    tail_a = a[-2:] if len(a) >= 2 else a
    tail_b = b[-2:] if len(b) >= 2 else b
    if variadic_index(a[-1:]) is None and variadic_index(tail_b) is None:
        # The contracted dims are known even when `a` has a variadic dim before its last:
        # `x @ w.T` with `x: "*batch in"`.
        check_contraction(a, b, '"@"')
    if variadic_index(tail_a) is not None or variadic_index(tail_b) is not None:
        if variadic_index(b) is not None or variadic_index(a[-1:]) is not None or len(b) > 2:
            return GRADUAL
        # `a` of any rank against a vector or a matrix: its leading dims stay.
        return a[:-1] if len(b) == 1 else (*a[:-1], b[-1])
    if len(a) == 1 and len(b) == 1:
        return ()
    if len(b) == 1:
        return a[:-1]
    if len(a) == 1:
        return (*b[:-2], b[-1])
    batch = broadcast([a[:-2], b[:-2]], '"@"') if a[:-2] or b[:-2] else ()
    return normalise([*batch, a[-2], b[-1]])


def check_contraction(a: Shape, b: Shape, what: str) -> None:
    """The last dim of `a` must be the only, or second-to-last, dim of `b`, as `a @ b` and
    `jnp.dot(a, b)` contract them."""
    left = a[-1]
    right, which = (b[0], "the only") if len(b) == 1 else (b[-2], "the second-to-last")
    if not same(left, right):
        raise ShapeError(
            f"{what} contracts {left} (the last dim of {show(a)}) with {right} "
            f"({which} dim of {show(b)})"
        )


def transpose(a: Shape, axes: Sequence[int] | None = None) -> Shape:
    """`x.T` reverses the dims; `jnp.transpose(x, axes)` permutes them."""
    if variadic_index(a) is not None:
        return GRADUAL
    if axes is None:
        return tuple(reversed(a))
    if sorted(_positive(ax, len(a), a) for ax in axes) != list(range(len(a))):
        raise ShapeError(f"transpose axes {tuple(axes)} are not a permutation of {show(a)}")
    return tuple(a[_positive(ax, len(a), a)] for ax in axes)


def moveaxis(a: Shape, source: Sequence[int], destination: Sequence[int]) -> Shape:
    """`jnp.moveaxis(x, source, destination)`: the moved dims go to their destinations, the
    others keep their order."""
    if variadic_index(a) is not None:
        return GRADUAL
    if len(source) != len(destination):
        raise ShapeError(
            f"moveaxis: {len(source)} source axes but {len(destination)} destination axes"
        )
    src = [_positive(ax, len(a), a) for ax in source]
    dst = [_positive(ax, len(a), a) for ax in destination]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ShapeError(f"moveaxis: repeated axis in {tuple(source)} or {tuple(destination)}")
    order = [n for n in range(len(a)) if n not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return tuple(a[n] for n in order)


def swapaxes(a: Shape, axis1: int, axis2: int) -> Shape:
    """`jnp.swapaxes(x, axis1, axis2)`: two dims trade places."""
    if variadic_index(a) is not None:
        return GRADUAL
    i, j = _positive(axis1, len(a), a), _positive(axis2, len(a), a)
    out = list(a)
    out[i], out[j] = out[j], out[i]
    return tuple(out)


def swap_last(a: Shape) -> Shape:
    """`x.mT`: the last two dims swapped."""
    if len(a) < 2 or variadic_index(a[-2:]) is not None:
        return GRADUAL
    return (*a[:-2], a[-1], a[-2])


def _positive(axis: int, rank: int, a: Shape) -> int:
    if not -rank <= axis < rank:
        raise ShapeError(f"axis {axis} is out of range for {show(a)}, which has {dims_count(rank)}")
    return axis % rank


def check_axis(a: Shape, axis: int) -> None:
    """An axis must exist: softmax over axis 2 of a matrix is an error."""
    if variadic_index(a) is None:
        _positive(axis, len(a), a)


def reduce(a: Shape, axes: Sequence[int] | None, keepdims: bool) -> Shape:
    """A reduction (`sum`, `mean`, `max`, ...) over `axes` (all of them when None).

    A kept axis (`keepdims=True`) has size 1; it is typed unknown, as an axis added by `None`
    is, so that code assigning it where a name is expected is not flagged.
    """
    if axes is None:
        if keepdims:
            return GRADUAL if variadic_index(a) is not None else tuple(ANY_DIM for _ in a)
        return ()
    v = variadic_index(a)
    if v is not None:
        # Axes counted from the side the variadic dim is not on are still known.
        if all(ax < 0 for ax in axes) and all(-ax <= len(a) - v - 1 for ax in axes):
            drop = {len(a) + ax for ax in axes}
            if keepdims:
                return tuple(ANY_DIM if i in drop else d for i, d in enumerate(a))
            return tuple(d for i, d in enumerate(a) if i not in drop)
        return GRADUAL
    positions = {_positive(ax, len(a), a) for ax in axes}
    if keepdims:
        return tuple(ANY_DIM if i in positions else d for i, d in enumerate(a))
    return tuple(d for i, d in enumerate(a) if i not in positions)


def reshape(a: Shape, sizes: Sequence[int | None]) -> Shape:
    """`x.reshape(...)` with sizes that are int literals (None for sizes not known)."""
    if sizes.count(-1) > 1:
        raise ShapeError(f"reshape to {_sizes(sizes)}: only one size may be -1")
    known_in = [d.value for d in a if d.kind == SIZE]
    all_known_in = variadic_index(a) is None and len(known_in) == len(a)
    if all_known_in and all(s is not None and s != -1 for s in sizes):
        total_in = _product([int(v) for v in known_in if isinstance(v, int)])
        total_out = _product([int(s) for s in sizes if s is not None])
        if total_in != total_out:
            raise ShapeError(
                f"reshape of {show(a)} ({total_in} elements) to {_sizes(sizes)} "
                f"({total_out} elements)"
            )
    # A literal size is a fact only where the input's sizes are all known: `seq` may be 4.
    out = [Dim(SIZE, s) if all_known_in and s is not None and s >= 0 else ANY_DIM for s in sizes]
    if all_known_in and sizes.count(-1) == 1 and None not in sizes:
        rest = _product([int(s) for s in sizes if s is not None and s != -1])
        total_in = _product([int(v) for v in known_in if isinstance(v, int)])
        if rest and total_in % rest == 0:
            out[sizes.index(-1)] = Dim(SIZE, total_in // rest)
        elif rest:
            raise ShapeError(
                f"reshape of {show(a)} ({total_in} elements) to {_sizes(sizes)}: "
                f"{total_in} is not a multiple of {rest}"
            )
    return tuple(out)


def _sizes(sizes: Sequence[int | None]) -> str:
    return show(tuple(Dim(SIZE, s) if s is not None else ANY_DIM for s in sizes))


def _product(values: Sequence[int]) -> int:
    out = 1
    for v in values:
        out *= v
    return out


def expand_dims(a: Shape, axes: Sequence[int]) -> Shape:
    """`jnp.expand_dims(x, axes)`: a new axis of size 1 at each of `axes`, counted in the
    result (from its end where negative); typed unknown, as an axis added by `None` is."""
    if variadic_index(a) is not None:
        return GRADUAL
    rank = len(a) + len(axes)
    for axis in axes:
        if not -rank <= axis < rank:
            raise ShapeError(f"axis {axis} is out of range for the {rank} dims of the result")
    positions = {axis % rank for axis in axes}
    if len(positions) != len(axes):
        raise ShapeError(f"axes {tuple(axes)} name one axis of the result twice")
    rest = iter(a)
    return tuple(ANY_DIM if i in positions else next(rest) for i in range(rank))


def concatenate(shapes: Sequence[Shape], axis: int) -> Shape:
    """`jnp.concatenate(arrays, axis)`: equal ranks, equal dims off the axis, sizes add."""
    if any(variadic_index(s) is not None for s in shapes):
        return GRADUAL
    rank = len(shapes[0])
    for s in shapes[1:]:
        if len(s) != rank:
            raise ShapeError(
                "concatenate needs arrays of one rank, got " + ", ".join(show(x) for x in shapes)
            )
    pos = _positive(axis, rank, shapes[0])
    out: list[Dim] = []
    for i in range(rank):
        column = [s[i] for s in shapes]
        if i == pos:
            if all(d.kind == SIZE for d in column):
                out.append(Dim(SIZE, sum(int(d.value) for d in column if isinstance(d.value, int))))
            else:
                out.append(ANY_DIM)
            continue
        first = next((d for d in column if d.definite), ANY_DIM)
        for d in column:
            if not same(first, d):
                raise ShapeError(
                    f"concatenate along axis {axis}: dim {i} is {first} in one array and "
                    f"{d} in another (" + ", ".join(show(x) for x in shapes) + ")"
                )
        out.append(first)
    return tuple(out)


def stack(shapes: Sequence[Shape], axis: int) -> Shape:
    """`jnp.stack(arrays, axis)`: equal shapes, and a new axis of their number."""
    if any(variadic_index(s) is not None for s in shapes):
        return GRADUAL
    rest = list(shapes[0])
    for s in shapes[1:]:
        if len(s) != len(rest) or not all(same(a, b) for a, b in zip(rest, s, strict=True)):
            raise ShapeError(
                "stack needs arrays of one shape, got "
                + ", ".join(show(x) for x in shapes)
                + ": stack arrays of equal dims, or join them along an axis with jnp.concatenate"
            )
        rest = [a if a.definite else b for a, b in zip(rest, s, strict=True)]
    rank = len(rest) + 1
    if not -rank <= axis < rank:
        raise ShapeError(f"stack axis {axis} is out of range for {rank} dims")
    pos = axis % rank
    return (*rest[:pos], Dim(SIZE, len(shapes)), *rest[pos:])
