"""Seeded bugs: jax.vmap, jax.lax.scan and eqx.filter_jit."""

import equinox as eqx
import jax
from jaxtyping import Array, Float, Int


def linear(x: Float[Array, " in"], w: Float[Array, "out in"]) -> Float[Array, " out"]:
    return w @ x


def vmap_maps_the_weight(xs: Float[Array, "seq embed"], w: Float[Array, "mlp embed"]) -> None:
    jax.vmap(linear)(xs, w)  # G: [shape] vmap(linear): argument "w" has dims (mlp, embed) where (seq, out, embed) is expected


def vmap_weight_not_mapped(xs: Float[Array, "seq embed"], w: Float[Array, "mlp embed"]) -> Float[Array, "seq mlp"]:
    return jax.vmap(linear, in_axes=(0, None))(xs, w)


def vmap_result_dims(xs: Float[Array, "seq embed"], w: Float[Array, "mlp embed"]) -> Float[Array, "mlp seq"]:
    return jax.vmap(linear, in_axes=(0, None))(xs, w)  # E: [return-value] got "Array[Literal['seq'], Literal['mlp']]"


def vmap_unbatched_input(x: Float[Array, " embed"], w: Float[Array, "mlp embed"]) -> None:
    jax.vmap(linear, in_axes=(0, None))(x, w)  # E: [shape] vmap(linear): argument "x" has dims (embed,) where (vmapped axis, in) is expected


def vmap_in_axes_too_short(xs: Float[Array, "seq embed"], w: Float[Array, "mlp embed"]) -> None:
    jax.vmap(linear, in_axes=(0,))(xs, w)  # E: [shape] vmap(linear): in_axes has 1 entry but the call passes 2 positional arguments


def vmap_in_axes_too_long(xs: Float[Array, "seq embed"], w: Float[Array, "mlp embed"]) -> None:
    jax.vmap(linear, in_axes=(0, None, None))(xs, w)  # E: [shape] vmap(linear): in_axes has 3 entries but the call passes 2 positional arguments: give one entry per positional argument


def step(
    carry: Float[Array, " embed"], x: Float[Array, " embed"]
) -> tuple[Float[Array, " embed"], Float[Array, " embed"]]:
    return carry + x, carry


def scan_over_wrong_width(init: Float[Array, " embed"], xs: Float[Array, "seq mlp"]) -> None:
    jax.lax.scan(step, init, xs)  # G: [shape] jax.lax.scan(step): each step of "xs" has dims (mlp,) where (embed,) is expected ("embed" is embed, from the carry "init")


def scan_init_batched(init: Float[Array, "batch embed"], xs: Float[Array, "seq embed"]) -> None:
    jax.lax.scan(step, init, xs)  # E: [shape] jax.lax.scan(step): the carry "init" has dims (batch, embed) where (embed,) is expected


def scan_outputs(init: Float[Array, " embed"], xs: Float[Array, "seq embed"]) -> Float[Array, "embed seq"]:
    _, ys = jax.lax.scan(step, init, xs)
    return ys  # E: [return-value] got "Array[Literal['seq'], Literal['embed']]", expected "Array[Literal['embed'], Literal['seq']]"


def grow(
    carry: Float[Array, " embed"], x: Float[Array, " mlp"]
) -> tuple[Float[Array, " mlp"], None]:
    return x, None


def scan_carry_changes(init: Float[Array, " embed"], xs: Float[Array, "seq mlp"]) -> None:
    jax.lax.scan(grow, init, xs)  # E: [shape] jax.lax.scan(grow): the step returns a carry with dims (mlp,) where (embed,) is expected


def count_steps(
    carry: tuple[Float[Array, " embed"], Int[Array, ""]], x: Float[Array, " embed"]
) -> tuple[tuple[Float[Array, " embed"], Int[Array, ""]], None]:
    total, count = carry
    return (total + x, count + 1), None


def accumulate(carry: Float[Array, " embed"], x: Float[Array, " embed"]) -> Float[Array, " embed"]:
    return carry + x  # not a (carry, output) pair


def scan_keeps_mypys_own_checks(init: Float[Array, " embed"], xs: Float[Array, "seq embed"]) -> None:
    jax.lax.scan(count_steps, init, xs)  # E: [arg-type] Argument 1 to "scan" has incompatible type
    jax.lax.scan(accumulate, init, xs)  # E: [arg-type] Argument 1 to "scan" has incompatible type


def jitted_with_the_weight_transposed(x: Float[Array, " embed"], w: Float[Array, "mlp embed"]) -> None:
    def project(h: Float[Array, " in"], weight: Float[Array, "out in"]) -> Float[Array, " out"]:
        return weight @ h

    y = eqx.filter_jit(project)(x, w.T)  # E: [shape] filter_jit(project): argument "weight" has dims (embed, mlp) where (out, embed) is expected
    del y


def vmapped_then_called_on_one_row(x: Float[Array, " embed"], w: Float[Array, "mlp embed"]) -> None:
    batched = jax.vmap(linear, in_axes=(0, None))
    y = batched(x, w)  # E: [shape] vmap(linear): argument "x" has dims (embed,) where (vmapped axis, in) is expected
    del y


def vmap_lambda_sizes_differ(xs: Float[Array, "seq embed"], ys: Float[Array, "batch embed"]) -> None:
    jax.vmap(lambda x, y: linear(x, y))(xs, ys)  # E: [shape] vmap(lambda): argument "y" has dims (batch, embed) where (seq, ...) is expected


def vmap_lambda_result(xs: Float[Array, "seq embed"], w: Float[Array, "mlp embed"]) -> Float[Array, "seq embed"]:
    return jax.vmap(lambda x: linear(x, w))(xs)  # E: [return-value] got "Array[Literal['seq'], Literal['mlp']]"


def scan_lambda_carry(xs: Float[Array, "seq embed"], h: Float[Array, " embed"]) -> Float[Array, " mlp"]:
    carry, _ = jax.lax.scan(lambda c, x: (c + x, None), h, xs)
    return carry  # E: [return-value] got "Array[Literal['embed']]"


@jax.custom_vjp
def clip_gradient(x: Float[Array, "n d"], scale: Float[Array, " d"]) -> Float[Array, "n d"]:
    return x * scale


def custom_vjp_checks_its_function(h: Float[Array, "seq embed"], s: Float[Array, " seq"]) -> None:
    clip_gradient(h, s)  # E: [shape] clip_gradient: argument "scale" has dims (seq,) where (embed,) is expected ("d" is embed, from argument "x")
