"""The mypy plugin: jaxtyping annotations become shaped types, and calls bind their dims.

Hooks, in the order mypy meets them:

1. Semantic analysis. `jax.Array` is made generic over its dims (a `TypeVarTuple`), so a
   plain `jax.Array` is `Array[*tuple[Any, ...]]`, compatible with every shape. jaxtyping's
   `Float[Array, "seq embed"]` is `typing.Annotated` to a type checker: the hook on it reads
   the dim string. A dim named like a type variable in scope (`in` for `In`, ignoring case
   and underscores) is that type variable, so generic modules carry their dims.
2. Type checking. Every call whose callee has shaped parameters is checked by the plugin's
   own unifier (`Binder`): the signature hook makes those parameters gradual for mypy and
   remembers the call; the function or method hook then binds the callee's own dims afresh
   for this call, reports a mismatch in the user's words, and returns the result shape.
   Operators, `.T`, indexing, reductions, `einsum`, `reshape`, `concatenate`, `jax.vmap`
   and `jax.lax.scan` have rules of their own; anything else is shape-unknown.
"""

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

from mypy.errorcodes import ErrorCode
from mypy.nodes import (
    ARG_NAMED,
    ARG_POS,
    AssignmentStmt,
    Context,
    Decorator,
    EllipsisExpr,
    Expression,
    FuncDef,
    IndexExpr,
    IntExpr,
    ListExpr,
    MemberExpr,
    MypyFile,
    NameExpr,
    SliceExpr,
    StarExpr,
    StrExpr,
    TupleExpr,
    TypeInfo,
    UnaryExpr,
)
from mypy.nodes import (
    TypeAlias as TypeAliasNode,
)
from mypy.options import Options
from mypy.plugin import (
    AnalyzeTypeContext,
    AttributeContext,
    CheckerPluginInterface,
    ClassDefContext,
    FunctionContext,
    FunctionSigContext,
    MethodContext,
    MethodSigContext,
    Plugin,
)
from mypy.plugins.default import DefaultPlugin
from mypy.subtypes import find_member
from mypy.types import (
    AnyType,
    CallableType,
    Instance,
    LiteralType,
    ProperType,
    RawExpressionType,
    TupleType,
    Type,
    TypeOfAny,
    TypeVarId,
    TypeVarLikeType,
    TypeVarTupleType,
    TypeVarType,
    UnboundType,
    UnionType,
    UnpackType,
    get_proper_type,
)

from . import _shapes as shapes
from ._dims import (
    ANY_DIM,
    GRADUAL,
    NAME,
    OWN,
    OWNVAR,
    SIZE,
    Dim,
    DimSpecError,
    parse_dims,
    show,
    variadic_index,
)
from ._shapes import Binder, Index, Shape, ShapeError
from ._types import (
    JAX_ARRAY,
    Builder,
    ForgetOwn,
    Relax,
    array_instance,
    dims_of,
    has_dims,
    is_scalar_like,
    literal_names,
    show_type,
)

SHAPE = ErrorCode("shape", "Array dims do not match", "General")
ANNOTATED = frozenset({"typing.Annotated", "typing_extensions.Annotated"})
VMAP_AXIS = "vmapped axis"

SigContext: TypeAlias = FunctionSigContext | MethodSigContext
CallContext: TypeAlias = FunctionContext | MethodContext

# Array methods and operators, by name.
BINARY_OPS = frozenset("add sub mul truediv floordiv mod pow lt le gt ge eq ne and or xor".split())
UNARY_OPS = frozenset({"__neg__", "__pos__", "__abs__", "__invert__"})
SAME_SHAPE_METHODS = frozenset({"astype", "conj", "round", "clip", "copy", "block_until_ready"})
REDUCTIONS = frozenset(
    "sum mean max min prod var std argmax argmin all any amax amin nansum nanmean nanmax nanmin "
    "logsumexp median".split()
)
# jax functions (matched by their last name, under `jax.`) that keep the first argument's dims.
SAME_SHAPE_FUNCTIONS = frozenset(
    "exp exp2 log log2 log10 log1p expm1 tanh sinh cosh sin cos tan arctan sqrt rsqrt cbrt square "
    "abs absolute negative positive sign floor ceil round rint reciprocal relu relu6 gelu silu "
    "swish sigmoid softplus soft_sign elu celu selu leaky_relu hard_tanh hard_sigmoid hard_silu "
    "log_sigmoid mish tril triu stop_gradient isfinite isnan isinf logical_not erf clip "
    "nan_to_num cumsum cumprod astype softmax log_softmax standardize zeros_like ones_like "
    "full_like empty_like".split()
)
AXIS_FUNCTIONS = frozenset({"softmax", "log_softmax", "standardize", "cumsum", "cumprod"})
BROADCAST_FUNCTIONS = frozenset(
    "add subtract multiply divide true_divide floor_divide maximum minimum power equal not_equal "
    "less greater less_equal greater_equal logical_and logical_or logical_xor where".split()
)
# jaxtyping's dtype wrappers, by the names an alias may use: `Heads = Float[Array, "..."]`.
JAXTYPING_DTYPES = frozenset(
    "Shaped Float Int Bool Num Inexact Integer Real Complex UInt Key BFloat16 Float16 Float32 "
    "Float64 Int8 Int16 Int32 Int64 UInt8 UInt16 UInt32 UInt64 Complex64 Complex128".split()
)
ARRAY_NAMES = frozenset({"Array", "jax.Array", "jaxtyping.Array", "jnp.ndarray", "ArrayLike"})
VMAPS = frozenset({"jax._src.api.vmap", "equinox._vmap_pmap.filter_vmap"})
SCAN = "jax._src.lax.control_flow.loops.scan"


def fail(api: CheckerPluginInterface, message: str, context: Context) -> None:
    api.fail(message, context, code=SHAPE)


