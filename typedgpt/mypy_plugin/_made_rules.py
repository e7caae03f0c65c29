"""The shape rules of jax.numpy functions whose result has dims written as arguments (see
`_rules`): new arrays (`jnp.zeros(shape)`, `arange`, `eye`, jax.random's samplers),
`broadcast_to`, `pad`, `repeat`, `tile` and `split`, and the gathers whose result has an
index array's dims (`take`, `take_along_axis`).

Sizes are read by `_shape_args`: `x.shape[i]` is dim `i` of `x`. A literal size in a new
array is a dim of unknown size (`_unsized`).
"""

from mypy.types import Instance, TupleType, Type, get_proper_type

from . import _indexing
from . import _shapes as shapes
from ._arguments import Call
from ._dims import ANY_DIM, SIZE, Dim, Shape, show, variadic_index
from ._index_rules import index_item
from ._indexing import Index
from ._shapes import ShapeError

# ---------------------------------------------------------------------- new arrays


def new_array(call: Call) -> Type:
    """`jnp.zeros(shape)` and the like: the dims `shape` stands for (`_shape_args`)."""
    dims = call.shape("shape")
    return call.unknown() if dims is None else call.make(_unsized(dims))


def arange(call: Call) -> Type:
    """`jnp.arange(n)` and `jnp.arange(0, n)`: one dim, `n`'s (`_shape_args`); from another
    start, or with a step other than 1, unknown."""
    if call.value("stop") is None:
        size = call.size("start")
    elif call.value("start") == 0 and type(call.value("start")) is int:
        size = call.size("stop")
    else:
        return call.unknown()
    if size is None or call.value("step") not in (None, 1):
        return call.unknown()
    return call.make(_unsized((size,)))


def eye(call: Call) -> Type:
    """`jnp.eye(n)`: two dims, `n`'s (`_shape_args`); with `M`, unknown."""
    size = call.size("N")
    if size is None or call.value("M") is not None:
        return call.unknown()
    return call.make(_unsized((size, size)))


def broadcast_to(call: Call) -> Type:
    """`jnp.broadcast_to(x, shape)`: `x` broadcasts to the dims `shape` stands for, which the
    result has; `x` may not have more dims than `shape`."""
    first = call.operand()
    target = call.shape("shape")
    if first is None or target is None:
        return call.unknown()
    if variadic_index(first) is None and variadic_index(target) is None:
        if len(first) > len(target):
            raise ShapeError(
                f"{show(first)} has more dims than the shape {show(target)} it is broadcast to"
            )
    shapes.broadcast([first, target], f'"{call.stub.name}"')
    return call.make(_unsized(target))


def _unsized(dims: Shape) -> Shape:
    """A fixed size as a dim of unknown size: an array made as `(4, 8)` may be returned or
    assigned as `seq embed`, where mypy's own check would take a size for a name."""
    return tuple(ANY_DIM if d.kind == SIZE else d for d in dims)


# ---------------------------------------------------------------------- gathers


def take(call: Call) -> Type:
    """`jnp.take(a, indices, axis)` with a literal axis is `a[:, ..., indices]`, the
    indices at `axis`; without one `a` is flattened first, and the result unknown."""
    first = call.operand()
    axis = call.value("axis")
    found = call.find("indices")
    if first is None or type(axis) is not int or found is None or variadic_index(first) is not None:
        return call.unknown()
    shapes.check_axis(first, axis)
    keep = Index("slice", keeps=True)
    items = [keep] * (axis % len(first)) + [index_item(*found)]
    return call.make(_indexing.index(first, items))


def take_along_axis(call: Call) -> Type:
    """`jnp.take_along_axis(arr, indices, axis)`: both have the same number of dims and
    broadcast together, except at `axis`, where the result has the size of `indices`."""
    arr, indices = call.dims("arr"), call.dims("indices")
    axis = call.value("axis")
    if arr is None or indices is None or type(axis) is not int:
        return call.unknown()
    if variadic_index(arr) is not None or variadic_index(indices) is not None:
        return call.unknown()
    if len(arr) != len(indices):
        raise ShapeError(
            f'argument "indices" has dims {show(indices)} where "arr" has {show(arr)}: both '
            "must have the same number of dims"
        )
    shapes.check_axis(arr, axis)
    at = axis % len(arr)
    along = (*arr[:at], indices[at], *arr[at + 1 :])
    return call.make(shapes.broadcast([along, indices], f'"{call.stub.name}"'))


# ---------------------------------------------------------------------- padding


def pad(call: Call) -> Type:
    """`jnp.pad(x, pad_width)`: an axis padded by `(0, 0)` keeps its dim, a fixed size grows
    by the padding, any other dim becomes one of unknown size; the rank is kept."""
    first = call.operand()
    if first is None or variadic_index(first) is not None:
        return call.unknown()
    widths = _pad_widths(call.value("pad_width"), len(first))
    if widths is None:
        return call.make(tuple(ANY_DIM for _ in first))
    if len(widths) != len(first):
        raise ShapeError(
            f"{show(first)} has {len(first)} dims but pad_width has {len(widths)} pairs: "
            "give one pair per dim, or one for all"
        )
    out = []
    for dim, width in zip(first, widths, strict=True):
        if width == (0, 0):
            out.append(dim)
        elif dim.kind == SIZE and isinstance(dim.value, int):
            out.append(Dim(SIZE, dim.value + sum(width)))
        else:
            out.append(ANY_DIM)
    return call.make(tuple(out))


