"""The dtypes typedgpt computes in, and the check of a `dtype` argument.

Parameters, activations and KV caches are float32, bfloat16 or float16 (float64 too when
JAX's 64-bit mode is on); norms, softmax and the loss widen to float32 whatever the
dtype. Narrower floating-point dtypes (float8, float4) would pass a plain "is it floating"
test, but every product and residual sum would round to a few bits: the logits come out
wrong without an error, so they are refused where a dtype is chosen.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import DTypeLike


def compute_dtype(dtype: DTypeLike, *, argument: str, fix: str) -> np.dtype:
    """`dtype` as a NumPy dtype when typedgpt computes in it, else a `ValueError` that names
    `argument` and the value and ends with `fix` ("pass jnp.float32 ...").

    Refused: what is not a dtype; PyTorch's dtypes (with JAX's of the same name as the fix);
    dtypes that are not floating-point; float8 and float4; float64 while `jax_enable_x64`
    is off, where JAX would compute in float32 without a word.
    """
    if type(dtype).__module__ == "torch":
        name = str(dtype).removeprefix("torch.")
        same = f"JAX's jnp.{name}" if name in ("float32", "bfloat16", "float16") else fix
        raise ValueError(f"{argument}={dtype} is a PyTorch dtype, not a JAX one: pass {same}")
    try:
        resolved = jnp.dtype(dtype)
    except TypeError:
        raise ValueError(f"{argument}={dtype!r} is not a floating-point dtype: {fix}") from None
    name = resolved.name
    if not jnp.issubdtype(resolved, jnp.floating):
        raise ValueError(f"{argument}={name} is not a floating-point dtype: {fix}")
    if name == "float64":
        if not jax.config.jax_enable_x64:  # type: ignore[attr-defined]
            raise ValueError(
                f"{argument}=float64 needs JAX's 64-bit mode, which is off, so JAX would "
                "compute in float32: call jax.config.update('jax_enable_x64', True) first, "
                f"or {fix}"
            )
    elif resolved.itemsize < 2:  # float8 and float4, one byte per value
        raise ValueError(
            f"{argument}={name} is narrower than typedgpt computes in (float32, bfloat16, "
            f"float16): its products and sums would round to a few bits; {fix}"
        )
    return resolved
