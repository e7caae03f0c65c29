"""The shape rules of jax.lax's functions (see `_rules`).

They read the call's literal arguments (axes, sizes, dimension numbers) through the stub
(`Call`); their arithmetic on dims is `_lax`'s, as strict as jax.lax: axes count from 0.
"""

from mypy.types import Type

from . import _lax as lax
from . import _shapes as shapes
from ._arguments import Call
from ._dims import same, show, variadic_index
from ._jnp_rules import int_value, named_sizes, sequence_operands, signature
from ._shapes import ShapeError
from ._types import dims_of, is_scalar_like

# ---------------------------------------------------------------------- jax.lax


def dynamic_update_slice(call: Call) -> Type:
    """`jax.lax.dynamic_update_slice(operand, update, start)`: the update has its rank."""
    operand, update = call.dims("operand"), call.dims("update")
    if operand is None:
        return call.unknown()
    if (
        update is not None
        and variadic_index(operand) is None
        and variadic_index(update) is None
        and len(update) != len(operand)
    ):
        raise ShapeError(
            f"the update {show(update)} must have the rank of the operand {show(operand)}"
        )
    return call.make(operand)


def lax_reshape(call: Call) -> Type:
    """`lax.reshape(x, new_sizes)`: every size given, none inferred, and the element count
    checked where all sizes are known. (`dimensions` transposes `x` first: the same dims.)"""
    first = call.operand()
    sizes = call.ints("new_sizes")
    if first is None or sizes is None:
        return call.unknown()
    negative = [s for s in sizes if s is not None and s < 0]
    if negative:
        raise ShapeError(
            f"new_sizes has {negative[0]}: jax.lax infers no size (jnp.reshape does); "
            "give every size"
        )
    return call.make(named_sizes(shapes.reshape(first, sizes), call.shape("new_sizes")))


def lax_transpose(call: Call) -> Type:
    """`lax.transpose(x, permutation)`: a permutation of every axis, counted from 0."""
    first = call.operand()
    permutation = _int_tuple(call.value("permutation"))
    if first is None or permutation is None:
        return call.unknown()
    for axis in permutation:
        lax.axis(first, axis)
    return call.make(shapes.transpose(first, permutation))


def lax_concatenate(call: Call) -> Type:
    """`lax.concatenate(operands, dimension)`: as `jnp.concatenate`, along an axis from 0."""
    operands = sequence_operands(call, "operands")
    dimension = int_value(call.value("dimension"))
    if not operands or dimension is None:
        return call.unknown()
    lax.axis(operands[0], dimension, "dimension")
    return call.make(shapes.concatenate(operands, dimension))


def lax_argmax(call: Call) -> Type:
    """`lax.argmax(x, axis, index_dtype)` and `lax.argmin`: drop `axis`, counted from 0."""
    first = call.operand()
    axis = int_value(call.value("axis"))
    if first is None or axis is None:
        return call.unknown()
    return call.make(shapes.reduce(first, (lax.axis(first, axis),), keepdims=False))


def lax_checks_axes(call: Call) -> Type:
    """The signature, after checking the literal axes of `axis` (an int: `lax.cumsum`) or
    `dimensions` (a sequence: `lax.rev`): axes of the array, counted from 0, each once."""
    first = call.operand()
    value = call.value("axis" if call.stub.param("axis") else "dimensions")
    axes = _int_tuple(value if isinstance(value, tuple) else (value,))
    if first is not None and axes is not None:
        for axis in axes:
            lax.axis(first, axis)
        lax.distinct(axes, "dimensions")
    return signature(call)


def broadcast_in_dim(call: Call) -> Type:
    """`lax.broadcast_in_dim(x, shape, broadcast_dimensions)`: `shape`, with the dims of `x`
    at `broadcast_dimensions`; a Python number is a scalar."""
    given = call.type("operand")
    first = () if given is not None and is_scalar_like(given) else call.dims("operand")
    sizes = call.ints("shape")
    if first is None or sizes is None:
        return call.unknown()
    placed = _int_tuple(call.value("broadcast_dimensions"))
    return call.make(lax.broadcast_in_dim(first, sizes, placed))