def _pad_widths(value: object, rank: int) -> list[tuple[int, int]] | None:
    """`pad_width` as one `(before, after)` pair per axis, as NumPy reads it: `n`, `(n,)`,
    `(before, after)`, `((before, after),)` or one pair per axis; None where not literal."""
    for_all = _pair(value)
    if for_all is not None:
        return [for_all] * rank
    if not isinstance(value, tuple):
        return None
    pairs: list[tuple[int, int]] = []
    for item in value:
        pair = _pair(item)
        if pair is None:
            return None
        pairs.append(pair)
    return pairs * rank if len(pairs) == 1 else pairs


def _pair(value: object) -> tuple[int, int] | None:
    if type(value) is int:
        return (value, value)
    if isinstance(value, tuple) and len(value) in (1, 2) and all(type(v) is int for v in value):
        return (value[0], value[-1])
    return None


# ---------------------------------------------------------------------- repeating


def repeat(call: Call) -> Type:
    """`jnp.repeat(x, repeats, axis)` with a literal axis: that axis grows, a fixed size by a
    literal `repeats`, any other dim to one of unknown size; the others keep their dims.
    Without `axis`, `x` is flattened first, and the result is unknown."""
    first = call.operand()
    axis = call.value("axis")
    if first is None or type(axis) is not int or variadic_index(first) is not None:
        return call.unknown()
    shapes.check_axis(first, axis)
    at = axis % len(first)
    dim, times = first[at], call.value("repeats")
    grown = ANY_DIM
    if dim.kind == SIZE and isinstance(dim.value, int) and isinstance(times, int):
        grown = Dim(SIZE, dim.value * times)
    return call.make((*first[:at], grown, *first[at + 1 :]))


def tile(call: Call) -> Type:
    """`jnp.tile(x, reps)` with literal reps: an axis tiled once keeps its dim, a fixed size
    is multiplied, any other dim becomes one of unknown size; more reps than dims add
    leading axes, fewer repeat the last dims."""
    first = call.operand()
    reps = call.ints("reps")
    if first is None or reps is None or None in reps or variadic_index(first) is not None:
        return call.unknown()
    rank = max(len(first), len(reps))
    dims = (*(Dim(SIZE, 1),) * (rank - len(first)), *first)
    times = (*(1,) * (rank - len(reps)), *reps)
    out: list[Dim] = []
    for dim, n in zip(dims, times, strict=True):
        if n == 1:
            out.append(dim)
        elif dim.kind == SIZE and isinstance(dim.value, int) and n is not None:
            out.append(Dim(SIZE, dim.value * n))
        else:
            out.append(ANY_DIM)
    return call.make(tuple(out))


def split(call: Call) -> Type:
    """`jnp.split(x, sections, axis)`: a list of arrays with the dims of `x` but at `axis`,
    where a fixed size is divided by a literal number of sections (which must divide it),
    and any other dim becomes one of unknown size."""
    first = call.operand()
    axis = call.value("axis")
    result = get_proper_type(call.ctx.default_return_type)
    if (
        first is None
        or type(axis) is not int
        or variadic_index(first) is not None
        or not (isinstance(result, Instance) and result.type.fullname == "builtins.list")
    ):
        return call.unknown()
    shapes.check_axis(first, axis)
    at = axis % len(first)
    dim, sections = first[at], call.value("indices_or_sections")
    part = ANY_DIM
    if dim.kind == SIZE and isinstance(dim.value, int) and type(sections) is int and sections > 0:
        if dim.value % sections:
            raise ShapeError(
                f"axis {axis} of {show(first)} has size {dim.value}, which {sections} sections "
                "do not divide: give sizes that divide it, or use jnp.array_split"
            )
        part = Dim(SIZE, dim.value // sections)
    element = call.make((*first[:at], part, *first[at + 1 :]), like=result.args[0])
    return result.copy_modified(args=[element])


def top_k(call: Call) -> Type:
    """`jax.lax.top_k(x, k, axis=-1)`: the values and their indices, each with the dims of `x`
    but at `axis`, whose dim is `k`'s (`_shape_args`; a literal `k` is of unknown size)."""
    first = call.operand()
    axis = call.value("axis")
    k = call.size("k")
    result = get_proper_type(call.ctx.default_return_type)
    if (
        first is None
        or k is None
        or type(axis) is not int
        or not (isinstance(result, TupleType) and len(result.items) == 2)
    ):
        return call.unknown()
    if variadic_index(first) is not None and not (
        axis < 0 and variadic_index(first[axis:]) is None
    ):
        return call.unknown()  # an axis that a variadic dim leaves unplaced
    shapes.check_axis(first, axis)
    at = axis % len(first)
    dims = (*first[:at], *_unsized((k,)), *first[at + 1 :])
    return result.copy_modified(items=[call.make(dims, like=item) for item in result.items])