class ShapePlugin(Plugin):
    """Static jaxtyping shape checking; wraps mypy's default plugin for the hooks it takes."""

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self._default = DefaultPlugin(options)
        # Calls whose signature hook has run, waiting for their function or method hook.
        self._pending: dict[
            int, tuple[Context, str, CallableType, frozenset[str], dict[int, list[str | None]]]
        ] = {}
        # Callables made by jax.vmap: by the vmap call, and by their name.
        self._vmapped_by_node: dict[
            tuple[int, str], tuple[Context, CallableType, frozenset[str], str]
        ] = {}
        self._vmapped_by_name: dict[str, tuple[CallableType, frozenset[str], str] | None] = {}
        # Type aliases of jaxtyping annotations, by full name: mypy drops the dim string of
        # `Heads = Float[Array, "seq heads head_dim"]` before any hook sees it.
        self._aliases: dict[str, str] = {}

    def get_additional_deps(self, file: MypyFile) -> list[tuple[int, str, int]]:
        for stmt in file.defs:
            if not isinstance(stmt, AssignmentStmt) or len(stmt.lvalues) != 1:
                continue
            target, value = stmt.lvalues[0], stmt.rvalue
            if not isinstance(target, NameExpr) or not isinstance(value, IndexExpr):
                continue
            spec = _alias_spec(value)
            if spec is not None:
                self._aliases[f"{file.fullname}.{target.name}"] = spec
        return []

    # ------------------------------------------------------------------ semantic analysis

    def get_customize_class_mro_hook(
        self, fullname: str
    ) -> Callable[[ClassDefContext], None] | None:
        if fullname == JAX_ARRAY:
            return lambda ctx: _make_array_generic(ctx.cls.info, ctx.api.named_type)
        return self._default.get_customize_class_mro_hook(fullname)

    def get_type_analyze_hook(self, fullname: str) -> Callable[[AnalyzeTypeContext], Type] | None:
        if fullname in ANNOTATED:
            return _analyze_annotated
        if fullname == JAX_ARRAY:
            return _analyze_plain_array
        spec = self._aliases.get(fullname)
        if spec is not None:
            return lambda ctx: _analyze_alias(ctx, fullname, spec)
        return self._default.get_type_analyze_hook(fullname)

    # ------------------------------------------------------------------ calls

    def get_function_signature_hook(
        self, fullname: str
    ) -> Callable[[FunctionSigContext], CallableType] | None:
        default = self._default.get_function_signature_hook(fullname)
        if default is not None:
            return default
        if fullname == SCAN:
            return _scan_signature
        return lambda ctx: self._signature(ctx, fullname)

    def get_method_signature_hook(
        self, fullname: str
    ) -> Callable[[MethodSigContext], CallableType] | None:
        default = self._default.get_method_signature_hook(fullname)
        if default is not None:
            return default
        return lambda ctx: self._signature(ctx, fullname)

    def get_function_hook(self, fullname: str) -> Callable[[FunctionContext], Type] | None:
        default = self._default.get_function_hook(fullname)
        if fullname == "functools.partial" and default is not None:
            partial_hook = default
            return lambda ctx: partial_hook(_relax_callable_args(ctx))
        if default is not None:
            return default
        if fullname in VMAPS:
            return self._vmap
        if fullname.startswith("vmap("):
            return lambda ctx: self._vmapped_call(ctx, fullname)
        if fullname == SCAN:
            return self._scan
        if fullname.startswith("jax."):
            name = fullname.rsplit(".", 1)[-1]
            rule = _FUNCTION_RULES.get(name)
            if rule is not None:
                return lambda ctx: _guard(rule, ctx, name)
            return None
        return self._call_result

    def get_method_hook(self, fullname: str) -> Callable[[MethodContext], Type] | None:
        default = self._default.get_method_hook(fullname)
        if default is not None:
            return default
        if fullname.startswith(JAX_ARRAY + "."):
            name = fullname[len(JAX_ARRAY) + 1 :]
            rule = _method_rule(name)
            if rule is not None:
                return lambda ctx: _guard(rule, ctx, name)
            return None
        return self._call_result

    def get_attribute_hook(self, fullname: str) -> Callable[[AttributeContext], Type] | None:
        if fullname == JAX_ARRAY + ".T":
            return lambda ctx: _attribute_rule(ctx, shapes.transpose)
        if fullname == JAX_ARRAY + ".mT":
            return lambda ctx: _attribute_rule(ctx, shapes.swap_last)
        return self._default.get_attribute_hook(fullname)

    def _signature(self, ctx: SigContext, fullname: str) -> CallableType:
        sig = ctx.default_signature
        vmapped = self._vmapped_by_name.get(sig.name or "") if sig.name else None
        if vmapped is not None:
            pattern, own, display = vmapped
            self._pending[id(ctx.context)] = (ctx.context, display, pattern, own, {})
            return sig
        if not has_dims(sig.arg_types):
            if has_dims([sig.ret_type]):
                own = _own_names(sig)
                if own:
                    return sig.copy_modified(ret_type=sig.ret_type.accept(ForgetOwn(own)))
            return sig
        own = _own_names(sig)
        builder = _builder_from(sig.arg_types, ctx.api)
        if builder is None:
            return sig
        notes = _class_dim_notes(sig, ctx)
        self._pending[id(ctx.context)] = (
            ctx.context,
            _display_name(fullname, sig),
            sig,
            own,
            notes,
        )
        relax = Relax(builder)
        return sig.copy_modified(
            arg_types=[
                t.accept(relax) if not _mentions_own_typevars(t, sig) else t for t in sig.arg_types
            ],
            ret_type=sig.ret_type.accept(ForgetOwn(own)),
        )

    def _vmapped_call(self, ctx: FunctionContext, name: str) -> Type:
        """A call of what `jax.vmap(f)` returned, made on the spot: `jax.vmap(f)(x)`."""
        callee = getattr(ctx.context, "callee", None)
        found = self._vmapped_by_node.get((id(callee), name))
        if found is None or found[0] is not callee:
            return self._call_result(ctx)
        _, pattern, own, display = found
        self._pending[id(ctx.context)] = (ctx.context, display, pattern, own, {})
        return self._call_result(ctx)

    def _call_result(self, ctx: CallContext) -> Type:
        entry = self._pending.pop(id(ctx.context), None)
        if entry is None:
            return ctx.default_return_type
        context, display, sig, own, notes = entry
        if context is not ctx.context:
            return ctx.default_return_type
        binder = Binder()
        ok = True
        for i, actuals in enumerate(ctx.arg_types):
            if i >= len(sig.arg_types):
                break
            formal = sig.arg_types[i]
            name = sig.arg_names[i]
            what = f'argument "{name}"' if name else f"argument {i + 1}"
            for j, actual in enumerate(actuals):
                where = (
                    ctx.args[i][j] if i < len(ctx.args) and j < len(ctx.args[i]) else ctx.context
                )
                ok &= _unify(
                    formal, actual, binder, own, notes.get(i), what, display, ctx.api, where
                )
        if not ok:  # one error per mistake: the result of a bad call is shape-unknown
            return ctx.default_return_type
        return _result_type(sig.ret_type, ctx.default_return_type, binder, own, ctx.api)

    # ------------------------------------------------------------------ jax.vmap, lax.scan

    def _vmap(self, ctx: FunctionContext) -> Type:
        if not ctx.arg_types or not ctx.arg_types[0]:
            return ctx.default_return_type
        fn_type = get_proper_type(ctx.arg_types[0][0])
        if isinstance(fn_type, UnionType):
            return UnionType.make_union(
                [self._vmap_one(ctx, get_proper_type(item)) for item in fn_type.items]
            )
        return self._vmap_one(ctx, fn_type)

    def _vmap_one(self, ctx: FunctionContext, fn_type: ProperType) -> Type:
        display = _expr_name(ctx.args[0][0])
        if isinstance(fn_type, Instance):
            call = find_member("__call__", fn_type, fn_type, is_operator=True)
            display = fn_type.type.name
            fn_type = get_proper_type(call) if call is not None else fn_type
        if not isinstance(fn_type, CallableType):
            return ctx.default_return_type
        known = self._vmapped_by_name.get(fn_type.name or "") if fn_type.name else None
        if known is not None:
            base, own, display = known
        else:
            base, own = fn_type, _own_names(fn_type)
        builder = _builder_from([*base.arg_types, base.ret_type], ctx.api)
        if builder is None:
            return ctx.default_return_type
        relaxed = base.copy_modified(
            arg_types=[t.accept(Relax(builder)) for t in base.arg_types],
            ret_type=base.ret_type.accept(Relax(builder)),
            name=f"vmap({display})",
            variables=[],
        )
        mapped = _vmap_axes(ctx, len(base.arg_types))
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
            ret_type=_prepend(base.ret_type, lead, builder, own),
        )
        own = own | {axis}
        name = f"vmap({display})"
        self._vmapped_by_node[(id(ctx.context), name)] = (ctx.context, pattern, own, name)
        previous = self._vmapped_by_name.get(name, ...)
        entry = (pattern, own, name)
        if previous is ... or (previous is not None and str(previous[0]) == str(pattern)):
            self._vmapped_by_name[name] = entry
        else:
            self._vmapped_by_name[name] = None  # two different callables: do not guess
        return relaxed.copy_modified(name=name)

    def _scan(self, ctx: FunctionContext) -> Type:
        default = ctx.default_return_type
        if len(ctx.arg_types) < 2 or not ctx.arg_types[0] or not ctx.arg_types[1]:
            return default
        body = get_proper_type(ctx.arg_types[0][0])
        if not isinstance(body, CallableType) or len(body.arg_types) < 2:
            return default
        own = _own_names(body)
        binder = Binder()
        display = f"jax.lax.scan({_expr_name(ctx.args[0][0])})"
        carry_formal, x_formal = body.arg_types[0], body.arg_types[1]
        init = ctx.arg_types[1][0]
        _unify(
            carry_formal,
            init,
            binder,
            own,
            None,
            'the carry "init"',
            display,
            ctx.api,
            ctx.args[1][0],
        )
        length: Dim = ANY_DIM
        if len(ctx.arg_types) > 2 and ctx.arg_types[2]:
            xs = ctx.arg_types[2][0]
            stepped, lengths = _drop_lead(xs)
            known = [d for d in lengths if d.definite]
            if known:
                length = known[0]
                for d in known[1:]:
                    if not shapes.same(length, d):
                        fail(
                            ctx.api,
                            f'{display}: the arrays of "xs" have leading dims {length} and {d}; '
                            "scan steps along one leading axis",
                            ctx.args[2][0],
                        )
                        break
            if stepped is not None:
                _unify(
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
        builder = _builder_from([init, *body.arg_types, body.ret_type], ctx.api)
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
                    f"argument){_paren(reason)}",
                    ctx.args[0][0],
                )
        carry_type = (
            builder.array(binder.result(carry_in))
            if carry_in is not None
            else _result_type(ret.items[0], ret.items[0], binder, own, ctx.api)
        )
        ys = _stack_type(ret.items[1], binder, own, length, builder)
        fallback = get_proper_type(default)
        if isinstance(fallback, TupleType):
            return fallback.copy_modified(items=[carry_type, ys])
        return default


