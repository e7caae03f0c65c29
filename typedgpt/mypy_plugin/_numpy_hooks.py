"""NumPy: its functions and `np.ndarray`'s members follow jax's stubs of the same name where
those describe them (a NumPy argument's dims are bound as a jax one's); anything else NumPy
returns is of unknown dims, whatever NumPy's own shape types say.
"""

import functools
from collections.abc import Callable

from mypy.plugin import MethodContext
from mypy.types import Instance, LiteralType, NoneType, Type, get_proper_type

from . import _rules as rules
from ._arguments import CallContext
from ._stubs import Stub, Stubs
from ._translators import ForgetNumpyShapes

NUMPY = "numpy."
# The classes mypy names NumPy's array members by: methods by the class of the object,
# attributes by the class that defines them (`.T` is `_ArrayOrScalarCommon`'s).
NDARRAY_MEMBER = ("numpy.ndarray.", "numpy._ArrayOrScalarCommon.")
# NumPy's ufuncs (`np.exp`, `np.add`) are objects; a call is their class's `__call__`, and the
# ufunc's name is the first argument of its type (`_UFunc_Nin1_Nout1[Literal['exp'], ...]`).
UFUNC = "numpy._typing._ufunc."
# `np.zeros`, `np.ones` and `np.empty` are objects of one class; a call is its `__call__`.
NUMPY_CONSTRUCTOR = "numpy._core.multiarray._ConstructorEmpty.__call__"
# The NumPy functions whose dims follow jax.numpy's function of the same name, read through
# its stub. NumPy defines its functions in `numpy._core` and `numpy.lib` (and `numpy.linalg`,
# jax's `jax.numpy.linalg`); others of the same name (`numpy.ma`, `numpy.char`) keep their
# arrays of unknown dims.
NUMPY_MODULES = {
    "numpy._core.": "jax.numpy",
    "numpy.lib.": "jax.numpy",
    "numpy.linalg.": "jax.numpy.linalg",
}
NUMPY_FUNCTIONS = frozenset(
    {
        "all", "amax", "amin", "any", "arange", "argmax", "argmin", "argsort", "array",
        "asarray", "broadcast_to", "clip", "concatenate", "cumprod", "cumsum", "dot", "einsum",
        "empty", "expand_dims", "eye", "flip", "full", "max", "mean", "median", "min",
        "moveaxis", "nanmax", "nanmean", "nanmin", "nansum", "norm", "ones", "outer", "pad",
        "prod", "ravel", "repeat", "reshape", "roll", "round", "sort", "split", "squeeze",
        "stack", "std", "sum", "swapaxes", "take", "take_along_axis", "tile", "transpose",
        "tril", "triu", "var", "where", "zeros",
    }
)  # fmt: skip


class NumpyHooks:
    """The hooks of NumPy's functions and methods, which read jax's stubs."""

    def __init__(self, stubs: Stubs) -> None:
        self._stubs = stubs

    def function(self, fullname: str) -> Callable[[CallContext], Type]:
        """The hook of a NumPy function: the rule of jax.numpy's function of its name where
        `NUMPY_FUNCTIONS` has it, else NumPy's own result, of unknown dims."""
        module, _, name = fullname.rpartition(".")
        jax_module = next((j for n, j in NUMPY_MODULES.items() if module.startswith(n)), None)
        stub = self._stubs.function(f"{jax_module}.{name}") if jax_module else None
        if stub is None or name not in NUMPY_FUNCTIONS:
            return forget_numpy_shapes
        return functools.partial(rules.apply, stub, numpy=True)

    def method(self, fullname: str) -> Callable[[MethodContext], Type]:
        """The hook of a method of one of NumPy's classes: a ufunc's or constructor's call,
        or an `np.ndarray` member that a `jax.Array` stub of its name describes."""
        if fullname.startswith(UFUNC) and fullname.endswith(".__call__"):
            return self._ufunc_call
        if fullname == NUMPY_CONSTRUCTOR:
            return self.function("numpy._core.multiarray.zeros")
        method = self._stubs.methods.get(fullname.rpartition(".")[2])
        if fullname.startswith(NDARRAY_MEMBER) and method is not None and not method.is_property:
            return functools.partial(_numpy_method, method)
        return forget_numpy_shapes

    def _ufunc_call(self, ctx: MethodContext) -> Type:
        """A call of a NumPy ufunc: the rule of jax.numpy's function of its name, whose
        elementwise functions broadcast as NumPy's ufuncs do."""
        ufunc = get_proper_type(ctx.type)
        name = ufunc.args[0] if isinstance(ufunc, Instance) and ufunc.args else None
        name = get_proper_type(name)
        if isinstance(name, LiteralType) and isinstance(name.value, str):
            stub = self._stubs.function(f"jax.numpy.{name.value}")
            if stub is not None:
                return rules.apply(stub, ctx, numpy=True)
        return forget_numpy_shapes(ctx)


def _numpy_method(stub: Stub, ctx: MethodContext) -> Type:
    """An `np.ndarray` method that a `jax.Array` stub describes, where NumPy's returns an
    array: `x.sort()` sorts in place and returns None."""
    if isinstance(get_proper_type(ctx.default_return_type), NoneType):
        return ctx.default_return_type
    return rules.apply(stub, ctx)


def forget_numpy_shapes(ctx: CallContext) -> Type:
    """A NumPy function or method that no stub describes: its arrays are of unknown dims."""
    return ctx.default_return_type.accept(ForgetNumpyShapes())
