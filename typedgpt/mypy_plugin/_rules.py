"""The shape rules of jax's functions and `jax.Array`'s methods, as their stubs name them.

A rule returns the result type, or raises `ShapeError`, which `apply` reports as a mypy error
naming the function. `RULES` names the rules of calls: those of jax.numpy and `jax.Array`
(`_jnp_rules`), of jax.lax (`_lax_rules`) and of indexing (`_index_rules`); `PROPERTY_RULES`
those of properties, `x.T` and `x.mT`.
"""

from collections.abc import Callable, Mapping

from mypy.plugin import AttributeContext
from mypy.types import Type

from . import _shapes as shapes
from ._arguments import Call, CallContext
from ._dims import Shape
from ._index_rules import index
from ._jnp_rules import (
    broadcast,
    checks_axis,
    concatenate,
    dot,
    einsum,
    expand_dims,
    matmul,
    moveaxis,
    operator,
    outer,
    reduction,
    reshape,
    signature,
    stack,
    swapaxes,
    transpose,
)
from ._lax_rules import (
    broadcast_in_dim,
    dot_general,
    dynamic_slice,
    dynamic_update_slice,
    lax_argmax,
    lax_checks_axes,
    lax_concatenate,
    lax_reshape,
    lax_slice,
    lax_transpose,
    scalar_or_same,
    squeeze,
)
from ._made_rules import (
    arange,
    broadcast_to,
    eye,
    new_array,
    pad,
    repeat,
    split,
    take,
    take_along_axis,
    tile,
    top_k,
)
from ._messages import fail
from ._shapes import ShapeError
from ._stubs import SIGNATURE, Stub, StubError, Stubs
from ._types import Builder, dims_of, shaped_instance

Rule = Callable[[Call], Type]


def apply(stub: Stub, ctx: CallContext, *, numpy: bool = False) -> Type:
    """Run the stub's rule on a call (of a NumPy function with `numpy`), unless an argument
    of a `Literal[...]` parameter has another value; a `ShapeError` becomes a mypy error
    naming the callee, and the result is then shape-unknown."""
    call = Call(ctx, stub, numpy=numpy)
    for param in stub.params:
        if param.only is not None and call.value(param.name) not in param.only:
            return call.unknown()  # a case the stub does not describe
    try:
        return RULES[stub.rule](call)
    except ShapeError as error:
        message = str(error)
        if not message.startswith(('"', stub.name)):
            message = f"{stub.name}: {message}"
        fail(ctx.api, message, ctx.context)
        return call.unknown()


def apply_property(stub: Stub, ctx: AttributeContext) -> Type:
    """`x.T` and `x.mT`: a rule on the dims of `x`."""
    mine = dims_of(ctx.type)
    inst = shaped_instance(ctx.default_attr_type)
    if mine is None or inst is None:
        return ctx.default_attr_type
    rule = PROPERTY_RULES[stub.rule]
    return Builder(inst.type, ctx.api.named_generic_type).array(rule(mine), like=inst)


def check(stubs: Stubs) -> None:
    """Every stub names a rule that exists."""
    for stub in [*stubs.functions.values(), *stubs.methods.values()]:
        known = PROPERTY_RULES if stub.is_property else RULES
        if stub.rule not in known:
            raise StubError(f"{stub.where}: no rule {stub.rule!r}; the rules are {sorted(known)}")


RULES: Mapping[str, Rule] = {
    SIGNATURE: signature,
    "checks_axis": checks_axis,
    "broadcast": broadcast,
    "operator": operator,
    "reduction": reduction,
    "matmul": matmul,
    "einsum": einsum,
    "dot": dot,
    "outer": outer,
    "reshape": reshape,
    "new_array": new_array,
    "arange": arange,
    "eye": eye,
    "broadcast_to": broadcast_to,
    "take": take,
    "take_along_axis": take_along_axis,
    "pad": pad,
    "repeat": repeat,
    "tile": tile,
    "split": split,
    "top_k": top_k,
    "transpose": transpose,
    "swapaxes": swapaxes,
    "moveaxis": moveaxis,
    "expand_dims": expand_dims,
    "concatenate": concatenate,
    "stack": stack,
    "dynamic_update_slice": dynamic_update_slice,
    "lax_reshape": lax_reshape,
    "lax_transpose": lax_transpose,
    "lax_concatenate": lax_concatenate,
    "lax_argmax": lax_argmax,
    "lax_checks_axes": lax_checks_axes,
    "broadcast_in_dim": broadcast_in_dim,
    "squeeze": squeeze,
    "dot_general": dot_general,
    "scalar_or_same": scalar_or_same,
    "dynamic_slice": dynamic_slice,
    "lax_slice": lax_slice,
    "index": index,
}
PROPERTY_RULES: Mapping[str, Callable[[Shape], Shape]] = {
    "transpose": shapes.transpose,
    "swap_last": shapes.swap_last,
}
