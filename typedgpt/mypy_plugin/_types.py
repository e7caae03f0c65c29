"""Between mypy types and `Dim` shapes.

A shaped array is `jax.Array` itself, made generic over its dims by the plugin:
`Float[Array, "seq embed"]` is `Array[Literal['seq'], Literal['embed']]`, a fixed size is
`Literal[3]`, a dim of unknown size is `Any`, `*batch` is `*tuple[Literal['*batch'], ...]`
and a plain `jax.Array` is `Array[*tuple[Any, ...]]`, compatible with every shape both ways.
A scalar, `Float[Array, ""]`, is `Array[()]`.
"""

from collections.abc import Callable

from mypy.nodes import TypeInfo
from mypy.type_visitor import TypeTranslator
from mypy.types import (
    AnyType,
    Instance,
    LiteralType,
    ProperType,
    TupleType,
    Type,
    TypeAliasType,
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
VARIADIC_MARK = "*"  # Literal['*batch'] inside *tuple[...] marks the named variadic dim *batch


def array_instance(t: Type | None) -> Instance | None:
    """`t` as a `jax.Array` instance, or None."""
    if t is None:
        return None
    p = get_proper_type(t)
    if isinstance(p, Instance) and p.type.fullname == JAX_ARRAY:
        return p
    return None


def _dim_of(arg: Type, own: frozenset[str] | None) -> Dim:
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
    inst = array_instance(t)
    if inst is None:
        return None
    return tuple(_dim_of(a, own) for a in inst.args)


def literal_names(types: list[Type]) -> frozenset[str]:
    """Every named dim (and `*variadic` marker) in the arrays of `types`."""
    found: set[str] = set()
    collector = _Collect(found)
    for t in types:
        t.accept(collector)
    return frozenset(found)


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
            return not (len(p.args) == 1 and _is_any_unpack(p.args[0]))
        if depth and p.args:
            return any(_has_dims(a, depth - 1) for a in p.args)
        return False
    if depth and isinstance(p, TupleType):
        return any(_has_dims(a, depth - 1) for a in p.items)
    if depth and isinstance(p, UnionType):
        return any(_has_dims(a, depth - 1) for a in p.items)
    return False


def _is_any_unpack(t: Type) -> bool:
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

    def gradual(self) -> Instance:
        return Instance(self.info, [UnpackType(self.tuple_any)])

    def array(self, dims: Shape) -> Instance:
        if not dims:
            return Instance(self.info, [])
        if sum(d.kind in (VAR, ANYVAR, OWNVAR) for d in dims) > 1:
            return self.gradual()
        return Instance(self.info, [self.arg(d) for d in dims])

    def arg(self, d: Dim) -> Type:
        if d.kind in (NAME, OWN):
            return LiteralType(str(d.value), self.str_type)
        if d.kind == SIZE and isinstance(d.value, int):
            return LiteralType(d.value, self.int_type)
        if d.kind == TVAR and isinstance(d.typ, TypeVarType):
            return d.typ
        if d.kind in (VAR, OWNVAR):
            mark = LiteralType(VARIADIC_MARK + str(d.value), self.str_type)
            return UnpackType(self.tuple_any.copy_modified(args=[mark]))
        if d.kind == ANYVAR:
            return UnpackType(self.tuple_any)
        assert d.kind == ANY, d
        return AnyType(TypeOfAny.special_form)


class _Translator(TypeTranslator):
    """A type translator that looks through type aliases (mypyc needs this method)."""

    def visit_type_alias_type(self, t: TypeAliasType, /) -> Type:
        if t.is_recursive:
            return t
        return get_proper_type(t).accept(self)


class _Collect(_Translator):
    def __init__(self, found: set[str]) -> None:
        super().__init__()
        self.found = found

    def visit_instance(self, t: Instance, /) -> Type:
        if t.type.fullname == JAX_ARRAY:
            for a in t.args:
                d = _dim_of(a, None)
                if d.kind == NAME:
                    self.found.add(str(d.value))
                elif d.kind == VAR:
                    self.found.add(VARIADIC_MARK + str(d.value))
            return t
        return super().visit_instance(t)


class Relax(_Translator):
    """Arrays with dims become gradual; used on the parameters the plugin checks itself."""

    def __init__(self, builder: Builder) -> None:
        super().__init__()
        self.builder = builder

    def visit_instance(self, t: Instance, /) -> Type:
        if t.type.fullname == JAX_ARRAY:
            return self.builder.gradual()
        return super().visit_instance(t)


class ForgetOwn(_Translator):
    """A callee's own dims become unknown (`Any`): they mean nothing outside its call."""

    def __init__(self, own: frozenset[str]) -> None:
        super().__init__()
        self.own = own

    def visit_instance(self, t: Instance, /) -> Type:
        if t.type.fullname == JAX_ARRAY:
            if not any(_dim_of(a, self.own).kind in (OWN, OWNVAR) for a in t.args):
                return t
            args: list[Type] = []
            for a in t.args:
                kind = _dim_of(a, self.own).kind
                if kind == OWN:
                    args.append(AnyType(TypeOfAny.special_form))
                elif kind == OWNVAR:
                    p = get_proper_type(a)
                    assert isinstance(p, UnpackType)
                    inner = get_proper_type(p.type)
                    assert isinstance(inner, Instance)
                    args.append(
                        UnpackType(inner.copy_modified(args=[AnyType(TypeOfAny.special_form)]))
                    )
                else:
                    args.append(a)
            return t.copy_modified(args=args)
        return super().visit_instance(t)


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
