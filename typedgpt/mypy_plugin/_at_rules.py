"""`x.at[key].set(values)` and the other updates of `jax.Array.at`: the result has the dims
of `x`, and `values` must broadcast to the dims of `x[key]`, the place it goes; `.get()` is
`x[key]`.

mypy types `x.at[key]` as a plain `_IndexUpdateRef`, which keeps no dims, so the rule reads
the call as written: `x` and `key` are found in the callee's expression, with the types the
checker gave them there. An update written another way (`ref = x.at[i]`, then `ref.set(v)`)
keeps jax's own result, of unknown dims.
"""

from mypy.nodes import CallExpr, IndexExpr, MemberExpr, TupleExpr
from mypy.plugin import MethodContext
from mypy.types import Type

from . import _indexing
from . import _shapes as shapes
from ._dims import Shape, show, variadic_index
from ._index_rules import index_item
from ._locals import recorded_type
from ._messages import expr_name, fail
from ._shapes import ShapeError
from ._types import Builder, dims_of, shaped_instance

# `jax._src.basearray._IndexUpdateRef`'s methods: those that take values to put at `key`.
UPDATE_REF = "jax._src.basearray._IndexUpdateRef."
WITH_VALUES = frozenset(
    {"set", "add", "subtract", "mul", "multiply", "divide", "power", "min", "max"}
)


def update(method: str, ctx: MethodContext) -> Type:
    """The rule of `x.at[key].<method>(...)`."""
    callee = ctx.context.callee if isinstance(ctx.context, CallExpr) else None
    ref = callee.expr if isinstance(callee, MemberExpr) else None
    at = ref.base if isinstance(ref, IndexExpr) else None
    if not (isinstance(ref, IndexExpr) and isinstance(at, MemberExpr) and at.name == "at"):
        return ctx.default_return_type
    array = shaped_instance(recorded_type(at.expr, ctx.api))
    mine = dims_of(array)
    if array is None or mine is None:
        return ctx.default_return_type
    keys = ref.index.items if isinstance(ref.index, TupleExpr) else [ref.index]
    items = [index_item(key, recorded_type(key, ctx.api)) for key in keys]
    what = f'"{expr_name(at.expr)}.at[...].{method}"'
    builder = Builder(array.type, ctx.api.named_generic_type)
    try:
        place = _indexing.index(mine, items)
        if method == "get":
            return builder.array(place, like=array)
        values = dims_of(ctx.arg_types[0][0]) if ctx.arg_types and ctx.arg_types[0] else None
        if method in WITH_VALUES and values is not None:
            _check_values(values, place, what)
    except ShapeError as error:
        message = str(error)
        fail(ctx.api, message if message.startswith(what) else f"{what}: {message}", ctx.context)
        return builder.gradual(like=array)
    return builder.array(mine, like=array)


def _check_values(values: Shape, place: Shape, what: str) -> None:
    """`values` broadcast to `place`: no more dims than it, and names that agree."""
    if variadic_index(values) is None and variadic_index(place) is None:
        if len(values) > len(place):
            raise ShapeError(f"values of dims {show(values)} have more dims than {show(place)}")
    shapes.broadcast([values, place], what)
