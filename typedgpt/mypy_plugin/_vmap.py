"""`jax.vmap` (and `eqx.filter_vmap`): a function mapped over a new leading axis; and
Equinox's wrappers that keep a function's dims (`eqx.filter_jit`, `eqx.filter_checkpoint`).

`jax.vmap(f)` maps `f` over a new leading axis of each mapped argument and of the result:
the callable it returns is remembered, with the leading axis as one more own dim, and
checked when it is called on the spot. `eqx.filter_jit(f)` is remembered as `f` itself, so
that `eqx.filter_jit(f)(x)` is checked as `f(x)` (mypy's own check would take `f`'s dims for
the caller's).
"""

from mypy.nodes import (
    ARG_POS,
    ARG_STAR,
    CallExpr,
    Context,
    IntExpr,
    LambdaExpr,
    ListExpr,
    MemberExpr,
    NameExpr,
    RefExpr,
    TupleExpr,
    Var,
)
from mypy.plugin import FunctionContext
from mypy.subtypes import find_member
from mypy.types import (
    AnyType,
    CallableType,
    Instance,
    Overloaded,
    ProperType,
    TupleType,
    Type,
    UnionType,
    get_proper_type,
)

from ._calls import Calls, SigContext, own_names
from ._dims import ANY_DIMS, OWN, Dim
from ._locals import recorded_type, set_once
from ._messages import expr_name, fail
from ._translators import Relax
from ._types import JAX_ARRAY, Builder, dims_of
from ._unify import builder_from

JAX_VMAP = "jax._src.api.vmap"
# The wrappers by full name, and the name their callables are shown by.
WRAPPERS = {
    JAX_VMAP: "vmap",
    "equinox._vmap_pmap.filter_vmap": "vmap",
    "equinox._jit.filter_jit": "filter_jit",
    "equinox._ad.filter_checkpoint": "filter_checkpoint",
}
WRAPPED = tuple(f"{kind}(" for kind in sorted(set(WRAPPERS.values())))
VMAP_AXIS = "vmapped axis"

# A vmapped callable: its signature with the leading axis, its own dims, its display name.
Vmapped = tuple[CallableType, frozenset[str], str]


class Vmaps:
    """Callables made by `jax.vmap`: by the vmap call, and by their name."""

    def __init__(self, calls: Calls) -> None:
        self._calls = calls
        self._by_node: dict[tuple[int, str], tuple[Context, CallableType, frozenset[str], str]] = {}
        self._by_name: dict[str, Vmapped | None] = {}

    def by_name(self, name: str | None) -> Vmapped | None:
        """The vmapped callable of this name, unless two different ones share it."""
        return self._by_name.get(name) if name else None

    def stored(self, ctx: SigContext) -> Vmapped | None:
        """The callable a local name holds, where its function sets it once, to what a
        wrapper returned: `g = jax.vmap(f)`, then `g(x)`. (mypy keeps no name for it.)"""
        callee = getattr(ctx.context, "callee", None)
        if not (isinstance(callee, NameExpr) and isinstance(callee.node, Var)):
            return None
        value, place, _ = set_once(callee.node, ctx.api) or (None, None, None)
        made = get_proper_type(recorded_type(value, ctx.api)) if place is None else None
        if not isinstance(made, CallableType) or made.name is None:
            return None
        found = self._by_node.get((id(value), made.name))
        return found[1:] if found is not None and found[0] is value else None

    def vmap(self, kind: str, ctx: FunctionContext) -> Type:
        """`jax.vmap(f, in_axes, out_axes)`: `f` with a leading axis; `eqx.filter_jit(f)`
        (another `kind`): `f` as it is."""
        if not ctx.arg_types or not ctx.arg_types[0]:
            return ctx.default_return_type
        fn_type = get_proper_type(ctx.arg_types[0][0])
        if isinstance(fn_type, UnionType):
            return UnionType.make_union(
                [self._vmap_one(kind, ctx, get_proper_type(item)) for item in fn_type.items]
            )
        return self._vmap_one(kind, ctx, fn_type)

    def _vmap_one(self, kind: str, ctx: FunctionContext, fn_type: ProperType) -> Type:
        if kind != "vmap" and not isinstance(ctx.args[0][0], (NameExpr, MemberExpr)):
            # A decorator (`@eqx.filter_jit`): calls of the function go by its own name.
            return ctx.default_return_type
        display = expr_name(ctx.args[0][0])
        if isinstance(fn_type, Instance):
            call = find_member("__call__", fn_type, fn_type, is_operator=True)
            display = fn_type.type.name
            fn_type = get_proper_type(call) if call is not None else fn_type
        if isinstance(fn_type, Overloaded):
            return _unknown_overload(fn_type, ctx)
        if not isinstance(fn_type, CallableType):
            return ctx.default_return_type
        known = self.by_name(fn_type.name)
        if known is not None:
            base, own, display = known
        elif isinstance(ctx.args[0][0], LambdaExpr):
            # A lambda declares no dims: those of its type are the enclosing function's.
            base, own = fn_type, frozenset[str]()
        else:
            base, own = fn_type, own_names(fn_type)
        builder = builder_from([*base.arg_types, base.ret_type], ctx.api)
        if builder is None:
            return ctx.default_return_type
        relaxed = base.copy_modified(
            arg_types=[t.accept(Relax(builder)) for t in base.arg_types],
            ret_type=base.ret_type.accept(Relax(builder)),
            name=f"{kind}({display})",
            variables=[],
            # A lambda's type is "implicit" (unannotated), and mypy --strict reports calls
            # of implicit callables; jax.vmap's own stub returns the lambda's type without it.
            implicit=False,
        )
        count = len(base.arg_types)
        mapped = _vmap_axes(ctx, count) if kind == "vmap" else [False] * count
        if mapped is None:
            return relaxed
        axis = VMAP_AXIS
        while axis in own:
            axis += "'"
        lead = Dim(OWN, axis)
        pattern = base.copy_modified(
            arg_types=[
                _prepend(t, lead, builder, own) if m else t
                for t, m in zip(base.arg_types, mapped, strict=True)
            ],
            ret_type=_prepend(base.ret_type, lead, builder, own)
            if kind == "vmap"
            else base.ret_type,
        )
        if kind == "vmap":
            own = own | {axis}
        name = f"{kind}({display})"
        self._by_node[(id(ctx.context), name)] = (ctx.context, pattern, own, name)
        previous = self._by_name.get(name, ...)
        entry = (pattern, own, name)
        if previous is ... or (previous is not None and str(previous[0]) == str(pattern)):
            self._by_name[name] = entry
        else:
            self._by_name[name] = None  # two different callables: do not guess
        return relaxed.copy_modified(name=name)

    def call(self, ctx: FunctionContext, name: str) -> Type:
        """A call of what `jax.vmap(f)` returned, made on the spot: `jax.vmap(f)(x)`."""
        callee = getattr(ctx.context, "callee", None)
        if not _in_axes_fit(ctx, name):
            self._calls.drop(ctx.context)
            return ctx.default_return_type
        found = self._by_node.get((id(callee), name))
        if found is None or found[0] is not callee:
            return self._calls.result(ctx)
        _, pattern, own, display = found
        self._calls.expect(ctx.context, display, pattern, own)
        return self._calls.result(ctx)


