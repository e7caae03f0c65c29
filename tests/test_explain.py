"""Tests for `typedgpt/_explain.py`: the tree of checked calls `explain` records under
`jax.eval_shape`, as text and as data, for a small layer, a GPT and GPT-2 124M's shapes."""

import time
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxtyping import Array, Float, Int, PRNGKeyArray, PyTree

import typedgpt as tg

# Distinct sizes, so a swapped axis cannot pass: seq 5, embed 3, mlp 7.


def sds(shape: tuple[int, ...], dtype: Any) -> jax.ShapeDtypeStruct:
    """An abstract array: a shape and a dtype, no data."""
    return jax.ShapeDtypeStruct(shape, dtype)  # type: ignore[no-untyped-call]


class Tiny(tg.TypedModule):
    """A norm at each position, then a projection from embed to mlp."""

    norm: tg.RMSNorm
    up: tg.Linear

    def __call__(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq mlp"]:
        return jax.vmap(self.up)(jax.vmap(self.norm)(x))


def _tiny() -> Tiny:
    return Tiny(norm=tg.RMSNorm(3), up=tg.Linear(3, 7, key=jax.random.key(0)))


def test_tree_of_a_small_layer() -> None:
    assert str(tg.explain(_tiny(), jnp.ones((5, 3)))) == (
        "Tiny(x: float32[seq=5, embed=3]) -> float32[seq, mlp=7]\n"
        "├─ norm: RMSNorm(x: float32[embed=3]) -> float32[embed]\n"
        "└─ up: Linear(x: float32[in=3]) -> float32[out=7]"
    )


def test_calls_as_data() -> None:
    explanation = tg.explain(_tiny(), jnp.ones((5, 3)))
    (root,) = explanation.calls
    assert (root.path, root.module, root.method) == ("Tiny", "Tiny", "__call__")
    assert root.dims == {"seq": 5, "embed": 3, "mlp": 7}
    assert root.arguments == {"x": sds((5, 3), jnp.float32)}
    assert root.result == sds((5, 7), jnp.float32)
    assert [call.path for call in explanation.walk()] == ["Tiny", "Tiny.norm", "Tiny.up"]
    up = root.calls[1]
    assert up.dims == {"out": 7, "in": 3}
    assert explanation.result == sds((5, 7), jnp.float32)


def test_abstract_inputs_are_accepted() -> None:
    x = sds((5, 3), jnp.float32)
    assert str(tg.explain(_tiny(), x)) == str(tg.explain(_tiny(), jnp.ones((5, 3))))


def test_a_shape_error_is_raised_as_a_call_would() -> None:
    with pytest.raises(tg.ShapeError) as excinfo:
        tg.explain(_tiny(), jnp.ones((5, 2)))
    assert excinfo.value.path == "Tiny.norm"


class Loader(tg.TypedModule):
    weight: Float[Array, " n"]

    def load(self, x: Float[np.ndarray, " n"]) -> Float[Array, " n"]:
        return jnp.asarray(x) * self.weight


def test_numpy_arrays_are_taken_or_refused_as_a_call_would() -> None:
    with pytest.raises(tg.ShapeError, match="expected a JAX array, got numpy float32"):
        _tiny()(np.ones((5, 3), np.float32))  # type: ignore[arg-type]
    with pytest.raises(tg.ShapeError, match="expected a JAX array, got numpy float32"):
        tg.explain(_tiny(), np.ones((5, 3), np.float32))
    loader = Loader(jnp.ones(3))
    assert loader.load(np.ones(3, np.float32)).shape == (3,)
    assert str(tg.explain(loader, np.ones(3, np.float32), method="load")) == (
        "Loader.load(x: float32[n=3]) -> float32[n]"
    )


def test_checks_setting_is_restored(checks_off: None) -> None:
    assert len(list(tg.explain(_tiny(), jnp.ones((5, 3))).walk())) == 3  # recorded anyway
    assert not tg.checks_enabled()


class Noisy(tg.TypedModule):
    """A layer that takes a PRNG key."""

    scale: Float[Array, " embed"]

    def __call__(self, x: Float[Array, " embed"], *, key: PRNGKeyArray) -> Float[Array, " embed"]:
        return x + self.scale * jax.random.normal(key, x.shape)


def test_a_prng_key_argument() -> None:
    explanation = tg.explain(Noisy(jnp.ones(3)), jnp.ones(3), key=jax.random.key(0))
    assert str(explanation) == "Noisy(x: float32[embed=3], key: key<fry>[]) -> float32[embed]"


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match=r"explain expects a TypedModule such as tg\.GPT, got int"):
        tg.explain(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Tiny has no method 'decode' to explain"):
        tg.explain(_tiny(), jnp.ones((5, 3)), method="decode")


# A GPT: the scan over stacked layers shows once


def _config() -> tg.GPTConfig:
    return tg.GPTConfig(
        vocab_size=11, max_seq_len=13, num_layers=2, num_heads=3, embed_dim=15, mlp_dim=7
    )


@pytest.fixture(scope="module")
def gpt() -> tg.GPT:
    return tg.GPT(_config(), key=jax.random.key(0))


def test_gpt_tree(gpt: tg.GPT) -> None:
    explanation = tg.explain(gpt, jnp.arange(5))
    (root,) = explanation.calls
    assert (root.path, root.method) == ("GPT", "forward")
    paths = [call.path for call in explanation.walk()]
    assert paths.count("GPT.blocks[*]") == 1  # traced once for both layers
    block = next(call for call in explanation.walk() if call.path == "GPT.blocks[*]")
    assert (block.module, block.method, block.scan_length) == ("Block", "__call__", 2)
    assert block.dims == {"seq": 5, "embed": 15}
    assert "GPT.blocks[*].attn.qkv_proj" in paths
    assert "GPT.blocks[*].mlp.down_proj" in paths
    text = str(explanation)
    assert text.splitlines()[0] == (
        "GPT.forward(tokens: int32[seq=5]) -> float32[seq, vocab=11]  [embed=15, positions=13]"
    )
    assert (
        "├─ blocks[*]: Block(x: float32[seq=5, embed=15]) -> float32[seq, embed]"
        "  × 2 layers (lax.scan)"
    ) in text
    assert "│     └─ down_proj: Linear(x: float32[in=7]) -> float32[out=15]" in text
    assert explanation.result == sds((5, 11), jnp.float32)


def test_explain_twice_and_after_a_call(gpt: tg.GPT) -> None:
    tokens = jnp.arange(5)
    first = str(tg.explain(gpt, tokens))
    assert "down_proj" in first  # called under jax.checkpoint, whose traces are cached
    assert str(tg.explain(gpt, tokens)) == first
    gpt(tokens)  # compiles GPT.__call__'s jit: explain must not hit its cached trace
    assert str(tg.explain(gpt, tokens)) == first


class Jitted(tg.TypedModule):
    """A layer whose `__call__` compiles itself, and so holds a cached trace."""

    proj: tg.Linear

    @eqx.filter_jit
    def __call__(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
        return jax.vmap(self.proj)(x)


class Holder(tg.TypedModule):
    """A module that calls a whole GPT, through its compiled `__call__`."""

    gpt: tg.GPT

    def __call__(self, tokens: Int[Array, " seq"]) -> Float[Array, "seq vocab"]:
        return self.gpt(tokens)


def test_compiled_calls_inside_are_recorded_every_time(gpt: tg.GPT) -> None:
    """A jit's trace comes from JAX's cache the second time: while explain records, compiled
    calls run as Python, so the second tree is the first (it used to hold the root alone)."""
    jitted = Jitted(tg.Linear(4, 4, key=jax.random.key(1)))
    x = jnp.ones((3, 4))
    jitted(x)  # compiled and cached before any explain
    for _ in range(2):
        assert [call.path for call in tg.explain(jitted, x).walk()] == ["Jitted", "Jitted.proj"]
    holder, tokens = Holder(gpt), jnp.arange(5)
    holder(tokens)
    first = str(tg.explain(holder, tokens))
    paths = [call.path for call in tg.explain(holder, tokens).walk()]
    assert "Holder.gpt.blocks[*].mlp.down_proj" in paths
    assert str(tg.explain(holder, tokens)) == first


class MyGPT(tg.GPT):
    """A subclass that keeps GPT's methods, their cached jits among them."""


class GreetingGPT(tg.GPT):
    """A subclass with a `__call__` of its own, which explain runs as it is."""

    def __call__(self, tokens: Int[Array, " seq"]) -> Float[Array, "seq vocab"]:
        return self.forward(tokens)


def test_explain_a_subclass_twice(gpt: tg.GPT) -> None:
    # A subclass of GPT inherits its cached __call__: explain must run forward as for GPT,
    # else the second explain records nothing below the root.
    # mypy takes a subclass's __init__ from its fields, as a dataclass's; Equinox runs GPT's.
    mine = MyGPT(gpt.config, key=jax.random.key(0))  # type: ignore[call-arg, arg-type]
    first = str(tg.explain(mine, jnp.arange(5)))
    assert "down_proj" in first
    assert str(tg.explain(mine, jnp.arange(5))) == first
    greeting = GreetingGPT(gpt.config, key=jax.random.key(0))  # type: ignore[call-arg, arg-type]
    own = tg.explain(greeting, jnp.arange(5))
    assert own.calls[0].method == "__call__"
    assert "down_proj" in str(own)


def test_explain_decode(gpt: tg.GPT) -> None:
    explanation = tg.explain(gpt, jnp.arange(5), gpt.init_cache(), method="decode")
    assert explanation.calls[0].method == "forward_cached"
    block = next(call for call in explanation.walk() if call.path == "GPT.blocks[*]")
    assert (block.method, block.scan_length) == ("decode", 2)


def test_gpt2_shapes_without_weights() -> None:
    started = time.perf_counter()
    model = eqx.filter_eval_shape(tg.GPT, tg.GPTConfig.gpt2(), key=jax.random.key(0))
    assert all(isinstance(leaf, jax.ShapeDtypeStruct) for leaf in jax.tree.leaves(model))
    explanation = tg.explain(model, sds((1024,), jnp.int32))
    seconds = time.perf_counter() - started
    print(f"explain on GPT-2 124M, 1024 tokens: {seconds:.2f} s")  # about 0.2 s on 2 cores
    text = str(explanation)
    assert "× 12 layers (lax.scan)" in text
    assert "qkv_proj: Linear(x: float32[in=768]) -> float32[out=2304]" in text
    assert explanation.result == sds((1024, 50257), jnp.float32)
    assert max(len(line) for line in text.splitlines()) <= 100


def test_decode_without_its_cache_names_decode(gpt: tg.GPT) -> None:
    # explain runs forward_cached for decode: a missing argument is still decode's.
    with pytest.raises(TypeError, match=r"^GPT\.decode: missing a required argument: 'cache'$"):
        tg.explain(gpt, jnp.arange(5), method="decode")


def test_a_module_argument_wraps_between_its_fields(gpt: tg.GPT) -> None:
    # A KVCache is one argument too long for a line: it wraps between its fields.
    text = str(tg.explain(gpt, jnp.arange(5), gpt.init_cache(), method="decode"))
    assert max(len(line) for line in text.splitlines()) <= 100
    assert (
        "│    cache: KVCache(keys: float32[*layers=2, kv_seq=13, kv_heads=3, head_dim=5]," in text
    )
    assert "│  │    values: float32[kv_seq, kv_heads, head_dim], position: int32[]))" in text


def test_the_command_counts_one_token(capsys: pytest.CaptureFixture[str]) -> None:
    from typedgpt import cli

    assert cli.main(["explain", "--config", "microgpt", "--seq", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith("never allocated); 1 token")


# A layer of your own: containers, variadic and broadcast dims, what explain refuses


class Gather(tg.TypedModule):
    """Arguments of every kind of container, and methods explain cannot draw."""

    weight: Float[Array, "out in"]

    def __call__(
        self,
        xs: list[Float[Array, " in"]],
        named: dict[str, Float[Array, " in"]],
        rest: tuple[Float[Array, " in"], ...] = (),
    ) -> tuple[Float[Array, " out"], int]:
        return self.weight @ xs[0], len(xs)

    def tree(self, tree: PyTree[Float[Array, " in"]]) -> Float[Array, " out"]:
        leaf: Float[Array, " in"] = jax.tree.leaves(tree)[0]
        return self.weight @ leaf

    def batched(
        self, x: Float[Array, "*batch in"], gain: Float[Array, " #out"]
    ) -> Float[Array, "*batch out"]:
        y = x @ self.weight.T
        return y * jnp.broadcast_to(gain, y.shape)

    @property
    def total(self) -> Float[Array, ""]:
        return jnp.sum(self.weight)

    @staticmethod
    def normalise(x: Float[Array, " n"]) -> Float[Array, " n"]:
        return x / jnp.linalg.norm(x)

    def untyped(self, x):  # type: ignore[no-untyped-def]
        return x


def _gather() -> Gather:
    return Gather(jnp.ones((4, 3)))


def test_containers_are_drawn_item_by_item() -> None:
    # A list, a dict and a PyTree used to show as "list of 2 float32[3]" and "dict", their
    # dims unnamed; an empty tuple recursed without end. The int result is no array: it
    # used to stop jax.eval_shape with an error from inside JAX.
    x = jnp.ones(3)
    explanation = tg.explain(_gather(), [x, x], {"a": x})
    assert str(explanation) == (
        "Gather(xs: [float32[in=3] × 2], named: {'a': float32[in]}, rest: ())"
        " -> (float32[out=4], int)"
    )
    assert explanation.result == (sds((4,), jnp.float32), 2)
    text = str(tg.explain(_gather(), [x], {}, (x, x)))
    assert text.startswith("Gather(xs: [float32[in=3]], named: {}, rest: (float32[in] × 2))")
    tree = tg.explain(_gather(), {"a": [x], "b": (x,)}, method="tree")
    assert (
        str(tree)
        == "Gather.tree(tree: {'a': [float32[in=3]], 'b': (float32[in],)}) -> float32[out=4]"
    )


def test_variadic_and_broadcast_dims() -> None:
    # `*batch` used to show as bare sizes, and a broadcast `#out` of 1 as `out` (4).
    text = str(tg.explain(_gather(), jnp.ones((2, 5, 3)), jnp.ones(1), method="batched"))
    assert text == (
        "Gather.batched(x: float32[*batch=(2, 5), in=3], gain: float32[1])"
        " -> float32[*batch, out=4]"
    )


def test_methods_explain_cannot_draw() -> None:
    # On an abstract module, reading the property used to fail inside JAX; a static method
    # and an unchecked method used to give an empty tree.
    abstract = eqx.filter_eval_shape(_gather)
    with pytest.raises(ValueError, match=r"^Gather\.total is a property: explain draws"):
        tg.explain(abstract, method="total")
    with pytest.raises(ValueError, match=r"^Gather\.normalise is a static method: "):
        tg.explain(abstract, jnp.ones(3), method="normalise")
    with pytest.raises(ValueError, match=r"Gather\.untyped is a method without array annot"):
        tg.explain(abstract, jnp.ones(3), method="untyped")
    with pytest.raises(ValueError, match="Gather has no method 'weight' to explain"):
        tg.explain(abstract, method="weight")
    with pytest.raises(TypeError, match="explain's method is a method's name, a str, got 3"):
        tg.explain(abstract, method=3)  # type: ignore[arg-type]


class Transposed(tg.TypedModule):
    """`x @ W` where `x @ W.T` was meant: no annotation catches it, JAX does."""

    weight: Float[Array, "out in"]

    def __call__(self, x: Float[Array, "seq in"]) -> Float[Array, "seq out"]:
        # The bug that explain's note points at (mypy's shape plugin sees it too).
        return x @ self.weight  # type: ignore[shape, no-any-return]


class Pipeline(tg.TypedModule):
    first: tg.Linear
    second: Transposed

    def __call__(self, x: Float[Array, "seq in"]) -> Float[Array, "seq out"]:
        return self.second(jax.vmap(self.first)(x))


def test_an_error_notes_the_calls_before_it() -> None:
    pipeline = Pipeline(tg.Linear(3, 4, key=jax.random.key(0)), Transposed(jnp.ones((5, 4))))
    with pytest.raises(TypeError, match="dot_general") as excinfo:
        tg.explain(pipeline, jnp.ones((2, 3)))
    assert excinfo.value.__notes__[-1] == (
        "tg.explain, up to the error:\n"
        "Pipeline(...)\n"
        "├─ first: Linear(x: float32[in=3]) -> float32[out=4]\n"
        "└─ second: Transposed(...)  <- raised here"
    )


class Scanned(tg.TypedModule):
    """Stacked layers run by a lax.scan of its own: the layer is not one of its fields."""

    layers: tg.Linear

    def __call__(self, x: Float[Array, " embed"]) -> Float[Array, " embed"]:
        dynamic, static = eqx.partition(self.layers, eqx.is_array)

        def body(h: Any, layer: Any) -> tuple[Any, None]:
            return eqx.combine(layer, static)(h), None

        return jax.lax.scan(body, x, dynamic)[0]


def test_a_module_not_found_among_the_fields() -> None:
    # It used to be drawn as "Linear: Linear", as if a field were named Linear.
    keys = jax.random.split(jax.random.key(0), 3)
    layers = eqx.filter_vmap(lambda key: tg.Linear(4, 4, key=key))(keys)
    assert str(tg.explain(Scanned(layers), jnp.ones(4))) == (
        "Scanned(x: float32[embed=4]) -> float32[embed]\n"
        "└─ ?: Linear(x: float32[in=4]) -> float32[out=4]"
    )
