"""Sizes written as arguments: the dims that an int or a shape argument stands for.

In `jax.nn.one_hot(t, logits.shape[-1])` the size is `logits`'s last dim (`vocab`); in
`jnp.zeros((n, 4))` the shape is a dim of unknown size and a 4 (which the rules of new arrays
then make unknown too, see `_jnp_rules.new_array`), and in `jnp.zeros(x.shape)` the dims of
`x`. Only an array named by a variable or an attribute (`x`, `self.w`) is looked at, so no
other expression is checked twice.

A local name stands for what it was set to, where a function sets it once: after
`B, T, C = x.shape` (or `T = x.shape[1]`, or `shape = x.shape`), `T` is dim 1 of `x` as `x`
was at that line. The dims are the checker's record of that line's `x`, so a later `x = ...`
changes nothing.
"""

from pathlib import Path

from mypy.nodes import (
    AssignmentStmt,
    Block,
    Decorator,
    DelStmt,
    Expression,
    ForStmt,
    FuncDef,
    FuncItem,
    GlobalDecl,
    IfStmt,
    IndexExpr,
    IntExpr,
    ListExpr,
    MatchStmt,
    MemberExpr,
    NameExpr,
    OperatorAssignmentStmt,
    StarExpr,
    Statement,
    TryStmt,
    TupleExpr,
    UnaryExpr,
    Var,
    WhileStmt,
    WithStmt,
)
from mypy.plugin import CheckerPluginInterface
from mypy.types import Type

from ._dims import ANY_DIM, SIZE, Dim, Shape, variadic_index
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
        array, index, unpacked = _set_once(expr.node, api) or (None, None, None)
        dims = dims_of(_recorded_type(array, api)) if index is not None else None
        if dims is not None and index is not None and _unpacks_into(dims, unpacked):
            return _entry(dims, index)
    return ANY_DIM


def _unpacks_into(dims: Shape, names: int | None) -> bool:
    """Whether an array of `dims` can be unpacked into `names` names (None: not unpacked)."""
    if names is None:
        return True
    return names == len(dims) if variadic_index(dims) is None else names >= len(dims) - 1


def shape_of(expr: Expression, api: CheckerPluginInterface) -> Shape | None:
    """The dims a shape argument stands for, as written: `x.shape`, an int literal or
    `x.shape[i]`, or a tuple or list of ints and `*x.shape`; None for anything else."""
    dims = _shape_of_array(expr, api)
    if dims is not None:
        return dims
    if isinstance(expr, NameExpr) and isinstance(expr.node, Var):
        found = _set_once(expr.node, api)
        if found is not None and found[1] is None:
            return dims_of(_recorded_type(found[0], api))
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


# What a local name was set to, where its function sets it once: the array `x` whose
# `x.shape` it was set from, which entry (None: all of it), and into how many names that shape
# was unpacked (None: it was not).
Source = tuple[Expression, int | None, int | None]


def _set_once(var: Var, api: CheckerPluginInterface) -> Source | None:
    """What `var` was set to, when the function being checked sets it just once, from
    `x.shape`, `x.shape[i]` or by unpacking `x.shape`; None for anything else."""
    scope = getattr(api, "scope", None)  # mypy's TypeChecker; None in another checker
    function = scope.top_level_function() if scope is not None else None
    if function is None:
        return None  # a module's names may be set anywhere
    global _last
    if _last[0] is not function:
        settings = _Settings()
        if not _has_walrus(function, api.path):
            settings.function(function)
        _last = (function, settings.once())
    return _last[1].get(var)


def _recorded_type(expr: Expression | None, api: CheckerPluginInterface) -> Type | None:
    """The type the checker gave `expr` where it was checked, not its type now."""
    lookup = getattr(api, "lookup_type_or_none", None)
    return lookup(expr) if lookup is not None and expr is not None else None


