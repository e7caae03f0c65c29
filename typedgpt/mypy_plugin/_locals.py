"""Local names set once: what a name of the function being checked was set to, where the
function sets it in one place only, and the type the checker gave that value there.

`T` in `B, T, C = x.shape` was set to the second-to-last of 3 entries of `x.shape`; `g` in
`g = jax.vmap(f)` to the call. A name set twice, in a loop or by `+=`, or anywhere in a
function with a `:=`, a `match` or a `global`, is not known; nor is a name set at a module's
top level.
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
    ListExpr,
    MatchStmt,
    NameExpr,
    OperatorAssignmentStmt,
    StarExpr,
    Statement,
    TryStmt,
    TupleExpr,
    Var,
    WhileStmt,
    WithStmt,
)
from mypy.plugin import CheckerPluginInterface
from mypy.types import Type

# What a name was set to: the value, and for a name among several that a value was unpacked
# into, its place (an index; from the end, negative, after a starred name or where there is
# none) and, without a starred name, their number: `T` is place -2 of 3 in `B, T, C = x.shape`
# and place -2 of None in `*b, T, C = x.shape`. A name set to the whole value has None, None.
Setting = tuple[Expression, int | None, int | None]


def set_once(var: Var, api: CheckerPluginInterface) -> Setting | None:
    """What `var` was set to, when the function being checked sets it in one place only."""
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


def recorded_type(expr: Expression | None, api: CheckerPluginInterface) -> Type | None:
    """The type the checker gave `expr` where it was checked, not its type now."""
    lookup = getattr(api, "lookup_type_or_none", None)
    return lookup(expr) if lookup is not None and expr is not None else None


class _Settings:
    """Every name a function sets, counted, and what each was set to by an assignment. A walk
    of its own: compiled mypy lets no plugin subclass its TraverserVisitor."""

    def __init__(self) -> None:
        self.count: dict[Var, int] = {}
        self.values: dict[Var, Setting] = {}
        self.unsure = False

    def once(self) -> dict[Var, Setting]:
        if self.unsure:
            return {}
        return {var: value for var, value in self.values.items() if self.count[var] == 1}

    def function(self, function: FuncItem) -> None:
        for argument in function.arguments:
            self.count[argument.variable] = self.count.get(argument.variable, 0) + 1
        self.block(function.body)

    def set(self, target: Expression | None, value: Setting | None = None) -> None:
        if isinstance(target, (TupleExpr, ListExpr)):
            for item in target.items:
                self.set(item)
        elif isinstance(target, StarExpr):
            self.set(target.expr)
        elif isinstance(target, NameExpr) and isinstance(target.node, Var):
            self.count[target.node] = self.count.get(target.node, 0) + 1
            if value is not None:
                self.values[target.node] = value

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
        if isinstance(lvalue, NameExpr):
            return self.set(lvalue, (rvalue, None, None))
        items = lvalue.items if isinstance(lvalue, TupleExpr) else []
        stars = [i for i, item in enumerate(items) if isinstance(item, StarExpr)]
        if not items or len(stars) > 1:
            return self.set(lvalue)
        star = stars[0] if stars else -1
        count = None if stars else len(items)
        for i, item in enumerate(items):
            place = i if i < star else i - len(items)
            self.set(item, (rvalue, place, count) if i != star else None)
        return None


def _has_walrus(function: FuncItem, path: str) -> bool:
    """Whether `function`'s lines hold `:=` (whose target a statement walk would miss). The
    file is read once per version (a daemon checks edited files again); unread, it may."""
    global _source
    try:
        stat = Path(path).stat()
        version = (path, stat.st_mtime_ns, stat.st_size)
        if _source[0] != version:
            _source = (version, Path(path).read_text(encoding="utf-8").splitlines())
    except (OSError, UnicodeDecodeError):
        return True
    if function.end_line is None:
        return True
    lines = _source[1][function.line - 1 : function.end_line]
    return any(":=" in line for line in lines)


_last: tuple[FuncItem | None, dict[Var, Setting]] = (None, {})
_source: tuple[tuple[str, int, int] | None, list[str]] = (None, [])
