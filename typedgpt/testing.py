"""`typedgpt.testing`: property tests of a typed layer against its own annotations.

`check_layer` reads the dimension strings of a `TypedModule`'s array fields and of one of
its methods, draws sizes for the dims with [hypothesis](https://hypothesis.readthedocs.io),
builds the layer, makes inputs, and checks three properties:

1. **Consistent sizes pass**: the call succeeds and returns the annotated shapes and dtypes.
2. **Inconsistent sizes are rejected**: an input with one dim one larger than the layer or
   the other inputs say raises `jaxtyping.TypeCheckError`, whose message names the dim
   when the method binds it itself (in an array field or in another argument).
3. **Checks are free under jit**: the traced program (`jax.make_jaxpr`) is the same with
   checks on and off.

hypothesis is an optional dependency: `pip install 'typedgpt[testing]'`.
"""

import difflib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import equinox as eqx
import jax
from jaxtyping import PRNGKeyArray

from ._typed import TypedModule, set_checks

try:
    import hypothesis
    from hypothesis import strategies as st
except ImportError as _error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "typedgpt.testing needs hypothesis, which is not installed: pip install 'typedgpt[testing]'"
    ) from _error

from ._layer_examples import check_example

__all__ = ["DimSpec", "InputMaker", "LayerMaker", "check_layer"]

# What a layer raises when it reads an array's value, which an abstract array does not have.
_VALUE_READS = (
    jax.errors.ConcretizationTypeError,
    jax.errors.TracerIntegerConversionError,
    jax.errors.TracerArrayConversionError,
)

DimSpec = (
    int
    | st.SearchStrategy[int]
    | Callable[[Mapping[str, int]], int]
    | tuple[int, ...]
    | st.SearchStrategy[tuple[int, ...]]
)
"""How to size one dim: a fixed `int`, a hypothesis strategy of ints, or a function of the
other sizes (`lambda dims: dims["heads"] * dims["head_dim"]`); for a variadic dim `*name`,
a tuple of sizes or a strategy of tuples."""

LayerMaker = Callable[[Mapping[str, int], PRNGKeyArray], TypedModule]
"""Builds the layer under test from the drawn sizes and a key."""

InputMaker = Callable[[Mapping[str, int], PRNGKeyArray], Any]
"""Builds one argument of the method under test from the drawn sizes and a key."""


