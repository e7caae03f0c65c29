"""`typedgpt.testing.check_layer`: it passes the built-in layers, and it catches each kind of
broken layer (a wrong return annotation, a dim nothing checks, a program that changes with
checks), with a message that says which."""

import importlib
import sys
from collections.abc import Mapping
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest
from hypothesis import strategies as st
from jaxtyping import Array, Float, Int, PRNGKeyArray, PyTree, TypeCheckError

import typedgpt as tg
from typedgpt._layer_hints import hint_name
from typedgpt.testing import check_layer

# Layers that pass


def test_linear() -> None:
    check_layer(lambda dims, key: tg.Linear(dims["in"], dims["out"], key=key))


@pytest.mark.parametrize("use_bias", [True, False])
def test_mlp(use_bias: bool) -> None:
    check_layer(
        lambda dims, key: tg.MLP(dims["embed"], dims["mlp"], use_bias=use_bias, key=key),
        max_examples=5,
    )


def test_norms() -> None:
    check_layer(lambda dims, key: tg.RMSNorm(dims["embed"]), max_examples=5)
    check_layer(lambda dims, key: tg.LayerNorm(dims["embed"], use_bias=False), max_examples=5)


def test_variadic_dims_take_their_sizes_from_dims() -> None:
    # Softmax normalises its last axis, so it needs at least one.
    at_least_one = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)
    check_layer(lambda dims, key: tg.Softmax(), dims={"*shape": at_least_one}, max_examples=5)


class Pair(tg.TypedModule):
    """Two arguments that share `seq`, a fixed size and a symbolic one."""

    def __call__(
        self, x: Float[Array, "seq 3"], ids: Int[Array, " seq"]
    ) -> Float[Array, "seq 3+1"]:
        column = ids.astype(x.dtype)[:, None]
        return jnp.concatenate([x, column], axis=1)


def test_arguments_that_share_a_dim() -> None:
    check_layer(lambda dims, key: Pair(), max_examples=5)


def test_sizes_from_dims_and_inputs_for_other_arguments() -> None:
    seen: list[tuple[int, int]] = []

    def make(dims: Mapping[str, int], key: PRNGKeyArray) -> tg.CausalSelfAttention:
        seen.append((dims["heads"], dims["head_dim"]))
        return tg.CausalSelfAttention(dims["embed"], dims["heads"], key=key)

    def cache(dims: Mapping[str, int], key: PRNGKeyArray) -> tg.KVCache:
        shape = (dims["kv_seq"], dims["heads"], dims["head_dim"])
        return tg.KVCache(keys=jnp.zeros(shape), values=jnp.zeros(shape), position=jnp.int32(0))

    check_layer(
        make,
        method="decode",
        dims={
            "heads": st.sampled_from([1, 2, 4]),
            "head_dim": 3,
            "embed": lambda d: d["heads"] * d["head_dim"],
            "kv_seq": lambda d: d["seq"] + 2,  # room in the cache for the sequence
        },
        inputs={"cache": cache},
        max_examples=5,
    )
    assert {head_dim for _, head_dim in seen} == {3}
    assert {heads for heads, _ in seen} <= {1, 2, 4}


