"""Binding a callee's dims at one call: each argument unified with its parameter, then the
declared result written with the dims the arguments bound.

A mismatch is reported in the user's words, at the argument; for a method of a generic class,
a `DimNote` says where a dim of a parameter comes from (`Linear[embed, mlp]`).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

from mypy.nodes import Context, TypeInfo
from mypy.plugin import CheckerPluginInterface
from mypy.types import CallableType, Instance, TupleType, Type, UnionType, get_proper_type

from ._binder import Binder
from ._dims import ANY, NAME, OWN, OWNVAR, SIZE, Dim, show
from ._messages import fail, paren
from ._types import Builder, array_instance, dims_of, shaped_instance


@dataclass(frozen=True)
class DimNote:
    """What a message says about one dim of a method of a generic class."""

    reason: str | None = None  # why it is what it is: '"In" is embed, from Linear[embed, mlp]'
    name: str | None = None  # a type parameter left unknown (`Linear`, not `Linear[...]`)


Notes: TypeAlias = dict[int, list[DimNote | None]]


def builder_from(types: Sequence[Type], api: CheckerPluginInterface) -> Builder | None:
    """A `Builder` for the `Array` class found in `types`, or None when there is none."""
    info = find_array_info(types, 3)
    if info is None:
        return None
    return Builder(info, api.named_generic_type)


def find_array_info(types: Sequence[Type], depth: int) -> TypeInfo | None:
    for t in types:
        p = get_proper_type(t)
        if isinstance(p, Instance):
            if shaped_instance(p) is not None:
                return p.type
            if depth and p.args:
                found = find_array_info(p.args, depth - 1)
                if found is not None:
                    return found
        elif depth and isinstance(p, (TupleType, UnionType)):
            found = find_array_info(p.items, depth - 1)
            if found is not None:
                return found
        elif depth and isinstance(p, CallableType):
            found = find_array_info([*p.arg_types, p.ret_type], depth - 1)
            if found is not None:
                return found
    return None


def unify(
    formal: Type,
    actual: Type,
    binder: Binder,
    own: frozenset[str],
    notes: list[DimNote | None] | None,
    what: str,
    callee: str,
    api: CheckerPluginInterface,
    context: Context,
) -> bool:
    """Bind the formal's dims to the actual's, reporting the first mismatch (then False)."""
    pf, pa = get_proper_type(formal), get_proper_type(actual)
    if isinstance(pf, Instance) and shaped_instance(pf) is not None:
        actual_dims = dims_of(pa)
        if actual_dims is None:
            return True
        pattern = dims_of(pf, own)
        assert pattern is not None
        if notes is not None and len(notes) == len(pattern):
            pattern = tuple(_noted(p, note) for p, note in zip(pattern, notes, strict=True))
        reason = binder.unify(pattern, actual_dims, what)
        if reason is not None:
            fail(
                api,
                f"{callee}: {what} has dims {show(actual_dims)} where "
                f"{show(binder.expected(pattern))} is expected{paren(reason)}",
                context,
            )
            return False
        return True
    if isinstance(pf, TupleType) and isinstance(pa, TupleType) and len(pf.items) == len(pa.items):
        ok = True
        for k, (f, a) in enumerate(zip(pf.items, pa.items, strict=True)):
            ok &= unify(f, a, binder, own, None, f"{what}[{k}]", callee, api, context)
        return ok
    if isinstance(pf, UnionType) and array_instance(pa) is not None:
        arrays = [m for m in pf.items if array_instance(m) is not None]
        if len(arrays) == 1:
            return unify(arrays[0], pa, binder, own, notes, what, callee, api, context)
    return True


def _noted(p: Dim, note: DimNote | None) -> Dim:
    """A dim of a generic class's method with what messages say about it."""
    if note is not None and note.reason is not None and p.kind in (NAME, SIZE):
        return Dim(p.kind, p.value, note.reason)
    if note is not None and note.name is not None and p.kind == ANY:
        return Dim(ANY, note.name)  # shown by the parameter's name, still of unknown size
    return p


class _Substitute:
    def __init__(self, binder: Binder, own: frozenset[str], builder: Builder) -> None:
        self.binder, self.own, self.builder = binder, own, builder

    def array(self, t: Instance) -> Type:
        pattern = dims_of(t, self.own)
        assert pattern is not None
        if not any(d.kind in (OWN, OWNVAR) for d in pattern):
            return t
        return self.builder.array(self.binder.result(pattern), like=t)


def result_type(
    ret: Type, default: Type, binder: Binder, own: frozenset[str], api: CheckerPluginInterface
) -> Type:
    """The declared return type with this call's dims, over mypy's own inferred result."""
    info = find_array_info([ret], 3)
    if info is None:
        return default
    sub = _Substitute(binder, own, Builder(info, api.named_generic_type))
    return _overlay(ret, default, sub)


def _overlay(ret: Type, default: Type, sub: _Substitute) -> Type:
    pr, pd = get_proper_type(ret), get_proper_type(default)
    if isinstance(pr, Instance) and shaped_instance(pr) is not None:
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
