"""The shape rules of jax's functions and `jax.Array`'s methods, as their stubs name them.

A stub without a decorator is its own rule (`signature`): its dims are bound as a call of a
user's function binds them. The others are named by the stub's decorator and read the call's
arguments through the stub (`Call`). A rule returns the result type, or raises `ShapeError`,
which `apply` reports as a mypy error naming the function.
"""

from collections.abc import Callable, Mapping

from mypy.nodes import (
    ARG_POS,
    EllipsisExpr,
    Expression,
    ListExpr,
    NameExpr,
    SliceExpr,
    StrExpr,
    TupleExpr,
)
from mypy.plugin import AttributeContext
from mypy.types import Instance, LiteralType, TupleType, Type, get_proper_type

from . import _lax as lax
from . import _shapes as shapes
from ._arguments import NOT_LITERAL, Call, CallContext, int_literal
from ._binder import Binder
from ._dims import GRADUAL, SIZE, Dim, Shape, same, show, variadic_index
from ._messages import fail, paren
from ._shapes import Index, ShapeError
from ._stubs import SELF, SIGNATURE, VAR_POSITIONAL, Stub, StubError, Stubs
from ._types import Builder, dims_of, is_scalar_like, shaped_instance

Rule = Callable[[Call], Type]


def apply(stub: Stub, ctx: CallContext, *, numpy: bool = False) -> Type:
    """Run the stub's rule on a call (of a NumPy function with `numpy`); a `ShapeError`
    becomes a mypy error naming the callee, and the result is then shape-unknown."""
    call = Call(ctx, stub, numpy=numpy)
    try:
        return RULES[stub.rule](call)
    except ShapeError as error:
        message = str(error)
        if not message.startswith(('"', stub.name)):
            message = f"{stub.name}: {message}"
        fail(ctx.api, message, ctx.context)
        return call.unknown()


def apply_property(stub: Stub, ctx: AttributeContext) -> Type:
    """`x.T` and `x.mT`: a rule on the dims of `x`."""
    mine = dims_of(ctx.type)
    inst = shaped_instance(ctx.default_attr_type)
    if mine is None or inst is None:
        return ctx.default_attr_type
    rule = PROPERTY_RULES[stub.rule]
    return Builder(inst.type, ctx.api.named_generic_type).array(rule(mine), like=inst)


def check(stubs: Stubs) -> None:
    """Every stub names a rule that exists."""
    for stub in [*stubs.functions.values(), *stubs.methods.values()]:
        known = PROPERTY_RULES if stub.is_property else RULES
        if stub.rule not in known:
            raise StubError(f"{stub.where}: no rule {stub.rule!r}; the rules are {sorted(known)}")


# ---------------------------------------------------------------------- by signature


def signature(call: Call) -> Type:
    """The stub's signature: each array argument binds the stub's dims, in order."""
    stub = call.stub
    for param in stub.params:
        if param.only is not None and call.value(param.name) not in param.only:
            return call.unknown()  # a case the signature does not describe
    binder = Binder()
    for param in stub.params:
        if param.is_int:
            value = call.value(param.name)
            if isinstance(value, int) and not isinstance(value, bool):
                binder.bind(param.name, Dim(SIZE, value), f'argument "{param.name}"')
    for param in stub.arrays:
        actual = call.dims(param.name)
        if actual is None:
            continue
        assert param.dims is not None
        what = f'argument "{param.name}"'
        reason = binder.unify(param.dims, actual, what)
        if reason is not None:
            raise ShapeError(
                f"{what} has dims {show(actual)} where {show(binder.expected(param.dims))} is "
                f"expected{paren(reason)}"
            )
    assert stub.result is not None
    return call.make(binder.result(stub.result))


def checks_axis(call: Call) -> Type:
    """The signature, after checking that a literal `axis` is an axis of the array; with
    `axis=None` (`cumsum` flattens the array first) the result is unknown."""
    if call.value("axis") is None:
        return call.unknown()
    first = call.operand()
    axes = call.axes() if call.expr("axis") is not None else None
    if first is not None and isinstance(axes, tuple):
        for axis in axes:
            shapes.check_axis(first, axis)
    return signature(call)


# ---------------------------------------------------------------------- elementwise


def broadcast(call: Call) -> Type:
    """Every argument broadcasts with the others; a Python number is a scalar."""
    operands: list[Shape] = []
    for formal in call.ctx.arg_types:
        for t in formal:
            if is_scalar_like(t):
                operands.append(())
                continue
            dims = dims_of(t)
            if dims is None:
                return call.unknown()
            operands.append(dims)
    if len(operands) < 2:
        return call.unknown()
    return call.make(shapes.broadcast(operands, f'"{call.stub.name}"'))


def operator(call: Call) -> Type:
    """`x + y` and the other binary operators of `jax.Array`."""
    mine = call.operand()
    other_type = call.type(_other(call.stub))
    if mine is None or other_type is None:
        return call.ctx.default_return_type
    other = () if is_scalar_like(other_type) else dims_of(other_type)
    if other is None:
        return call.unknown()
    left, right = (other, mine) if _reflected(call.stub) else (mine, other)
    return call.make(shapes.broadcast([left, right], f'"{call.stub.symbol}"'))