class Helpers(tg.TypedModule):
    """A static and a class method: no module comes first."""

    weight: Float[Array, " embed"]

    @staticmethod
    def normalise(x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
        norm: Float[Array, "seq 1"] = jnp.linalg.norm(x, axis=-1, keepdims=True)
        return x / norm

    @classmethod
    def pad(cls, x: Float[Array, " n"], ids: Int[Array, " n"]) -> Float[Array, " n+1"]:
        return jnp.concatenate([x, ids[:1].astype(x.dtype)])


def test_static_and_class_methods() -> None:
    for method in ("normalise", "pad"):
        check_layer(
            lambda dims, key: Helpers(jnp.zeros(dims["embed"])), method=method, max_examples=3
        )


class Doubled(tg.TypedModule):
    """A field whose symbolic axis comes before the dim it uses."""

    weight: Float[Array, "2*embed embed"]

    def __call__(self, x: Float[Array, " embed"]) -> Float[Array, " 2*embed"]:
        return self.weight @ x


def test_a_symbolic_field_axis_before_its_dim() -> None:
    check_layer(
        lambda dims, key: Doubled(jnp.zeros((2 * dims["embed"], dims["embed"]))), max_examples=3
    )


def test_same_seed_same_examples() -> None:
    def sizes(seed: int) -> list[tuple[int, int]]:
        seen: list[tuple[int, int]] = []

        def make(dims: Mapping[str, int], key: PRNGKeyArray) -> tg.Linear:
            seen.append((dims["in"], dims["out"]))
            return tg.Linear(dims["in"], dims["out"], key=key)

        check_layer(make, max_examples=5, seed=seed)
        return seen

    assert sizes(1) == sizes(1)
    assert len(set(sizes(1))) > 1  # the sizes do vary


class Square(tg.TypedModule):
    """One argument names its dim twice: there is no other place to disagree with."""

    def __call__(self, a: Float[Array, "n n"]) -> Float[Array, "n n"]:
        return a @ a


def test_a_dim_named_twice_in_one_argument() -> None:
    check_layer(lambda dims, key: Square(), max_examples=3)


class Containers(tg.TypedModule):
    """Returns lists, tuples of any length, dicts and PyTrees of arrays."""

    weight: Float[Array, " n"]
    width: int = eqx.field(static=True, default=0)

    def listed(self, x: Float[Array, " n"]) -> list[Float[Array, " n"]]:
        return [x * self.weight, x]

    def tupled(self, x: Float[Array, " n"]) -> tuple[Float[Array, " n"], ...]:
        return (x * self.weight, x)

    def keyed(self, x: Float[Array, " n"]) -> dict[str, Float[Array, " n"]]:
        return {"a": x * self.weight}

    def tree(self, x: Float[Array, " n"]) -> PyTree[Float[Array, " n"]]:
        return {"a": [x * self.weight], "b": None}

    def wrong(self, x: Float[Array, " n"]) -> list[Float[Array, " out"]]:
        # Nothing binds `out` before the return: only check_layer knows its size.
        return [jnp.zeros(self.width + 1)] * 2


def test_lists_tuples_dicts_and_pytrees_of_arrays_are_returned() -> None:
    for method in ("listed", "tupled", "keyed", "tree"):
        check_layer(
            lambda dims, key: Containers(jnp.ones(dims["n"])), method=method, max_examples=3
        )
    with pytest.raises(AssertionError, match=r"returned list, .*: item 0: out should be"):
        check_layer(
            lambda dims, key: Containers(jnp.ones(dims["n"]), width=dims["out"]), method="wrong"
        )


class Heads(tg.TypedModule):
    """Symbolic axes that read a static field through `self`, and an int argument."""

    num_heads: int = eqx.field(static=True)

    def __call__(
        self, x: Float[Array, "seq {self.num_heads} head"]
    ) -> Float[Array, "seq {self.num_heads}*head"]:
        return x.reshape(x.shape[0], -1)

    def drop(
        self, x: Float[Array, "seq head"], rest: Float[Array, "seq-k head"], k: int = 1
    ) -> Float[Array, "seq-k head"]:
        return x[k:] + rest


def test_symbolic_axes_that_read_the_module_and_the_arguments() -> None:
    check_layer(lambda dims, key: Heads(3), max_examples=3)
    for inputs in ({}, {"k": lambda dims, key: 2}):
        check_layer(
            lambda dims, key: Heads(3),
            method="drop",
            dims={"seq": st.integers(2, 6)},
            inputs=inputs,
            max_examples=3,
        )


class Mean(tg.TypedModule):
    """The mean of any number of sequences (at least one), and a property."""

    weight: Float[Array, " embed"]

    def __call__(self, *xs: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
        return jnp.stack(xs).mean(axis=0) * self.weight[None, :]

    @property
    def gate(self) -> Float[Array, " embed"]:
        return jax.nn.sigmoid(self.weight)


def test_var_positional_arguments_and_properties() -> None:
    check_layer(lambda dims, key: Mean(jnp.ones(dims["embed"])), max_examples=3)
    check_layer(lambda dims, key: Mean(jnp.ones(dims["embed"])), method="gate", max_examples=3)


class Broadcast(tg.TypedModule):
    """A field whose `embed` may be 1, broadcast against any width."""

    weight: Float[Array, " #embed"]

    def __call__(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
        return x * self.weight[None, :]


def test_a_broadcastable_dim_of_size_one() -> None:
    check_layer(lambda dims, key: Broadcast(jnp.ones(dims["embed"])), dims={"embed": 1})
    check_layer(lambda dims, key: Broadcast(jnp.ones(dims["embed"])), max_examples=5)


# Layers that fail, each for its own reason


class Widen(tg.TypedModule):
    """Returns one column more than its annotation says. Nothing binds `out` before the
    return, so the call-time check accepts any width; check_layer knows `out`'s size."""

    width: int = eqx.field(static=True)

    def __call__(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq out"]:
        return jnp.zeros((x.shape[0], self.width + 1), x.dtype)


def test_a_wrong_result_shape_is_reported() -> None:
    with pytest.raises(AssertionError, match=r"does not fit its annotation .*: out should be"):
        check_layer(lambda dims, key: Widen(dims["out"]), max_examples=3)


class Untyped(tg.TypedModule):
    """A field without a shape: nothing checks that `x` agrees with it."""

    weight: jax.Array

    def __call__(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
        return x * self.weight[None, :]


class Summed(tg.TypedModule):
    """Uses its field in a way that any width of `x` gets through."""

    weight: jax.Array

    def __call__(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
        return x * jnp.sum(self.weight)


def test_an_unchecked_dim_that_breaks_is_reported() -> None:
    with pytest.raises(AssertionError, match=r"should raise jaxtyping.TypeCheckError, but raised"):
        check_layer(
            lambda dims, key: Untyped(weight=jnp.ones(dims["embed"])),
            dims={"embed": st.integers(2, 5)},  # a weight of size 1 would broadcast
            max_examples=3,
        )


def test_an_unchecked_dim_that_gets_through_is_reported() -> None:
    with pytest.raises(AssertionError, match=r"its embed one larger .* was accepted"):
        check_layer(lambda dims, key: Summed(weight=jnp.ones(dims["embed"])), max_examples=3)


class Chatty(tg.TypedModule):
    """Computes something more when checks are on."""

    def __call__(self, x: Float[Array, " n"]) -> Float[Array, " n"]:
        return x + 1.0 if tg.checks_enabled() else x


def test_a_program_that_changes_with_checks_is_reported() -> None:
    with pytest.raises(AssertionError, match="the jaxpr differs with checks on and off"):
        check_layer(lambda dims, key: Chatty(), max_examples=2)


def test_consistent_sizes_rejected_is_reported() -> None:
    class Mislabelled(tg.TypedModule):
        weight: Float[Array, " mlp"]

        def __call__(self, x: Float[Array, "seq mlp"]) -> Float[Array, "seq mlp"]:
            return x * self.weight[None, :]

    with pytest.raises(TypeCheckError) as info:
        # The factory sizes weight by "embed", which the annotation calls "mlp".
        check_layer(lambda dims, key: Mislabelled(weight=jnp.ones(dims["embed"] + 1)))
    assert any("rejected consistent sizes" in note for note in info.value.__notes__)


# Bad uses


def test_an_argument_that_cannot_be_drawn() -> None:
    attn = tg.CausalSelfAttention(4, 2, key=jax.random.key(0))
    with pytest.raises(TypeError, match=r"cannot draw argument 'cache' .* pass inputs=\{'cache'"):
        check_layer(lambda dims, key: attn, method="decode", max_examples=1)


def test_inputs_for_an_argument_the_method_does_not_take() -> None:
    with pytest.raises(ValueError, match=r"inputs names \['y'\], which Linear.__call__ does not"):
        check_layer(
            lambda dims, key: tg.Linear(2, 3, key=key),
            inputs={"y": lambda dims, key: 0},
            max_examples=1,
        )


def test_sizes_that_depend_on_each_other() -> None:
    with pytest.raises(ValueError, match="depend on each other: in -> out -> in"):
        check_layer(
            lambda dims, key: tg.Linear(dims["in"], dims["out"], key=key),
            dims={"in": lambda d: d["out"], "out": lambda d: d["in"]},
            max_examples=1,
        )


def test_bad_max_examples() -> None:
    with pytest.raises(ValueError, match="max_examples must be a positive int, got 0"):
        check_layer(lambda dims, key: tg.Softmax(), max_examples=0)


def test_a_layer_passed_instead_of_the_function_that_makes_it() -> None:
    # A layer is callable too: it was called with the sizes and the key, and the error was
    # about an argument "x" that got a Sizes object.
    with pytest.raises(TypeError, match=r"got a Linear itself: pass lambda dims, key: Linear"):
        check_layer(tg.Linear(3, 4, key=jax.random.key(0)))  # type: ignore[arg-type]


def test_missing_hypothesis_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    monkeypatch.delitem(sys.modules, "typedgpt.testing")
    with pytest.raises(ImportError, match=r"pip install 'typedgpt\[testing\]'"):
        importlib.import_module("typedgpt.testing")


class Scaled(tg.TypedModule):
    """The layer of the mistakes below."""

    weight: Float[Array, " embed"]

    def __call__(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
        return x * self.weight[None, :]

    def __getitem__(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
        return x * self.weight[None, :]


def make_scaled(dims: Mapping[str, int], key: PRNGKeyArray) -> Scaled:
    return Scaled(jnp.ones(dims["embed"]))


def test_a_misspelt_dim_in_dims_is_reported() -> None:
    # It was ignored: the layer was tested at drawn sizes, never at the one asked for.
    with pytest.raises(ValueError, match=r"dims names 'embd', which nothing reads .* 'embed'\?"):
        check_layer(make_scaled, dims={"embd": 4}, max_examples=2)
    # A name that another method uses is not misspelt: one `dims` may serve several methods.
    check_layer(
        lambda dims, key: Containers(jnp.ones(dims["n"])),
        method="listed",
        dims={"out": 2},
        max_examples=2,
    )


def test_a_tuple_for_a_dim_or_an_int_for_a_variadic_dim() -> None:
    # An int for `*batch` raised "'int' object is not iterable"; a tuple for `batch` was ignored.
    with pytest.raises(ValueError, match=r"dims\['\*batch'\] is 3, but a variadic dim takes"):
        check_layer(make_scaled, dims={"*batch": 3}, max_examples=1)
    with pytest.raises(ValueError, match=r"dims\['batch'\] is the tuple \(2, 3\).* '\*batch'"):
        check_layer(make_scaled, dims={"batch": (2, 3)}, max_examples=1)


def test_bad_seed_and_max_examples() -> None:
    # seed=None raised "None is not a valid value for jnp.array"; True ran one example.
    with pytest.raises(ValueError, match=r"seed must be an int >= 0, got None"):
        check_layer(make_scaled, seed=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"max_examples must be a positive int, got True"):
        check_layer(make_scaled, max_examples=True)


def make_without_key(dims: Mapping[str, int]) -> Scaled:
    return Scaled(jnp.ones(dims["embed"]))


def test_a_make_layer_that_does_not_take_dims_and_key() -> None:
    with pytest.raises(
        TypeError, match=r"calls make_layer\(dims, key\), but it takes \(dims: .*\)"
    ):
        check_layer(make_without_key)  # type: ignore[arg-type]


def test_a_dim_sized_by_hand_that_only_the_result_names() -> None:
    # `out` was never drawn, so the result's width was checked against nothing.
    with pytest.raises(AssertionError, match=r"\(seq=\d+, embed=\d+, out=3\): out should be 3"):
        check_layer(lambda dims, key: Widen(3), dims={"out": 3}, max_examples=2)


def test_a_method_that_is_never_checked_is_reported() -> None:
    class Unannotated(tg.TypedModule):
        def __call__(self, x):  # type: ignore[no-untyped-def]
            return x

    # It passed, with `inputs`, having tested nothing.
    with pytest.raises(TypeError, match=r"Unannotated.__call__ has no array annotations"):
        check_layer(lambda dims, key: Unannotated(), inputs={"x": lambda dims, key: 0})
    # Its inconsistent call was "accepted", as TypedModule checks no other dunder.
    with pytest.raises(TypeError, match=r"Scaled.__getitem__ is not checked at its calls"):
        check_layer(make_scaled, method="__getitem__", max_examples=1)


class ReadsValues(tg.TypedModule):
    def __call__(self, x: Float[Array, " n"]) -> Float[Array, " n"]:
        return x if float(x.sum()) > 0 else -x


def test_a_layer_that_reads_values_is_told_that_it_runs_abstractly() -> None:
    with pytest.raises(jax.errors.ConcretizationTypeError) as info:
        check_layer(lambda dims, key: ReadsValues(), max_examples=1)
    assert any("run abstractly, as under jax.jit" in note for note in info.value.__notes__)


class Summary(NamedTuple):
    y: Float[Array, "seq embed"]
    total: Float[Array, " seq"]


class Untagged(tg.TypedModule):
    """Results annotated `jax.Array`, and a NamedTuple whose fields are annotated."""

    weight: Float[Array, " embed"]

    def plain(self, x: Float[Array, "seq embed"]) -> tuple[Float[Array, "seq embed"], jax.Array]:
        return x * self.weight[None, :], x

    def summary(self, x: Float[Array, "seq embed"]) -> Summary:
        return Summary(x * self.weight[None, :], x.sum(axis=1))

    def wrong_summary(self, x: Float[Array, "seq embed"]) -> Summary:
        # (embed,), not (seq,): the mypy plugin sees it too.
        return Summary(x * self.weight[None, :], x.sum(axis=0))  # type: ignore[shape]


def make_untagged(dims: Mapping[str, int], key: PRNGKeyArray) -> Untagged:
    return Untagged(jnp.ones(dims["embed"]))


def test_results_annotated_jax_array_and_named_tuples() -> None:
    # A `jax.Array` result failed: "expected <class 'jax.Array'>, got float32[...]".
    check_layer(make_untagged, method="plain", max_examples=3)
    check_layer(make_untagged, method="summary", max_examples=3)
    # A NamedTuple's fields went unchecked, so a wrong one passed: the call's own check
    # catches it now, as every call does.
    with pytest.raises(TypeCheckError, match=r"item 1 \(total\) of the return value: expected"):
        check_layer(make_untagged, method="wrong_summary", dims={"embed": 4, "seq": 5})


def test_hint_names_say_array() -> None:
    assert hint_name(tuple[int, jax.Array]) == "tuple[int, Array]"
    assert hint_name(jax.Array) == "Array"


class Counts(tg.TypedModule):
    def __call__(self, x: Float[Array, " n"]) -> Int[Array, " n"]:
        return x


def test_a_result_that_breaks_its_own_annotation_is_not_called_rejected_inputs() -> None:
    # The note said "Counts.__call__ rejected consistent sizes", as if the inputs were wrong.
    with pytest.raises(TypeCheckError) as info:
        check_layer(lambda dims, key: Counts(), max_examples=1)
    notes = "\n".join(info.value.__notes__)
    assert "Counts.__call__ returned a value unlike its annotation at consistent sizes" in notes


def make_chatty_reading_n(dims: Mapping[str, int], key: PRNGKeyArray) -> Chatty:
    assert dims["n"] >= 0  # read, as if the layer were built at it
    return Chatty()


def test_a_dim_only_make_layer_reads_names_the_fix() -> None:
    # The message stopped at "went unnoticed", naming no fix.
    with pytest.raises(AssertionError, match=r"went unnoticed: annotate the array field that "):
        check_layer(lambda dims, key: Summed(weight=jnp.ones(dims["embed"])), max_examples=3)
    with pytest.raises(AssertionError, match=r"or, if the layer does not fix n, read no dims\['n'"):
        check_layer(make_chatty_reading_n, max_examples=1)


class Biased(tg.TypedModule):
    bias: Float[Array, "*batch embed"]

    def __call__(self, x: Float[Array, "*batch embed"]) -> Float[Array, "*batch embed"]:
        return x + self.bias


def make_biased(dims: Mapping[str, Any], key: PRNGKeyArray) -> Biased:
    return Biased(jnp.zeros((*dims["*batch"], dims["embed"])))


def test_make_layer_reads_a_variadic_dim_as_a_tuple() -> None:
    """`dims["*batch"]` was drawn as one plain int (a field of shape (3, embed) for
    "*batch embed" whatever the inputs' batch), and one set by hand failed: "gave (2, 3),
    not a size"."""
    check_layer(make_biased, max_examples=5)
    check_layer(make_biased, dims={"*batch": (2, 3)}, max_examples=2)