def check_layer(
    make_layer: LayerMaker,
    *,
    method: str = "__call__",
    dims: Mapping[str, DimSpec] | None = None,
    inputs: Mapping[str, InputMaker] | None = None,
    max_examples: int = 10,
    seed: int = 0,
) -> None:
    """Property-test a typed layer against its own annotations, with hypothesis.

    For each of `max_examples` examples:

    1. Sizes are drawn for the dims, lazily: `make_layer(dims, key)` builds the layer from
       the sizes it reads (`dims["embed"]`), and each array argument of `method` gets the
       shape and dtype its annotation names at those sizes (fixed sizes as written;
       `*name` as zero to two axes; a symbolic axis may read `self` and the other
       arguments, as at call time). `*xs` of arrays gets two items.
    2. The method is called with checks on; it must return what its annotation says, at
       the drawn sizes (dims the layer decides by itself only need to agree with each
       other; a returned `TypedModule` has its array fields checked too).
    3. For each dim of an input that the layer is built with (one `make_layer` read) or
       that the method binds in two places (an array field and an argument, or two
       arguments): one input that has it, chosen by hypothesis, is made again with that
       dim one larger (for `*xs`, its second item). The call must raise
       `jaxtyping.TypeCheckError`; when the method binds the dim itself, the message must
       name it. (A dim bound only inside a nested layer is reported there, under that
       layer's own name for it; a `#name` drawn as 1 broadcasts, so it is not made larger.)
    4. `jax.make_jaxpr` of the call gives the same program with checks on and off.

    Shapes are what is tested, so everything runs abstractly, as under `jax.jit`: the
    layer is built, and the method called, with `equinox.filter_eval_shape` (arrays are
    shapes and dtypes only), so nothing is compiled and an example takes milliseconds.
    The checks behave as they do under `jit`, where they run while tracing. Test the
    values a layer computes with references of its own.

    A failure raises with hypothesis's report of the smallest failing example (the sizes
    are labelled by dim name).

    **Arguments:**

    - `make_layer`: builds the layer from the drawn sizes (a mapping from dim name to size)
      and a `jax.random.key`. It should read only the dims that the layer fixes: a dim it
      reads is one that the inputs must agree with.
    - `method`: the method or property to test; a static or class method has no fields,
      so only the dims its arguments share are made inconsistent.
    - `dims`: how to size some dims: an `int`, a hypothesis strategy of ints, or a function
      of the other sizes (`{"embed": lambda d: d["heads"] * d["head_dim"]}`); `"*name"`
      fixes a variadic dim with a tuple or a strategy of tuples (`make_layer` reads it as
      `dims["*name"]`, a tuple, to build a field with it). A dim sized here that only
      the result names is checked in it. Other dims get distinct sizes from 1 to 12, so
      that a swapped axis cannot pass.
    - `inputs`: a function `(dims, key) -> value` for each argument that is not an array
      (a `KVCache`, say; for `*xs` a tuple, for `**kw` a dict); it runs under
      `filter_eval_shape` too. Arguments neither listed nor arrays keep their defaults.
    - `max_examples`: how many examples to draw.
    - `seed`: hypothesis's seed: the same seed draws the same examples.

    **Raises:** `jaxtyping.TypeCheckError` when consistent sizes are rejected, or the result
    breaks its annotation (with a note that says which, and gives the sizes);
    `AssertionError` when another property fails; whatever else the layer raises (one that
    reads an array's value, `float(x)`, gets a note: it must trace, as under `jit`);
    `TypeError` for a method whose arguments cannot be made, a method with no array
    annotations or one `TypedModule` does not check (a dunder other than `__call__`), a
    layer passed as `make_layer`, a `make_layer` that does not take `(dims, key)` or does not
    return a `TypedModule`; `AttributeError` for a `method` the layer lacks; `ValueError`
    when `max_examples` is not a positive int, `seed` not an int >= 0, or `dims` names a dim
    that nothing reads (misspelt), a variadic dim without a tuple or another dim with one.
    """
    for name, value, least in (("max_examples", max_examples, 1), ("seed", seed, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            kind = "a positive int" if least else "an int >= 0"
            raise ValueError(f"{name} must be {kind}, got {value!r}")
    if isinstance(make_layer, eqx.Module):  # a layer is callable too, with arrays
        name = type(make_layer).__name__
        raise TypeError(
            f"check_layer takes a function that makes the layer from the drawn dims and a "
            f"key, got a {name} itself: pass lambda dims, key: {name}(...), its sizes read "
            "from dims"
        )
    _check_signature(make_layer)
    specs = dict(dims or {})
    for name, spec in specs.items():
        _check_spec(name, spec)
    makers = dict(inputs or {})
    key = jax.random.key(seed)
    used: set[str] = set()  # the dims read, and those of `specs` the layer names

    @hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        print_blob=False,
        # Not "explain", which reruns many variations of a failing example to report them.
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate, hypothesis.Phase.shrink],
        suppress_health_check=[hypothesis.HealthCheck.too_slow],
    )
    @hypothesis.seed(seed)
    @hypothesis.given(st.data())
    def run(data: st.DataObject) -> None:
        try:
            used.update(check_example(make_layer, method, specs, makers, data, key))
        except _VALUE_READS as error:
            error.add_note(
                "check_layer: make_layer and the method run abstractly, as under jax.jit, with "
                "no values to read: compute with jnp (jnp.where, not if; no float(x)), or make "
                "a Python number a static field"
            )
            raise

    previous = set_checks(True)
    try:
        run()
    finally:
        set_checks(previous)
    for name in sorted(set(specs) - used):  # misspelt: the layer was never tested at it
        close = difflib.get_close_matches(name, sorted(used), n=1)
        guess = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(
            f"dims names {name!r}, which nothing reads (make_layer, inputs) and no annotation "
            f"of the layer names: {guess}Fix the name (a variadic dim is '*name') or leave it out"
        )


def _check_signature(make_layer: LayerMaker) -> None:
    try:
        inspect.signature(make_layer).bind(None, None)
    except TypeError:
        raise TypeError(
            "check_layer calls make_layer(dims, key), but it takes "
            f"{inspect.signature(make_layer)}: write lambda dims, key: ..."
        ) from None
    except ValueError:  # no signature to read: a builtin
        pass


def _check_spec(name: str, spec: object) -> None:
    """A tuple sizes a variadic dim `*name`, an int or a function any other."""
    if isinstance(spec, st.SearchStrategy):
        return
    if name.startswith("*") and not isinstance(spec, tuple):
        raise ValueError(
            f"dims[{name!r}] is {spec!r}, but a variadic dim takes a tuple of sizes or a "
            f"strategy of tuples: dims={{{name!r}: (2, 3)}}"
        )
    if not name.startswith("*") and isinstance(spec, tuple):
        raise ValueError(
            f"dims[{name!r}] is the tuple {spec!r}, which sizes a variadic dim: name it "
            f"'*{name}', as the annotation does"
        )
