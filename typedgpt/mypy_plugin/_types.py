"""Between mypy types and `Dim` shapes.

A shaped array is `jax.Array` itself, made generic over its dims by the plugin:
`Float[Array, "seq embed"]` is `Array[Literal['seq'], Literal['embed']]`, a fixed size is
`Literal[3]`, a dim of unknown size is `Any`, `*batch` is `*tuple[Literal['*batch'], ...]`
and a plain `jax.Array` is `Array[*tuple[Any, ...]]`, compatible with every shape both ways.
A scalar, `Float[Array, ""]`, is `Array[()]`.

A shaped NumPy array keeps NumPy's own class and puts the dims in its shape parameter:
`Float[np.ndarray, "seq embed"]` is `ndarray[tuple[Literal['seq'], Literal['embed']],
dtype[Any]]`. NumPy bounds that parameter by `tuple[int, ...]`, so a name there is a literal
whose fallback is `int` (it shows as `Literal['seq']` all the same); an `int` of NumPy's own
shapes (`tuple[int, int]`) is one dim of unknown size.
"""

from collections.abc import Callable

from mypy.nodes import TypeInfo
from mypy.types import (
    AnyType,
    Instance,
    LiteralType,
    ProperType,
    TupleType,
    Type,
    TypeOfAny,
    TypeVarTupleType,
    TypeVarType,
    UninhabitedType,
    UnionType,
    UnpackType,
    get_proper_type,
)

from ._dims import (
    ANY,
    ANY_DIM,
    ANY_DIMS,
    ANYVAR,
    NAME,
    OWN,
    OWNVAR,
    SIZE,
    TVAR,
    VAR,
    Dim,
    Shape,
)

JAX_ARRAY = "jax._src.basearray.Array"
NDARRAY = "numpy.ndarray"
VARIADIC_MARK = "*"  # Literal['*batch'] inside *tuple[...] marks the named variadic dim *batch


def array_instance(t: Type | None) -> Instance | None:
    """`t` as a `jax.Array` instance, or None."""
    if t is None:
        return None
    p = get_proper_type(t)
    if isinstance(p, Instance) and p.type.fullname == JAX_ARRAY:
        return p
    return None


def shaped_instance(t: Type | None) -> Instance | None:
    """`t` as an array whose dims the plugin reads, `jax.Array` or `np.ndarray`, or None."""
    if t is None:
        return None
    p = get_proper_type(t)
    if isinstance(p, Instance) and (
        p.type.fullname == JAX_ARRAY or (p.type.fullname == NDARRAY and len(p.args) == 2)
    ):
        return p
    return None


def is_ndarray(inst: Instance) -> bool:
    return inst.type.fullname == NDARRAY


def dim_args(inst: Instance) -> list[Type] | None:
    """The type arguments that are the dims of a shaped array, one per dim (a variadic dim is
    an `UnpackType`); None for a NumPy shape that is a type variable."""
    if not is_ndarray(inst):
        return list(inst.args)
    shape = get_proper_type(inst.args[0])
    if isinstance(shape, TupleType):
        return list(shape.items)
    if isinstance(shape, Instance) and shape.type.fullname == "builtins.tuple":
        return [UnpackType(shape)]
    return None


def with_dim_args(inst: Instance, args: list[Type]) -> Instance:
    """`inst` with other dims (as `dim_args` gives them), the same class and dtype."""
    if not is_ndarray(inst):
        return inst.copy_modified(args=args)
    shape = get_proper_type(inst.args[0])
    fallback = shape.partial_fallback if isinstance(shape, TupleType) else None
    if fallback is None:
        bound = get_proper_type(inst.type.defn.type_vars[0].upper_bound)
        assert isinstance(bound, Instance)
        fallback = bound
    return inst.copy_modified(args=[_shape_tuple(args, fallback), inst.args[1]])


def _shape_tuple(args: list[Type], fallback: Instance) -> Type:
    if len(args) == 1 and isinstance(args[0], UnpackType):
        return args[0].type  # `tuple[Any, ...]` rather than `tuple[*tuple[Any, ...]]`
    return TupleType(args, fallback)


def dim_of(arg: Type, own: frozenset[str] | None) -> Dim:
    p = get_proper_type(arg)
    if isinstance(p, LiteralType):
        if isinstance(p.value, bool):
            return ANY_DIM
        if isinstance(p.value, int):
            return Dim(SIZE, p.value)
        if isinstance(p.value, str):
            if own is not None and p.value in own:
                return Dim(OWN, p.value)
            return Dim(NAME, p.value)
        return ANY_DIM
    if isinstance(p, TypeVarType):
        return Dim(TVAR, p.name, typ=p)
    if isinstance(p, UnpackType):
        inner = get_proper_type(p.type)
        if isinstance(inner, Instance) and inner.type.fullname == "builtins.tuple" and inner.args:
            mark = get_proper_type(inner.args[0])
            if isinstance(mark, LiteralType) and isinstance(mark.value, str):
                name = mark.value.removeprefix(VARIADIC_MARK)
                if own is not None and mark.value in own:
                    return Dim(OWNVAR, name)
                return Dim(VAR, name)
        return ANY_DIMS
    return ANY_DIM


def dims_of(t: Type | None, own: frozenset[str] | None = None) -> Shape | None:
    """The dims of an array type (own names become per-call variables), or None."""
    inst = shaped_instance(t)
    if inst is None:
        return None
    args = dim_args(inst)
    if args is None:
        return (ANY_DIMS,)
    return tuple(dim_of(a, own) for a in args)