def squeeze(call: Call) -> Type:
    """`lax.squeeze(x, dimensions)`, `jnp.squeeze(x, axis)`: drops axes of size 1; without
    `axis`, jnp drops every axis of size 1, and the result is unknown."""
    first = call.operand()
    value = call.value("dimensions" if call.stub.param("dimensions") is not None else "axis")
    axes = (value,) if type(value) is int else _int_tuple(value)
    if first is None or axes is None:
        return call.unknown()
    return call.make(lax.squeeze(first, axes))


def dot_general(call: Call) -> Type:
    """`lax.dot_general(lhs, rhs, dimension_numbers)`, with literal dimension numbers."""
    a, b = call.dims("lhs"), call.dims("rhs")
    numbers = _dimension_numbers(call.value("dimension_numbers"))
    if a is None or b is None or numbers is None:
        return call.unknown()
    return call.make(lax.dot_general(a, b, numbers))


def scalar_or_same(call: Call) -> Type:
    """The signature; each argument it gives no dims (`lax.select`'s `pred`, `lax.clamp`'s
    `min` and `max`) is a scalar or has the dims of the result: nothing broadcasts."""
    result = signature(call)
    dims = dims_of(result)
    if dims is None or variadic_index(dims) is not None:
        return result
    for param in call.stub.params:
        given = call.type(param.name)
        if param.dims is not None or given is None or is_scalar_like(given):
            continue
        actual = dims_of(given)
        if actual is None or actual == () or variadic_index(actual) is not None:
            continue
        if len(actual) != len(dims) or not all(
            same(x, y) for x, y in zip(actual, dims, strict=True)
        ):
            raise ShapeError(
                f'argument "{param.name}" has dims {show(actual)}: it must be a scalar or have '
                f"the dims {show(dims)}"
            )
    return result


def dynamic_slice(call: Call) -> Type:
    """`lax.dynamic_slice(x, start_indices, slice_sizes)`: the dims of the slice sizes."""
    first = call.operand()
    sizes = call.ints("slice_sizes")
    if first is None or sizes is None:
        return call.unknown()
    starts = call.ints("start_indices")
    return call.make(lax.dynamic_slice(first, sizes, len(starts) if starts is not None else None))


def lax_slice(call: Call) -> Type:
    """`lax.slice(x, start_indices, limit_indices, strides)` with literal indices."""
    first = call.operand()
    starts, limits = call.ints("start_indices"), call.ints("limit_indices")
    if first is None or starts is None or limits is None:
        return call.unknown()
    strides: list[int | None] | None = (
        [1] * len(starts) if call.value("strides") is None else call.ints("strides")
    )
    if strides is None:
        return call.unknown()
    return call.make(lax.slice_(first, starts, limits, strides))


def _int_tuple(value: object) -> tuple[int, ...] | None:
    """Axes written as a literal sequence, `(1, 0)`."""
    if not isinstance(value, tuple):
        return None
    ints = tuple(i for i in map(int_value, value) if i is not None)
    return ints if len(ints) == len(value) else None


def _dimension_numbers(value: object) -> lax.DimensionNumbers | None:
    """`((contract_lhs, contract_rhs), (batch_lhs, batch_rhs))`, written as literals."""
    if not isinstance(value, tuple) or len(value) != 2:
        return None
    pairs: list[lax.AxesPair] = []
    for pair in value:
        if not isinstance(pair, tuple) or len(pair) != 2:
            return None
        lhs, rhs = _int_tuple(pair[0]), _int_tuple(pair[1])
        if lhs is None or rhs is None:
            return None
        pairs.append((lhs, rhs))
    return pairs[0], pairs[1]
