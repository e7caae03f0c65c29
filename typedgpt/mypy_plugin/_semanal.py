"""Semantic analysis: `jax.Array` becomes generic over its dims, and jaxtyping annotations
become arrays with dims.

`Float[Array, "seq embed"]` is `typing.Annotated` to a type checker: the hook on it reads the
dim string. A dim named like a type parameter of the class around it (`in` for `In`, ignoring
case and underscores) is that type parameter, so generic modules carry their dims. mypy drops
the dim string of a type alias (`Heads = Float[Array, "seq heads head_dim"]`) before any hook
sees it, so the plugin reads aliases from the source (`alias_spec`): the alias's target gets
the dims, which mypy's cache keeps, and its uses are analysed here.
"""

from collections.abc import Callable

from mypy.nodes import AssignmentStmt, IndexExpr, MemberExpr, NameExpr, StrExpr, TupleExpr, TypeInfo
from mypy.plugin import AnalyzeTypeContext
from mypy.types import (
    AnyType,
    Instance,
    RawExpressionType,
    Type,
    TypeOfAny,
    TypeVarId,
    TypeVarLikeType,
    TypeVarTupleType,
    TypeVarType,
    UnboundType,
    UnpackType,
)

from ._dims import JAXTYPING_DTYPES, NAME, VAR, DimSpecError, parse_dims
from ._messages import SHAPE
from ._types import JAX_ARRAY, Builder, is_ndarray, shaped_instance

ANNOTATED = frozenset({"typing.Annotated", "typing_extensions.Annotated"})
ARRAY_NAMES = frozenset({"Array", "jax.Array", "jaxtyping.Array", "jnp.ndarray", "ArrayLike"})


def make_array_generic(info: TypeInfo, named: Callable[[str, list[Type]], Instance]) -> None:
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
    make_array_generic(info, ctx.api.named_type)
    return info


def analyze_plain_array(ctx: AnalyzeTypeContext) -> Type:
    """A plain `jax.Array` has dims unknown to the checker: compatible with every shape."""
    info = _array_info(ctx)
    spec = _alias_being_defined(ctx)
    if spec is not None:
        return _shaped(ctx, info, spec)
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


def analyze_annotated(ctx: AnalyzeTypeContext) -> Type:
    """`Annotated[Array, "seq embed"]`, which is what `Float[Array, "seq embed"]` is."""
    t = ctx.type
    if len(t.args) < 2:
        ctx.api.fail(
            "Annotated[...] must have exactly one type argument and at least one annotation", t
        )
        return AnyType(TypeOfAny.from_error)
    base = ctx.api.analyze_type(t.args[0])
    spec = _dim_string(t.args[1])
    inst = shaped_instance(base)
    if spec is None or inst is None:
        return base
    if is_ndarray(inst):
        return _shaped_ndarray(ctx, inst, spec)
    return _shaped(ctx, inst.type, spec)


def _shaped_ndarray(ctx: AnalyzeTypeContext, base: Instance, spec: str) -> Type:
    """`np.ndarray` with the dims of a jaxtyping dim string in its shape parameter (a class's
    type parameters are not dims there: NumPy's shape holds ints)."""
    builder = Builder(base.type, ctx.api.named_type)
    try:
        dims = parse_dims(spec)
    except DimSpecError as error:
        ctx.api.fail(f"jaxtyping: {error}", ctx.context, code=SHAPE)
        return builder.gradual(base)
    return builder.array(dims, like=base)


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
        tv = in_scope.get(_fold(str(d.value))) if d.kind in (NAME, VAR) else None
        if isinstance(tv, TypeVarType) and d.kind == NAME:
            args.append(tv)
        elif isinstance(tv, TypeVarTupleType) and d.kind == VAR:
            args.append(UnpackType(tv))
        else:
            args.append(builder.arg(d))
    return Instance(info, args)


def alias_spec(value: IndexExpr) -> str | None:
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


def _alias_being_defined(ctx: AnalyzeTypeContext) -> str | None:
    """The dim string of the module-level alias `Heads = Float[Array, "..."]` whose `Array`
    this is, or None. mypy has dropped the string; the alias gets the dims from the source
    here, so that mypy's cache keeps them for the runs that do not analyse its module."""
    api = getattr(ctx.api, "api", None)
    stmt = getattr(api, "statement", None)
    is_module_scope = getattr(api, "is_module_scope", None)
    if (
        not isinstance(stmt, AssignmentStmt)
        or is_module_scope is None
        or not is_module_scope()
        or len(stmt.lvalues) != 1
        or not isinstance(stmt.lvalues[0], NameExpr)
        or not isinstance(stmt.rvalue, IndexExpr)
    ):
        return None
    return alias_spec(stmt.rvalue)


def analyze_alias(ctx: AnalyzeTypeContext, spec: str) -> Type:
    """A use of a jaxtyping alias analysed in this run: its dims, in the scope of the use."""
    return _shaped(ctx, _array_info(ctx), spec)


def _fold(name: str) -> str:
    return name.replace("_", "").lower()


def _type_variables_in_scope(ctx: AnalyzeTypeContext) -> dict[str, TypeVarLikeType]:
    """The type parameters of the classes around the annotation, by folded name (`In` and
    `in` alike). A function's own type variables are not dims: `def pick(items: Sequence[N],
    w: Float[Array, " n"]) -> N` has an `N` that has nothing to do with the dim `n`."""
    scope = getattr(ctx.api, "tvar_scope", None)
    found: dict[str, TypeVarLikeType] = {}
    while scope is not None:
        for tv in getattr(scope, "scope", {}).values():
            if tv.id.raw_id > 0:  # mypy numbers a class's type variables up, a function's down
                found.setdefault(_fold(tv.name), tv)
        scope = getattr(scope, "parent", None)
    return found
