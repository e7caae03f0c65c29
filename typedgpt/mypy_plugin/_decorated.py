"""Functions that a decorator turns into an object: `@jax.custom_vjp`, `@jax.custom_jvp` and
`@functools.cache` (or `lru_cache`).

mypy types a call of such a function as a call of the object's `__call__(*args, **kwargs)`,
whose result is the function's declared return type: its own dims would leak out of the
call as if they were the caller's (`-> Float[Array, " n"]` gives an `n` vector to a caller
of `seq` vectors). A call of `@jax.custom_vjp` or `@jax.custom_jvp` function called by its
name is checked as a call of the function; a cached function's own dims are unknown after
the call (its arguments stay mypy's to check: they must be hashable).
"""

from mypy.nodes import Decorator, RefExpr
from mypy.plugin import MethodSigContext
from mypy.types import CallableType, get_proper_type

from ._calls import own_names
from ._translators import ForgetOwn
from ._types import has_dims

CUSTOM_DERIVATIVES = frozenset(
    {
        "jax._src.custom_derivatives.custom_vjp.__call__",
        "jax._src.custom_derivatives.custom_jvp.__call__",
    }
)
CACHED = "functools._lru_cache_wrapper.__call__"
DECORATED_CALLS = CUSTOM_DERIVATIVES | {CACHED}


def decorated_function(ctx: MethodSigContext) -> CallableType | None:
    """The declared signature of the function that the called object wraps, where the call
    names it (`f(x)`, `module.f(x)`), one decorator made it, and the signature has dims."""
    callee = getattr(ctx.context, "callee", None)
    node = callee.node if isinstance(callee, RefExpr) else None
    if not isinstance(node, Decorator) or len(node.decorators) != 1 or node.func.type is None:
        return None
    sig = get_proper_type(node.func.type)
    if not isinstance(sig, CallableType) or not has_dims([*sig.arg_types, sig.ret_type]):
        return None
    return sig


def cached_signature(ctx: MethodSigContext) -> CallableType:
    """A call of a cached function: mypy's signature, without the function's own dims in
    its result."""
    sig = ctx.default_signature
    wrapped = decorated_function(ctx)
    if wrapped is None:
        return sig
    return sig.copy_modified(ret_type=sig.ret_type.accept(ForgetOwn(own_names(wrapped))))