def _other(stub: Stub) -> str:
    """The name of a binary method's second operand."""
    return next(p.name for p in stub.params if p.kind != SELF)


def _reflected(stub: Stub) -> bool:
    return stub.is_method and stub.name.startswith("__r")


# ---------------------------------------------------------------------- reductions, products


def reduction(call: Call) -> Type:
    """Drops the reduced axes, or keeps them with size 1 (`keepdims=True`)."""
    first = call.operand()
    if first is None:
        return call.unknown()
    axes = call.axes()
    keepdims = call.value("keepdims")
    if axes is NOT_LITERAL or keepdims not in (True, False, None):
        return call.unknown()
    assert axes is None or isinstance(axes, tuple)
    return call.make(shapes.reduce(first, axes, bool(keepdims)))


def matmul(call: Call) -> Type:
    """`x @ y` and `jnp.matmul(x, y)`."""
    a, b = (call.dims(p.name) for p in call.stub.params[:2])
    if a is None or b is None:
        return call.unknown()
    left, right = (b, a) if _reflected(call.stub) else (a, b)
    return call.make(shapes.matmul(left, right))


def einsum(call: Call) -> Type:
    """`jnp.einsum(spec, *operands)` with a literal spec."""
    ctx = call.ctx
    exprs = [e for formal in ctx.args for e in formal]
    types = [t for formal in ctx.arg_types for t in formal]
    kinds = [k for formal in ctx.arg_kinds for k in formal]
    if not exprs or not isinstance(exprs[0], StrExpr):
        return call.unknown()
    operands: list[Shape] = []
    for t, kind in zip(types[1:], kinds[1:], strict=True):
        if kind != ARG_POS:
            continue
        dims = dims_of(t)
        if dims is None:
            return call.unknown()
        operands.append(dims)
    return call.make(shapes.einsum(exprs[0].value, operands))


# ---------------------------------------------------------------------- rearranging


def reshape(call: Call) -> Type:
    """`x.reshape(2, -1)`, `jnp.reshape(x, (2, -1))`: literal sizes, checked when known."""
    first = call.operand()
    sizes = call.ints("shape")
    if first is None or not sizes:
        return call.unknown()
    return call.make(shapes.reshape(first, sizes))


def transpose(call: Call) -> Type:
    """`x.transpose(1, 0)`, `jnp.transpose(x, axes)`; no axes reverses the dims."""
    first = call.operand()
    if first is None:
        return call.unknown()
    param = call.stub.param("axes")
    if param is not None and param.kind == VAR_POSITIONAL:
        sizes = call.ints("axes")
        if sizes == []:
            return call.make(shapes.transpose(first))
        if sizes is None or None in sizes:
            return call.unknown()
        return call.make(shapes.transpose(first, [s for s in sizes if s is not None]))
    axes = call.axes("axes")
    if axes is NOT_LITERAL:
        return call.unknown()
    assert axes is None or isinstance(axes, tuple)
    return call.make(shapes.transpose(first, axes))


def swapaxes(call: Call) -> Type:
    """`jnp.swapaxes(x, axis1, axis2)` and `x.swapaxes(axis1, axis2)`, literal axes."""
    first = call.operand()
    axis1, axis2 = _int(call.value("axis1")), _int(call.value("axis2"))
    if first is None or axis1 is None or axis2 is None:
        return call.unknown()
    return call.make(shapes.swapaxes(first, axis1, axis2))


def moveaxis(call: Call) -> Type:
    """`jnp.moveaxis(x, source, destination)`, literal axes."""
    first = call.operand()
    source, destination = call.axes("source"), call.axes("destination")
    if first is None or not isinstance(source, tuple) or not isinstance(destination, tuple):
        return call.unknown()
    return call.make(shapes.moveaxis(first, source, destination))


def expand_dims(call: Call) -> Type:
    """`jnp.expand_dims(x, axis)` and `lax.expand_dims(x, dimensions)`: a new axis of size 1
    (typed unknown) at each axis, counted in the result."""
    first = call.operand()
    axes = call.axes("dimensions" if call.stub.param("dimensions") else "axis")
    if first is None or not isinstance(axes, tuple):
        return call.unknown()
    return call.make(shapes.expand_dims(first, axes))


def _sequence_operands(call: Call, name: str) -> list[Shape] | None:
    """The dims of each array of a list or tuple written in the call, `[x, y]`."""
    found = call.find(name)
    if found is None:
        return None
    expr, seq_type = found
    if not isinstance(expr, (TupleExpr, ListExpr)):
        return None
    seq = get_proper_type(seq_type)
    types = (
        list(seq.items)
        if isinstance(seq, TupleType)
        else [call.ctx.api.get_expression_type(item) for item in expr.items]
    )
    dims = [dims_of(t) for t in types]
    if any(d is None for d in dims):
        return None
    return [d for d in dims if d is not None]


