"""The mypy plugin: which hook handles what, and which calls it claims.

Hooks, in the order mypy meets them:

1. Semantic analysis (`_semanal`). `jax.Array` is made generic over its dims, a plain
   `jax.Array` has unknown dims, and a jaxtyping annotation has the dims of its string.
2. Type checking. A call of a function or method with shaped parameters is checked by the
   plugin's own unifier (`_calls`, `_unify`); jax's functions and `jax.Array`'s methods,
   operators and properties follow their shape stubs (`_stubs`, `_rules`), and so do NumPy's
   of the same name (`_numpy_hooks`); `x.at[key].set(v)` is `_at_rules`'; `jax.vmap`,
   `eqx.filter_vmap` and `jax.lax.scan` are modelled in `_vmap` and `_scan`. Anything else is
   shape-unknown.

mypy asks its plugins for a hook in the order they are configured and takes the first one
given, so this plugin claims only what it checks: calls whose callee has jaxtyping dims in
its signature (or cannot be looked up), the jax functions and `jax.Array` members of its
stubs, and the transformations. It wraps mypy's default plugin so that a hook of mypy's own
(`functools.partial`, `dict.get`, ...) keeps working on the calls it claims, and leaves every
other name to the plugins configured after it.
"""

import functools
from collections.abc import Callable

from mypy.nodes import AssignmentStmt, CallExpr, IndexExpr, MypyFile, NameExpr, RefExpr, TypeInfo
from mypy.nodes import TypeAlias as TypeAliasNode
from mypy.options import Options
from mypy.plugin import (
    AnalyzeTypeContext,
    AttributeContext,
    ClassDefContext,
    FunctionContext,
    FunctionSigContext,
    MethodContext,
    MethodSigContext,
    Plugin,
)
from mypy.plugins.default import DefaultPlugin
from mypy.types import (
    AnyType,
    CallableType,
    Instance,
    LiteralType,
    TupleType,
    Type,
    TypeOfAny,
    UnpackType,
)

from . import _at_rules as at_rules
from . import _rules as rules
from . import _semanal as semanal
from . import _stubs
from ._at_rules import UPDATE_REF
from ._calls import Calls, SigContext, might_have_dims, relax_callable_args
from ._decorated import CACHED, DECORATED_CALLS, cached_signature, decorated_function
from ._dims import SIZE, VARIADIC
from ._numpy_hooks import NDARRAY_MEMBER, NUMPY, NumpyHooks
from ._scan import SCAN, Scans
from ._types import JAX_ARRAY, array_instance, dims_of, shape_ints
from ._vmap import WRAPPED, WRAPPERS, Vmaps

ARRAY_MEMBER = JAX_ARRAY + "."
# A jax function that jax wraps in `jax.jit` and types no further (`jnp.linalg.norm`, whose
# module has no .pyi) is an object; a call is its class's `__call__`.
JIT_WRAPPED_CALL = "jax._src.pjit.JitWrapped.__call__"