class _Settings:
    """Every name a function sets, counted, and the shape each simple setting takes. A walk
    of its own: compiled mypy lets no plugin subclass its TraverserVisitor."""

    def __init__(self) -> None:
        self.count: dict[Var, int] = {}
        self.sources: dict[Var, Source] = {}
        self.unsure = False

    def once(self) -> dict[Var, Source]:
        if self.unsure:
            return {}
        return {var: source for var, source in self.sources.items() if self.count[var] == 1}

    def function(self, function: FuncItem) -> None:
        for argument in function.arguments:
            self.count[argument.variable] = self.count.get(argument.variable, 0) + 1
        self.block(function.body)

    def set(self, target: Expression | None, source: Source | None = None) -> None:
        if isinstance(target, (TupleExpr, ListExpr)):
            for item in target.items:
                self.set(item)
        elif isinstance(target, StarExpr):
            self.set(target.expr)
        elif isinstance(target, NameExpr) and isinstance(target.node, Var):
            self.count[target.node] = self.count.get(target.node, 0) + 1
            if source is not None:
                self.sources[target.node] = source

    def block(self, block: Block | None) -> None:
        for statement in block.body if block is not None else []:
            self.statement(statement)

    def statement(self, s: Statement) -> None:
        if isinstance(s, AssignmentStmt):
            for lvalue in s.lvalues:
                self.assignment(lvalue, s.rvalue)
        elif isinstance(s, OperatorAssignmentStmt):
            self.set(s.lvalue)
        elif isinstance(s, DelStmt):
            self.set(s.expr)
        elif isinstance(s, (ForStmt, WhileStmt)):
            if isinstance(s, ForStmt):
                self.set(s.index)
            self.block(s.body)
            self.block(s.else_body)
        elif isinstance(s, IfStmt):
            for block in s.body:
                self.block(block)
            self.block(s.else_body)
        elif isinstance(s, WithStmt):
            for target in s.target:
                self.set(target)
            self.block(s.body)
        elif isinstance(s, TryStmt):
            for var in s.vars:
                self.set(var)
            for part in [s.body, *s.handlers, s.else_body, s.finally_body]:
                self.block(part)
        elif isinstance(s, (MatchStmt, GlobalDecl)):
            self.unsure = True  # patterns set names; a global may be set anywhere
        elif isinstance(s, (FuncDef, Decorator)):
            self.function(s.func if isinstance(s, Decorator) else s)

    def assignment(self, lvalue: Expression, rvalue: Expression) -> None:
        if _is_shape(rvalue) and isinstance(rvalue, MemberExpr):
            if isinstance(lvalue, NameExpr):
                return self.set(lvalue, (rvalue.expr, None, None))
            items = lvalue.items if isinstance(lvalue, TupleExpr) else []
            if items and not any(isinstance(item, StarExpr) for item in items):
                for i, item in enumerate(items):  # counted from the end: a *b dim leaves it
                    self.set(item, (rvalue.expr, i - len(items), len(items)))
                return None
        if isinstance(rvalue, IndexExpr) and isinstance(rvalue.base, MemberExpr):
            index = int_literal(rvalue.index)
            if _is_shape(rvalue.base) and index is not None:
                return self.set(lvalue, (rvalue.base.expr, index, None))
        return self.set(lvalue)


def _has_walrus(function: FuncItem, path: str) -> bool:
    """Whether `function`'s lines hold `:=` (whose target a statement walk would miss)."""
    if path not in _sources:
        try:
            _sources.clear()
            _sources[path] = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return True
    if function.end_line is None:
        return True
    lines = _sources[path][function.line - 1 : function.end_line]
    return any(":=" in line for line in lines)


def _is_shape(expr: Expression) -> bool:
    return isinstance(expr, MemberExpr) and expr.name == "shape" and _is_ref(expr.expr)


_last: tuple[FuncItem | None, dict[Var, Source]] = (None, {})
_sources: dict[str, list[str]] = {}
