"""`TypedModule`: automatic checks for subclasses, a dim scope per call, return values,
switching checks off, and checks that run at trace time only (the same compiled program)."""

import functools
import os
import subprocess
import sys
import types
import typing
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, PyTree, TypeCheckError

import typedgpt as tg
import typedgpt._frames
import typedgpt._mismatch
import typedgpt._typed
from typedgpt.testing import check_layer

# User-defined modules: no decorator anywhere, only the base class.


class Scale(tg.TypedModule):
    weight: Float[Array, " embed"]

    def __call__(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
        return x * self.weight[None, :]


class Shifted(Scale):
    """Inherits `Scale.__call__`; its own field binds `embed` too."""

    shift: Float[Array, " embed"]


class Pair(tg.TypedModule):
    def __call__(self, x: Float[Array, " n"], y: Float[Array, " n"]) -> Float[Array, " n"]:
        return x + y

    def scaled(self, x: Float[Array, " n"], factor: int, mask: jax.Array) -> Float[Array, " n"]:
        return x * factor

    def pair(self, x: Float[Array, " n"]) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
        return x, jnp.concatenate([x, x])


class Doubler(tg.TypedModule):
    """A bug on purpose: the result is twice as long as its annotation says."""

    def __call__(self, x: Float[Array, " n"]) -> Float[Array, " n"]:
        return jnp.concatenate([x, x])


class Batched(tg.TypedModule):
    def __call__(
        self, x: Float[Array, "*batch n"], y: Float[Array, "*batch n"]
    ) -> Float[Array, "*batch n"]:
        return x + y


class Outer(tg.TypedModule):
    """Its own `in` is half the inner `Linear`'s `in`: the two calls must not share dims."""

    inner: tg.Linear

    def __call__(self, x: Float[Array, " in"]) -> Float[Array, " in"]:
        return self.inner(jnp.concatenate([x, x]))


class Gain(tg.TypedModule):
    gain: Float[Array, " n"] | None

    def __call__(self, x: Float[Array, " n"]) -> Float[Array, " n"]:
        return x if self.gain is None else x * self.gain


class Plain(tg.TypedModule):
    weight: Float[Array, " n"]

    def count(self, items: list[int]) -> int:
        return len(items)

    def helper(self, value):  # type: ignore[no-untyped-def]
        return value

    def __call__(self, x: Float[Array, " n"]) -> Float[Array, " n"]:
        return x * self.weight


class Mix(tg.TypedModule):
    """Arrays passed as `*xs` and `**xs`: each is checked in the call's one scope."""

    weight: Float[Array, " embed"]

    def __call__(self, *xs: Float[Array, "seq embed"]) -> Float[Array, " embed"]:
        return self.weight

    def named(
        self,
        x: Float[Array, "seq embed"],
        /,
        *,
        scale: float = 1.0,
        **xs: Float[Array, "seq embed"],
    ) -> Float[Array, " embed"]:
        return scale * self.weight


class Layer(tg.TypedModule):
    """A static method, a class method and a property, each with a bug on purpose."""

    weight: Float[Array, "out in"]

    def __call__(self, x: Float[Array, " in"]) -> Float[Array, " out"]:
        return self.weight @ x

    @staticmethod
    def drop_last(x: Float[Array, " n"]) -> Float[Array, " n"]:
        return x[:-1]

    @staticmethod
    def halve(x: Float[Array, " in"]) -> Float[Array, " in"]:
        return x / 2

    @classmethod
    def drop_first(cls, x: Float[Array, " n"]) -> Float[Array, " n"]:
        return x[1:]

    @property
    def first_row(self) -> Float[Array, " out"]:
        return self.weight[0]  # type: ignore[return-value]  # (in,), not (out,)

    @staticmethod
    def plain(value: int) -> int:
        return value


class Holder(tg.TypedModule):
    layer: Layer

    def __call__(self, x: Float[Array, " out"]) -> Float[Array, " out"]:
        return x + self.layer.first_row


def message_of(call: Callable[[], object]) -> str:
    with pytest.raises(TypeCheckError) as excinfo:
        call()
    return str(excinfo.value)


def error_of(call: Callable[[], object]) -> tg.ShapeError:
    with pytest.raises(tg.ShapeError) as excinfo:
        call()
    return excinfo.value


# Subclasses are checked


def test_subclass_computes() -> None:
    y = Scale(weight=jnp.array([1.0, 2.0, 3.0]))(jnp.ones((2, 3)))
    np.testing.assert_array_equal(np.asarray(y), [[1.0, 2.0, 3.0]] * 2)


def test_subclass_is_checked_without_a_decorator() -> None:
    assert message_of(lambda: Scale(weight=jnp.ones(5))(jnp.ones((3, 7)))) == (
        "Scale.__call__:\n"
        '  axis "embed" is 5 from field "weight" (float32[5]) but 7 in argument "x" '
        "(float32[3, 7])\n"
        '  argument "x": expected (seq, embed) = (?, 5), got float32[3, 7]'
    )


def test_argument_binds_for_a_later_argument() -> None:
    assert message_of(lambda: Pair()(jnp.ones(3), jnp.ones(4))) == (
        "Pair.__call__:\n"
        '  axis "n" is 3 from argument "x" (float32[3]) but 4 in argument "y" (float32[4])\n'
        '  argument "y": expected (n,) = (3,), got float32[4]'
    )


def test_keyword_arguments_are_checked() -> None:
    message = message_of(lambda: Pair()(x=jnp.ones(3), y=jnp.ones(4)))
    assert 'but 4 in argument "y" (float32[4])' in message


def test_inherited_method_checks_the_subclass_fields() -> None:
    ok = Shifted(weight=jnp.ones(5), shift=jnp.zeros(5))
    assert ok(jnp.ones((3, 5))).shape == (3, 5)
    bad = Shifted(weight=jnp.ones(5), shift=jnp.zeros(7))
    assert message_of(lambda: bad(jnp.ones((3, 5)))) == (
        "Shifted.__call__:\n"
        '  axis "embed" is 5 from field "weight" (float32[5]) but 7 in field "shift" '
        "(float32[7])\n"
        '  field "shift": expected (embed,) = (5,), got float32[7]'
    )


class Doubling:
    """A plain mixin, no module: its methods are checked in the modules that inherit them."""

    weight: Float[Array, " embed"]  # for mypy: the module that mixes it in has the field

    def double(self, x: Float[Array, " embed"]) -> Float[Array, " embed"]:
        return 2 * x * self.weight


class Mixed(tg.TypedModule, Doubling):
    weight: Float[Array, " embed"]


class Undoubled(Mixed):
    def double(self, x: Float[Array, " embed"]) -> Float[Array, " embed"]:
        return x


def test_methods_of_a_mixin_are_checked_with_the_module_fields() -> None:
    module = Mixed(weight=jnp.ones(3))
    assert module.double(jnp.ones(3)).shape == (3,)
    assert message_of(lambda: module.double(jnp.ones(4))) == (
        "Mixed.double:\n"
        '  axis "embed" is 3 from field "weight" (float32[3]) but 4 in argument "x" (float32[4])\n'
        '  argument "x": expected (embed,) = (3,), got float32[4]'
    )
    assert not hasattr(Doubling.double, "__typedgpt_checked__")  # the mixin itself is unchanged
    # An override is checked by its own annotations.
    assert error_of(lambda: Undoubled(weight=jnp.ones(3)).double(jnp.ones(4))).axis == "embed"


def test_optional_field_may_be_none() -> None:
    assert Gain(gain=None)(jnp.ones(11)).shape == (11,)
    message = message_of(lambda: Gain(gain=jnp.ones(3))(jnp.ones(11)))
    assert 'axis "n" is 3 from field "gain" (float32[3]) but 11 in argument "x"' in message


def test_variadic_dims_are_named() -> None:
    assert message_of(lambda: Batched()(jnp.ones((2, 3)), jnp.ones((5, 3)))) == (
        "Batched.__call__:\n"
        '  axes "*batch" are (2,) from argument "x" (float32[2, 3]) but (5,) in argument "y" '
        "(float32[5, 3])\n"
        '  argument "y": expected (*batch, n) = (2, 3), got float32[5, 3]'
    )


def test_same_axis_twice_in_one_value() -> None:
    class Square(tg.TypedModule):
        def __call__(self, x: Float[Array, "n n"]) -> Float[Array, " n"]:
            diagonal: Float[Array, " n"] = jnp.diagonal(x)
            return diagonal

    assert message_of(lambda: Square()(jnp.ones((3, 5)))) == (
        "Square.__call__:\n"
        '  axis "n" is both 3 and 5 in argument "x" (float32[3, 5])\n'
        '  argument "x": expected (n, n), got float32[3, 5]'
    )


def test_wrong_rank_shows_the_expected_dims() -> None:
    assert message_of(lambda: Scale(weight=jnp.ones(5))(jnp.ones(5))) == (  # type: ignore[shape]
        "Scale.__call__:\n"
        '  argument "x": expected (seq, embed) = (?, 5), got float32[5] (1 axis, not 2)'
    )


def test_wrong_dtype() -> None:
    assert message_of(lambda: Scale(weight=jnp.ones(5))(jnp.ones((3, 5), jnp.int32))) == (
        'Scale.__call__:\n  argument "x": expected a Float array, got int32[3, 5]'
        ": cast it with .astype(jnp.float32)"
    )


def test_non_array_parameters_of_a_checked_method_are_checked() -> None:
    message = message_of(lambda: Pair().scaled(jnp.ones(3), "2", jnp.ones(3)))  # type: ignore[arg-type]
    assert message == 'Pair.scaled:\n  argument "factor": expected int, got str'


def test_plain_jax_array_hint_rejects_numpy_without_leaking_jaxlib() -> None:
    message = message_of(lambda: Pair().scaled(jnp.ones(3), 2, np.ones(3)))  # type: ignore[arg-type]
    assert message == 'Pair.scaled:\n  argument "mask": expected Array, got numpy float64[3]'


def test_numpy_array_for_a_jaxtyping_hint() -> None:
    message = message_of(lambda: Pair()(np.ones(3, np.float32), jnp.ones(3)))  # type: ignore[arg-type]
    assert message == (
        "Pair.__call__:\n"
        '  argument "x": expected a JAX array, got numpy float32[3]: '
        "convert it with jax.numpy.asarray"
    )


def test_torch_tensor_for_a_jaxtyping_hint() -> None:
    import torch

    message = message_of(lambda: Pair()(torch.ones(3), jnp.ones(3)))  # type: ignore[arg-type]
    assert message == (
        "Pair.__call__:\n"
        '  argument "x": expected a JAX array, got torch float32[3]: '
        "convert it with jax.numpy.asarray"
    )


def test_an_abstract_array_says_to_trace_the_call() -> None:
    """An abstract model (`eqx.filter_eval_shape`) called for real: its arrays cannot be
    converted, so the fix is to trace the call (it said to convert them)."""
    x = jax.ShapeDtypeStruct((3,), jnp.float32)  # type: ignore[no-untyped-call]
    message = message_of(lambda: Pair()(x, jnp.ones(3)))  # type: ignore[arg-type]
    assert message == (
        "Pair.__call__:\n"
        '  argument "x": expected a JAX array, got float32[3]: an abstract array holds no '
        "values: trace the call with tg.explain"
    )


# The error: a jaxtyping.TypeCheckError, with facts to read, raised once


def test_error_is_a_type_check_error_with_facts(key: jax.Array) -> None:
    error = error_of(lambda: Outer(inner=tg.Linear(5, 3, key=key))(jnp.ones(3)))
    assert isinstance(error, TypeCheckError)
    assert error.path == "Outer.inner"
    assert error.method == "Linear.__call__"
    assert error.what == 'argument "x"'
    assert (error.axis, error.expected, error.received) == ("in", 5, 6)


def test_error_without_one_axis_has_no_axis() -> None:
    error = error_of(lambda: Scale(weight=jnp.ones(5))(jnp.ones(5)))  # type: ignore[shape]
    assert (error.axis, error.expected, error.received) == (None, None, None)


def test_error_passes_outer_calls_unwrapped(key: jax.Array) -> None:
    # Three checked calls deep (Outer > Linear inside jit): one error, raised once.
    outer = Outer(inner=tg.Linear(5, 3, key=key))
    with pytest.raises(tg.ShapeError) as excinfo:
        jax.jit(lambda x: outer(x))(jnp.ones(3))
    error = excinfo.value
    assert error.__cause__ is None
    assert error.__context__ is None
    message = str(error)
    assert message.count("Linear.__call__") == 1
    assert "Outer.__call__" not in message


# Messages name no internals


INTERNALS = ["jaxlib", "jaxtyping", "_jax", "beartype", "<class", "ArrayImpl", "Traced"]


@pytest.mark.parametrize(
    "call",
    [
        lambda: Pair().pair(jnp.ones(3)),
        lambda: Gain(gain=jnp.arange(3))(jnp.ones(3)),
        lambda: Pair().scaled(jnp.ones(3), 2, np.ones(3)),  # type: ignore[arg-type]
        lambda: jax.jit(lambda x: Scale(weight=jnp.ones(5))(x))(jnp.ones((3, 7))),
        lambda: Batched()(jnp.ones((2, 3)), jnp.ones((5, 3))),
    ],
    ids=["tuple", "union", "numpy", "jit", "variadic"],
)
def test_messages_name_no_internals(call: Callable[[], object]) -> None:
    message = message_of(call)
    for internal in INTERNALS:
        assert internal not in message, f"{internal!r} in:\n{message}"
    assert len(message.splitlines()) <= 5


# Each call has its own dim scope


def test_each_call_has_its_own_scope() -> None:
    pair = Pair()
    assert pair(jnp.ones(3), jnp.ones(3)).shape == (3,)
    assert pair(jnp.ones(5), jnp.ones(5)).shape == (5,)
    scale = Scale(weight=jnp.ones(5))
    assert scale(jnp.ones((3, 5))).shape == (3, 5)
    assert scale(jnp.ones((7, 5))).shape == (7, 5)


def test_nested_call_does_not_clash_with_its_caller(key: jax.Array) -> None:
    # Outer binds in=3; the inner Linear binds in=6 and out=3 in a scope of its own, and
    # Outer's return value is checked against Outer's in=3 after the inner call returns.
    outer = Outer(inner=tg.Linear(6, 3, key=key))
    assert outer(jnp.ones(3)).shape == (3,)


def test_caller_scope_survives_a_nested_call(key: jax.Array) -> None:
    outer = Outer(inner=tg.Linear(6, 4, key=key))
    assert message_of(lambda: outer(jnp.ones(3))) == (
        "Outer.__call__:\n"
        '  axis "in" is 3 from argument "x" (float32[3]) but 4 in the return value (float32[4])\n'
        "  the return value: expected (in,) = (3,), got float32[4]"
    )


def test_nested_failure_shows_the_module_path(key: jax.Array) -> None:
    outer = Outer(inner=tg.Linear(5, 3, key=key))
    assert message_of(lambda: outer(jnp.ones(3))) == (
        "Linear.__call__ at Outer.inner:\n"
        '  axis "in" is 5 from field "weight" (float32[3, 5]) but 6 in argument "x" '
        "(float32[6])\n"
        '  argument "x": expected (in,) = (5,), got float32[6]'
    )


def test_a_failed_call_leaves_no_scope_or_path_behind(key: jax.Array) -> None:
    outer = Outer(inner=tg.Linear(5, 3, key=key))
    message_of(lambda: outer(jnp.ones(3)))
    # The next top-level failure shows no stale path, and good calls still pass.
    assert message_of(lambda: Pair()(jnp.ones(2), jnp.ones(3))).startswith("Pair.__call__:\n")
    assert Pair()(jnp.ones(7), jnp.ones(7)).shape == (7,)


# Module paths


class Stack(tg.TypedModule):
    """Layers in a list, then a tuple of two named heads: paths index into both."""

    layers: list[tg.Linear]
    heads: tuple[tg.Linear, tg.Linear]

    def __call__(self, x: Float[Array, " in"]) -> Float[Array, " out"]:
        for layer in self.layers:
            x = jax.vmap(layer)(x[None])[0]
        return self.heads[1](self.heads[0](x))


class Rebuilt(tg.TypedModule):
    """Calls copies of its fields: a copy with the same shapes, and a module made on the fly."""

    inner: tg.Linear

    def __call__(self, x: Float[Array, " in"]) -> Float[Array, " in"]:
        copy = jax.tree.map(lambda a: a, self.inner)  # a new object, the same shapes
        y = copy(x)
        made = tg.Linear(3, 7, key=jax.random.key(1))
        return made(y)


def _linear(in_features: int, out_features: int) -> tg.Linear:
    return tg.Linear(in_features, out_features, key=jax.random.key(0))


def test_path_indexes_lists_and_tuples() -> None:
    stack = Stack(
        layers=[_linear(3, 3), _linear(3, 5), _linear(3, 3)],  # layer 1 breaks the chain
        heads=(_linear(3, 7), _linear(7, 3)),
    )
    error = error_of(lambda: stack(jnp.ones(3)))
    assert error.path == "Stack.layers[2]"
    assert str(error).startswith("Linear.__call__ at Stack.layers[2]:\n")
    stack = Stack(layers=[_linear(3, 3)], heads=(_linear(3, 7), _linear(5, 3)))
    assert error_of(lambda: stack(jnp.ones(3))).path == "Stack.heads[1]"


def test_path_of_a_copy_and_of_a_module_made_on_the_fly() -> None:
    made = error_of(lambda: Rebuilt(inner=_linear(3, 5))(jnp.ones(3)))
    assert made.path == "Linear"  # no path is better than a wrong one
    assert str(made).startswith("Linear.__call__:\n")
    assert str(made).endswith(
        "\n  (Linear: called from Rebuilt.__call__, not found among its fields)"
    )
    assert error_of(lambda: Rebuilt(inner=_linear(5, 3))(jnp.ones(3))).path == "Rebuilt.inner"


class Gate(tg.TypedModule):
    weight: Float[Array, " embed"]

    def __call__(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
        return x * self.weight[None, :]


class Gates(tg.TypedModule):
    """Stacked gates run by lax.scan or eqx.filter_vmap, then a final gate."""

    blocks: Gate  # weight (layers, embed)
    final: Gate

    def __call__(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
        params, static = eqx.partition(self.blocks, eqx.is_array)
        x = jax.lax.scan(lambda h, p: (eqx.combine(p, static)(h), None), x, params)[0]
        return self.final(x)

    def mapped(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
        return self.final(eqx.filter_vmap(lambda gate: gate(x))(self.blocks).sum(0))


def test_a_sliced_layer_is_not_named_by_a_field_that_looks_like_it() -> None:
    # A layer of `blocks`, sliced by the scan or vmap, has the shapes of `final`.
    gates = Gates(blocks=Gate(jnp.ones((3, 7))), final=Gate(jnp.ones(7)))  # type: ignore[shape]
    for method in ("__call__", "mapped"):
        error = error_of(lambda: getattr(gates, method)(jnp.ones((5, 11))))  # noqa: B023
        assert error.path == "Gate"
        assert str(error).startswith("Gate.__call__:\n")
        assert str(error).endswith(
            f"(Gate: called from Gates.{method}, not found among its fields)"
        )


# Paths inside a GPT: the scan over stacked layers, and generation's unstacked layers


def _prime_config() -> tg.GPTConfig:
    # Distinct primes where they can be: vocab 11, 13 positions, 3 heads of 5, embed 15,
    # mlp 7, 2 layers.
    return tg.GPTConfig(
        vocab_size=11, max_seq_len=13, num_layers=2, num_heads=3, embed_dim=15, mlp_dim=7
    )


@pytest.fixture(scope="module")
def gpt() -> tg.GPT:
    return tg.GPT(_prime_config(), key=jax.random.key(0))


def _bad_mlp(model: tg.GPT) -> tg.GPT:
    """`mlp.down_proj.weight` of every stacked layer given 11 inputs where the MLP has 7."""
    broken: tg.GPT = eqx.tree_at(
        lambda m: m.blocks.mlp.down_proj.weight, model, jnp.ones((2, 15, 11))
    )
    return broken


def test_path_through_the_scan_over_stacked_layers(gpt: tg.GPT) -> None:
    assert message_of(lambda: _bad_mlp(gpt)(jnp.arange(5))) == (
        "Linear.__call__ at GPT.blocks[*].mlp.down_proj:\n"
        '  axis "in" is 11 from field "weight" (float32[15, 11]) but 7 in argument "x" '
        "(float32[7])\n"
        '  argument "x": expected (in,) = (11,), got float32[7]\n'
        "  (GPT.blocks[*]: the layer lax.scan traces once for the 2 stacked layers)"
    )


def test_path_through_the_scan_of_cached_decoding(gpt: tg.GPT) -> None:
    error = error_of(lambda: _bad_mlp(gpt).decode(jnp.arange(5), gpt.init_cache()))
    assert error.path == "GPT.blocks[*].mlp.down_proj"
    assert error.method == "Linear.__call__"


def _layer_caches(model: tg.GPT) -> list[tg.KVCache]:
    cache = model.init_cache()
    return [
        tg.KVCache(keys=cache.keys[i], values=cache.values[i], position=cache.position)
        for i in range(model.config.num_layers)
    ]


def test_path_through_unstacked_layers_has_the_real_index(gpt: tg.GPT) -> None:
    blocks = gpt.unstacked_blocks()
    blocks[1] = eqx.tree_at(lambda b: b.mlp.down_proj.weight, blocks[1], jnp.ones((15, 11)))
    caches = _layer_caches(gpt)
    # Under jit, as tg.generate runs it: the error comes while tracing.
    error = error_of(
        lambda: eqx.filter_jit(gpt.forward_cached_layers)(blocks, jnp.arange(5), caches)
    )
    assert str(error) == (
        "Linear.__call__ at GPT.blocks[1].mlp.down_proj:\n"
        '  axis "in" is 11 from field "weight" (float32[15, 11]) but 7 in argument "x" '
        "(float32[7])\n"
        '  argument "x": expected (in,) = (11,), got float32[7]'
    )


def test_same_message_eager_and_under_jit(gpt: tg.GPT) -> None:
    bad = _bad_mlp(gpt)
    eager = message_of(lambda: bad.forward(jnp.arange(5)))
    jitted = message_of(lambda: jax.jit(lambda tokens: bad.forward(tokens))(jnp.arange(5)))
    assert eager == jitted
    assert eager.startswith("Linear.__call__ at GPT.blocks[*].mlp.down_proj:\n")


def test_submodule_names_only_the_call_inside_it() -> None:
    outer = Outer(inner=_linear(5, 3))
    with typedgpt._frames.submodule("layers[4]"):
        error = error_of(lambda: outer(jnp.ones(3)))
    assert error.path == "Outer.inner"  # Outer is the outermost call: nothing to name
    assert getattr(typedgpt._frames._local, "pending", None) is None


# Return values are checked


def test_return_value_is_checked() -> None:
    assert message_of(lambda: Doubler()(jnp.ones(3))) == (
        "Doubler.__call__:\n"
        '  axis "n" is 3 from argument "x" (float32[3]) but 6 in the return value (float32[6])\n'
        "  the return value: expected (n,) = (3,), got float32[6]"
    )


def test_tuple_return_names_the_item() -> None:
    assert message_of(lambda: Pair().pair(jnp.ones(3))) == (
        "Pair.pair:\n"
        '  axis "n" is 3 from argument "x" (float32[3]) but 6 in item 1 of the return value '
        "(float32[6])\n"
        "  item 1 of the return value: expected (n,) = (3,), got float32[6]"
    )


def test_union_reports_its_array_member() -> None:
    assert message_of(lambda: Gain(gain=jnp.arange(3))(jnp.ones(3))) == (
        'Gain.__call__:\n  field "gain": expected a Float array, got int32[3]'
        ": cast it with .astype(jnp.float32)"
    )


class Containers(tg.TypedModule):
    """Arrays in lists, tuples of any length, dicts and PyTrees: every item shares `n`."""

    weight: Float[Array, " n"]

    def listed(self, xs: list[Float[Array, " n"]]) -> Float[Array, " n"]:
        return self.weight

    def tupled(self, xs: tuple[Float[Array, " n"], ...]) -> Float[Array, " n"]:
        return self.weight

    def keyed(self, xs: dict[str, Float[Array, " n"]]) -> Float[Array, " n"]:
        return self.weight

    def tree(self, xs: PyTree[Float[Array, " n"]]) -> Float[Array, " n"]:
        return self.weight

    def nested(
        self, xs: tuple[tuple[Float[Array, " n"], Float[Array, " n"]], Float[Array, " n"]]
    ) -> Float[Array, " n"]:
        return self.weight

    def split(self, x: Float[Array, " n"]) -> list[Float[Array, " n"]]:
        return [x, jnp.concatenate([x, x])]

    @staticmethod
    def first(xs: list[Float[Array, " n"]]) -> Float[Array, " n"]:
        return xs[0]


def test_every_item_of_a_list_tuple_or_dict_of_arrays_is_checked() -> None:
    # beartype checks one item of a container, chosen at random: the last of eight must be
    # found every time.
    module = Containers(weight=jnp.ones(3))
    items = [jnp.ones(3)] * 7 + [jnp.ones(4)]
    calls: list[tuple[Callable[[], object], str]] = [
        (lambda: module.listed(items), 'item 7 of argument "xs"'),
        (lambda: module.tupled(tuple(items)), 'item 7 of argument "xs"'),
        (lambda: module.keyed({str(i): x for i, x in enumerate(items)}), "item '7' of argument"),
        (lambda: module.tree({"a": items[:4], "b": items[4:]}), "leaf ['b'][3] of argument"),
        (lambda: module.split(jnp.ones(3)), "item 1 of the return value"),
    ]
    for call, what in calls:
        for _ in range(10):
            error = error_of(call)
            assert error.what.startswith(what) and error.axis == "n", str(error)
    assert module.listed([jnp.ones(3)] * 8).shape == (3,)
    assert module.tree({"a": [jnp.ones(3)], "b": None}).shape == (3,)


def test_item_of_a_list_names_the_argument_that_bound_the_dim() -> None:
    assert message_of(lambda: Containers(weight=jnp.ones(3)).listed([jnp.ones(3), "x"])) == (  # type: ignore[list-item]
        'Containers.listed:\n  item 1 of argument "xs": expected an array, got str'
    )
    assert message_of(lambda: Pair().pair(jnp.ones(3))).count("item 1 of the return value") == 2
    message = message_of(lambda: Containers(weight=jnp.ones(3)).listed([jnp.ones(5)] * 2))
    assert message == (
        "Containers.listed:\n"
        '  axis "n" is 3 from field "weight" (float32[3]) but 5 in item 0 of argument "xs" '
        "(float32[5])\n"
        '  item 0 of argument "xs": expected (n,) = (3,), got float32[5]'
    )
    # No field binds n here: the first item does, and the message names that item.
    assert message_of(lambda: Containers.first([jnp.ones(3), jnp.ones(2)])) == (
        "Containers.first:\n"
        '  axis "n" is 3 from item 0 of argument "xs" (float32[3]) but 2 in item 1 of argument '
        '"xs" (float32[2])\n'
        '  item 1 of argument "xs": expected (n,) = (3,), got float32[2]'
    )


class Items(tg.TypedModule):
    """Nothing binds `n` but the items of the argument."""

    def nested(
        self, xs: tuple[tuple[Float[Array, " n"], Float[Array, " n"]], Float[Array, " n"]]
    ) -> None:
        pass

    def keyed(self, xs: dict[str, Float[Array, " n"]]) -> None:
        pass

    def tree(self, xs: PyTree[Float[Array, " n"]]) -> None:
        pass

    def maybe_tree(self, xs: PyTree[Float[Array, " n"]] | None) -> None:
        pass

    def either(
        self,
        xs: tuple[Float[Array, " n"], Float[Array, "n 2"]]
        | tuple[Float[Array, " m"], Float[Array, " n"]],
        y: Float[Array, " n"],
    ) -> None:
        pass


@pytest.mark.parametrize(
    ("call", "source"),
    [
        (lambda: Items().nested(((jnp.ones(3), jnp.ones(3)), jnp.ones(4))), "item 0 of item 0"),
        (lambda: Items().keyed({"a": jnp.ones(3), "b": jnp.ones(4)}), "item 'a'"),
        (lambda: Items().tree({"a": [jnp.ones(3)], "b": [jnp.ones(4)]}), "leaf ['a'][0]"),
        # Both members of the union fail: the array one's items are named.
        (lambda: Items().maybe_tree({"a": jnp.ones(3), "b": jnp.ones(4)}), "leaf ['a']"),
        # The first member bound n = 5 from item 0, then failed on item 1: the second,
        # which matches, bound n from its item 1.
        (lambda: Items().either((jnp.ones(5), jnp.ones(3)), jnp.ones(4)), "item 1"),
    ],
)
def test_the_item_that_bound_a_dim_is_named(call: Callable[[], object], source: str) -> None:
    """A dim bound by one item of a list, tuple, dict or PyTree is credited to that item
    (it was credited to the whole argument, shown as `(list)`). A method whose only array
    annotation is a `PyTree` of arrays is checked (it was not checked at all)."""
    message = message_of(call)
    assert f'axis "n" is 3 from {source} of argument "xs" (float32[3]) but 4 in ' in message


def test_nested_tuple_items_are_named_inside_out() -> None:
    module = Containers(weight=jnp.ones(3))
    error = error_of(lambda: module.nested(((jnp.ones(3), jnp.ones(4)), jnp.ones(3))))
    assert error.what == 'item 1 of item 0 of argument "xs"'  # xs[0][1]


def test_a_list_where_a_dict_of_arrays_is_expected() -> None:
    assert message_of(lambda: Containers(weight=jnp.ones(3)).keyed([jnp.ones(3)])) == (  # type: ignore[arg-type]
        "Containers.keyed:\n"
        "  argument \"xs\": expected dict[str, Float[Array, 'n']], got list of 1 float32[3]"
    )


class NumPyLoader(tg.TypedModule):
    """Methods that take NumPy arrays on purpose."""

    weight: Float[Array, " n"]

    def load(self, x: Float[np.ndarray, " n"]) -> Float[Array, " n"]:
        return jnp.asarray(x) * self.weight

    def like(self, x: Float[ArrayLike, " n"]) -> Float[Array, " n"]:
        return jnp.asarray(x) * self.weight


def test_numpy_array_hints_accept_numpy_arrays() -> None:
    module = NumPyLoader(weight=jnp.ones(3))
    assert module.load(np.ones(3, np.float32)).shape == (3,)
    assert module.like(np.ones(3, np.float32)).shape == (3,)
    assert module.like(jnp.ones(3)).shape == (3,)
    assert message_of(lambda: module.like(np.ones(4, np.float32))) == (
        "NumPyLoader.like:\n"
        '  axis "n" is 3 from field "weight" (float32[3]) but 4 in argument "x" '
        "(numpy float32[4])\n"
        '  argument "x": expected (n,) = (3,), got numpy float32[4]'
    )
    assert message_of(lambda: module.load(jnp.ones(3))) == (  # type: ignore[arg-type]
        "NumPyLoader.load:\n  argument \"x\": expected Float[ndarray, 'n'], got float32[3]"
    )


class Dropout(tg.TypedModule):
    weight: Float[Array, " n"]

    def __call__(self, x: Float[Array, " n"], *, key: PRNGKeyArray) -> Float[Array, " n"]:
        return x * self.weight


def test_a_wrong_prng_key_is_described() -> None:
    keys = jax.random.split(jax.random.key(0))
    assert message_of(lambda: Dropout(weight=jnp.ones(3))(jnp.ones(3), key=keys)) == (
        'Dropout.__call__:\n  argument "key": expected a scalar, got key<fry>[2] (1 axis, not 0)'
    )
    assert typedgpt._mismatch.describe(jax.random.key(0)) == "key<fry>[]"


class Stacked(tg.TypedModule):
    """A symbolic axis before the dim it uses, in one annotation."""

    weight: Float[Array, "2*embed embed"]

    def __call__(self, x: Float[Array, " embed"]) -> Float[Array, " 2*embed"]:
        return self.weight @ x

    def early(self, x: Float[Array, " dim+1"], y: Float[Array, " dim"]) -> Float[Array, " dim"]:
        return y


def test_symbolic_axis_before_its_dim_in_one_annotation() -> None:
    assert Stacked(weight=jnp.ones((8, 4)))(jnp.ones(4)).shape == (8,)
    error = error_of(lambda: Stacked(weight=jnp.ones((7, 4)))(jnp.ones(4)))
    assert str(error) == (
        "Stacked.__call__:\n"
        '  axis "2*embed" should be 8 but is 7 in field "weight" (float32[7, 4])\n'
        '  field "weight": expected (2*embed, embed) = (8, 4), got float32[7, 4]'
    )
    assert (error.axis, error.expected, error.received) == ("2*embed", 8, 7)


def test_symbolic_axis_of_a_dim_bound_later_names_the_fix() -> None:
    module = Stacked(weight=jnp.ones((8, 4)))
    with pytest.raises(TypeError) as excinfo:
        module.early(jnp.ones(5), jnp.ones(4))
    assert not isinstance(excinfo.value, TypeCheckError)
    assert str(excinfo.value) == (
        'Stacked.early: argument "x" cannot be checked: axis "dim+1" uses dim, which is not '
        "bound before it: a symbolic axis may use only dims of the fields, of earlier "
        "arguments or of its own annotation"
    )


class UpDown(tg.TypedModule):
    """A symbolic field axis that uses a dim of a field declared after it."""

    up: Float[Array, "2*mlp embed"]
    down: Float[Array, "embed mlp"]

    def __call__(self, x: Float[Array, " embed"]) -> Float[Array, " embed"]:
        return self.down @ (self.up @ x)[: self.down.shape[1]]


def test_symbolic_field_axis_may_use_a_dim_of_a_later_field() -> None:
    """Fields with symbolic axes are checked last: every call raised "axis "2*mlp" uses mlp,
    which is not bound before it: a symbolic axis may use only dims of the fields"."""
    assert UpDown(jnp.ones((6, 4)), jnp.ones((4, 3)))(jnp.ones(4)).shape == (4,)
    error = error_of(lambda: UpDown(jnp.ones((5, 4)), jnp.ones((4, 3)))(jnp.ones(4)))
    assert str(error) == (
        "UpDown.__call__:\n"
        '  axis "2*mlp" should be 6 but is 5 in field "up" (float32[5, 4])\n'
        '  field "up": expected (2*mlp, embed) = (6, 4), got float32[5, 4]'
    )


class Unevaluable(tg.TypedModule):
    """Symbolic axes that cannot be computed: a misspelt field, and a division by zero."""

    num_heads: int = eqx.field(static=True)

    def __call__(self, x: Float[Array, "seq {self.num_head}"]) -> Float[Array, "seq embed"]:
        return x

    def halve(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq embed//0"]:
        return x


def test_symbolic_axis_that_cannot_be_computed_names_the_method_and_annotation() -> None:
    module = Unevaluable(num_heads=4)
    with pytest.raises(TypeError) as excinfo:
        module(jnp.ones((3, 4)))
    assert not isinstance(excinfo.value, TypeCheckError)
    assert str(excinfo.value) == (
        'Unevaluable.__call__: argument "x" cannot be checked: its annotation '
        "Float[Array, 'seq {self.num_head}'] raised AttributeError: 'Unevaluable' object has "
        "no attribute 'num_head': fix the annotation"
    )
    with pytest.raises(TypeError, match=r"^Unevaluable.halve: the return value cannot be .*"):
        module.halve(jnp.ones((3, 4)))


class Heads(tg.TypedModule):
    """Symbolic axes that read the call's arguments: a field through `self`, and ints."""

    num_heads: int = eqx.field(static=True)

    def __call__(
        self, x: Float[Array, "seq {self.num_heads} head"]
    ) -> Float[Array, "seq {self.num_heads} head"]:
        return x

    def split(self, x: Float[Array, "seq {n}"], n: int) -> Float[Array, "seq {n}"]:
        return x

    def drop(
        self, x: Float[Array, "seq head"], k: int, rest: Float[Array, "seq-k head"]
    ) -> Float[Array, "seq-k head"]:
        return x[k:] + rest


def test_symbolic_axis_may_use_the_arguments_of_the_call() -> None:
    heads = Heads(num_heads=3)
    assert heads(jnp.ones((5, 3, 7))).shape == (5, 3, 7)
    assert heads.split(jnp.ones((5, 11)), 11).shape == (5, 11)
    assert heads.drop(jnp.ones((5, 7)), 2, jnp.ones((3, 7))).shape == (3, 7)
    error = error_of(lambda: heads(jnp.ones((5, 2, 7))))
    assert str(error) == (
        "Heads.__call__:\n"
        '  axis "{self.num_heads}" should be 3 but is 2 in argument "x" (float32[5, 2, 7])\n'
        '  argument "x": expected (seq, {self.num_heads}, head) = (5, 3, 7), '
        "got float32[5, 2, 7]"
    )
    assert (error.axis, error.expected, error.received) == ("{self.num_heads}", 3, 2)
    assert error_of(lambda: heads.split(jnp.ones((5, 11)), 13)).axis == "{n}"
    error = error_of(lambda: heads.drop(jnp.ones((5, 7)), 2, jnp.ones((4, 7))))
    assert (error.axis, error.expected, error.received) == ("seq-k", 3, 4)


class Either(tg.TypedModule):
    def __call__(
        self, x: Float[Array, "n 2*n"] | Float[Array, "a b"], y: Float[Array, " n"]
    ) -> Float[Array, " n"]:
        return y


def test_a_union_member_that_fails_binds_no_dims() -> None:
    # x is (a, b): the first member, which would bind n = 5, fails and binds nothing.
    assert Either()(jnp.ones((5, 7)), jnp.ones(11)).shape == (11,)
    assert Either()(jnp.ones((5, 10)), jnp.ones(5)).shape == (5,)
    assert error_of(lambda: Either()(jnp.ones((5, 10)), jnp.ones(11))).axis == "n"


class Parent(tg.TypedModule):
    weight: Float[Array, " n"]

    def __call__(self, x: Float[Array, " n"]) -> Float[Array, " n"]:
        return x * self.weight


class Child(Parent):
    def __call__(self, x: Float[Array, " n"]) -> Float[Array, " n"]:
        return super().__call__(x[:-1])  # the bug: one too few


def test_a_base_method_run_through_super_is_named_by_its_class() -> None:
    # Child.__call__'s own argument was right; Parent.__call__, on the same module, failed.
    assert message_of(lambda: Child(weight=jnp.ones(4))(jnp.ones(4))) == (
        "Parent.__call__ at Child:\n"
        '  axis "n" is 4 from field "weight" (float32[4]) but 3 in argument "x" (float32[3])\n'
        '  argument "x": expected (n,) = (4,), got float32[3]'
    )
    error = error_of(lambda: Child(weight=jnp.ones(4))(jnp.ones(5)))
    assert (error.method, error.path) == ("Child.__call__", "Child")


class Aliased(tg.TypedModule):
    weight: Float[Array, " embed"]

    def __call__(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
        return x * self.weight[None, :]

    forward = __call__


class AliasedAgain(Aliased):
    pass


def test_a_method_alias_is_named_by_its_own_name() -> None:
    # `forward = __call__` wraps one function twice; each name is its own method.
    for module in (Aliased(weight=jnp.ones(3)), AliasedAgain(weight=jnp.ones(3))):
        name = type(module).__name__
        error = error_of(functools.partial(module.forward, jnp.ones((2, 4))))
        assert (error.method, error.path) == (f"{name}.forward", name)
        assert error_of(functools.partial(module, jnp.ones((2, 4)))).method == f"{name}.__call__"


# Annotations that name what is imported only for type checkers

TYPE_CHECKING_ONLY = """
from __future__ import annotations

from typing import TYPE_CHECKING

from jaxtyping import Array, Float

import typedgpt as tg

if TYPE_CHECKING:
    from collections.abc import Callable

    from typedgpt import KVCache


class Hooked(tg.TypedModule):
    weight: Float[Array, " embed"]
    hook: Callable[[Array], Array] | None = None

    def __call__(
        self, x: Float[Array, "seq embed"], cache: KVCache | None = None
    ) -> Float[Array, "seq embed"]:
        return x * self.weight[None, :]
"""

ARRAY_TYPES_FOR_TYPE_CHECKING_ONLY = """
from __future__ import annotations

from typing import TYPE_CHECKING

from jaxtyping import Array, Int

import typedgpt as tg

if TYPE_CHECKING:
    from jaxtyping import Float


class ArgumentOnly(tg.TypedModule):
    def __call__(self, x: Float[Array, " n"], y: Array) -> Array:
        return x


class FieldOnly(tg.TypedModule):
    weight: Float[Array, " n"]

    def __call__(self, x: Int[Array, " n"]) -> Int[Array, " n"]:
        return x
"""


def module_of(source: str, name: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A module run from `source`, importable while the test runs, as annotations need."""
    module = types.ModuleType(name)
    monkeypatch.setitem(sys.modules, name, module)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    return module


def test_names_imported_only_for_type_checkers_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    # `Callable` (a field's) and `KVCache` (an argument's) are not defined at run time: those
    # two annotations go unchecked, and the array annotations are checked as ever.
    hooked = module_of(TYPE_CHECKING_ONLY, "type_checking_only", monkeypatch).Hooked
    layer = hooked(weight=jnp.ones(5))
    assert layer(jnp.ones((3, 5))).shape == (3, 5)
    assert layer(jnp.ones((3, 5)), cache="not a cache").shape == (3, 5)
    assert message_of(lambda: layer(jnp.ones((3, 7)))) == (
        "Hooked.__call__:\n"
        '  axis "embed" is 5 from field "weight" (float32[5]) but 7 in argument "x" '
        "(float32[3, 7])\n"
        '  argument "x": expected (seq, embed) = (?, 5), got float32[3, 7]'
    )


def test_explain_and_check_layer_skip_names_for_type_checkers_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`tg.explain` and `tg.testing.check_layer` read the annotations as calls do."""
    hooked = module_of(TYPE_CHECKING_ONLY, "type_checking_only", monkeypatch).Hooked
    explanation = str(tg.explain(hooked(weight=jnp.ones(5)), jnp.ones((3, 5))))
    assert explanation == "Hooked(x: float32[seq=3, embed=5]) -> float32[seq, embed]"
    check_layer(lambda dims, key: hooked(weight=jnp.ones(dims["embed"])), max_examples=2)


def test_array_type_imported_only_for_type_checkers_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = module_of(ARRAY_TYPES_FOR_TYPE_CHECKING_ONLY, "array_types_for_checkers", monkeypatch)
    with pytest.raises(TypeError) as excinfo:
        module.ArgumentOnly()(jnp.ones(3), jnp.ones(3))
    assert str(excinfo.value) == (
        'ArgumentOnly.__call__: argument "x" cannot be checked: its annotation '
        "`Float[Array, ' n']` does not evaluate (NameError: name 'Float' is not defined): "
        "import `Float` at run time, not only under `if TYPE_CHECKING:`"
    )
    with pytest.raises(TypeError) as excinfo:
        module.FieldOnly(weight=jnp.ones(3))(jnp.arange(3))
    assert str(excinfo.value).startswith(
        "FieldOnly: field \"weight\" cannot be checked: its annotation `Float[Array, ' n']` "
        "does not evaluate (NameError: name 'Float' is not defined)"
    )


# Arguments passed as *args and **kwargs


def test_each_item_of_var_positional_arguments_is_checked() -> None:
    mix = Mix(weight=jnp.ones(4))
    assert mix(jnp.ones((2, 4)), jnp.ones((2, 4))).shape == (4,)
    assert message_of(lambda: mix(jnp.ones((2, 4)), jnp.ones((2, 3)))) == (
        "Mix.__call__:\n"
        '  axis "embed" is 4 from field "weight" (float32[4]) but 3 in argument "xs[1]" '
        "(float32[2, 3])\n"
        '  argument "xs[1]": expected (seq, embed) = (2, 4), got float32[2, 3]'
    )


def test_items_of_var_positional_arguments_share_the_call_scope() -> None:
    mix = Mix(weight=jnp.ones(4))
    assert message_of(lambda: mix(jnp.ones((2, 4)), jnp.ones((3, 4)))) == (
        "Mix.__call__:\n"
        '  axis "seq" is 2 from argument "xs[0]" (float32[2, 4]) but 3 in argument "xs[1]" '
        "(float32[3, 4])\n"
        '  argument "xs[1]": expected (seq, embed) = (2, 4), got float32[3, 4]'
    )


def test_each_item_of_var_keyword_arguments_is_checked_by_its_keyword() -> None:
    mix = Mix(weight=jnp.ones(4))
    assert mix.named(jnp.ones((2, 4)), a=jnp.ones((2, 4)), scale=2.0).shape == (4,)
    assert message_of(lambda: mix.named(jnp.ones((2, 4)), a=jnp.ones((2, 4)), b=jnp.ones(4))) == (  # type: ignore[shape]
        'Mix.named:\n  argument "b": expected (seq, embed) = (2, 4), got float32[4] (1 axis, not 2)'
    )
    # `x` is positional-only, so `x=` is an item of `**xs`, checked as one.
    error = error_of(lambda: mix.named(jnp.ones((2, 4)), x=jnp.ones((3, 4))))
    assert (error.what, error.axis, error.expected, error.received) == ('argument "x"', "seq", 2, 3)
    # A keyword-only parameter is not an item of `**xs`.
    message = message_of(lambda: mix.named(jnp.ones((2, 4)), scale="2"))  # type: ignore[arg-type]
    assert message == 'Mix.named:\n  argument "scale": expected float, got str'


def test_var_arguments_are_recorded_by_item() -> None:
    mix = Mix(weight=jnp.ones(4))
    with typedgpt._typed.recording() as calls:
        mix(jnp.ones((2, 4)), jnp.ones((3, 4), jnp.float16)[:2])
        mix.named(jnp.ones((2, 4)), b=jnp.ones((2, 4)))
    assert [list(call.arguments) for call in calls] == [["xs[0]", "xs[1]"], ["x", "b"]]
    item = calls[0].arguments["xs[1]"]
    assert (item.shape, item.dtype) == ((2, 4), jnp.float16)


THREE_ONES = jnp.ones(3)


class Offset(tg.TypedModule):
    """An array default: the call computes with it, so it is checked as an argument."""

    def __call__(
        self, x: Float[Array, " n"], shift: Float[Array, " n"] = THREE_ONES
    ) -> Float[Array, " n"]:
        return x + shift


def test_an_array_default_the_call_uses_is_checked() -> None:
    assert Offset()(jnp.zeros(3)).shape == (3,)
    assert Offset()(jnp.zeros(4), jnp.ones(4)).shape == (4,)  # passed: the default is unused
    error = error_of(lambda: Offset()(jnp.zeros(4)))
    assert str(error) == (
        "Offset.__call__:\n"
        '  axis "n" is 4 from argument "x" (float32[4]) but 3 in argument "shift" (its '
        "default) (float32[3])\n"
        '  argument "shift" (its default): expected (n,) = (4,), got float32[3]'
    )
    assert error.what == 'argument "shift" (its default)'


def test_a_default_that_breaks_its_annotation_is_caught_when_used() -> None:
    class Wrong(tg.TypedModule):
        def __call__(self, x: Float[Array, " n"], y: Float[Array, " n"] = "none") -> Any:  # type: ignore[assignment]
            return x

    assert message_of(lambda: Wrong()(jnp.zeros(2))) == (
        'Wrong.__call__:\n  argument "y" (its default): expected an array, got str'
    )


# Static methods, class methods and properties


def test_static_method_is_checked() -> None:
    expected = (
        "Layer.drop_last:\n"
        '  axis "n" is 4 from argument "x" (float32[4]) but 3 in the return value (float32[3])\n'
        "  the return value: expected (n,) = (4,), got float32[3]"
    )
    assert message_of(lambda: Layer.drop_last(jnp.ones(4))) == expected
    layer = Layer(weight=jnp.ones((3, 5)))
    error = error_of(lambda: layer.drop_last(jnp.ones(4)))
    assert str(error) == expected
    assert (error.path, error.method) == ("Layer", "Layer.drop_last")


def test_static_method_has_no_field_dims() -> None:
    # A method of this layer takes `in` = 5 from `weight`; a static method has no instance
    # to read it from, so any length passes.
    layer = Layer(weight=jnp.ones((3, 5)))
    assert layer.halve(jnp.ones(7)).shape == (7,)
    assert message_of(lambda: layer(jnp.ones(7))).startswith(
        'Layer.__call__:\n  axis "in" is 5 from field "weight"'
    )


def test_class_method_is_checked_and_named_by_its_class() -> None:
    class Sub(Layer):
        pass

    assert message_of(lambda: Layer.drop_first(jnp.ones(4))) == (
        "Layer.drop_first:\n"
        '  axis "n" is 4 from argument "x" (float32[4]) but 3 in the return value (float32[3])\n'
        "  the return value: expected (n,) = (4,), got float32[3]"
    )
    error = error_of(lambda: Sub(weight=jnp.ones((3, 5))).drop_first(jnp.ones(7)))
    assert (error.path, error.method, error.received) == ("Sub", "Sub.drop_first", 6)


def test_property_is_checked_with_the_field_dims() -> None:
    assert message_of(lambda: Layer(weight=jnp.ones((3, 5))).first_row) == (
        "Layer.first_row:\n"
        '  axis "out" is 3 from field "weight" (float32[3, 5]) but 5 in the return value '
        "(float32[5])\n"
        "  the return value: expected (out,) = (3,), got float32[5]"
    )
    assert Layer(weight=jnp.ones((4, 4))).first_row.shape == (4,)


def test_property_read_inside_a_call_shows_the_module_path() -> None:
    holder = Holder(layer=Layer(weight=jnp.ones((3, 5))))
    error = error_of(lambda: holder(jnp.ones(3)))
    assert (error.path, error.method) == ("Holder.layer", "Layer.first_row")
    assert str(error).startswith("Layer.first_row at Holder.layer:\n")


def test_property_reads_and_static_calls_are_not_recorded() -> None:
    # `explain` draws method calls only; the property read inside Holder is not one.
    holder = Holder(layer=Layer(weight=jnp.ones((4, 4))))
    with typedgpt._typed.recording() as calls:
        holder(jnp.ones(4))
        Layer.drop_last(jnp.ones(1)[:0])
    assert [(call.where, call.calls) for call in calls] == [("Holder.__call__", [])]


def test_static_class_and_property_wrappers_keep_their_kind() -> None:
    attributes = vars(Layer)
    assert isinstance(attributes["drop_last"], staticmethod)
    assert isinstance(attributes["drop_first"], classmethod)
    assert isinstance(attributes["first_row"], property)
    for name in ["drop_last", "drop_first"]:
        assert getattr(attributes[name].__func__, "__typedgpt_checked__", False)
    assert getattr(attributes["first_row"].fget, "__typedgpt_checked__", False)
    result: Any = Layer.plain("3")  # type: ignore[arg-type]
    assert result == "3"  # no array annotation: not checked


# Methods wrapped by a transform


class Jitted(tg.TypedModule):
    weight: Float[Array, " embed"]
    inner: Scale

    @eqx.filter_jit
    def __call__(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
        return self.inner(x * self.weight[None, :])


def test_a_filter_jit_method_is_checked_outside_the_jit() -> None:
    jitted = Jitted(weight=jnp.ones(7), inner=Scale(weight=jnp.ones(7)))
    assert jitted(jnp.ones((5, 7))).shape == (5, 7)
    error = error_of(lambda: jitted(jnp.ones((5, 11))))
    assert (error.path, error.what, error.axis) == ("Jitted", 'argument "x"', "embed")
    # Inside the jit the module is rebuilt; its field is found by its shapes.
    broken = Jitted(weight=jnp.ones(7), inner=Scale(weight=jnp.ones(11)))
    assert error_of(lambda: broken(jnp.ones((5, 7)))).path == "Jitted.inner"


def test_other_wrappers_that_hide_array_annotations_are_refused() -> None:
    with pytest.raises(TypeError) as excinfo:

        class Mapped(tg.TypedModule):
            weight: Float[Array, " embed"]

            @eqx.filter_vmap
            def __call__(self, x: Float[Array, " embed"]) -> Float[Array, " embed"]:
                return x * self.weight

    assert not isinstance(excinfo.value, TypeCheckError)
    assert str(excinfo.value) == (
        "Mapped.__call__ cannot be checked: it is wrapped by _VmapWrapper, which may change "
        "the shapes it is called with: apply the transform where the method is called, or "
        "inside it; a jit may also be @eqx.filter_jit, which is checked outside the jit"
    )


# Methods without array annotations are untouched


def test_methods_without_array_annotations_are_not_checked() -> None:
    # The field is wrong (int into Float) and the argument is not a list: neither is looked at.
    plain = Plain(weight=jnp.arange(3))
    assert plain.count("abcd") == 4  # type: ignore[arg-type]
    assert plain.helper("anything") == "anything"  # type: ignore[no-untyped-call]
    message = message_of(lambda: plain(jnp.ones(3)))
    assert (
        message == 'Plain.__call__:\n  field "weight": expected a Float array, got int32[3]'
        ": cast it with .astype(jnp.float32)"
    )


def test_unannotated_methods_are_not_wrapped() -> None:
    assert not getattr(vars(Plain)["helper"], "__typedgpt_checked__", False)
    assert getattr(vars(Plain)["__call__"], "__typedgpt_checked__", False)


# Switching checks off


def test_set_checks_returns_the_previous_setting() -> None:
    assert tg.checks_enabled() is True
    try:
        assert tg.set_checks(False) is True
        assert tg.checks_enabled() is False
        assert tg.set_checks(False) is False
        assert tg.set_checks(True) is False
        assert tg.checks_enabled() is True
    finally:
        tg.set_checks(True)


@pytest.mark.parametrize("value", [0, 1, "off", None, np.bool_(False)])
def test_set_checks_rejects_non_bool(value: Any) -> None:
    with pytest.raises(TypeError, match="set_checks expects True or False"):
        tg.set_checks(value)
    assert tg.checks_enabled() is True


@pytest.mark.usefixtures("checks_off")
def test_checks_off_lets_a_wrong_return_through() -> None:
    assert Doubler()(jnp.ones(3)).shape == (6,)


@pytest.mark.usefixtures("checks_off")
def test_checks_off_a_wrong_call_fails_later_without_a_type_check_error() -> None:
    with pytest.raises(Exception) as excinfo:
        Scale(weight=jnp.ones(5))(jnp.ones((3, 7)))
    assert not isinstance(excinfo.value, TypeCheckError)


@pytest.mark.usefixtures("checks_off")
@pytest.mark.parametrize(
    "call",
    [
        lambda: Mix(weight=jnp.ones(4))(jnp.ones((2, 4)), jnp.ones((2, 3))),
        lambda: Mix(weight=jnp.ones(4)).named(jnp.ones((2, 4)), b=jnp.ones(4)),  # type: ignore[shape]
        lambda: Layer.drop_last(jnp.ones(4)),
        lambda: Layer.drop_first(jnp.ones(4)),
        lambda: Layer(weight=jnp.ones((3, 5))).first_row,
    ],
    ids=["*args", "**kwargs", "staticmethod", "classmethod", "property"],
)
def test_checks_off_skips_every_kind_of_checked_call(
    call: Callable[[], object], monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: Any) -> None:
        raise AssertionError("a check ran with checks off")

    monkeypatch.setattr(typedgpt._typed, "_check", fail)
    monkeypatch.setattr(typedgpt._typed, "_make_plan", fail)
    call()


@pytest.mark.usefixtures("checks_off")
def test_checks_off_reaches_nested_calls(key: jax.Array) -> None:
    # Outer's inner Linear would reject a size-6 input for in=5; unchecked, the matmul fails.
    outer = Outer(inner=tg.Linear(5, 3, key=key))
    with pytest.raises(Exception) as excinfo:
        outer(jnp.ones(3))
    assert not isinstance(excinfo.value, TypeCheckError)


def test_environment_variable_turns_checks_off_at_import() -> None:
    env = {**os.environ, "TYPEDGPT_CHECKS": "0", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run(
        [sys.executable, "-c", "import typedgpt; print(typedgpt.checks_enabled())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("value", "enabled"),
    [("0", False), ("no", False), (" OFF ", False), ("1", True), ("yes", True), ("", True)],
)
def test_environment_variable_values(value: str, enabled: bool) -> None:
    assert typedgpt._typed._checks_from_environment({"TYPEDGPT_CHECKS": value}) is enabled


def test_an_unknown_environment_value_is_warned_about_and_leaves_checks_on() -> None:
    with pytest.warns(UserWarning, match=r"TYPEDGPT_CHECKS='disable' is not understood"):
        assert typedgpt._typed._checks_from_environment({"TYPEDGPT_CHECKS": "disable"}) is True
    assert typedgpt._typed._checks_from_environment({}) is True


# Checks run at trace time only


def _small_config() -> tg.GPTConfig:
    return tg.GPTConfig(
        vocab_size=2, max_seq_len=13, num_layers=1, num_heads=3, embed_dim=15, mlp_dim=7
    )


def lowered(model: eqx.Module, method: str, *args: Any) -> str:
    """The StableHLO text of `model.method(*args)` under `jax.jit`, traced afresh."""
    params, static = eqx.partition(model, eqx.is_array)

    def run(params: Any, *args: Any) -> Any:
        return getattr(eqx.combine(params, static), method)(*args)

    text: str = jax.jit(run).lower(params, *args).as_text()
    return text


def _empty_cache() -> tg.KVCache:
    return tg.KVCache(
        keys=jnp.zeros((13, 3, 5)),
        values=jnp.zeros((13, 3, 5)),
        position=jnp.zeros((), jnp.int32),
    )


LOWERED: list[tuple[str, Callable[[], tuple[eqx.Module, str, tuple[Any, ...]]]]] = [
    ("mlp", lambda: (tg.MLP(15, 7, key=jax.random.key(0)), "__call__", (jnp.ones((11, 15)),))),
    (
        "block",
        lambda: (
            tg.Block(_small_config(), key=jax.random.key(0)),
            "__call__",
            (jnp.ones((11, 15)),),
        ),
    ),
    (
        "block decode",
        lambda: (
            tg.Block(_small_config(), key=jax.random.key(0)),
            "decode",
            (jnp.ones((2, 15)), _empty_cache()),
        ),
    ),
]


@pytest.mark.parametrize("case", [c for _, c in LOWERED], ids=[n for n, _ in LOWERED])
def test_lowered_program_is_the_same_with_checks_on_and_off(
    case: Callable[[], tuple[eqx.Module, str, tuple[Any, ...]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model, method, args = case()
    checks = 0
    check = typedgpt._typed._check

    def counting(*check_args: Any) -> None:
        nonlocal checks
        checks += 1
        check(*check_args)

    monkeypatch.setattr(typedgpt._typed, "_check", counting)
    with_checks = lowered(model, method, *args)
    assert checks > 0  # the checks did run while tracing
    previous = tg.set_checks(False)
    try:
        checks = 0
        without_checks = lowered(model, method, *args)
        assert checks == 0
    finally:
        tg.set_checks(previous)
    assert with_checks == without_checks


def test_jit_checks_while_tracing(key: jax.Array) -> None:
    mlp = tg.MLP(15, 7, key=key)
    with pytest.raises(TypeCheckError, match=r'but 13 in argument "x" \(float32\[13\]\)'):
        jax.jit(lambda x: mlp(x))(jnp.ones((11, 13)))


def test_jitted_function_checks_once(key: jax.Array, monkeypatch: pytest.MonkeyPatch) -> None:
    checks = 0
    check = typedgpt._typed._check

    def counting(*check_args: Any) -> None:
        nonlocal checks
        checks += 1
        check(*check_args)

    monkeypatch.setattr(typedgpt._typed, "_check", counting)
    mlp = tg.MLP(15, 7, key=key)
    x = jnp.ones((11, 15))

    mlp(x)
    per_call = checks
    assert per_call > 0
    mlp(x)
    assert checks == 2 * per_call  # eager calls pay every time

    checks = 0
    forward = jax.jit(lambda x: mlp(x))
    forward(x)
    assert checks == per_call  # once, while tracing
    forward(2.0 * x)
    forward(x + 1.0)
    assert checks == per_call  # the compiled program runs without them


def test_method_body_is_traced_once_under_jit() -> None:
    traces = 0

    class Counted(tg.TypedModule):
        def __call__(self, x: Float[Array, " n"]) -> Float[Array, " n"]:
            nonlocal traces
            traces += 1
            return 2.0 * x

    forward = jax.jit(Counted().__call__)
    np.testing.assert_array_equal(np.asarray(forward(jnp.ones(3))), [2.0, 2.0, 2.0])
    forward(jnp.zeros(3))
    assert traces == 1


@pytest.mark.parametrize("method", ["forward", "forward_cached"])
def test_gpt_jaxpr_is_the_same_with_checks_on_and_off(gpt: tg.GPT, method: str) -> None:
    # Checks, module paths and the named scan layers leave no trace in the program.
    params, static = eqx.partition(gpt, eqx.is_array)
    args = (jnp.arange(5),) if method == "forward" else (jnp.arange(5), gpt.init_cache())

    def run(params: Any, *args: Any) -> Any:
        return getattr(eqx.combine(params, static), method)(*args)

    with_checks = str(jax.make_jaxpr(run)(params, *args))
    previous = tg.set_checks(False)
    try:
        without_checks = str(jax.make_jaxpr(run)(params, *args))
    finally:
        tg.set_checks(previous)
    assert with_checks == without_checks


def test_jit_of_a_module_says_to_pass_it_as_an_argument(key: jax.Array) -> None:
    """`jax.jit(model)`, as `torch.compile(model)` is written, hashes the module: Equinox's
    hash of its arrays failed with "unhashable type: 'jaxlib._jax.ArrayImpl'". A module of
    static fields only stays hashable, as JAX's static arguments need."""
    linear = tg.Linear(4, 3, key=key)
    with pytest.raises(TypeError) as info:
        jax.jit(linear)(jnp.ones(4))
    assert str(info.value).startswith(
        "a Linear holds arrays, which cannot be hashed, as jax.jit(module) (it hashes the "
        "function it compiles), a static argument or a dict key would need: compile a "
        "function that takes the module as an argument, eqx.filter_jit(module)(x) or "
        "jax.jit(lambda m, x: m(x))(module, x)"
    )
    assert eqx.filter_jit(linear)(jnp.ones(4)).shape == (3,)  # the fixes it names work
    assert jax.jit(lambda m, x: m(x))(linear, jnp.ones(4)).shape == (3,)
    assert hash(tg.Softmax()) == hash(tg.Softmax())
    assert hash(tg.Softmax(axis=0)) != hash(tg.Softmax())


@pytest.mark.parametrize(
    ("x", "got"),
    [
        ([1.0, 2.0, 3.0, 4.0], "got list of 4 float: convert it with jax.numpy.asarray"),
        (2.0, "got float: convert it with jax.numpy.asarray"),
        ("abcd", "got str"),  # no conversion to suggest
    ],
)
def test_a_python_number_or_list_for_an_array_is_told_to_convert(
    key: jax.Array, x: Any, got: str
) -> None:
    """A NumPy array was told to convert with jax.numpy.asarray, a list was not."""
    with pytest.raises(TypeCheckError) as info:
        tg.Linear(4, 3, key=key)(x)
    assert str(info.value).endswith(f'argument "x": expected an array, {got}')


class HeadOut(typing.NamedTuple):
    hidden: Float[Array, " embed"]
    logits: Float[Array, " vocab"]


class NamedHead(tg.TypedModule):
    weight: Float[Array, "vocab embed"]

    def __call__(self, x: Float[Array, " embed"]) -> HeadOut:
        return HeadOut(x, self.weight @ x)

    def swapped(self, x: Float[Array, " embed"]) -> HeadOut:
        return HeadOut(self.weight @ x, x)  # type: ignore[shape]  # the plugin sees it

    def plain(self, x: Float[Array, " embed"]) -> HeadOut:
        return (x, self.weight @ x)  # type: ignore[return-value]


def test_named_tuple_results_are_checked_field_by_field() -> None:
    """A NamedTuple's fields were not checked: beartype checks only its class."""
    head = NamedHead(jnp.ones((5, 3)))
    assert head(jnp.ones(3)).logits.shape == (5,)
    assert str(error_of(lambda: head.swapped(jnp.ones(3)))) == (
        "NamedHead.swapped:\n"
        '  axis "embed" is 3 from field "weight" (float32[5, 3]) but 5 in item 0 (hidden) of '
        "the return value (float32[5])\n"
        "  item 0 (hidden) of the return value: expected (embed,) = (3,), got float32[5]"
    )
    assert str(error_of(lambda: head.plain(jnp.ones(3)))) == (
        "NamedHead.plain:\n  the return value: expected HeadOut, got (float32[3], float32[5])"
    )
