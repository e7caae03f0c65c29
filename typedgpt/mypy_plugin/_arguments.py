"""The arguments of a call of a jax function or `jax.Array` method, found through its stub.

A rule asks for an argument by the stub's parameter name (`call.expr("axis")`); the call
finds it by keyword, else by the parameter's position, as Python binds arguments. Where the
call spreads `*args`, positions after it are unknown and so are those arguments.
"""

from typing import TypeAlias

from mypy.nodes import (
    ARG_NAMED,
    ARG_POS,
    ARG_STAR,
    Expression,
    ListExpr,
    NameExpr,
    StarExpr,
    StrExpr,
    TupleExpr,
)
from mypy.plugin import FunctionContext, MethodContext
from mypy.types import (
    AnyType,
    Instance,
    LiteralType,
    TupleType,
    Type,
    TypeOfAny,
    TypeVarTupleType,
    UnpackType,
    get_proper_type,
)

from ._dims import ANY_DIM, GRADUAL, SIZE, Dim, Shape
from ._shape_args import int_literal, shape_of, size_of
from ._stubs import NO_DEFAULT, SELF, VAR_POSITIONAL, Stub
from ._translators import ForgetNumpyShapes
from ._types import (
    NDARRAY,
    Builder,
    dims_of,
    is_ndarray,
    shaped_instance,
    with_dim_args,
)

CallContext: TypeAlias = FunctionContext | MethodContext


class _NotLiteral:
    def __repr__(self) -> str:
        return "NOT_LITERAL"


NOT_LITERAL = _NotLiteral()
"""An argument whose value is not written as a literal (or not modelled)."""

_CONSTANTS = {"builtins.True": True, "builtins.False": False, "builtins.None": None}


class Call:
    """One call: its mypy context, and the stub of the callee; `numpy` for a NumPy function
    that a jax.numpy stub describes, whose arrays are NumPy's."""

    def __init__(self, ctx: CallContext, stub: Stub, *, numpy: bool = False) -> None:
        self.ctx, self.stub, self.numpy = ctx, stub, numpy
        self._positional: list[tuple[Expression, Type]] = []
        self._named: dict[str, tuple[Expression, Type]] = {}
        self._spread = False  # a `*args` argument: positions after it are unknown
        for names, exprs, kinds, types in zip(
            ctx.arg_names, ctx.args, ctx.arg_kinds, ctx.arg_types, strict=True
        ):
            for name, expr, kind, typ in zip(names, exprs, kinds, types, strict=True):
                if kind == ARG_POS and not self._spread:
                    self._positional.append((expr, typ))
                elif kind == ARG_NAMED and name is not None:
                    self._named[name] = (expr, typ)
                elif kind == ARG_STAR:
                    self._spread = True

    def find(self, name: str) -> tuple[Expression, Type] | None:
        """The argument of parameter `name` and its type, or None when it is not given."""
        if name in self._named:
            return self._named[name]
        param = self.stub.param(name)
        if param is None or param.position is None or param.kind == VAR_POSITIONAL:
            return None
        if param.position < len(self._positional):
            return self._positional[param.position]
        return None

    def expr(self, name: str) -> Expression | None:
        found = self.find(name)
        return found[0] if found is not None else None

    def type(self, name: str) -> Type | None:
        found = self.find(name)
        return found[1] if found is not None else None

    def dims(self, name: str) -> Shape | None:
        """The dims of the array given for `name` (`self` for a method's array)."""
        param = self.stub.param(name)
        if param is not None and param.kind == SELF:
            return dims_of(self.ctx.type) if isinstance(self.ctx, MethodContext) else None
        return dims_of(self.type(name))

    def operand(self) -> Shape | None:
        """The array operated on: a method's own array, else the first array parameter."""
        first = self.stub.params[0] if self.stub.params else None
        if first is not None and first.kind == SELF:
            return self.dims(first.name)
        arrays = self.stub.arrays
        return self.dims(arrays[0].name) if arrays else None

    def ints(self, name: str) -> list[int | None] | None:
        """The ints given for `name`, sizes or axes: the arguments of a `*name` parameter, or
        one argument that is an int or a sequence of them, `(2, -1)`. An int that is not a
        literal is None; the whole is None where their number is not known (a spread
        `*sizes`, a `Sequence[int]`), and `[]` where `name` is not given."""
        given = self._given(name)
        if given is None:
            return None
        exprs, typ = given
        values = [int_literal(expr) for expr in exprs]
        return _ints_of_type(typ) if typ is not None and values == [None] else values

    def _given(self, name: str) -> tuple[list[Expression], Type | None] | None:
        """The expressions of the ints given for `name`, and the type of the argument where
        it is one expression that is not a tuple or list (`n`, `shape`); None where their
        number is not known."""
        param = self.stub.param(name)
        if param is not None and param.kind == VAR_POSITIONAL:
            if self._spread or param.position is None:
                return None
            given = self._positional[param.position :]
        else:
            found = self.find(name)
            given = [found] if found is not None else []
        if len(given) != 1:
            return [expr for expr, _ in given], None
        expr, typ = given[0]
        if isinstance(expr, (TupleExpr, ListExpr)):
            if any(isinstance(item, StarExpr) for item in expr.items):
                return None
            return list(expr.items), None
        return [expr], typ

    def size(self, name: str) -> Dim | None:
        """The dim an int argument stands for (see `_shape_args`); where it is left out, its
        default's size when that is an int, else None."""
        expr = self.expr(name)
        if expr is not None:
            return size_of(expr, self.ctx.api)
        value = self.value(name)
        return Dim(SIZE, value) if type(value) is int else None

    def shape(self, name: str) -> Shape | None:
        """The dims the sizes given for `name` stand for, as `ints` finds them, each read by
        `_shape_args` (`x.shape[0]` is dim 0 of `x`, `(*x.shape, 2)` the dims of `x` and a
        2); else those the argument's type gives (`tuple[int, int]`: two of unknown size);
        `()` where it is left out and defaults to `()`; None where not known."""
        given = self._given(name)
        if given is None:
            found = self.find(name)
            return shape_of(found[0], self.ctx.api) if found is not None else None
        exprs, typ = given
        if not exprs:
            return () if self.value(name) == () else None
        if typ is None:
            return tuple(size_of(expr, self.ctx.api) for expr in exprs)
        dims = shape_of(exprs[0], self.ctx.api)
        if dims is not None:
            return dims
        ints = _ints_of_type(typ)
        if ints is None:
            return None
        return tuple(ANY_DIM if v is None else Dim(SIZE, v) for v in ints)

    def value(self, name: str) -> object:
        """The literal value of an argument, the default when it is left out, or
        `NOT_LITERAL`."""
        expr = self.expr(name)
        if expr is not None:
            return literal(expr)
        param = self.stub.param(name)
        if param is None or param.default is NO_DEFAULT:
            return NOT_LITERAL
        return param.default

    def axes(self, name: str = "axis") -> tuple[int, ...] | _NotLiteral | None:
        """An `axis` argument: ints, a tuple of ints, or None (all axes)."""
        value = self.value(name)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return (value,)
        if isinstance(value, tuple) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            return value
        return NOT_LITERAL

    def make(self, dims: Shape, like: Type | None = None) -> Type:
        """An array type with `dims`, the same class as the default result (or as `like`).

        A NumPy method with dims to give gives a NumPy array of any dtype (the dtypes are not
        read; mypy would otherwise take the differing dtypes of NumPy's overloads as an
        ambiguity and erase the dims), else NumPy's own result: a 0-d result is a NumPy
        scalar."""
        default = self.ctx.default_return_type if like is None else like
        if self.numpy:
            if not dims or dims == GRADUAL:
                return default.accept(ForgetNumpyShapes())
            any_type = AnyType(TypeOfAny.special_form)
            like = self.ctx.api.named_generic_type(NDARRAY, [any_type, any_type])
            return Builder(like.type, self.ctx.api.named_generic_type).array(dims, like=like)
        own = shaped_instance(self.ctx.type) if isinstance(self.ctx, MethodContext) else None
        if own is not None and is_ndarray(own):
            if not dims or dims == GRADUAL:
                return default.accept(ForgetNumpyShapes())
            like = own.copy_modified(args=[own.args[0], AnyType(TypeOfAny.special_form)])
            return Builder(own.type, self.ctx.api.named_generic_type).array(dims, like=like)
        inst = shaped_instance(default)
        if inst is None:
            return default
        return Builder(inst.type, self.ctx.api.named_generic_type).array(dims, like=inst)

    def unknown(self) -> Type:
        """The default result, shape-unknown."""
        if self.numpy:
            return self.ctx.default_return_type.accept(ForgetNumpyShapes())
        return gradual_like(self.ctx.default_return_type)


