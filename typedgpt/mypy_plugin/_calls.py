"""Calls of functions and methods with shaped parameters: each call binds the callee's dims.

mypy would compare `Array[Literal['in']]` with `Array[Literal['embed']]` and fail, so the
signature hook makes the shaped parameters gradual for mypy and remembers the call; the
function or method hook then binds the callee's own dims afresh for this call (`Binder`),
reports a mismatch in the user's words, and returns the declared result with this call's dims.
"""

from typing import TypeAlias

from mypy.nodes import ARG_STAR2, Context, Decorator, FuncDef, OverloadedFuncDef, TypeInfo
from mypy.plugin import FunctionContext, FunctionSigContext, MethodContext, MethodSigContext
from mypy.types import (
    AnyType,
    CallableType,
    Instance,
    LiteralType,
    Overloaded,
    TupleType,
    Type,
    TypeVarType,
    get_proper_type,
)

from ._binder import Binder
from ._dims import VARIADIC, dim_name
from ._messages import display_name
from ._translators import ForgetOwn, Relax, literal_names
from ._types import array_instance, dims_of, has_dims, show_type
from ._unify import DimNote, Notes, builder_from, result_type, unify

SigContext: TypeAlias = FunctionSigContext | MethodSigContext
CallContext: TypeAlias = FunctionContext | MethodContext
# A signature a call may bind: it, its own dims, and notes on the dims of its parameters.
_Candidate: TypeAlias = tuple[CallableType, frozenset[str], Notes]


class Calls:
    """Calls whose signature hook has run, waiting for their function or method hook."""

    def __init__(self) -> None:
        self._pending: dict[int, tuple[Context, str, list[_Candidate]]] = {}

    def expect(
        self,
        context: Context,
        display: str,
        sig: CallableType,
        own: frozenset[str],
        notes: Notes | None = None,
    ) -> None:
        """Check the call at `context` against `sig` when its result is asked for. An
        overload's items arrive one by one, each added to the call's candidates."""
        entry = self._pending.get(id(context))
        candidate = (sig, own, notes or {})
        if _is_overload(sig) and entry is not None and entry[0] is context:
            entry[2].append(candidate)
        else:
            self._pending[id(context)] = (context, display, [candidate])

    def drop(self, context: Context) -> None:
        """Forget the call at `context`: it is reported otherwise, and not checked."""
        self._pending.pop(id(context), None)

    def signature(self, ctx: SigContext, fullname: str) -> CallableType:
        """The signature mypy checks the call with: shaped parameters made gradual."""
        sig = ctx.default_signature
        if not has_dims(sig.arg_types):
            if has_dims([sig.ret_type]):
                own = own_names(sig)
                if own:
                    return sig.copy_modified(ret_type=sig.ret_type.accept(ForgetOwn(own)))
            return sig
        own = frozenset() if _fixed_fields(sig) else own_names(sig)
        builder = builder_from(sig.arg_types, ctx.api)
        if builder is None:
            return sig
        notes = _class_dim_notes(sig, ctx)
        self.expect(ctx.context, display_name(fullname, sig), sig, own, notes)
        relax = Relax(builder)
        return sig.copy_modified(
            arg_types=[
                t.accept(relax) if not _mentions_own_typevars(t, sig) else t for t in sig.arg_types
            ],
            ret_type=sig.ret_type.accept(ForgetOwn(own)),
        )

    def result(self, ctx: CallContext) -> Type:
        """Bind the arguments of a remembered call; its result type, with this call's dims."""
        entry = self._pending.pop(id(ctx.context), None)
        if entry is None:
            return ctx.default_return_type
        context, display, candidates = entry
        if context is not ctx.context:
            return ctx.default_return_type
        if len(candidates) > 1:  # an overload: its first item whose ranks fit, as mypy picks
            fitting = [c for c in candidates if _ranks_fit(c[0], c[1], ctx.arg_types)]
            if not fitting:
                return ctx.default_return_type
            candidates = fitting
        sig, own, notes = candidates[0]
        binder = Binder()
        ok = True
        for i, actuals in enumerate(ctx.arg_types):
            if i >= len(sig.arg_types):
                break
            formal = sig.arg_types[i]
            for j, actual in enumerate(actuals):
                names = ctx.arg_names[i] if i < len(ctx.arg_names) else []
                what = _argument(sig, i, names[j] if j < len(names) else None)
                where = (
                    ctx.args[i][j] if i < len(ctx.args) and j < len(ctx.args[i]) else ctx.context
                )
                ok &= unify(
                    formal, actual, binder, own, notes.get(i), what, display, ctx.api, where
                )
        if not ok:  # one error per mistake: the result of a bad call is shape-unknown
            return ctx.default_return_type
        return result_type(sig.ret_type, ctx.default_return_type, binder, own, ctx.api)