# ---------------------------------------------------------------------- semantic analysis


def _make_array_generic(info: TypeInfo, named: Callable[[str, list[Type]], Instance]) -> None:
    """Give `jax.Array` a variadic type parameter, the dims (idempotent)."""
    if info.type_vars:
        return
    obj = named("builtins.object", [])
    tup = named("builtins.tuple", [obj])
    dims = TypeVarTupleType(
        "Dims",
        JAX_ARRAY + ".Dims",
        TypeVarId(1, namespace=JAX_ARRAY),
        tup,
        tup,
        AnyType(TypeOfAny.from_omitted_generics),
    )
    info.defn.type_vars = [dims]
    info.add_type_vars()


def _array_info(ctx: AnalyzeTypeContext) -> TypeInfo:
    info = ctx.api.named_type(JAX_ARRAY, []).type
    _make_array_generic(info, ctx.api.named_type)
    return info


def _analyze_plain_array(ctx: AnalyzeTypeContext) -> Type:
    """A plain `jax.Array` has dims unknown to the checker: compatible with every shape."""
    info = _array_info(ctx)
    tuple_any = ctx.api.named_type("builtins.tuple", [AnyType(TypeOfAny.special_form)])
    if ctx.type.args:
        return Instance(info, [ctx.api.analyze_type(a) for a in ctx.type.args])
    return Instance(info, [UnpackType(tuple_any)])


