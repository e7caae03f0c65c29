"""`jax.lax.scan`: a step function run along the leading axis of `xs`.

`jax.lax.scan(step, init, xs)` checks the carry against `init`, each step of `xs` against the
step's argument, and the carry the step returns, and stacks the outputs along the leading
axis of `xs`.
"""

from mypy.nodes import Context, Expression, LambdaExpr, TempNode
from mypy.plugin import CheckerPluginInterface, FunctionContext, FunctionSigContext
from mypy.types import (
    AnyType,
    CallableType,
    Instance,
    TupleType,
    Type,
    TypeOfAny,
    get_proper_type,
)

from ._binder import Binder
from ._calls import own_names
from ._dims import ANY_DIM, ANYVAR, OWNVAR, VAR, Dim, same, show
from ._messages import expr_name, fail, paren
from ._translators import Relax
from ._types import Builder, array_instance, dims_of
from ._unify import builder_from, result_type, unify

SCAN = "jax._src.lax.control_flow.loops.scan"


class Scans:
    """Calls of `jax.lax.scan`: the plugin checks the dims, and mypy its own types."""

    def __init__(self) -> None:
        self._declared: dict[int, tuple[Context, CallableType]] = {}

    def signature(self, ctx: FunctionSigContext) -> CallableType:
        """`lax.scan`'s annotation uses one `X` for a step and for the stacked `xs`, which
        differ in dims: mypy checks the call with `f`, `init` and `xs` as `Any`, and the
        declared signature waits for `call`."""
        sig = ctx.default_signature
        self._declared[id(ctx.context)] = (ctx.context, sig)
        anything = AnyType(TypeOfAny.special_form)
        names = ("f", "init", "xs")
        return sig.copy_modified(
            arg_types=[
                anything if n in names else t
                for n, t in zip(sig.arg_names, sig.arg_types, strict=True)
            ],
            ret_type=_tuple_any(ctx.api, 2),
        )

    def call(self, ctx: FunctionContext) -> Type:
        """mypy's own check of the call against the declared signature, on arrays without
        dims (a tuple carry for an array `init` is still an error), then the plugin's."""
        declared = self._declared.pop(id(ctx.context), None)
        inferred = None
        if declared is not None and declared[0] is ctx.context:
            inferred = _check_without_dims(ctx, declared[1])
        return scan(ctx, _with_init_carry(ctx, inferred))


def _with_init_carry(ctx: FunctionContext, inferred: Type | None) -> Type:
    """The result where the plugin cannot tell the step's dims (a lambda, a
    `functools.partial`): mypy's own, with the carry as `init` (scan requires it so)."""
    p = get_proper_type(inferred)
    if not isinstance(p, TupleType) or len(p.items) != 2:
        return ctx.default_return_type
    if len(ctx.arg_types) > 1 and ctx.arg_types[1]:
        return p.copy_modified(items=[ctx.arg_types[1][0], p.items[1]])
    return p


def _check_without_dims(ctx: FunctionContext, declared: CallableType) -> Type | None:
    """mypy's check of the call, its arrays without dims; the result type it infers."""
    types = [t for formal in ctx.arg_types for t in formal]
    builder = builder_from(types, ctx.api)
    checker = getattr(ctx.api, "expr_checker", None)
    if builder is None or checker is None:
        return None
    relax = Relax(builder)
    args: list[Expression] = []
    for formal_exprs, formal_types in zip(ctx.args, ctx.arg_types, strict=True):
        for expr, t in zip(formal_exprs, formal_types, strict=True):
            args.append(TempNode(t.accept(relax), context=expr))
    kinds = [k for formal in ctx.arg_kinds for k in formal]
    names = [n for formal in ctx.arg_names for n in formal]
    result: Type = checker.check_call(declared, args, kinds, ctx.context, names)[0]
    return result


