"""The shape rule of indexing, `x[...]` (`jax.Array.__getitem__`, see `_rules`).

Each entry of the key becomes an `Index`, read from its expression (a literal int or slice,
`None`, `...`) or else from its type (an int, a slice, an array); the arithmetic on dims is
`_indexing`'s.
"""

from mypy.nodes import (
    EllipsisExpr,
    Expression,
    IndexExpr,
    MemberExpr,
    NameExpr,
    SliceExpr,
    TupleExpr,
)
from mypy.types import Instance, LiteralType, NoneType, TupleType, Type, get_proper_type

from . import _indexing
from ._arguments import Call
from ._dims import GRADUAL
from ._indexing import Index
from ._shape_args import int_literal
from ._shapes import ShapeError
from ._types import dims_of

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
        items = [index_item(e, t) for e, t in zip(expr.items, item_types, strict=True)]
    else:
        items = [index_item(expr, index_type)]
    try:
        return call.make(_indexing.index(mine, items))
    except ShapeError as error:
        raise ShapeError(f"{indexing_name(call.ctx.context)}: {error}") from None


def indexing_name(context: object) -> str:
    """An index as messages name it, as the user wrote it: `"x[...]"`, `"self.cache[...]"`,
    or `indexing` where the array is not a name (`f(x)[0]`)."""
    base = _dotted(context.base) if isinstance(context, IndexExpr) else None
    return f'"{base}[...]"' if base is not None else "indexing"


def _dotted(expr: Expression) -> str | None:
    """`x`, `self.cache`, `x.T`: a name or attributes of one, as written."""
    if isinstance(expr, NameExpr):
        return expr.name
    if isinstance(expr, MemberExpr):
        owner = _dotted(expr.expr)
        return f"{owner}.{expr.name}" if owner is not None else None
    return None


def index_item(expr: Expression, typ: Type | None) -> Index:
    """One entry of an index, from its expression or else its type."""
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
    if isinstance(p, NoneType):  # `jnp.newaxis`, `np.newaxis`: None by another name
        return Index("none")
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