def _dim_string(t: Type) -> str | None:
    if isinstance(t, RawExpressionType) and isinstance(t.literal_value, str):
        return t.literal_value  # "seq embed", "", "*b n": not parseable as a type
    if isinstance(t, UnboundType) and t.original_str_expr is not None:
        return t.original_str_expr  # "seq": mypy reads it as a forward reference
    return None


def _analyze_annotated(ctx: AnalyzeTypeContext) -> Type:
    t = ctx.type
    if len(t.args) < 2:
        ctx.api.fail(
            "Annotated[...] must have exactly one type argument and at least one annotation", t
        )
        return AnyType(TypeOfAny.from_error)
    base = ctx.api.analyze_type(t.args[0])
    spec = _dim_string(t.args[1])
    inst = array_instance(base)
    if spec is None or inst is None:
        return base
    return _shaped(ctx, inst.type, spec)


def _shaped(ctx: AnalyzeTypeContext, info: TypeInfo, spec: str) -> Type:
    """`Array` with the dims of a jaxtyping dim string."""
    try:
        dims = parse_dims(spec)
    except DimSpecError as error:
        ctx.api.fail(f"jaxtyping: {error}", ctx.context, code=SHAPE)
        return Builder(info, ctx.api.named_type).gradual()
    in_scope = _type_variables_in_scope(ctx)
    builder = Builder(info, ctx.api.named_type)
    args: list[Type] = []
    for d in dims:
        tv = in_scope.get(_fold(str(d.value))) if d.kind in (NAME, "var") else None
        if isinstance(tv, TypeVarType) and d.kind == NAME:
            args.append(tv)
        elif isinstance(tv, TypeVarTupleType) and d.kind == "var":
            args.append(UnpackType(tv))
        else:
            args.append(builder.arg(d))
    return Instance(info, args)


def _alias_spec(value: IndexExpr) -> str | None:
    """The dim string of `Float[Array, "..."]` written as an expression, or None."""
    base, index = value.base, value.index
    name = base.name if isinstance(base, (NameExpr, MemberExpr)) else None
    if name not in JAXTYPING_DTYPES or not isinstance(index, TupleExpr) or len(index.items) != 2:
        return None
    array, spec = index.items
    if not isinstance(spec, StrExpr):
        return None
    written = array.name if isinstance(array, NameExpr) else None
    if isinstance(array, MemberExpr) and isinstance(array.expr, NameExpr):
        written = f"{array.expr.name}.{array.name}"
    return spec.value if written in ARRAY_NAMES else None


def _analyze_alias(ctx: AnalyzeTypeContext, fullname: str, spec: str) -> Type:
    """A use of a jaxtyping alias: its dims, in the scope of the use (and the alias fixed)."""
    info = _array_info(ctx)
    result = _shaped(ctx, info, spec)
    lookup = getattr(getattr(ctx.api, "api", None), "lookup_fully_qualified_or_none", None)
    sym = lookup(fullname) if lookup is not None else None
    node = sym.node if sym is not None else None
    if isinstance(node, TypeAliasNode) and not _in_scope_typevars(result):
        # Written back so that a module checked later from the cache sees the dims too.
        node.target = result
        node.alias_tvars = []
        node.no_args = False
    return result


def _in_scope_typevars(t: Type) -> bool:
    inst = array_instance(t)
    return inst is not None and any(isinstance(get_proper_type(a), TypeVarType) for a in inst.args)


def _fold(name: str) -> str:
    return name.replace("_", "").lower()


def _type_variables_in_scope(ctx: AnalyzeTypeContext) -> dict[str, TypeVarLikeType]:
    """Type variables bound where the annotation is, by folded name (`In` and `in` alike)."""
    scope = getattr(ctx.api, "tvar_scope", None)
    found: dict[str, TypeVarLikeType] = {}
    while scope is not None:
        for tv in getattr(scope, "scope", {}).values():
            found.setdefault(_fold(tv.name), tv)
        scope = getattr(scope, "parent", None)
    return found


# ---------------------------------------------------------------------- calls


def _builder_from(types: Sequence[Type], api: CheckerPluginInterface) -> Builder | None:
    info = _find_array_info(types, 3)
    if info is None:
        return None
    return Builder(info, api.named_generic_type)


def _find_array_info(types: Sequence[Type], depth: int) -> TypeInfo | None:
    for t in types:
        p = get_proper_type(t)
        if isinstance(p, Instance):
            if p.type.fullname == JAX_ARRAY:
                return p.type
            if depth and p.args:
                found = _find_array_info(p.args, depth - 1)
                if found is not None:
                    return found
        elif depth and isinstance(p, (TupleType, UnionType)):
            found = _find_array_info(p.items, depth - 1)
            if found is not None:
                return found
        elif depth and isinstance(p, CallableType):
            found = _find_array_info([*p.arg_types, p.ret_type], depth - 1)
            if found is not None:
                return found
    return None


def _declared(sig: CallableType) -> CallableType | None:
    node = sig.definition
    if isinstance(node, Decorator):
        node = node.func
    if isinstance(node, FuncDef):
        declared = get_proper_type(node.type) if node.type is not None else None
        if isinstance(declared, CallableType):
            return declared
    return None


def _own_names(sig: CallableType) -> frozenset[str]:
    """The callee's own dims: the names in its declared signature (all names, without one)."""
    declared = _declared(sig) or sig
    return literal_names([*declared.arg_types, declared.ret_type])


def _mentions_own_typevars(t: Type, sig: CallableType) -> bool:
    """A parameter with the callee's own type variables is left to mypy's inference."""
    if not sig.variables:
        return False
    ids = {v.id for v in sig.variables}
    inst = array_instance(t)
    if inst is None:
        return False
    for a in inst.args:
        p = get_proper_type(a)
        if isinstance(p, TypeVarType) and p.id in ids:
            return True
    return False


