"""`Linear`: an affine map of one vector, `y = W x + b`."""

from typing import Any, Generic

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray
from typing_extensions import TypeVar

from ._config import check_flag, check_key, check_number, check_size
from ._typed import TypedModule

# The dims `in` and `out` as type parameters, for static checking: mypy with
# typedgpt.mypy_plugin reads `Linear[Literal["embed"], Literal["mlp"]]` as a map from embed
# to mlp. Unparameterised, `Linear` is `Linear[Any, Any]`; at run time they change nothing.
In = TypeVar("In", default=Any)
Out = TypeVar("Out", default=Any)


class Linear(TypedModule, Generic[In, Out]):
    """An affine map `y = W x + b` of one vector; batch it with `jax.vmap`.

    **Arguments:**

    - `in_features`, `out_features`: the sizes of `x` and `y`, positive ints.
    - `use_bias`: whether to add a bias `b` (initialised to zero), True or False.
    - `init_std`: the standard deviation of the normal draw for `W`, a finite number >= 0
      (0 starts `W` at zero).
    - `key`: a `jax.random.key`, keyword-only.

    Arguments outside these rules raise `ValueError` (a key that is not an array,
    `TypeError`), naming the argument and the value.

    **Fields:** `weight` with shape `(out, in)` and `bias` with shape `(out,)` or `None`.
    """

    weight: Float[Array, "out in"]
    bias: Float[Array, " out"] | None

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        use_bias: bool = True,
        init_std: float = 0.02,
        key: PRNGKeyArray,
    ) -> None:
        in_features = check_size(in_features, "in_features", "Linear")
        out_features = check_size(out_features, "out_features", "Linear")
        init_std = check_number(init_std, "init_std", "Linear")
        use_bias = check_flag(use_bias, "use_bias", "Linear")
        check_key(key, "Linear")
        self.weight = init_std * jax.random.normal(key, (out_features, in_features))
        self.bias = jnp.zeros((out_features,)) if use_bias else None

    def __call__(self, x: Float[Array, " in"]) -> Float[Array, " out"]:
        """**Arguments:** `x`, a vector of size `in`. **Returns:** a vector of size `out`."""
        # `x @ weight.T` would make the transpose a separate array, which the backward pass
        # of a layer scan stores per layer; contracting `in` in place keeps only `weight`.
        y = jax.lax.dot_general(x, self.weight, (((0,), (1,)), ((), ())))
        if self.bias is not None:
            y = y + self.bias
        return y