class ShapePlugin(Plugin):
    """Static jaxtyping shape checking."""

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self._default = DefaultPlugin(options)
        self._stubs = _stubs.load()
        rules.check(self._stubs)
        self._calls = Calls()
        self._vmaps = Vmaps(self._calls)
        self._scans = Scans()
        self._numpy = NumpyHooks(self._stubs)
        # Type aliases of jaxtyping annotations, by full name: mypy drops the dim string of
        # `Heads = Float[Array, "seq heads head_dim"]` before any hook sees it. A module parsed
        # in this run gives its aliases' strings from the source; one loaded from mypy's cache
        # from the alias's target, which has the dims (`_cached_alias_spec`).
        self._aliases: dict[str, str | None] = {}
        self._parsed: set[str] = set()
        # `_claims` by full name: mypy asks for a hook at every call, and a definition's
        # signature does not change while its callers are checked.
        self._claimed: dict[str, bool] = {}

    def set_modules(self, modules: dict[str, MypyFile]) -> None:
        super().set_modules(modules)
        self._default.set_modules(modules)

    def get_additional_deps(self, file: MypyFile) -> list[tuple[int, str, int]]:
        self._parsed.add(file.fullname)
        for stmt in file.defs:
            if not isinstance(stmt, AssignmentStmt) or len(stmt.lvalues) != 1:
                continue
            target, value = stmt.lvalues[0], stmt.rvalue
            if not isinstance(target, NameExpr) or not isinstance(value, IndexExpr):
                continue
            spec = semanal.alias_spec(value)
            if spec is not None:
                self._aliases[f"{file.fullname}.{target.name}"] = spec
        return []

    # ------------------------------------------------------------------ semantic analysis

    def get_customize_class_mro_hook(
        self, fullname: str
    ) -> Callable[[ClassDefContext], None] | None:
        if fullname == JAX_ARRAY:
            return lambda ctx: semanal.make_array_generic(ctx.cls.info, ctx.api.named_type)
        return None

    def get_type_analyze_hook(self, fullname: str) -> Callable[[AnalyzeTypeContext], Type] | None:
        if fullname in semanal.ANNOTATED:
            return semanal.analyze_annotated
        if fullname == JAX_ARRAY:
            return semanal.analyze_plain_array
        if fullname not in self._aliases and fullname.rpartition(".")[0] not in self._parsed:
            self._aliases[fullname] = self._cached_alias_spec(fullname)
        spec = self._aliases.get(fullname)
        if spec is not None:
            return lambda ctx: semanal.analyze_alias(ctx, spec)
        return None

    def _cached_alias_spec(self, fullname: str) -> str | None:
        """The dim string of a jaxtyping alias of a module loaded from mypy's cache, written
        back from its target (`Array[Literal['seq'], Literal['embed']]` is "seq embed")."""
        sym = self.lookup_fully_qualified(fullname)
        node = sym.node if sym is not None else None
        if not isinstance(node, TypeAliasNode) or array_instance(node.target) is None:
            return None  # not a jax array: NumPy's `NDArray` is an alias of `np.ndarray`
        dims = dims_of(node.target)
        return " ".join(map(str, dims)) if dims is not None else None

    # ------------------------------------------------------------------ calls

    def get_function_signature_hook(
        self, fullname: str
    ) -> Callable[[FunctionSigContext], CallableType] | None:
        if self._default.get_function_signature_hook(fullname) is not None:
            return None  # mypy's own
        if fullname == SCAN:
            return self._scans.signature
        if self._claims(fullname):
            return lambda ctx: self._signature(ctx, fullname)
        return None

    def get_method_signature_hook(
        self, fullname: str
    ) -> Callable[[MethodSigContext], CallableType] | None:
        if self._default.get_method_signature_hook(fullname) is not None:
            return None
        if fullname.startswith(NUMPY):
            return None  # NumPy's own signatures: no jaxtyping dims to bind
        if fullname in DECORATED_CALLS:
            return cached_signature if fullname == CACHED else self._custom_derivative
        if self._claims(fullname):
            return lambda ctx: self._signature(ctx, fullname)
        return None

    def get_function_hook(self, fullname: str) -> Callable[[FunctionContext], Type] | None:
        default = self._default.get_function_hook(fullname)
        if fullname == "functools.partial" and default is not None:
            partial_hook = default
            return lambda ctx: partial_hook(relax_callable_args(ctx))
        if default is not None:
            return None
        if fullname in WRAPPERS:
            return functools.partial(self._vmaps.vmap, WRAPPERS[fullname])
        if fullname.startswith(WRAPPED):
            return lambda ctx: self._vmaps.call(ctx, fullname)
        if fullname == SCAN:
            return self._scans.call
        if fullname.startswith("jax."):
            stub = self._stubs.function(fullname)
            return (lambda ctx: rules.apply(stub, ctx)) if stub is not None else None
        if fullname.startswith(NUMPY):
            return self._numpy.function(fullname)
        if self._claims(fullname):
            return self._calls.result
        return None

    def get_method_hook(self, fullname: str) -> Callable[[MethodContext], Type] | None:
        if self._default.get_method_hook(fullname) is not None:
            return None
        if fullname.startswith(ARRAY_MEMBER):
            stub = self._stubs.methods.get(fullname[len(ARRAY_MEMBER) :])
            if stub is None or stub.is_property:
                return None
            return lambda ctx: rules.apply(stub, ctx)
        if fullname == JIT_WRAPPED_CALL:
            return self._jit_wrapped_call
        if fullname.startswith(UPDATE_REF):
            return functools.partial(at_rules.update, fullname[len(UPDATE_REF) :])
        if fullname.startswith(NUMPY):
            return self._numpy.method(fullname)
        if fullname in DECORATED_CALLS or self._claims(fullname):
            return self._calls.result
        return None

    def get_attribute_hook(self, fullname: str) -> Callable[[AttributeContext], Type] | None:
        member = fullname.rpartition(".")[2]
        if fullname.startswith(ARRAY_MEMBER) or fullname.startswith(NDARRAY_MEMBER):
            stub = self._stubs.methods.get(member)
            if stub is not None and stub.is_property:
                return lambda ctx: rules.apply_property(stub, ctx)
        if fullname == ARRAY_MEMBER + "shape":
            return _jax_shape
        if fullname.startswith(NDARRAY_MEMBER) and member == "shape":
            return lambda ctx: shape_ints(
                ctx.default_attr_type, ctx.api.named_generic_type("builtins.int", [])
            )
        return None

    def _custom_derivative(self, ctx: MethodSigContext) -> CallableType:
        """A call of a `@jax.custom_vjp` (or `custom_jvp`) function: checked as a call of the
        function it wraps, where the call names it."""
        sig = decorated_function(ctx)
        if sig is None:
            return ctx.default_signature
        plain = FunctionSigContext(ctx.args, sig, ctx.context, ctx.api)
        return self._calls.signature(plain, sig.definition.fullname if sig.definition else "")

    def _jit_wrapped_call(self, ctx: MethodContext) -> Type:
        """A call of a jit-wrapped jax function: the rule of its stub, found by the name it
        is called by, with a `jax.Array` for jax's result (`Any` to mypy); else `Any`."""
        callee = ctx.context.callee if isinstance(ctx.context, CallExpr) else None
        name = callee.fullname if isinstance(callee, RefExpr) else ""
        stub = self._stubs.function(name) if name.startswith("jax.") else None
        found = self.lookup_fully_qualified(JAX_ARRAY)
        if stub is None or found is None or not isinstance(found.node, TypeInfo):
            return ctx.default_return_type
        any_dims = ctx.api.named_generic_type("builtins.tuple", [AnyType(TypeOfAny.special_form)])
        array = Instance(found.node, [UnpackType(any_dims)])
        return rules.apply(stub, ctx._replace(default_return_type=array))

    def _claims(self, fullname: str) -> bool:
        """Whether calls of `fullname` are the plugin's: its definition has jaxtyping dims,
        or it cannot be looked up (a local function, a callable made by `jax.vmap`)."""
        claimed = self._claimed.get(fullname)
        if claimed is None:
            claimed = self._claimed[fullname] = self._looks_shaped(fullname)
        return claimed

    def _looks_shaped(self, fullname: str) -> bool:
        sym = self.lookup_fully_qualified(fullname)
        if sym is None:  # mypy names a method by the class it is called on, not its own
            owner, _, member = fullname.rpartition(".")
            cls = self.lookup_fully_qualified(owner) if owner else None
            if cls is not None and isinstance(cls.node, TypeInfo):
                sym = cls.node.get(member)
        return sym is None or might_have_dims(sym.node)

    def _signature(self, ctx: SigContext, fullname: str) -> CallableType:
        sig = ctx.default_signature
        vmapped = self._vmaps.by_name(sig.name) or self._vmaps.stored(ctx)
        if vmapped is not None:
            pattern, own, display = vmapped
            self._calls.expect(ctx.context, display, pattern, own)
            return sig
        return self._calls.signature(ctx, fullname)


def _jax_shape(ctx: AttributeContext) -> Type:
    """`x.shape` of a jax array of known dims: a tuple of its rank, a fixed size its literal,
    so that mypy checks the rank where `x.shape` is unpacked or indexed. With a variadic dim
    it stays `tuple[int, ...]`: mypy would refuse `b, t, c = x.shape` there."""
    dims = dims_of(ctx.type)
    if dims is None or any(d.kind in VARIADIC for d in dims):
        return ctx.default_attr_type
    int_type = ctx.api.named_generic_type("builtins.int", [])
    items: list[Type] = [
        LiteralType(d.value, int_type) if d.kind == SIZE and isinstance(d.value, int) else int_type
        for d in dims
    ]
    return TupleType(items, ctx.api.named_generic_type("builtins.tuple", [int_type]))