def _class_dim_notes(sig: CallableType, ctx: SigContext) -> dict[int, list[str | None]]:
    """For a method of a generic class, why each dim of a parameter is what it is."""
    declared = _declared(sig)
    obj = get_proper_type(ctx.type) if isinstance(ctx, MethodSigContext) else None
    if declared is None or not isinstance(obj, Instance) or not obj.args:
        return {}
    offset = len(declared.arg_types) - len(sig.arg_types)
    if offset not in (0, 1):
        return {}
    notes: dict[int, list[str | None]] = {}
    for i, (decl, spec) in enumerate(zip(declared.arg_types[offset:], sig.arg_types, strict=True)):
        d, s = array_instance(decl), array_instance(spec)
        if d is None or s is None or len(d.args) != len(s.args):
            continue
        row: list[str | None] = []
        for da, sa in zip(d.args, s.args, strict=True):
            pda, psa = get_proper_type(da), get_proper_type(sa)
            if isinstance(pda, TypeVarType) and isinstance(psa, LiteralType):
                row.append(f'"{pda.name}" is {psa.value}, from {show_type(obj)}')
            else:
                row.append(None)
        notes[i] = row
    return notes


def _display_name(fullname: str, sig: CallableType) -> str:
    parts = fullname.split(".")
    if sig.is_type_obj() or len(parts) < 2:
        return parts[-1]
    if parts[-1].startswith("__") or (
        sig.definition is not None
        and sig.definition.fullname.count(".") > 1
        and parts[-2][:1].isupper()
    ):
        return ".".join(parts[-2:])
    return parts[-1]


def _expr_name(expr: Expression) -> str:
    if isinstance(expr, (NameExpr, MemberExpr)):
        return expr.name
    return "function"


def _paren(reason: str) -> str:
    return f" ({reason})" if reason else ""


def _unify(
    formal: Type,
    actual: Type,
    binder: Binder,
    own: frozenset[str],
    notes: list[str | None] | None,
    what: str,
    callee: str,
    api: CheckerPluginInterface,
    context: Context,
) -> bool:
    """Bind the formal's dims to the actual's, reporting the first mismatch (then False)."""
    pf, pa = get_proper_type(formal), get_proper_type(actual)
    if isinstance(pf, Instance) and pf.type.fullname == JAX_ARRAY:
        actual_dims = dims_of(pa)
        if actual_dims is None:
            return True
        pattern = dims_of(pf, own)
        assert pattern is not None
        if notes is not None and len(notes) == len(pattern):
            pattern = tuple(
                Dim(p.kind, p.value, note) if note is not None and p.kind in (NAME, SIZE) else p
                for p, note in zip(pattern, notes, strict=True)
            )
        reason = binder.unify(pattern, actual_dims, what)
        if reason is not None:
            fail(
                api,
                f"{callee}: {what} has dims {show(actual_dims)} where "
                f"{show(binder.expected(pattern))} is expected{_paren(reason)}",
                context,
            )
            return False
        return True
    if isinstance(pf, TupleType) and isinstance(pa, TupleType) and len(pf.items) == len(pa.items):
        ok = True
        for k, (f, a) in enumerate(zip(pf.items, pa.items, strict=True)):
            ok &= _unify(f, a, binder, own, None, f"{what}[{k}]", callee, api, context)
        return ok
    if isinstance(pf, UnionType) and array_instance(pa) is not None:
        arrays = [m for m in pf.items if array_instance(m) is not None]
        if len(arrays) == 1:
            return _unify(arrays[0], pa, binder, own, notes, what, callee, api, context)
    return True


class _Substitute:
    def __init__(self, binder: Binder, own: frozenset[str], builder: Builder) -> None:
        self.binder, self.own, self.builder = binder, own, builder

    def array(self, t: Instance) -> Type:
        pattern = dims_of(t, self.own)
        assert pattern is not None
        if not any(d.kind in (OWN, OWNVAR) for d in pattern):
            return t
        return self.builder.array(self.binder.result(pattern))


def _result_type(
    ret: Type, default: Type, binder: Binder, own: frozenset[str], api: CheckerPluginInterface
) -> Type:
    """The declared return type with this call's dims, over mypy's own inferred result."""
    info = _find_array_info([ret], 3)
    if info is None:
        return default
    sub = _Substitute(binder, own, Builder(info, api.named_generic_type))
    return _overlay(ret, default, sub)


def _overlay(ret: Type, default: Type, sub: _Substitute) -> Type:
    pr, pd = get_proper_type(ret), get_proper_type(default)
    if isinstance(pr, Instance) and pr.type.fullname == JAX_ARRAY:
        return sub.array(pr)
    if isinstance(pr, TupleType) and isinstance(pd, TupleType) and len(pr.items) == len(pd.items):
        return pd.copy_modified(
            items=[_overlay(r, d, sub) for r, d in zip(pr.items, pd.items, strict=True)]
        )
    if isinstance(pr, UnionType) and isinstance(pd, UnionType) and len(pr.items) == len(pd.items):
        return UnionType.make_union(
            [_overlay(r, d, sub) for r, d in zip(pr.items, pd.items, strict=True)]
        )
    if (
        isinstance(pr, Instance)
        and isinstance(pd, Instance)
        and pr.type is pd.type
        and len(pr.args) == len(pd.args)
        and pr.args
    ):
        return pd.copy_modified(
            args=[_overlay(r, d, sub) for r, d in zip(pr.args, pd.args, strict=True)]
        )
    return default


def _relax_callable_args(ctx: FunctionContext) -> FunctionContext:
    """A function passed as a value (to `functools.partial`) loses its own dims' rigidity."""
    if not ctx.arg_types or not ctx.arg_types[0]:
        return ctx
    fn = get_proper_type(ctx.arg_types[0][0])
    if not isinstance(fn, CallableType) or not has_dims([*fn.arg_types, fn.ret_type]):
        return ctx
    builder = _builder_from([*fn.arg_types, fn.ret_type], ctx.api)
    if builder is None:
        return ctx
    own = _own_names(fn)
    relaxed = fn.copy_modified(
        arg_types=[t.accept(Relax(builder)) for t in fn.arg_types],
        ret_type=fn.ret_type.accept(ForgetOwn(own)),
    )
    return ctx._replace(arg_types=[[relaxed], *ctx.arg_types[1:]])


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