def _unknown_overload(fn: Overloaded, ctx: FunctionContext) -> Type:
    """An overloaded function, wrapped: not modelled, so each item takes and gives arrays of
    unknown dims (with its own dims, mypy would take them for the caller's and report them)."""
    items = []
    for item in fn.items:
        builder = builder_from([*item.arg_types, item.ret_type], ctx.api)
        if builder is not None:
            relax = Relax(builder)
            item = item.copy_modified(
                arg_types=[t.accept(relax) for t in item.arg_types],
                ret_type=item.ret_type.accept(relax),
            )
        items.append(item)
    return Overloaded(items)


def _vmap_axes(ctx: FunctionContext, count: int) -> list[bool] | None:
    """Which parameters `jax.vmap` maps over their leading axis; None when not modelled."""
    mapped = [True] * count
    for name, args in zip(ctx.callee_arg_names, ctx.args, strict=False):
        if not args:
            continue
        expr = args[0]
        if name == "in_axes":
            if isinstance(expr, IntExpr) and expr.value == 0:
                continue
            if isinstance(expr, (TupleExpr, ListExpr)) and len(expr.items) == count:
                for k, item in enumerate(expr.items):
                    if isinstance(item, NameExpr) and item.fullname == "builtins.None":
                        mapped[k] = False
                    elif not (isinstance(item, IntExpr) and item.value == 0):
                        return None
                continue
            return None
        if name == "out_axes" and not (isinstance(expr, IntExpr) and expr.value == 0):
            return None
    return mapped


def _in_axes_fit(ctx: FunctionContext, name: str) -> bool:
    """A tuple of `in_axes` has one entry per positional argument of the call, as jax
    requires (keyword arguments are mapped over axis 0); else it is reported."""
    call, callee = ctx.context, getattr(ctx.context, "callee", None)
    if not (isinstance(call, CallExpr) and isinstance(callee, CallExpr)):
        return True
    if not isinstance(callee.callee, RefExpr) or callee.callee.fullname != JAX_VMAP:
        return True  # eqx.filter_vmap takes no keyword arguments: its own rule
    given = list(zip(callee.args, callee.arg_kinds, callee.arg_names, strict=True))
    positional = [a for a, kind, _ in given if kind == ARG_POS]
    named = [a for a, _, n in given if n == "in_axes"]
    axes = named[0] if named else positional[1] if len(positional) > 1 else None
    if not isinstance(axes, TupleExpr) or ARG_STAR in call.arg_kinds:
        return True
    passed = call.arg_kinds.count(ARG_POS)
    if len(axes.items) == passed:
        return True
    fail(
        ctx.api,
        f"{name}: in_axes has {_entries(len(axes.items))} but the call passes {passed} "
        f"positional argument{'s' if passed != 1 else ''}: give one entry per positional "
        "argument, or one int or None for all (keyword arguments are mapped over axis 0)",
        call,
    )
    return False


def _entries(n: int) -> str:
    return f"{n} entr{'y' if n == 1 else 'ies'}"


def _prepend(t: Type, lead: Dim, builder: Builder, own: frozenset[str]) -> Type:
    p = get_proper_type(t)
    if isinstance(p, Instance) and p.type.fullname == JAX_ARRAY:
        dims = dims_of(p, own)
        assert dims is not None
        return builder.array((lead, *dims))
    if isinstance(p, TupleType):
        return p.copy_modified(items=[_prepend(i, lead, builder, own) for i in p.items])
    if isinstance(p, AnyType):  # a lambda's parameter: the mapped axis, then any dims
        return builder.array((lead, ANY_DIMS))
    return t
