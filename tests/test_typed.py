"""`TypedModule`: automatic checks for subclasses, a dim scope per call, return values,
switching checks off, and checks that run at trace time only (the same compiled program)."""

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxtyping import Array, Float, TypeCheckError

import typedgpt as tg
import typedgpt._typed

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


def message_of(call: Callable[[], object]) -> str:
    with pytest.raises(TypeCheckError) as excinfo:
        call()
    return str(excinfo.value)


def assert_all_in(fragments: list[str], message: str) -> None:
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in:\n{message}"


# Subclasses are checked


def test_subclass_computes() -> None:
    y = Scale(weight=jnp.array([1.0, 2.0, 3.0]))(jnp.ones((2, 3)))
    np.testing.assert_array_equal(np.asarray(y), [[1.0, 2.0, 3.0]] * 2)


def test_subclass_is_checked_without_a_decorator() -> None:
    message = message_of(lambda: Scale(weight=jnp.ones(5))(jnp.ones((3, 7))))
    assert_all_in(
        [
            'Scale.__call__: argument "x" is float32[3, 7]',
            "Float[Array, 'seq embed']",
            "dimension embed is 7",
            'Axis "embed" = 5 was bound by field "weight" (float32[5])',
            "Dims bound in this call: embed=5.",
        ],
        message,
    )
    assert "Call path" not in message


def test_argument_binds_for_a_later_argument() -> None:
    message = message_of(lambda: Pair()(jnp.ones(3), jnp.ones(4)))
    assert_all_in(
        [
            'Pair.__call__: argument "y" is float32[4]',
            "dimension n is 4",
            'Axis "n" = 3 was bound by argument "x" (float32[3])',
        ],
        message,
    )


def test_keyword_arguments_are_checked() -> None:
    message = message_of(lambda: Pair()(x=jnp.ones(3), y=jnp.ones(4)))
    assert 'argument "y" is float32[4]' in message


def test_inherited_method_checks_the_subclass_fields() -> None:
    ok = Shifted(weight=jnp.ones(5), shift=jnp.zeros(5))
    assert ok(jnp.ones((3, 5))).shape == (3, 5)
    bad = Shifted(weight=jnp.ones(5), shift=jnp.zeros(7))
    message = message_of(lambda: bad(jnp.ones((3, 5))))
    assert_all_in(
        [
            'Shifted.__call__: field "shift" is float32[7]',
            "dimension embed is 7",
            'Axis "embed" = 5 was bound by field "weight"',
        ],
        message,
    )


def test_optional_field_may_be_none() -> None:
    assert Gain(gain=None)(jnp.ones(11)).shape == (11,)
    message = message_of(lambda: Gain(gain=jnp.ones(3))(jnp.ones(11)))
    assert_all_in(['Gain.__call__: argument "x" is float32[11]', 'bound by field "gain"'], message)


def test_variadic_dims_are_named() -> None:
    message = message_of(lambda: Batched()(jnp.ones((2, 3)), jnp.ones((5, 3))))
    assert_all_in(
        [
            'argument "y" is float32[5, 3]',
            "'*batch' is (5,)",
            'Axis "*batch" = (2,) was bound by argument "x" (float32[2, 3])',
        ],
        message,
    )


def test_non_array_parameters_of_a_checked_method_are_checked() -> None:
    message = message_of(lambda: Pair().scaled(jnp.ones(3), "2", jnp.ones(3)))  # type: ignore[arg-type]
    assert_all_in(['Pair.scaled: argument "factor" is str', "expected int, got str"], message)


def test_plain_jax_array_hint_rejects_numpy_without_leaking_jaxlib() -> None:
    message = message_of(lambda: Pair().scaled(jnp.ones(3), 2, np.ones(3)))  # type: ignore[arg-type]
    assert_all_in(['argument "mask" is numpy float64[3]', "expected Array"], message)
    assert "jaxlib" not in message


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
    message = message_of(lambda: outer(jnp.ones(3)))
    assert_all_in(
        [
            "Outer.__call__: the return value is float32[4]",
            "dimension in is 4",
            'Axis "in" = 3 was bound by argument "x" (float32[3])',
        ],
        message,
    )


def test_nested_failure_shows_the_call_path(key: jax.Array) -> None:
    outer = Outer(inner=tg.Linear(5, 3, key=key))
    message = message_of(lambda: outer(jnp.ones(3)))
    assert_all_in(
        [
            'Linear.__call__: argument "x" is float32[6]',
            'Axis "in" = 5 was bound by field "weight" (float32[3, 5])',
            "Call path: Outer > Linear.",
        ],
        message,
    )


def test_a_failed_call_leaves_no_scope_or_path_behind(key: jax.Array) -> None:
    outer = Outer(inner=tg.Linear(5, 3, key=key))
    message_of(lambda: outer(jnp.ones(3)))
    # The next top-level failure shows no stale call path, and good calls still pass.
    message = message_of(lambda: Pair()(jnp.ones(2), jnp.ones(3)))
    assert "Call path" not in message
    assert "Dims bound in this call: n=2." in message
    assert Pair()(jnp.ones(7), jnp.ones(7)).shape == (7,)


# Return values are checked


def test_return_value_is_checked() -> None:
    message = message_of(lambda: Doubler()(jnp.ones(3)))
    assert_all_in(
        [
            "Doubler.__call__: the return value is float32[6]",
            "dimension n is 6",
            'Axis "n" = 3 was bound by argument "x" (float32[3])',
        ],
        message,
    )


def test_tuple_return_names_the_item() -> None:
    message = message_of(lambda: Pair().pair(jnp.ones(3)))
    assert_all_in(
        [
            "Pair.pair: the return value is (float32[3], float32[6])",
            "item 1: the size of dimension n is 6",
        ],
        message,
    )


@pytest.mark.parametrize(
    ("call", "hint"),
    [
        (lambda: Pair().pair(jnp.ones(3)), "tuple[Float[Array, 'n'], Float[Array, 'n']]"),
        (lambda: Gain(gain=jnp.arange(3))(jnp.ones(3)), "Float[Array, 'n'] | None"),
    ],
    ids=["tuple", "union"],
)
def test_composite_hints_are_written_plainly(call: Callable[[], object], hint: str) -> None:
    message = message_of(call)
    assert f"which does not match {hint}:" in message
    assert "jaxFloat" not in message


# Methods without array annotations are untouched


def test_methods_without_array_annotations_are_not_checked() -> None:
    # The field is wrong (int into Float) and the argument is not a list: neither is looked at.
    plain = Plain(weight=jnp.arange(3))
    assert plain.count("abcd") == 4  # type: ignore[arg-type]
    assert plain.helper("anything") == "anything"  # type: ignore[no-untyped-call]
    message = message_of(lambda: plain(jnp.ones(3)))
    assert 'Plain.__call__: field "weight" is int32[3]' in message


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
    with pytest.raises(TypeCheckError, match=r'argument "x" is float32\[13\]'):
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
