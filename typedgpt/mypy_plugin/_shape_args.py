"""Sizes written as arguments: the dims that an int or a shape argument stands for.

In `jax.nn.one_hot(t, logits.shape[-1])` the size is `logits`'s last dim (`vocab`); in
`jnp.zeros((n, 4))` the shape is a dim of unknown size and a 4 (which the rules of new arrays
then make unknown too, see `_jnp_rules.new_array`), and in `jnp.zeros(x.shape)` the dims of
`x`. Only an array named by a variable or an attribute (`x`, `self.w`) is looked at, so no
other expression is checked twice.

A local name stands for what it was set to, where its function sets it once (`_locals`):
after `B, T, C = x.shape` (or `T = x.shape[1]`, or `shape = x.shape`), `T` is dim 1 of `x` as
`x` was at that line. The dims are the checker's record of that line's `x`, so a later
`x = ...` changes nothing.
"""

from mypy.nodes import (
    Expression,
    IndexExpr,
    IntExpr,
    ListExpr,
    MemberExpr,
    NameExpr,
    StarExpr,
    TupleExpr,
    UnaryExpr,
    Var,
)
from mypy.plugin import CheckerPluginInterface

from ._dims import ANY_DIM, SIZE, Dim, Shape, variadic_index
from ._locals import recorded_type, set_once
from ._types import dims_of


def int_literal(expr: Expression | None) -> int | None:
    if isinstance(expr, IntExpr):
        return expr.value
    if isinstance(expr, UnaryExpr) and expr.op == "-" and isinstance(expr.expr, IntExpr):
        return -expr.expr.value
    return None


def size_of(expr: Expression, api: CheckerPluginInterface) -> Dim:
    """The dim an int argument stands for: its size when it is a literal, dim `i` of `x` for
    `x.shape[i]` with a literal `i`, else a dim of unknown size."""
    value = int_literal(expr)
    if value is not None:
        return Dim(SIZE, value)
    if isinstance(expr, IndexExpr):
        dims = _shape_of_array(expr.base, api)
        index = int_literal(expr.index)
        if dims is not None and index is not None:
            return _entry(dims, index)
    if isinstance(expr, NameExpr) and isinstance(expr.node, Var):
        dims, index = _set_from_shape(expr.node, api) or ((), None)
        if index is not None:
            return _entry(dims, index)
    return ANY_DIM


def _unpacks_into(dims: Shape, names: int) -> bool:
    """Whether an array of `dims` can be unpacked into `names` names."""
    return names == len(dims) if variadic_index(dims) is None else names >= len(dims) - 1


def shape_of(expr: Expression, api: CheckerPluginInterface) -> Shape | None:
    """The dims a shape argument stands for, as written: `x.shape`, an int literal or
    `x.shape[i]`, or a tuple or list of ints and `*x.shape`; None for anything else."""
    dims = _shape_of_array(expr, api)
    if dims is not None:
        return dims
    if isinstance(expr, NameExpr) and isinstance(expr.node, Var):
        found = _set_from_shape(expr.node, api)
        if found is not None and found[1] is None:
            return found[0]
    if not isinstance(expr, (TupleExpr, ListExpr)):
        size = size_of(expr, api)
        return (size,) if size != ANY_DIM else None
    result: list[Dim] = []
    for item in expr.items:
        if isinstance(item, StarExpr):
            spread = _shape_of_array(item.expr, api)
            if spread is None:
                return None
            result.extend(spread)
        else:
            result.append(size_of(item, api))
    return tuple(result)


def _shape_of_array(expr: Expression, api: CheckerPluginInterface) -> Shape | None:
    """The dims of `x` where `expr` is `x.shape`, `x` a name or attribute with dims."""
    if not (_is_shape(expr) and isinstance(expr, MemberExpr)):
        return None
    return dims_of(api.get_expression_type(expr.expr))


def _entry(dims: Shape, index: int) -> Dim:
    """Dim `index` of `dims`, where a variadic dim leaves its place known."""
    variadic = variadic_index(dims)
    rank = len(dims)
    if variadic is None:
        return dims[index] if -rank <= index < rank else ANY_DIM
    if 0 <= index < variadic or -(rank - variadic) < index < 0:
        return dims[index]
    return ANY_DIM


def _is_ref(expr: Expression) -> bool:
    """A variable or a chain of attributes of one: `x`, `self.w`."""
    while isinstance(expr, MemberExpr):
        expr = expr.expr
    return isinstance(expr, NameExpr)


def _set_from_shape(var: Var, api: CheckerPluginInterface) -> tuple[Shape, int | None] | None:
    """The dims of `x` and the entry (None: all) that `var` was set to, once, from `x.shape`:
    as `x` was on that line."""
    setting = set_once(var, api)
    if setting is None:
        return None
    value, place, count = setting
    if place is not None:  # unpacked: from the end where it can be, which a variadic dim
        index: int | None = place  # leaves known
    elif isinstance(value, IndexExpr):
        index, value = int_literal(value.index), value.base
        if index is None:
            return None
    else:
        index = None
    if not _is_shape(value) or not isinstance(value, MemberExpr):
        return None
    dims = dims_of(recorded_type(value.expr, api))
    if dims is None or (count is not None and not _unpacks_into(dims, count)):
        return None
    return dims, index


def _is_shape(expr: Expression) -> bool:
    return isinstance(expr, MemberExpr) and expr.name == "shape" and _is_ref(expr.expr)