def _joined(call: Call, join: Callable[[list[Shape], int], Shape]) -> Type:
    operands = _sequence_operands(call, "arrays")
    axis = call.axes()
    if not operands or not isinstance(axis, tuple) or len(axis) != 1:
        return call.unknown()
    return call.make(join(operands, axis[0]))


def concatenate(call: Call) -> Type:
    """`jnp.concatenate(arrays, axis)`: equal dims off the axis; fixed sizes add up."""
    return _joined(call, shapes.concatenate)


def stack(call: Call) -> Type:
    """`jnp.stack(arrays, axis)`: equal shapes, and a new axis of their number."""
    return _joined(call, shapes.stack)


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


# ---------------------------------------------------------------------- jax.lax


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
    return call.make(shapes.reshape(first, sizes))


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
    operands = _sequence_operands(call, "operands")
    dimension = _int(call.value("dimension"))
    if not operands or dimension is None:
        return call.unknown()
    lax.axis(operands[0], dimension, "dimension")
    return call.make(shapes.concatenate(operands, dimension))


def lax_argmax(call: Call) -> Type:
    """`lax.argmax(x, axis, index_dtype)` and `lax.argmin`: drop `axis`, counted from 0."""
    first = call.operand()
    axis = _int(call.value("axis"))
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
    """`lax.squeeze(x, dimensions)`: drops axes of size 1."""
    first = call.operand()
    axes = _int_tuple(call.value("dimensions"))
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


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _int_tuple(value: object) -> tuple[int, ...] | None:
    """Axes written as a literal sequence, `(1, 0)`."""
    if not isinstance(value, tuple):
        return None
    ints = tuple(i for i in map(_int, value) if i is not None)
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


# ---------------------------------------------------------------------- indexing


def index(call: Call) -> Type:
    """`x[...]` with ints, slices, None, `...` and at most one integer array."""
    mine = call.operand()
    found = call.find("key")
    if mine is None or found is None:
        return call.ctx.default_return_type
    expr, key_type = found
    index_type = get_proper_type(key_type)
    if isinstance(expr, TupleExpr):
        item_types: list[Type | None] = (
            list(index_type.items)
            if isinstance(index_type, TupleType) and len(index_type.items) == len(expr.items)
            else [None] * len(expr.items)
        )
        items = [_index_item(e, t) for e, t in zip(expr.items, item_types, strict=True)]
    else:
        items = [_index_item(expr, index_type)]
    return call.make(shapes.index(mine, items))


def _index_item(expr: Expression, typ: Type | None) -> Index:
    if int_literal(expr) is not None:
        return Index("int")
    if isinstance(expr, NameExpr) and expr.fullname == "builtins.None":
        return Index("none")
    if isinstance(expr, EllipsisExpr):
        return Index("ellipsis")
    if isinstance(expr, SliceExpr):
        if expr.begin_index is None and expr.end_index is None and expr.stride is None:
            return Index("slice", keeps=True)
        start = 0 if expr.begin_index is None else int_literal(expr.begin_index)
        stop = int_literal(expr.end_index) if expr.end_index is not None else None
        size = (
            stop - start
            if expr.stride is None
            and start is not None
            and stop is not None
            and start >= 0
            and stop >= start
            else None
        )
        return Index("slice", size=size)
    p = get_proper_type(typ) if typ is not None else None
    if p is None:
        return Index("unknown")
    if isinstance(p, LiteralType):
        p = p.fallback
    if isinstance(p, Instance):
        if p.type.fullname == "builtins.int" or p.type.has_base("numpy.integer"):
            return Index("int")
        if p.type.fullname == "builtins.slice":
            return Index("slice")
        dims = dims_of(p)
        if dims is not None and dims != GRADUAL:
            return Index("array", dims=dims)
    return Index("unknown")


RULES: Mapping[str, Rule] = {
    SIGNATURE: signature,
    "checks_axis": checks_axis,
    "broadcast": broadcast,
    "operator": operator,
    "reduction": reduction,
    "matmul": matmul,
    "einsum": einsum,
    "reshape": reshape,
    "transpose": transpose,
    "swapaxes": swapaxes,
    "moveaxis": moveaxis,
    "expand_dims": expand_dims,
    "concatenate": concatenate,
    "stack": stack,
    "dynamic_update_slice": dynamic_update_slice,
    "lax_reshape": lax_reshape,
    "lax_transpose": lax_transpose,
    "lax_concatenate": lax_concatenate,
    "lax_argmax": lax_argmax,
    "lax_checks_axes": lax_checks_axes,
    "broadcast_in_dim": broadcast_in_dim,
    "squeeze": squeeze,
    "dot_general": dot_general,
    "scalar_or_same": scalar_or_same,
    "dynamic_slice": dynamic_slice,
    "lax_slice": lax_slice,
    "index": index,
}
PROPERTY_RULES: Mapping[str, Callable[[Shape], Shape]] = {
    "transpose": shapes.transpose,
    "swap_last": shapes.swap_last,
}