def scan(ctx: FunctionContext, default: Type) -> Type:
    """`jax.lax.scan(f, init, xs)`: the carry and each step checked, the outputs stacked;
    `default` where the step's dims are not known."""
    if len(ctx.arg_types) < 2 or not ctx.arg_types[0] or not ctx.arg_types[1]:
        return default
    body = get_proper_type(ctx.arg_types[0][0])
    if not isinstance(body, CallableType) or len(body.arg_types) < 2:
        return default
    own = frozenset[str]() if isinstance(ctx.args[0][0], LambdaExpr) else own_names(body)
    binder = Binder()
    display = f"jax.lax.scan({expr_name(ctx.args[0][0])})"
    carry_formal, x_formal = body.arg_types[0], body.arg_types[1]
    init = ctx.arg_types[1][0]
    unify(
        carry_formal, init, binder, own, None, 'the carry "init"', display, ctx.api, ctx.args[1][0]
    )
    length: Dim = ANY_DIM
    if len(ctx.arg_types) > 2 and ctx.arg_types[2]:
        xs = ctx.arg_types[2][0]
        stepped, lengths = _drop_lead(xs)
        known = [d for d in lengths if d.definite]
        if known:
            length = known[0]
            for d in known[1:]:
                if not same(length, d):
                    fail(
                        ctx.api,
                        f'{display}: the arrays of "xs" have leading dims {length} and {d}; '
                        "scan steps along one leading axis",
                        ctx.args[2][0],
                    )
                    break
        if stepped is not None:
            unify(
                x_formal,
                stepped,
                binder,
                own,
                None,
                'each step of "xs"',
                display,
                ctx.api,
                ctx.args[2][0],
            )
    builder = builder_from([init, *body.arg_types, body.ret_type], ctx.api)
    ret = get_proper_type(body.ret_type)
    if builder is None or not isinstance(ret, TupleType) or len(ret.items) != 2:
        return default
    carry_out = dims_of(ret.items[0], own)
    carry_in = dims_of(carry_formal, own)
    if carry_out is not None and carry_in is not None:
        result = binder.result(carry_out)
        reason = binder.unify(carry_in, result, 'the carry "init"')
        if reason is not None:
            fail(
                ctx.api,
                f"{display}: the step returns a carry with dims {show(result)} where "
                f"{show(binder.expected(carry_in))} is expected (the dims of its carry "
                f"argument){paren(reason)}",
                ctx.args[0][0],
            )
    carry_type = (
        builder.array(binder.result(carry_in))
        if carry_in is not None
        else result_type(ret.items[0], ret.items[0], binder, own, ctx.api)
    )
    if isinstance(get_proper_type(carry_type), AnyType):  # a lambda's: scan keeps init's
        carry_type = init
    ys = _stack_type(ret.items[1], binder, own, length, builder)
    fallback = get_proper_type(default)
    if not isinstance(fallback, TupleType):
        return default
    if isinstance(get_proper_type(ys), AnyType):  # as mypy infers it without dims
        ys = fallback.items[1]
    return fallback.copy_modified(items=[carry_type, ys])


def _drop_lead(t: Type) -> tuple[Type | None, list[Dim]]:
    """One step of `xs` for `lax.scan`: each array without its leading axis."""
    p = get_proper_type(t)
    inst = array_instance(p)
    if inst is not None:
        dims = dims_of(inst)
        assert dims is not None
        if not dims or dims[0].kind in (OWNVAR, VAR, ANYVAR):
            return None, []
        tail = Instance(inst.type, list(inst.args[1:]))
        return tail, [dims[0]]
    if isinstance(p, TupleType):
        items: list[Type] = []
        lengths: list[Dim] = []
        for item in p.items:
            stepped, lead = _drop_lead(item)
            items.append(stepped if stepped is not None else AnyType(TypeOfAny.special_form))
            lengths += lead
        return p.copy_modified(items=items), lengths
    return None, []


def _stack_type(
    t: Type, binder: Binder, own: frozenset[str], length: Dim, builder: Builder
) -> Type:
    p = get_proper_type(t)
    dims = dims_of(p, own)
    if dims is not None:
        return builder.array((length, *binder.result(dims)))
    if isinstance(p, TupleType):
        return p.copy_modified(
            items=[_stack_type(i, binder, own, length, builder) for i in p.items]
        )
    return t


def _tuple_any(api: CheckerPluginInterface, n: int) -> TupleType:
    anything = AnyType(TypeOfAny.special_form)
    return TupleType([anything] * n, api.named_generic_type("builtins.tuple", [anything]))