def _fixed_fields(sig: CallableType) -> bool:
    """Whether `sig` makes a NamedTuple that is not generic (the class or `_replace`): its
    fields' dims are the class's names, as a module's fields are, so a call checks its
    arguments against them. Bound afresh, they would make a tuple of other dims, which mypy
    reports only where it meets the class, as `got "HeadOut", expected "HeadOut"`."""
    ret = get_proper_type(sig.ret_type)
    if not isinstance(ret, TupleType):
        return False
    info = ret.partial_fallback.type
    makes = sig.is_type_obj() or sig.name == f"_replace of {info.name}"
    return makes and info.is_named_tuple and not info.type_vars


def _argument(sig: CallableType, i: int, passed: str | None) -> str:
    """Parameter `i` as messages name it; for `**kwargs`, the keyword the caller passed
    (`argument "z"`), as mypy names it."""
    name = passed if sig.arg_kinds[i] == ARG_STAR2 and passed else sig.arg_names[i]
    return f'argument "{name}"' if name else f"argument {i + 1}"


def _is_overload(sig: CallableType) -> bool:
    return bool(getattr(sig.definition, "is_overload", False))


def _ranks_fit(sig: CallableType, own: frozenset[str], arg_types: list[list[Type]]) -> bool:
    """Whether no argument has another number of dims than its parameter declares."""
    for formal, actuals in zip(sig.arg_types, arg_types, strict=False):
        pattern = dims_of(formal, own)
        if pattern is None or any(d.kind in VARIADIC for d in pattern):
            continue
        for actual in actuals:
            dims = dims_of(actual)
            if dims is not None and len(dims) != len(pattern):
                if not any(d.kind in VARIADIC for d in dims):
                    return False
    return True


def might_have_dims(node: object) -> bool:
    """Whether calls of `node` may need the plugin: its signature has shaped arrays, or it
    cannot be told from the definition (a variable, a name mypy cannot look up)."""
    if isinstance(node, FuncDef):
        return node.type is not None and _callable_has_dims(node.type)
    if isinstance(node, Decorator):
        return any(t is not None and _callable_has_dims(t) for t in (node.func.type, node.var.type))
    if isinstance(node, OverloadedFuncDef):
        return node.type is None or _callable_has_dims(node.type)
    if isinstance(node, TypeInfo):  # a class called: its constructor
        return any(might_have_dims(node.get_method(name)) for name in ("__init__", "__new__"))
    return True  # a variable, or a name mypy could not look up: its type tells nothing here


def _callable_has_dims(t: Type) -> bool:
    p = get_proper_type(t)
    if isinstance(p, CallableType):
        return has_dims([*p.arg_types, p.ret_type])
    if isinstance(p, Overloaded):
        return any(has_dims([*item.arg_types, item.ret_type]) for item in p.items)
    return has_dims([p])


def _declared(sig: CallableType) -> CallableType | None:
    node = sig.definition
    if isinstance(node, Decorator):
        node = node.func
    if isinstance(node, FuncDef):
        declared = get_proper_type(node.type) if node.type is not None else None
        if isinstance(declared, CallableType):
            return declared
    return None


def own_names(sig: CallableType) -> frozenset[str]:
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


def _class_dim_notes(sig: CallableType, ctx: SigContext) -> Notes:
    """For a method of a generic class, why each dim of a parameter is what it is."""
    declared = _declared(sig)
    obj = get_proper_type(ctx.type) if isinstance(ctx, MethodSigContext) else None
    if declared is None or not isinstance(obj, Instance) or not obj.args:
        return {}
    offset = len(declared.arg_types) - len(sig.arg_types)
    if offset not in (0, 1):
        return {}
    notes: Notes = {}
    for i, (decl, spec) in enumerate(zip(declared.arg_types[offset:], sig.arg_types, strict=True)):
        d, s = array_instance(decl), array_instance(spec)
        if d is None or s is None or len(d.args) != len(s.args):
            continue
        row: list[DimNote | None] = []
        for da, sa in zip(d.args, s.args, strict=True):
            pda, psa = get_proper_type(da), get_proper_type(sa)
            if isinstance(pda, TypeVarType) and isinstance(psa, LiteralType):
                row.append(DimNote(reason=f'"{pda.name}" is {psa.value}, from {show_type(obj)}'))
            elif isinstance(pda, TypeVarType) and isinstance(psa, AnyType):
                row.append(DimNote(name=dim_name(pda.name)))
            else:
                row.append(None)
        notes[i] = row
    return notes


def relax_callable_args(ctx: FunctionContext) -> FunctionContext:
    """A function passed as a value (to `functools.partial`) loses its own dims' rigidity."""
    if not ctx.arg_types or not ctx.arg_types[0]:
        return ctx
    fn = get_proper_type(ctx.arg_types[0][0])
    if not isinstance(fn, CallableType) or not has_dims([*fn.arg_types, fn.ret_type]):
        return ctx
    builder = builder_from([*fn.arg_types, fn.ret_type], ctx.api)
    if builder is None:
        return ctx
    own = own_names(fn)
    relaxed = fn.copy_modified(
        arg_types=[t.accept(Relax(builder)) for t in fn.arg_types],
        ret_type=fn.ret_type.accept(ForgetOwn(own)),
    )
    return ctx._replace(arg_types=[[relaxed], *ctx.arg_types[1:]])
