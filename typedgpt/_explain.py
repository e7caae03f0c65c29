"""`explain`: every checked layer call of a model, as a tree of shapes, with no FLOPs spent.

The model runs under `jax.eval_shape`, which traces it with abstract arrays and computes
nothing, while `TypedModule`'s checks record each call they make: the module's path, the
method, the dims the call bound and the shapes that went in and came out. The model itself
may be abstract (`eqx.filter_eval_shape(tg.GPT, config, key=key)`), so even GPT-2 XL is
explained in seconds without a byte of its weights.
"""

import dataclasses
import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import numpy as np

from . import _typed
from ._gpt import GPT
from ._typed import TypedModule

# Methods that check their inputs and compile another, and the method each one compiles,
# which explain runs instead: the root of the tree is the method that does the work.
_UNJITTED: dict[tuple[type, str], str] = {
    (GPT, "__call__"): "forward",
    (GPT, "decode"): "forward_cached",
}


@dataclass(frozen=True)
class LayerCall:
    """One checked call: which module, which method, what went in and what came out.

    Attributes:
        path: the module's attribute path, as in error messages: `"GPT.blocks[*].attn"`.
        module: the module's class name, such as `"CausalSelfAttention"`.
        method: the method called, such as `"__call__"` or `"decode"`.
        dims: every dim the call bound, with its size (a tuple for `*` dims).
        arguments: the annotated arguments, arrays as `jax.ShapeDtypeStruct`s.
        result: the return value, arrays as `jax.ShapeDtypeStruct`s.
        hints: the annotations of `arguments`, and of the result under `"return"`.
        scan_length: for stacked layers run by `lax.scan` (`blocks[*]`), how many layers
            this one traced call stands for; `None` otherwise.
        calls: the checked calls this one made, in order.
    """

    path: str
    module: str
    method: str
    dims: dict[str, Any]
    arguments: dict[str, Any]
    result: Any
    hints: dict[str, Any] = dataclasses.field(repr=False)
    scan_length: int | None
    calls: tuple["LayerCall", ...]

    def walk(self) -> Iterator["LayerCall"]:
        """This call, then every call inside it, depth first."""
        yield self
        for call in self.calls:
            yield from call.walk()


@dataclass(frozen=True)
class Explanation:
    """What `explain` found: the outermost checked calls, each holding the calls it made.

    `str(explanation)` draws the tree, one call per line: the module's path below its
    caller, its class and method, its arguments and result with each dim named and sized
    once per line (`float32[seq=5, embed=16]`), and in brackets the dims bound only by
    the module's fields.

    Attributes:
        calls: the outermost checked calls (usually one: the model's).
        result: what the model returned, arrays as `jax.ShapeDtypeStruct`s.
    """

    calls: tuple[LayerCall, ...]
    result: Any

    def walk(self) -> Iterator[LayerCall]:
        """Every recorded call, depth first."""
        for call in self.calls:
            yield from call.walk()

    def __str__(self) -> str:
        # Imported here, not at the top: _explain_draw imports LayerCall from this module.
        from ._explain_draw import draw, pieces, wrap

        lines: list[str] = []
        for call in self.calls:
            lines.extend(wrap(pieces(call, None), "", "", call))
            draw(call, "", lines)
        return "\n".join(lines)


