"""Shape rules of `jax.lax`'s functions, on `Dim` tuples, free of mypy.

jax.lax is stricter than jax.numpy, and the rules say so as jax 0.10 does: an axis counts
from 0 and is never negative (`lax.argmax(x, -1, ...)` is an error where `jnp.argmax(x, -1)`
is the last axis), a permutation or a shape is given in full, and nothing broadcasts unless
asked to (`lax.broadcast_in_dim`). As in `_shapes`, a rule says nothing where a dim or a rank
is unknown, and a literal size makes a fixed-size dim only where the operand's size there is
fixed too (for a new axis of `broadcast_in_dim`, all of them, as for `reshape`): where the
operand has `seq`, a slice of 4 is of unknown size, as `x[:4]` is.
"""

from collections.abc import Sequence

from ._dims import ANY_DIM, GRADUAL, SIZE, Dim, Shape, dims_count, same, show, variadic_index
from ._shapes import ShapeError, check_axis, reduce

# `((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch))`, as `lax.dot_general` takes.
AxesPair = tuple[tuple[int, ...], tuple[int, ...]]
DimensionNumbers = tuple[AxesPair, AxesPair]


def axis(a: Shape, ax: int, what: str = "axis") -> int:
    """A literal axis as jax.lax takes it: from 0, and an axis of `a` where its rank is known."""
    rank = None if variadic_index(a) is not None else len(a)
    if ax < 0:
        fix = f"; write {rank + ax}" if rank is not None and ax >= -rank else ""
        raise ShapeError(f"{what} {ax} is negative: jax.lax counts axes from 0{fix}")
    if rank is not None and ax >= rank:
        raise ShapeError(f"{what} {ax} is out of range for {show(a)}, which has {dims_count(rank)}")
    return ax


def distinct(axes: Sequence[int], what: str) -> None:
    if len(set(axes)) != len(axes):
        raise ShapeError(f"{what} {tuple(axes)} name one axis twice")


def squeeze(a: Shape, axes: Sequence[int]) -> Shape:
    """`lax.squeeze(x, dimensions)`: drops the axes (from the end where negative), which must
    be of size 1; a named dim may be."""
    if variadic_index(a) is None:
        for ax in axes:
            check_axis(a, ax)
        positions = [ax % len(a) for ax in axes]
        distinct(positions, "dimensions")
        for p in positions:
            if a[p].kind == SIZE and a[p].value != 1:
                raise ShapeError(
                    f"axis {p} of {show(a)} has size {a[p]}: only a dim of size 1 is squeezed"
                )
    return reduce(a, axes, keepdims=False)


def dot_general(a: Shape, b: Shape, numbers: DimensionNumbers) -> Shape:
    """`lax.dot_general(a, b, ((contract_a, contract_b), (batch_a, batch_b)))`: the batch
    dims, then the other dims of `a`, then those of `b`, each in order."""
    (contract_a, contract_b), (batch_a, batch_b) = numbers
    for what, x, y in (("contracting", contract_a, contract_b), ("batch", batch_a, batch_b)):
        if len(x) != len(y):
            raise ShapeError(
                f"{len(x)} {what} dims of the lhs but {len(y)} of the rhs: give them in pairs"
            )
    sides = (("lhs", a, (*batch_a, *contract_a)), ("rhs", b, (*batch_b, *contract_b)))
    for side, dims, axes in sides:
        for ax in axes:
            axis(dims, ax, f"{side} axis")
        distinct(axes, f"the {side}'s batch and contracting axes")
    if variadic_index(a) is not None or variadic_index(b) is not None:
        return GRADUAL
    for verb, x, y in (("contracts", contract_a, contract_b), ("batches", batch_a, batch_b)):
        for i, j in zip(x, y, strict=True):
            if not same(a[i], b[j]):
                raise ShapeError(
                    f"dot_general {verb} {a[i]} (dim {i} of {show(a)}) with {b[j]} "
                    f"(dim {j} of {show(b)})"
                )
    batch = [a[i] if a[i].definite else b[j] for i, j in zip(batch_a, batch_b, strict=True)]
    rest_a = [d for i, d in enumerate(a) if i not in (*batch_a, *contract_a)]
    rest_b = [d for j, d in enumerate(b) if j not in (*batch_b, *contract_b)]
    return (*batch, *rest_a, *rest_b)