def _prepend(t: Type, lead: Dim, builder: Builder, own: frozenset[str]) -> Type:
    p = get_proper_type(t)
    if isinstance(p, Instance) and p.type.fullname == JAX_ARRAY:
        dims = dims_of(p, own)
        assert dims is not None
        return builder.array((lead, *dims))
    if isinstance(p, TupleType):
        return p.copy_modified(items=[_prepend(i, lead, builder, own) for i in p.items])
    return t


def _drop_lead(t: Type) -> tuple[Type | None, list[Dim]]:
    """One step of `xs` for `lax.scan`: each array without its leading axis."""
    p = get_proper_type(t)
    inst = array_instance(p)
    if inst is not None:
        dims = dims_of(inst)
        assert dims is not None
        if not dims or dims[0].kind in (OWNVAR, "var", "anyvar"):
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


def _scan_signature(ctx: FunctionSigContext) -> CallableType:
    """`lax.scan`'s annotation uses one `X` for a step and for the stacked `xs`: the plugin
    checks the body, carry and xs itself, so mypy sees them as `Any`."""
    sig = ctx.default_signature
    anything = AnyType(TypeOfAny.special_form)
    names = ("f", "init", "xs")
    return sig.copy_modified(
        arg_types=[
            anything if n in names else t for n, t in zip(sig.arg_names, sig.arg_types, strict=True)
        ],
        ret_type=_tuple_any(ctx.api, 2),
    )


def _tuple_any(api: CheckerPluginInterface, n: int) -> TupleType:
    anything = AnyType(TypeOfAny.special_form)
    return TupleType([anything] * n, api.named_generic_type("builtins.tuple", [anything]))


# ---------------------------------------------------------------------- operations

Rule: TypeAlias = Callable[[Any], Type]


def _guard(rule: Rule, ctx: CallContext, name: str) -> Type:
    """Run a shape rule; its `ShapeError` becomes a mypy error and the result is unknown."""
    try:
        return rule(ctx)
    except ShapeError as error:
        message = str(error)
        if not message.startswith(('"', name)):
            message = f"{name}: {message}"
        fail(ctx.api, message, ctx.context)
        return _gradual_like(ctx.default_return_type)


def _gradual_like(t: Type) -> Type:
    inst = array_instance(t)
    if inst is None:
        return t
    tuple_any = _tuple_any_instance(inst)
    return Instance(inst.type, [UnpackType(tuple_any)]) if tuple_any is not None else t


def _tuple_any_instance(inst: Instance) -> Instance | None:
    tvt = inst.type.defn.type_vars[0] if inst.type.defn.type_vars else None
    if not isinstance(tvt, TypeVarTupleType):
        return None
    return tvt.tuple_fallback.copy_modified(args=[AnyType(TypeOfAny.special_form)])


def _make(ctx: CallContext, dims: Shape) -> Type:
    """An array type with `dims`, the same class as the default result."""
    inst = array_instance(ctx.default_return_type)
    if inst is None:
        return ctx.default_return_type
    return Builder(inst.type, ctx.api.named_generic_type).array(dims)


def _arg_dims(ctx: CallContext, formal: int, k: int = 0) -> Shape | None:
    if formal < len(ctx.arg_types) and k < len(ctx.arg_types[formal]):
        return dims_of(ctx.arg_types[formal][k])
    return None


def _arg_expr(ctx: CallContext, name: str, position: int | None = None) -> Expression | None:
    for names, args, kinds in zip(ctx.arg_names, ctx.args, ctx.arg_kinds, strict=True):
        for n, expr, kind in zip(names, args, kinds, strict=True):
            if n == name and kind == ARG_NAMED:
                return expr
    if position is not None:
        positional = [
            expr
            for args, kinds in zip(ctx.args, ctx.arg_kinds, strict=True)
            for expr, kind in zip(args, kinds, strict=True)
            if kind == ARG_POS
        ]
        if position < len(positional):
            return positional[position]
    return None


def _int_literal(expr: Expression | None) -> int | None:
    if isinstance(expr, IntExpr):
        return expr.value
    if isinstance(expr, UnaryExpr) and expr.op == "-" and isinstance(expr.expr, IntExpr):
        return -expr.expr.value
    return None


_NOT_LITERAL = object()


def _axes(expr: Expression | None) -> tuple[int, ...] | object | None:
    """An `axis=` argument: ints, a tuple of ints, None; `_NOT_LITERAL` when not literal."""
    if expr is None or (isinstance(expr, NameExpr) and expr.fullname == "builtins.None"):
        return None
    value = _int_literal(expr)
    if value is not None:
        return (value,)
    if isinstance(expr, (TupleExpr, ListExpr)):
        values = [_int_literal(i) for i in expr.items]
        if all(v is not None for v in values):
            return tuple(v for v in values if v is not None)
    return _NOT_LITERAL


def _bool_literal(expr: Expression | None) -> bool | None:
    if expr is None:
        return False
    if isinstance(expr, NameExpr) and expr.fullname in ("builtins.True", "builtins.False"):
        return expr.fullname == "builtins.True"
    return None


def _self_dims(ctx: MethodContext) -> Shape | None:
    return dims_of(ctx.type)


def _binary(ctx: MethodContext, reflected: bool, name: str) -> Type:
    mine = _self_dims(ctx)
    other_type = ctx.arg_types[0][0] if ctx.arg_types and ctx.arg_types[0] else None
    if mine is None or other_type is None:
        return ctx.default_return_type
    other = () if is_scalar_like(other_type) else dims_of(other_type)
    if other is None:
        return _gradual_like(ctx.default_return_type)
    left, right = (other, mine) if reflected else (mine, other)
    symbol = _SYMBOLS.get(name, name)
    return _make(ctx, shapes.broadcast([left, right], f'"{symbol}"'))


_SYMBOLS = {
    "add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%",
    "pow": "**", "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!=",
    "and": "&", "or": "|", "xor": "^",
}  # fmt: skip


def _matmul(ctx: MethodContext, reflected: bool) -> Type:
    mine = _self_dims(ctx)
    other = _arg_dims(ctx, 0)
    if mine is None or other is None:
        return _gradual_like(ctx.default_return_type)
    left, right = (other, mine) if reflected else (mine, other)
    return _make(ctx, shapes.matmul(left, right))