def literal(expr: Expression) -> object:
    """An int, str, `True`, `False`, `None`, or a tuple or list of them; else NOT_LITERAL."""
    value = int_literal(expr)
    if value is not None:
        return value
    if isinstance(expr, StrExpr):
        return expr.value
    if isinstance(expr, NameExpr) and expr.fullname in _CONSTANTS:
        return _CONSTANTS[expr.fullname]
    if isinstance(expr, (TupleExpr, ListExpr)):
        items = [literal(i) for i in expr.items]
        return NOT_LITERAL if NOT_LITERAL in items else tuple(items)
    return NOT_LITERAL


def _ints_of_type(t: Type) -> list[int | None] | None:
    """The ints an argument of type `t` holds: one for an int, one per item of a fixed-length
    tuple (`tuple[int, int]`), their values where the type has them (`Literal[2]`); None where
    their number is not known."""
    p = get_proper_type(t)
    if isinstance(p, TupleType):
        if any(isinstance(item, UnpackType) for item in p.items):
            return None
        return [_int_of_type(item) for item in p.items]
    if isinstance(p, LiteralType) and type(p.value) is int:
        return [p.value]
    if isinstance(p, Instance) and _is_int_class(p):
        return [None]
    return None


def _int_of_type(t: Type) -> int | None:
    p = get_proper_type(t)
    if isinstance(p, LiteralType) and type(p.value) is int:
        return p.value
    return None


def _is_int_class(inst: Instance) -> bool:
    return inst.type.fullname == "builtins.int" or inst.type.has_base("numpy.integer")


def gradual_like(t: Type) -> Type:
    """`t` with unknown dims, when it is an array."""
    inst = shaped_instance(t)
    if inst is None:
        return t
    if is_ndarray(inst):
        return with_dim_args(inst, [UnpackType(_any_tuple(inst))])
    tvt = inst.type.defn.type_vars[0] if inst.type.defn.type_vars else None
    if not isinstance(tvt, TypeVarTupleType):
        return t
    tuple_any = tvt.tuple_fallback.copy_modified(args=[AnyType(TypeOfAny.special_form)])
    return Instance(inst.type, [UnpackType(tuple_any)])


def _any_tuple(inst: Instance) -> Instance:
    """`tuple[Any, ...]`, from the bound of NumPy's shape parameter (`tuple[int, ...]`)."""
    bound = get_proper_type(inst.type.defn.type_vars[0].upper_bound)
    assert isinstance(bound, Instance)
    return bound.copy_modified(args=[AnyType(TypeOfAny.special_form)])