def has_dims(types: list[Type]) -> bool:
    """Whether any array in `types` has a known rank (a cheap, shallow test): only a plain
    `jax.Array`, of unknown dims, has none."""
    for t in types:
        if _has_dims(t, 3):
            return True
    return False


def _has_dims(t: Type, depth: int) -> bool:
    p = get_proper_type(t)
    if isinstance(p, Instance):
        if p.type.fullname == JAX_ARRAY:
            return not (len(p.args) == 1 and is_any_unpack(p.args[0]))
        if shaped_instance(p) is not None:
            # NumPy's own shapes (`tuple[int]`) are not dims: only literals and markers are.
            dims = dims_of(p)
            return dims is not None and any(d.kind in (NAME, SIZE, VAR) for d in dims)
        if depth and p.args:
            return any(_has_dims(a, depth - 1) for a in p.args)
        return False
    if depth and isinstance(p, TupleType):
        return any(_has_dims(a, depth - 1) for a in p.items)
    if depth and isinstance(p, UnionType):
        return any(_has_dims(a, depth - 1) for a in p.items)
    return False


def is_any_unpack(t: Type) -> bool:
    p = get_proper_type(t)
    if not isinstance(p, UnpackType):
        return False
    inner = get_proper_type(p.type)
    return (
        isinstance(inner, Instance)
        and inner.type.fullname == "builtins.tuple"
        and bool(inner.args)
        and isinstance(get_proper_type(inner.args[0]), AnyType)
    )


class Builder:
    """Makes array types from shapes; needs the `Array` TypeInfo and a way to name types."""

    def __init__(self, info: TypeInfo, named: Callable[[str, list[Type]], Instance]) -> None:
        self.info = info
        self.str_type = named("builtins.str", [])
        self.int_type = named("builtins.int", [])
        self.tuple_any = named("builtins.tuple", [AnyType(TypeOfAny.special_form)])

    def gradual(self, like: Instance | None = None) -> Instance:
        """An array of unknown dims, of the class (and dtype) of `like` when given."""
        if like is not None and is_ndarray(like):
            return with_dim_args(like, [UnpackType(self.tuple_any)])
        return Instance(self.info, [UnpackType(self.tuple_any)])

    def array(self, dims: Shape, like: Instance | None = None) -> Instance:
        """An array with `dims`, of the class (and dtype) of `like` when given."""
        if sum(d.kind in (VAR, ANYVAR, OWNVAR) for d in dims) > 1:
            return self.gradual(like)
        if like is not None and is_ndarray(like):
            return with_dim_args(like, [self.arg(d, numpy=True) for d in dims])
        if not dims:
            return Instance(self.info, [])
        return Instance(self.info, [self.arg(d) for d in dims])

    def arg(self, d: Dim, *, numpy: bool = False) -> Type:
        """One dim as a type argument; in a NumPy shape, whose items must be ints, a name is
        a literal with the fallback `int` and a type variable is unknown."""
        text = self.int_type if numpy else self.str_type
        if d.kind in (NAME, OWN):
            return LiteralType(str(d.value), text)
        if d.kind == SIZE and isinstance(d.value, int):
            return LiteralType(d.value, self.int_type)
        if d.kind == TVAR and isinstance(d.typ, TypeVarType) and not numpy:
            return d.typ
        if d.kind in (VAR, OWNVAR):
            mark = LiteralType(VARIADIC_MARK + str(d.value), text)
            return UnpackType(self.tuple_any.copy_modified(args=[mark]))
        if d.kind == ANYVAR:
            return UnpackType(self.tuple_any)
        assert d.kind in (ANY, TVAR), d
        return AnyType(TypeOfAny.special_form)


def show_type(t: Type) -> str:
    """A type as the user wrote it, with dims as names: `Linear[embed, mlp]`."""
    p = get_proper_type(t)
    if isinstance(p, LiteralType):
        return str(p.value)
    if isinstance(p, Instance):
        if not p.args:
            return p.type.name
        return f"{p.type.name}[{', '.join(show_type(a) for a in p.args)}]"
    if isinstance(p, TypeVarType):
        return p.name
    if isinstance(p, AnyType):
        return "Any"
    if isinstance(p, UninhabitedType):
        return "Never"
    return str(p)


def is_scalar_like(t: Type) -> bool:
    """A Python or NumPy number: broadcasts like a 0-d array."""
    p: ProperType = get_proper_type(t)
    if isinstance(p, LiteralType):
        p = p.fallback
    return isinstance(p, Instance) and (
        p.type.fullname in ("builtins.int", "builtins.float", "builtins.bool", "builtins.complex")
        or p.type.has_base("numpy.number")
        or p.type.has_base("numpy.bool")
    )


def is_variadic_tvar(t: Type) -> bool:
    return isinstance(get_proper_type(t), TypeVarTupleType)


def shape_ints(t: Type, int_type: Instance) -> Type:
    """`x.shape` of a NumPy array with dims: a name is an `int`, a fixed size its literal."""
    p = get_proper_type(t)
    if not isinstance(p, TupleType):
        return t
    items: list[Type] = []
    for item in p.items:
        d = dim_of(item, None)
        if d.kind == SIZE:
            items.append(item)
        elif d.kind in (VAR, ANYVAR):
            items.append(UnpackType(_int_tuple(p, int_type)))
        else:
            items.append(int_type)
    return p.copy_modified(items=items)


def _int_tuple(p: TupleType, int_type: Instance) -> Instance:
    return p.partial_fallback.copy_modified(args=[int_type])