def _same_shape(ctx: MethodContext) -> Type:
    mine = _self_dims(ctx)
    return _make(ctx, mine) if mine is not None else ctx.default_return_type


def _reduce_method(ctx: MethodContext) -> Type:
    mine = _self_dims(ctx)
    if mine is None:
        return ctx.default_return_type
    axes = _axes(_arg_expr(ctx, "axis", 0))
    keepdims = _bool_literal(_arg_expr(ctx, "keepdims"))
    if axes is _NOT_LITERAL or keepdims is None:
        return _gradual_like(ctx.default_return_type)
    assert axes is None or isinstance(axes, tuple)
    return _make(ctx, shapes.reduce(mine, axes, keepdims))


def _reshape_sizes(exprs: Sequence[Expression]) -> list[int | None] | None:
    if len(exprs) == 1 and isinstance(exprs[0], (TupleExpr, ListExpr)):
        exprs = exprs[0].items
    if any(isinstance(e, StarExpr) for e in exprs):
        return None
    return [_int_literal(e) for e in exprs]


def _reshape_method(ctx: MethodContext) -> Type:
    mine = _self_dims(ctx)
    if mine is None or not ctx.args:
        return ctx.default_return_type
    sizes = _reshape_sizes(ctx.args[0])
    if sizes is None or not sizes:
        return _gradual_like(ctx.default_return_type)
    return _make(ctx, shapes.reshape(mine, sizes))


def _transpose_method(ctx: MethodContext) -> Type:
    mine = _self_dims(ctx)
    if mine is None:
        return ctx.default_return_type
    exprs = ctx.args[0] if ctx.args else []
    if not exprs:
        return _make(ctx, shapes.transpose(mine))
    sizes = _reshape_sizes(exprs)
    if sizes is None or None in sizes:
        return _gradual_like(ctx.default_return_type)
    return _make(ctx, shapes.transpose(mine, [s for s in sizes if s is not None]))


def _getitem(ctx: MethodContext) -> Type:
    mine = _self_dims(ctx)
    if mine is None or not ctx.args or not ctx.args[0]:
        return ctx.default_return_type
    expr = ctx.args[0][0]
    index_type = get_proper_type(ctx.arg_types[0][0])
    if isinstance(expr, TupleExpr):
        item_types: list[Type | None] = (
            list(index_type.items)
            if isinstance(index_type, TupleType) and len(index_type.items) == len(expr.items)
            else [None] * len(expr.items)
        )
        items = [_index_item(e, t) for e, t in zip(expr.items, item_types, strict=True)]
    else:
        items = [_index_item(expr, index_type)]
    return _make(ctx, shapes.index(mine, items))


def _index_item(expr: Expression, typ: Type | None) -> Index:
    if _int_literal(expr) is not None:
        return Index("int")
    if isinstance(expr, NameExpr) and expr.fullname == "builtins.None":
        return Index("none")
    if isinstance(expr, EllipsisExpr):
        return Index("ellipsis")
    if isinstance(expr, SliceExpr):
        if expr.begin_index is None and expr.end_index is None and expr.stride is None:
            return Index("slice", keeps=True)
        start = 0 if expr.begin_index is None else _int_literal(expr.begin_index)
        stop = _int_literal(expr.end_index) if expr.end_index is not None else None
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


def _method_rule(name: str) -> Callable[[MethodContext], Type] | None:
    if name in ("__matmul__", "__rmatmul__"):
        reflected = name == "__rmatmul__"
        return lambda ctx: _matmul(ctx, reflected)
    if name.startswith("__r") and name[3:-2] in BINARY_OPS:
        op = name[3:-2]
        return lambda ctx: _binary(ctx, True, op)
    if name.startswith("__") and name[2:-2] in BINARY_OPS:
        op = name[2:-2]
        return lambda ctx: _binary(ctx, False, op)
    if name in UNARY_OPS or name in SAME_SHAPE_METHODS:
        return _same_shape
    if name in REDUCTIONS:
        return _reduce_method
    if name == "reshape":
        return _reshape_method
    if name == "transpose":
        return _transpose_method
    if name == "__getitem__":
        return _getitem
    return None


def _attribute_rule(ctx: AttributeContext, rule: Callable[[Shape], Shape]) -> Type:
    mine = dims_of(ctx.type)
    inst = array_instance(ctx.default_attr_type)
    if mine is None or inst is None:
        return ctx.default_attr_type
    return Builder(inst.type, ctx.api.named_generic_type).array(rule(mine))


# jax functions


def _first(ctx: FunctionContext) -> Shape | None:
    return _arg_dims(ctx, 0)


def _same_shape_fn(ctx: FunctionContext, name: str) -> Type:
    first = _first(ctx)
    if first is None:
        return ctx.default_return_type
    if name in AXIS_FUNCTIONS:
        axes = _axes(_arg_expr(ctx, "axis", 1 if name in ("cumsum", "cumprod") else None))
        if isinstance(axes, tuple):
            for axis in axes:
                shapes.check_axis(first, axis)
    return _make(ctx, first)


def _broadcast_fn(ctx: FunctionContext, name: str) -> Type:
    operands: list[Shape] = []
    for formal in ctx.arg_types:
        for t in formal:
            if is_scalar_like(t):
                operands.append(())
                continue
            dims = dims_of(t)
            if dims is None:
                return _gradual_like(ctx.default_return_type)
            operands.append(dims)
    if len(operands) < 2:
        return _gradual_like(ctx.default_return_type)
    return _make(ctx, shapes.broadcast(operands, f'"{name}"'))


def _reduce_fn(ctx: FunctionContext, name: str) -> Type:
    first = _first(ctx)
    if first is None:
        return _gradual_like(ctx.default_return_type)
    axes = _axes(_arg_expr(ctx, "axis", 1))
    keepdims = _bool_literal(_arg_expr(ctx, "keepdims"))
    if axes is _NOT_LITERAL or keepdims is None:
        return _gradual_like(ctx.default_return_type)
    assert axes is None or isinstance(axes, tuple)
    return _make(ctx, shapes.reduce(first, axes, keepdims))


