"""Type translators: the arrays inside a type, rewritten (or read) wherever they occur.

A callee's parameters become gradual where the plugin checks them itself (`Relax`), its own
dims unknown outside its call (`ForgetOwn`), and NumPy's own results shape-unknown unless a
stub says otherwise (`ForgetNumpyShapes`); `literal_names` collects the named dims.
"""

from mypy.type_visitor import TypeTranslator
from mypy.types import (
    AnyType,
    Instance,
    Type,
    TypeAliasType,
    TypeOfAny,
    UnpackType,
    get_proper_type,
)

from ._dims import NAME, OWN, OWNVAR, VAR
from ._types import (
    VARIADIC_MARK,
    Builder,
    dim_args,
    dim_of,
    is_any_unpack,
    is_ndarray,
    shaped_instance,
    with_dim_args,
)


def literal_names(types: list[Type]) -> frozenset[str]:
    """Every named dim (and `*variadic` marker) in the arrays of `types`."""
    found: set[str] = set()
    collector = _Collect(found)
    for t in types:
        t.accept(collector)
    return frozenset(found)


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
        if shaped_instance(t) is not None:
            for a in dim_args(t) or []:
                d = dim_of(a, None)
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
        if shaped_instance(t) is not None:
            return self.builder.gradual(t)
        return super().visit_instance(t)


class ForgetOwn(_Translator):
    """A callee's own dims become unknown (`Any`): they mean nothing outside its call."""

    def __init__(self, own: frozenset[str]) -> None:
        super().__init__()
        self.own = own

    def visit_instance(self, t: Instance, /) -> Type:
        given = dim_args(t) if shaped_instance(t) is not None else None
        if given is not None:
            if not any(dim_of(a, self.own).kind in (OWN, OWNVAR) for a in given):
                return t
            args: list[Type] = []
            for a in given:
                kind = dim_of(a, self.own).kind
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
            return with_dim_args(t, args)
        return super().visit_instance(t)


class ForgetNumpyShapes(_Translator):
    """NumPy arrays of unknown dims: what a NumPy function or method gives, unless a shape
    stub says what it does. NumPy's own shapes pass a `tuple[int, int]` where the dims are of
    unknown size, and its `Self` where `transpose` permutes them."""

    def visit_instance(self, t: Instance, /) -> Type:
        inst = shaped_instance(t)
        if inst is not None and is_ndarray(inst):
            args = dim_args(inst)
            if args is not None and len(args) == 1 and is_any_unpack(args[0]):
                return t
            bound = get_proper_type(inst.type.defn.type_vars[0].upper_bound)
            assert isinstance(bound, Instance)
            unknown = UnpackType(bound.copy_modified(args=[AnyType(TypeOfAny.special_form)]))
            return with_dim_args(inst, [unknown])
        return super().visit_instance(t)