def broadcast_in_dim(a: Shape, sizes: Sequence[int | None], dims: Sequence[int] | None) -> Shape:
    """`lax.broadcast_in_dim(x, shape, broadcast_dimensions)`: a result of `len(shape)` dims,
    with dim `i` of `x` at axis `dims[i]`; it must have that axis's size, or size 1.

    A dim of `x` placed where `shape` has a size that is not a literal keeps its name; where
    `shape` has a literal size, a named dim is that size or 1, so the result's is unknown.
    """
    fixed = variadic_index(a) is None and all(d.kind == SIZE for d in a)
    out = [Dim(SIZE, s) if fixed and s is not None else ANY_DIM for s in sizes]
    if dims is None or variadic_index(a) is not None:
        return tuple(out)
    if len(dims) != len(a):
        raise ShapeError(
            f"broadcast_dimensions {tuple(dims)} place {dims_count(len(dims))}, but the operand "
            f"{show(a)} has {len(a)}: give the axis of the result for each"
        )
    written = tuple(Dim(SIZE, s) if s is not None else ANY_DIM for s in sizes)
    for i in dims:
        axis(written, i, "broadcast dimension")  # the shape as written: `(2,)`, not `(_,)`
    distinct(dims, "broadcast_dimensions")
    for d, i in zip(a, dims, strict=True):
        size = sizes[i]
        if d.kind == SIZE and d.value == 1:
            continue  # broadcast: the result has the size of `shape`
        if d.kind == SIZE and size is not None and d.value != size:
            raise ShapeError(
                f"operand dim {d} goes to axis {i} of the result, of size {size}: a dim is "
                "broadcast only from size 1"
            )
        if size is None or d.kind == SIZE:
            out[i] = d
    return tuple(out)


def dynamic_slice(a: Shape, sizes: Sequence[int | None], starts: int | None) -> Shape:
    """`lax.dynamic_slice(x, start_indices, slice_sizes)`: the slice sizes, one per dim, each
    at most the dim's size; `starts` is the number of start indices, where it is known."""
    if variadic_index(a) is None:
        for what, n in (("slice_sizes", len(sizes)), ("start_indices", starts)):
            if n is not None and n != len(a):
                raise ShapeError(
                    f"{n} {what} for {show(a)}, which has {dims_count(len(a))}: give one per dim"
                )
        dims: Sequence[Dim] = a
    else:
        dims = [ANY_DIM] * len(sizes)
    out = []
    for i, (d, size) in enumerate(zip(dims, sizes, strict=True)):
        if size is not None and size < 0:
            raise ShapeError(f"slice size {size} is negative")
        if size is not None and d.kind == SIZE and isinstance(d.value, int) and size > d.value:
            raise ShapeError(f"slice size {size} is larger than dim {i} of {show(a)}")
        out.append(Dim(SIZE, size) if size is not None and d.kind == SIZE else ANY_DIM)
    return tuple(out)


def slice_(
    a: Shape,
    starts: Sequence[int | None],
    limits: Sequence[int | None],
    strides: Sequence[int | None],
) -> Shape:
    """`lax.slice(x, start_indices, limit_indices, strides)`: `ceil((limit - start) / stride)`
    elements of each dim.

    A slice of more elements than a fixed-size dim has is an error, with jit and without.
    Other indices that jit refuses (a negative start, a start and limit past the dim, a count
    of indices that is not the rank) are left unknown: outside jit, jax 0.10 takes some of
    them.
    """
    rank = len(starts)
    if len(limits) != rank or len(strides) != rank:
        return GRADUAL
    if variadic_index(a) is None:
        if len(a) != rank:
            return GRADUAL
        dims: Sequence[Dim] = a
    else:
        dims = [ANY_DIM] * rank
    out = []
    for i, (d, start, limit, stride) in enumerate(zip(dims, starts, limits, strides, strict=True)):
        if start is not None and limit is not None and limit < start:
            raise ShapeError(f"limit {limit} is before start {start} on axis {i}")
        if (
            d.kind == SIZE
            and isinstance(d.value, int)
            and start is not None
            and limit is not None
            and 0 <= start
            and limit - start > d.value
        ):  # more elements than the dim has: refused with jit and without
            raise ShapeError(
                f"limit {limit} is past the end of axis {i} of {show(a)}, which has size "
                f"{d.value}: give a limit of at most {d.value}"
            )
        if (
            d.kind == SIZE
            and isinstance(d.value, int)
            and start is not None
            and limit is not None
            and stride is not None
            and 0 <= start
            and limit <= d.value
            and stride > 0
        ):
            out.append(Dim(SIZE, -(-(limit - start) // stride)))  # rounded up
        else:
            out.append(ANY_DIM)
    return tuple(out)