def explain(
    model: TypedModule, *inputs: Any, method: str = "__call__", **kwargs: Any
) -> Explanation:
    """Trace `model.method(*inputs, **kwargs)` with `jax.eval_shape` and record every
    checked layer call: no FLOPs are spent and nothing is compiled.

    ```python
    config = tg.GPTConfig.gpt2()
    model = eqx.filter_eval_shape(tg.GPT, config, key=jax.random.key(0))  # no weights
    tokens = jax.ShapeDtypeStruct((1024,), jnp.int32)
    print(tg.explain(model, tokens))
    ```

    **Arguments:**

    - `model`: a `TypedModule`. Its arrays may be real or `jax.ShapeDtypeStruct`s, as
      `eqx.filter_eval_shape` builds them.
    - `inputs`, `kwargs`: the method's arguments; arrays may be `jax.ShapeDtypeStruct`s.
    - `method`: the method to explain. A `GPT`'s `__call__` and `decode` compile through a
      cached jit, so explain runs the methods they compile, `forward` and `forward_cached`.

    **Returns:** an `Explanation`: print it for the tree, or read its `calls`.

    A call that breaks its annotations raises `tg.ShapeError`, as a real call would; any error
    raised while tracing carries a note with the tree up to the call that raised it. A
    `model` that is not a `TypedModule` raises `TypeError`; a `method` it lacks, a property,
    a static or class method, or a method that records no checked call `ValueError`.
    """
    if not isinstance(model, TypedModule):
        raise TypeError(
            f"explain expects a TypedModule such as tg.GPT, got {type(model).__qualname__}"
        )
    name = _method(model, method)
    _bind(model, method, inputs, kwargs)
    # NumPy arrays go in as they are, as in a real call: refused by a jax.Array annotation.
    dynamic, static = eqx.partition((model, inputs, kwargs), _traced)
    outputs: list[Any] = []  # what the method returned that is no array: an int, a string

    def run(dynamic: Any) -> Any:
        module, args, keywords = eqx.combine(dynamic, static)
        arrays, others = eqx.partition(getattr(module, name)(*args, **keywords), _traced)
        outputs.append(others)
        return arrays

    with _typed.recording() as frames:
        try:
            result = eqx.combine(jax.eval_shape(run, dynamic), outputs[-1])
        except Exception as error:
            if frames:  # the calls up to the one that raised, to find it by
                calls = tuple(_call(frame) for frame in frames)
                error.add_note(f"tg.explain, up to the error:\n{Explanation(calls, None)}")
            raise
    if not frames:
        why = "a dunder" if method.startswith("__") else "a method without array annotations"
        raise ValueError(
            f"explain recorded no call: {type(model).__name__}.{method} is {why}, which is "
            "not checked, and calls no checked method: explain __call__ or a method whose "
            'arguments or result are annotated with array types (x: Float[Array, "seq embed"])'
        )
    return Explanation(calls=tuple(_call(frame) for frame in frames), result=result)


def _method(model: TypedModule, method: str) -> str:
    """The method of `model` that explain runs for `method`, or an error saying why there is
    none. Looked up without running it: a property read would compute, on arrays that may be
    abstract."""
    if not isinstance(method, str):
        raise TypeError(f"explain's method is a method's name, a str, got {method!r}")
    cls = type(model)
    # The class whose `method` runs: a subclass of GPT inherits its cached jit.
    owner = next((base for base in cls.__mro__ if method in vars(base)), cls)
    name = _UNJITTED.get((owner, method), method)
    try:
        value = inspect.getattr_static(model, name)
    except AttributeError:
        raise ValueError(f"{cls.__name__} has no method {method!r} to explain") from None
    kind = {property: "a property", staticmethod: "a static method", classmethod: "a class method"}
    for base, what in kind.items():
        if isinstance(value, base):
            raise ValueError(
                f"{cls.__name__}.{method} is {what}: explain draws the method calls of a "
                "module; explain the method that uses it"
            )
    if not callable(value) or method == "__init__":
        raise ValueError(f"{cls.__name__} has no method {method!r} to explain")
    return name


def _bind(model: TypedModule, method: str, inputs: Any, kwargs: Any) -> None:
    """Raise `TypeError` for arguments that `model.method` would refuse, naming that method:
    the one explain runs in its place (`forward_cached` for `decode`) may take others."""
    try:
        signature = inspect.signature(getattr(model, method))
    except ValueError:  # a callable without a signature to read
        return
    try:
        signature.bind(*inputs, **kwargs)
    except TypeError as error:
        raise TypeError(f"{type(model).__name__}.{method}: {error}") from None


def _traced(value: Any) -> bool:
    return isinstance(value, jax.Array | jax.ShapeDtypeStruct)


def is_array(value: Any) -> bool:
    return isinstance(value, jax.Array | np.ndarray | jax.ShapeDtypeStruct)


def _call(frame: Any) -> LayerCall:
    return LayerCall(
        path=frame.path,
        module=type(frame.module).__name__,
        method=frame.method,
        dims=dict(frame.dims),
        arguments=dict(frame.arguments),
        result=frame.result,
        hints=dict(frame.hints),
        scan_length=frame.scan_length,
        calls=tuple(_call(child) for child in frame.calls or ()),
    )
