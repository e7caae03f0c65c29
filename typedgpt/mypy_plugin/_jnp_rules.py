"""The shape rules of jax.numpy's functions and `jax.Array`'s methods (see `_rules`).

A stub without a decorator is its own rule (`signature`): its dims are bound as a call of a
user's function binds them. The others are named by the stub's decorator and read the call's
arguments through the stub (`Call`); their arithmetic on dims is `_shapes`'s.
"""

from collections.abc import Callable

from mypy.nodes import ARG_POS, ListExpr, StrExpr, TupleExpr
from mypy.types import TupleType, Type, get_proper_type

from . import _einsum
from . import _shapes as shapes
from ._arguments import NOT_LITERAL, Call
from ._binder import Binder
from ._dims import ANY, ANY_DIM, SIZE, VARIADIC, Shape, show, variadic_index
from ._messages import paren
from ._shapes import ShapeError
from ._stubs import SELF, VAR_POSITIONAL, Stub
from ._types import dims_of, is_scalar_like

# ---------------------------------------------------------------------- by signature


def signature(call: Call) -> Type:
    """The stub's signature: each array argument binds the stub's dims, in order."""
    stub = call.stub
    binder = Binder()
    for param in stub.params:
        if param.is_int:
            size = call.size(param.name)
            if size is not None and size.definite:
                binder.bind(param.name, size, f'argument "{param.name}"')
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


def dot(call: Call) -> Type:
    """`jnp.dot(a, b)`, `a.dot(b)`: a scalar multiplies; else the last dim of `a` contracts
    with the only, or second-to-last, dim of `b`, and the result has the other dims of `a`,
    then those of `b`."""
    a, b = call.operand(), call.dims("b")
    if a is None or b is None or variadic_index(a) is not None or variadic_index(b) is not None:
        return call.unknown()
    if not a or not b:
        return call.make(shapes.broadcast([a, b], f'"{call.stub.name}"'))
    shapes.check_contraction(a, b, call.stub.name)
    return call.make((*a[:-1], *b[:-2], *b[-1:]) if len(b) >= 2 else a[:-1])


def outer(call: Call) -> Type:
    """`jnp.outer(a, b)` of two vectors: their dims; arrays of more dims are flattened, so
    the two dims of the result are then unknown."""
    a, b = call.dims("a"), call.dims("b")
    if a is None or b is None:
        return call.unknown()
    if len(a) == 1 and len(b) == 1 and a[0].kind not in VARIADIC and b[0].kind not in VARIADIC:
        return call.make((a[0], b[0]))
    return call.make((ANY_DIM, ANY_DIM))


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
    return call.make(_einsum.einsum(exprs[0].value, operands))


# ---------------------------------------------------------------------- rearranging


def reshape(call: Call) -> Type:
    """`x.reshape(2, -1)`, `jnp.reshape(x, (2, -1))`: literal sizes, checked when known."""
    first = call.operand()
    sizes = call.ints("shape")
    if first is None or not sizes:
        return call.unknown()
    return call.make(named_sizes(shapes.reshape(first, sizes), call.shape("shape")))


def named_sizes(result: Shape, given: Shape | None) -> Shape:
    """A reshape's result with each size given as `x.shape[i]` named as dim `i` of `x`:
    `x.reshape(x.shape[0], heads, -1)` keeps `seq`."""
    if given is None or len(given) != len(result):
        return result
    return tuple(
        g if d.kind == ANY and g.kind != SIZE and g.definite else d
        for d, g in zip(result, given, strict=True)
    )


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
    axis1, axis2 = int_value(call.value("axis1")), int_value(call.value("axis2"))
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


def sequence_operands(call: Call, name: str) -> list[Shape] | None:
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
    operands = sequence_operands(call, "arrays")
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


def int_value(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