def _einsum_fn(ctx: FunctionContext, name: str) -> Type:
    exprs = [e for formal in ctx.args for e in formal]
    types = [t for formal in ctx.arg_types for t in formal]
    if not exprs or not isinstance(exprs[0], StrExpr):
        return _gradual_like(ctx.default_return_type)
    operands: list[Shape] = []
    for t, kind in zip(types[1:], [k for formal in ctx.arg_kinds for k in formal][1:], strict=True):
        if kind != ARG_POS:
            continue
        dims = dims_of(t)
        if dims is None:
            return _gradual_like(ctx.default_return_type)
        operands.append(dims)
    return _make(ctx, shapes.einsum(exprs[0].value, operands))


def _reshape_fn(ctx: FunctionContext, name: str) -> Type:
    first = _first(ctx)
    shape_expr = _arg_expr(ctx, "shape", 1) or _arg_expr(ctx, "newshape")
    if first is None or shape_expr is None:
        return _gradual_like(ctx.default_return_type)
    sizes = _reshape_sizes([shape_expr])
    if not sizes:
        return _gradual_like(ctx.default_return_type)
    return _make(ctx, shapes.reshape(first, sizes))


def _sequence_operands(ctx: FunctionContext) -> list[Shape] | None:
    expr = _arg_expr(ctx, "arrays", 0)
    if not isinstance(expr, (ListExpr, TupleExpr)) or not ctx.arg_types or not ctx.arg_types[0]:
        return None
    seq = get_proper_type(ctx.arg_types[0][0])
    if isinstance(seq, TupleType):
        item_types = list(seq.items)
    else:
        return _operand_dims_from_exprs(ctx, expr)
    dims = [dims_of(t) for t in item_types]
    if any(d is None for d in dims):
        return None
    return [d for d in dims if d is not None]


def _operand_dims_from_exprs(
    ctx: FunctionContext, expr: ListExpr | TupleExpr
) -> list[Shape] | None:
    out: list[Shape] = []
    for item in expr.items:
        t = ctx.api.get_expression_type(item)
        d = dims_of(t)
        if d is None:
            return None
        out.append(d)
    return out


def _concatenate_fn(ctx: FunctionContext, name: str) -> Type:
    operands = _sequence_operands(ctx)
    axis = _axes(_arg_expr(ctx, "axis", 1)) if _arg_expr(ctx, "axis", 1) is not None else (0,)
    if not operands or not isinstance(axis, tuple) or len(axis) != 1:
        return _gradual_like(ctx.default_return_type)
    if name == "stack":
        return _make(ctx, shapes.stack(operands, axis[0]))
    return _make(ctx, shapes.concatenate(operands, axis[0]))


def _matmul_fn(ctx: FunctionContext, name: str) -> Type:
    a, b = _arg_dims(ctx, 0), _arg_dims(ctx, 1)
    if a is None or b is None:
        return _gradual_like(ctx.default_return_type)
    return _make(ctx, shapes.matmul(a, b))


def _transpose_fn(ctx: FunctionContext, name: str) -> Type:
    first = _first(ctx)
    if first is None:
        return _gradual_like(ctx.default_return_type)
    axes = _axes(_arg_expr(ctx, "axes", 1))
    if axes is _NOT_LITERAL:
        return _gradual_like(ctx.default_return_type)
    assert axes is None or isinstance(axes, tuple)
    return _make(ctx, shapes.transpose(first, axes))


def _expand_dims_fn(ctx: FunctionContext, name: str) -> Type:
    first = _first(ctx)
    axes = _axes(_arg_expr(ctx, "axis", 1))
    if (
        first is None
        or not isinstance(axes, tuple)
        or len(axes) != 1
        or variadic_index(first) is not None
    ):
        return _gradual_like(ctx.default_return_type)
    rank = len(first) + 1
    axis = axes[0]
    if not -rank <= axis < rank:
        raise ShapeError(f"axis {axis} is out of range for the {rank} dims of the result")
    pos = axis % rank
    return _make(ctx, (*first[:pos], ANY_DIM, *first[pos:]))


def _one_hot_fn(ctx: FunctionContext, name: str) -> Type:
    first = _first(ctx)
    classes = _int_literal(_arg_expr(ctx, "num_classes", 1))
    if first is None:
        return _gradual_like(ctx.default_return_type)
    return _make(ctx, (*first, Dim(SIZE, classes) if classes is not None else ANY_DIM))


def _dynamic_update_slice_fn(ctx: FunctionContext, name: str) -> Type:
    operand, update = _arg_dims(ctx, 0), _arg_dims(ctx, 1)
    if operand is None:
        return _gradual_like(ctx.default_return_type)
    if (
        update is not None
        and variadic_index(operand) is None
        and variadic_index(update) is None
        and len(update) != len(operand)
    ):
        raise ShapeError(
            f"the update {show(update)} must have the rank of the operand {show(operand)}"
        )
    return _make(ctx, operand)


_FUNCTION_RULES: dict[str, Rule] = {
    **{n: functools.partial(_same_shape_fn, name=n) for n in SAME_SHAPE_FUNCTIONS},
    **{n: functools.partial(_broadcast_fn, name=n) for n in BROADCAST_FUNCTIONS},
    **{n: functools.partial(_reduce_fn, name=n) for n in REDUCTIONS},
    "einsum": lambda ctx: _einsum_fn(ctx, "einsum"),
    "reshape": lambda ctx: _reshape_fn(ctx, "reshape"),
    "concatenate": lambda ctx: _concatenate_fn(ctx, "concatenate"),
    "stack": lambda ctx: _concatenate_fn(ctx, "stack"),
    "matmul": lambda ctx: _matmul_fn(ctx, "matmul"),
    "transpose": lambda ctx: _transpose_fn(ctx, "transpose"),
    "expand_dims": lambda ctx: _expand_dims_fn(ctx, "expand_dims"),
    "one_hot": lambda ctx: _one_hot_fn(ctx, "one_hot"),
    "dynamic_update_slice": lambda ctx: _dynamic_update_slice_fn(ctx, "dynamic_update_slice"),
}
