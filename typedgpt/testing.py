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

import builtins
import collections
import contextlib
import dataclasses
import difflib
import inspect
import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from beartype.door import is_bearable
from jaxtyping import AbstractArray, PRNGKeyArray, TypeCheckError

from ._typed import TypedModule, field_hints, method_hints, set_checks

try:
    import hypothesis
    from hypothesis import strategies as st
except ImportError as _error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "typedgpt.testing needs hypothesis, which is not installed: pip install 'typedgpt[testing]'"
    ) from _error

__all__ = ["DimSpec", "InputMaker", "LayerMaker", "check_layer"]

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

_SIZES = (1, 12)  # a dim without a DimSpec gets a size in this range, distinct from others
_VARIADIC = st.lists(st.integers(1, 4), max_size=2).map(tuple)


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
       `*name` as zero to two axes).
    2. The method is called with checks on; it must return what its annotation says, at
       the drawn sizes (dims the layer decides by itself only need to agree with each
       other; a returned `TypedModule` has its array fields checked too).
    3. For each dim of an input that the layer is built with (one `make_layer` read) or
       that the method binds in two places (an array field and an argument, or two
       arguments): one input that has it, chosen by hypothesis, is made again with that
       dim one larger. The call must raise `jaxtyping.TypeCheckError`; when the method
       binds the dim itself, the message must name it. (A dim bound only inside a nested
       layer is reported there, under that layer's own name for it.)
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
    - `method`: the method to test; a static or class method has no fields, so only the
      dims its arguments share are made inconsistent.
    - `dims`: how to size some dims: an `int`, a hypothesis strategy of ints, or a function
      of the other sizes (`{"embed": lambda d: d["heads"] * d["head_dim"]}`); `"*name"`
      fixes a variadic dim with a tuple or a strategy of tuples. Other dims get distinct
      sizes from 1 to 12, so that a swapped axis cannot pass.
    - `inputs`: a function `(dims, key) -> value` for each argument that is not an array
      (a `KVCache`, say); it runs under `filter_eval_shape` too. Arguments neither listed
      nor arrays keep their defaults.
    - `max_examples`: how many examples to draw.
    - `seed`: hypothesis's seed: the same seed draws the same examples.

    **Raises:** `jaxtyping.TypeCheckError` when consistent sizes are rejected (with a note
    that gives the sizes); `AssertionError` when another property fails; whatever else the
    layer raises; `TypeError` for a method whose arguments cannot be made, or a
    `make_layer` that does not return a `TypedModule`; `AttributeError` for a `method` the
    layer lacks; `ValueError` when `max_examples` is not a positive int.
    """
    if not isinstance(max_examples, int) or max_examples < 1:
        raise ValueError(f"max_examples must be a positive int, got {max_examples!r}")
    specs = dict(dims or {})
    makers = dict(inputs or {})
    key = jax.random.key(seed)

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
        _check_example(make_layer, method, specs, makers, data, key)

    previous = set_checks(True)
    try:
        run()
    finally:
        set_checks(previous)


# --------------------------------------------------------------------------------------------
# One example
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Argument:
    """One argument of the method under test, and how to draw it."""

    name: str
    positional_only: bool
    hint: Any  # its array annotation, or None
    maker: InputMaker | None  # from `inputs`; None: drawn from `hint`
    key: PRNGKeyArray

    def make(self, sizes: "_Sizes | _Bumped") -> Any:
        """The argument at these sizes, abstract: arrays are `jax.ShapeDtypeStruct`s."""
        if self.maker is not None:
            maker = self.maker
            return eqx.filter_eval_shape(lambda key: maker(sizes, key), self.key)
        return _abstract_array(self.hint, _shape(self.hint, sizes))


def _call(layer: Any, method: str, arguments: list[_Argument], values: dict[str, Any]) -> Any:
    positional = [values[a.name] for a in arguments if a.positional_only]
    keyword = {a.name: values[a.name] for a in arguments if not a.positional_only}
    return getattr(layer, method)(*positional, **keyword)


def _check_example(
    make_layer: LayerMaker,
    method: str,
    specs: Mapping[str, DimSpec],
    makers: Mapping[str, InputMaker],
    data: st.DataObject,
    key: PRNGKeyArray,
) -> None:
    sizes = _Sizes(data, specs)
    layer_key, input_key = jax.random.split(key)
    with sizes.reading() as layer_dims:
        layer = eqx.filter_eval_shape(lambda key: make_layer(sizes, key), layer_key)
    if not isinstance(layer, TypedModule):
        raise TypeError(f"make_layer must return a tg.TypedModule, got {type(layer).__qualname__}")
    function = inspect.getattr_static(type(layer), method, None)
    bound = not isinstance(function, staticmethod)  # takes the module or its class first
    # A static or class method has no module: its call checks no field, so the layer's
    # dims do not bind its arguments.
    has_fields = not isinstance(function, staticmethod | classmethod)
    if not has_fields:
        function = function.__func__
    if not callable(function):
        raise AttributeError(f"{type(layer).__name__} has no method {method!r}")
    where = f"{type(layer).__name__}.{method}"
    hints = method_hints(type(layer), function)
    arguments = _arguments(function, hints, makers, where, input_key, bound=bound)
    values = {a.name: a.make(sizes) for a in arguments}

    def call(values: dict[str, Any]) -> Any:
        return eqx.filter_eval_shape(
            lambda layer, values: _call(layer, method, arguments, values), layer, values
        )

    # 1. Consistent sizes pass, and give the annotated result.
    try:
        out = call(values)
    except TypeCheckError as error:
        error.add_note(f"check_layer: {where} rejected consistent sizes ({sizes!r})")
        raise
    reason = _mismatch(out, hints.get("return", Any), sizes, {})
    if reason:
        raise AssertionError(
            f"{where} returned {_describe(out)}, which does not fit its annotation "
            f"{_hint_name(hints.get('return'))} at the drawn sizes ({sizes!r}): {reason}"
        )

    # 2. One dim of one input made inconsistent is rejected, naming the dim.
    shared = _shared_dims(layer if has_fields else None, arguments)
    candidates = sorted(
        {name for a in arguments if a.hint is not None for name in _names(a.hint)}
        & (shared | (layer_dims if has_fields else set()))
    )
    for name in candidates:
        if name in sizes.variadics and not sizes.variadics[name]:
            continue  # no axis to make larger
        holders = [a for a in arguments if a.hint is not None and name in _names(a.hint)]
        chosen = data.draw(st.sampled_from([a.name for a in holders]), label=f"{name} larger in")
        target = next(a for a in holders if a.name == chosen)
        bumped = _Bumped(sizes, name)
        changed = {**values, target.name: target.make(bumped)}
        what = (
            f'{where} with argument "{target.name}" {_describe(changed[target.name])}, '
            f"its {name} one larger than the rest ({sizes!r})"
        )
        try:
            call(changed)
        except TypeCheckError as error:
            if name in shared and not re.search(rf"(?<!\w){re.escape(name)}(?!\w)", str(error)):
                raise AssertionError(
                    f"{what} raised a TypeCheckError that does not name {name}:\n{error}"
                ) from None
            continue
        except Exception as error:
            raise AssertionError(
                f"{what} should raise jaxtyping.TypeCheckError, but raised "
                f"{type(error).__name__}: {error}"
            ) from error
        raise AssertionError(f"{what} was accepted: the inconsistent {name} went unnoticed")

    # 3. The traced program is the same with checks on and off.
    checked = _jaxpr(layer, method, arguments, values)
    set_checks(False)
    try:
        unchecked = _jaxpr(layer, method, arguments, values)
    finally:
        set_checks(True)
    if checked != unchecked:
        diff = "\n".join(
            difflib.unified_diff(
                checked.splitlines(), unchecked.splitlines(), "checks on", "checks off", lineterm=""
            )
        )
        raise AssertionError(f"{where}: the jaxpr differs with checks on and off:\n{diff}")


def _arguments(
    function: Callable[..., Any],
    hints: Mapping[str, Any],
    makers: Mapping[str, InputMaker],
    where: str,
    key: PRNGKeyArray,
    *,
    bound: bool,
) -> list[_Argument]:
    parameters = list(inspect.signature(function).parameters.values())
    if bound:
        parameters = parameters[1:]  # self, or cls for a class method
    unknown = sorted(set(makers) - {p.name for p in parameters})
    if unknown:
        raise ValueError(f"inputs names {unknown}, which {where} does not take")
    arguments = []
    for index, parameter in enumerate(parameters):
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        hint = _array_hint(hints.get(parameter.name))
        maker = makers.get(parameter.name)
        if maker is None and hint is None:
            if parameter.default is not parameter.empty:
                continue
            raise TypeError(
                f"check_layer cannot draw argument {parameter.name!r} of {where}, annotated "
                f"{_hint_name(hints.get(parameter.name))}: pass "
                f"inputs={{{parameter.name!r}: lambda dims, key: ...}}"
            )
        arguments.append(
            _Argument(
                parameter.name,
                parameter.kind == parameter.POSITIONAL_ONLY,
                hint,
                maker,
                jax.random.fold_in(key, index),
            )
        )
    return arguments


def _shared_dims(layer: TypedModule | None, arguments: list[_Argument]) -> set[str]:
    """Dims the method binds in two places: array fields of the layer (`None` for a static
    or class method, which checks none) and array arguments."""
    counts: collections.Counter[str] = collections.Counter()
    hints = dict(field_hints(type(layer))) if layer is not None else {}
    for field in dataclasses.fields(layer) if layer is not None else ():
        hint = _array_hint(hints.get(field.name))
        if hint is not None and _is_array(getattr(layer, field.name)):
            counts.update(_name_list(hint))
    for argument in arguments:
        if argument.hint is not None:
            counts.update(_name_list(argument.hint))
    return {name for name, count in counts.items() if count >= 2}


def _jaxpr(layer: Any, method: str, arguments: list[_Argument], values: dict[str, Any]) -> str:
    arrays, static = eqx.partition((layer, values), _is_array)

    def traced(arrays: Any) -> Any:
        layer, values = eqx.combine(arrays, static)
        return _call(layer, method, arguments, values)

    return str(jax.make_jaxpr(traced)(arrays))


# --------------------------------------------------------------------------------------------
# Dimension strings
# --------------------------------------------------------------------------------------------

_Kind = Literal["named", "fixed", "variadic", "anonymous", "anonymous_variadic", "symbolic"]


@dataclass(frozen=True)
class _Dim:
    """One entry of a jaxtyping dimension string."""

    kind: _Kind
    text: str  # the name, the size or the expression; "" when anonymous


def _parse(dim_str: str) -> tuple[_Dim, ...]:
    """The entries of a jaxtyping dimension string, read with jaxtyping's own grammar."""
    dims = []
    for elem in dim_str.split():
        if elem == "...":
            dims.append(_Dim("anonymous_variadic", ""))
            continue
        variadic = anonymous = False
        while elem:
            if elem[0] in "#?":  # broadcastable, tree-path dependent: sized as usual
                elem = elem[1:]
            elif elem[0] == "*":
                variadic, elem = True, elem[1:]
            elif elem[0] == "_":
                anonymous, elem = True, elem[1:]
            elif elem.count("=") == 1:  # `rows=3` is the fixed size 3
                elem = elem.split("=")[1]
            else:
                break
        if anonymous or not elem:
            dims.append(_Dim("anonymous_variadic" if variadic else "anonymous", ""))
        elif variadic:
            dims.append(_Dim("variadic", elem))
        elif elem.isidentifier():
            dims.append(_Dim("named", elem))
        elif elem.isdigit():
            dims.append(_Dim("fixed", elem))
        else:
            dims.append(_Dim("symbolic", elem))
    return tuple(dims)


def _is_array(value: Any) -> bool:
    """An array, or an abstract one."""
    return isinstance(value, jax.Array | jax.ShapeDtypeStruct)


def _is_array_hint(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, AbstractArray)


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _array_hint(hint: Any) -> Any:
    """The array type of an annotation (the first array member of a union), or None."""
    if _is_array_hint(hint):
        return hint
    if _is_union(hint):
        return next((m for m in typing.get_args(hint) if _is_array_hint(m)), None)
    return None


def _name_list(hint: Any) -> list[str]:
    """The named and variadic dims of an array annotation, with repeats."""
    return [d.text for d in _parse(hint.dim_str) if d.kind in ("named", "variadic")]


def _names(hint: Any) -> set[str]:
    return set(_name_list(hint))


def _hint_name(hint: Any) -> str:
    """An annotation as written: `Float[Array, 'seq embed']`, not jaxlib's class names."""
    if hint is None:
        return "(none)"
    name = hint.__name__ if _is_array_hint(hint) else repr(hint)
    name = re.sub(r"\bjaxlib\._jax\.Array\b|\bjax\.Array\b", "Array", name)
    return re.sub(r"\b(?:jaxtyping|typing)\.", "", name).replace("NoneType", "None")


def _describe(value: Any) -> str:
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"{dtype}[{', '.join(str(s) for s in shape)}]"
    if isinstance(value, tuple):
        return "(" + ", ".join(_describe(v) for v in value) + ")"
    return type(value).__qualname__


# --------------------------------------------------------------------------------------------
# Sizes, drawn lazily
# --------------------------------------------------------------------------------------------


class _Sizes(Mapping[str, int]):
    """The size of each dim, drawn with hypothesis the first time it is read.

    Dims without a `DimSpec` get distinct sizes, so that a swapped axis cannot pass.
    `reading()` records the names read inside it (not those a derived size reads).
    """

    def __init__(self, data: st.DataObject, specs: Mapping[str, DimSpec]) -> None:
        self._data = data
        self._specs = specs
        self._sizes: dict[str, int] = {}
        self.variadics: dict[str, tuple[int, ...]] = {}
        self._drawing: list[str] = []
        self._reads: set[str] | None = None

    def __getitem__(self, name: str) -> int:
        if self._reads is not None and not self._drawing:  # a read of its own, not a DimSpec's
            self._reads.add(name)
        if name not in self._sizes:
            if name in self._drawing:
                cycle = " -> ".join([*self._drawing, name])
                raise ValueError(f"check_layer: the sizes in dims depend on each other: {cycle}")
            self._drawing.append(name)
            try:
                self._sizes[name] = self._draw(name)
            finally:
                self._drawing.pop()
        return self._sizes[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._sizes)

    def __len__(self) -> int:
        return len(self._sizes)

    def __contains__(self, name: object) -> bool:
        return name in self._sizes  # drawn already; reading would draw it

    def __repr__(self) -> str:
        drawn = [f"{k}={v}" for k, v in self._sizes.items()]
        drawn += [f"*{k}={v}" for k, v in self.variadics.items()]
        return ", ".join(drawn)

    def known(self) -> dict[str, int]:
        """The sizes drawn so far."""
        return dict(self._sizes)

    def _draw(self, name: str) -> int:
        spec = self._specs.get(name)
        size: Any
        if spec is None:
            used = set(self._sizes.values())
            strategy = st.integers(*_SIZES).filter(lambda v: v not in used)
            size = self._data.draw(strategy, label=name)
        elif isinstance(spec, st.SearchStrategy):
            size = self._data.draw(spec, label=name)
        elif callable(spec):
            size = spec(self)
        else:
            size = spec
        if not isinstance(size, int | np.integer) or isinstance(size, bool) or size < 0:
            raise ValueError(f"check_layer: dims[{name!r}] gave {size!r}, not a size (an int >= 0)")
        return int(size)

    def variadic(self, name: str) -> tuple[int, ...]:
        """The sizes of the variadic dim `*name` (`dims["*name"]` may set them)."""
        if name not in self.variadics:
            spec: Any = self._specs.get(f"*{name}", _VARIADIC)
            drawn = self._data.draw(spec, label=f"*{name}") if _is_strategy(spec) else spec
            self.variadics[name] = tuple(int(s) for s in drawn)
        return self.variadics[name]

    def anonymous(self) -> int:
        """A size for `_`: any, drawn afresh."""
        size: int = self._data.draw(st.integers(1, 4), label="_")
        return size

    def anonymous_variadic(self) -> tuple[int, ...]:
        """Sizes for `...`: any, drawn afresh."""
        sizes: tuple[int, ...] = self._data.draw(_VARIADIC, label="...")
        return sizes

    @contextlib.contextmanager
    def reading(self) -> Iterator[set[str]]:
        """Record the names read inside the block."""
        previous, self._reads = self._reads, set()
        try:
            yield self._reads
        finally:
            self._reads = previous


def _is_strategy(value: object) -> bool:
    return isinstance(value, st.SearchStrategy)


class _Bumped(Mapping[str, int]):
    """The drawn sizes with one dim one larger (for a variadic dim, its first axis)."""

    def __init__(self, sizes: _Sizes, name: str) -> None:
        self._sizes, self._name = sizes, name

    def __getitem__(self, name: str) -> int:
        return self._sizes[name] + (1 if name == self._name else 0)

    def __iter__(self) -> Iterator[str]:
        return iter(self._sizes)

    def __len__(self) -> int:
        return len(self._sizes)

    def variadic(self, name: str) -> tuple[int, ...]:
        sizes = self._sizes.variadic(name)
        return (sizes[0] + 1, *sizes[1:]) if name == self._name and sizes else sizes

    def anonymous(self) -> int:
        return self._sizes.anonymous()

    def anonymous_variadic(self) -> tuple[int, ...]:
        return self._sizes.anonymous_variadic()


def _shape(hint: Any, sizes: _Sizes | _Bumped) -> tuple[int, ...]:
    """The shape of an array annotation at these sizes."""
    shape: list[int] = []
    for dim in _parse(hint.dim_str):
        if dim.kind == "named":
            shape.append(sizes[dim.text])
        elif dim.kind == "fixed":
            shape.append(int(dim.text))
        elif dim.kind == "variadic":
            shape.extend(sizes.variadic(dim.text))
        elif dim.kind == "anonymous":
            shape.append(sizes.anonymous())
        elif dim.kind == "anonymous_variadic":
            shape.extend(sizes.anonymous_variadic())
        else:  # symbolic: a Python expression of other dims, as jaxtyping evaluates it
            shape.append(int(eval(dim.text, {"__builtins__": builtins}, sizes)))
    return tuple(shape)


def _dtype(hint: Any) -> Any:
    """The dtype to draw: float32, int32, uint32, bool or a key when the annotation allows
    it, else the first dtype it lists."""
    dtypes = hint.dtypes
    if not isinstance(dtypes, tuple):  # Shaped: any dtype
        return jnp.float32
    for preferred in ("float32", "int32", "uint32", "bool", "prng_key"):
        if preferred in dtypes:
            return preferred
    return np.dtype(dtypes[0])


def _abstract_array(hint: Any, shape: tuple[int, ...]) -> jax.ShapeDtypeStruct:
    dtype = _dtype(hint)
    if dtype == "prng_key":
        keys: jax.ShapeDtypeStruct = jax.eval_shape(
            lambda: jax.random.split(jax.random.key(0), shape) if shape else jax.random.key(0)
        )
        return keys
    return jax.ShapeDtypeStruct(shape, dtype)  # type: ignore[no-untyped-call]


# --------------------------------------------------------------------------------------------
# A result against its annotation, at the drawn sizes
# --------------------------------------------------------------------------------------------


def _mismatch(value: Any, hint: Any, sizes: _Sizes, bound: dict[str, Any]) -> str:
    """Why `value` does not fit `hint` at the drawn sizes, or "" when it does.

    Dims that were not drawn (the layer decides them by itself) are bound, in `bound`, by
    their first occurrence.
    """
    if hint is Any:
        return ""
    if hint is None or hint is type(None):
        return "" if value is None else f"expected None, got {_describe(value)}"
    if _is_array_hint(hint):
        return _array_mismatch(value, hint, sizes, bound)
    if typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        if args and args[-1] is not Ellipsis:
            if not isinstance(value, tuple) or len(value) != len(args):
                return f"expected a tuple of {len(args)} values, got {_describe(value)}"
            for index, (item, item_hint) in enumerate(zip(value, args, strict=True)):
                reason = _mismatch(item, item_hint, sizes, bound)
                if reason:
                    return f"item {index}: {reason}"
            return ""
    if _is_union(hint):
        reasons = [_mismatch(value, m, sizes, dict(bound)) for m in typing.get_args(hint)]
        return "" if "" in reasons else reasons[0]
    if isinstance(hint, type) and issubclass(hint, TypedModule):
        if not isinstance(value, hint):
            return f"expected {hint.__name__}, got {_describe(value)}"
        hints = dict(field_hints(hint))
        scope: dict[str, Any] = {}  # a module's fields bind dims in a scope of their own
        for field in dataclasses.fields(hint):
            field_hint = hints.get(field.name)
            if _array_hint(field_hint) is not None:
                reason = _mismatch(getattr(value, field.name), field_hint, sizes, scope)
                if reason:
                    return f"field {field.name!r}: {reason}"
        return ""
    return (
        "" if is_bearable(value, hint) else f"expected {_hint_name(hint)}, got {_describe(value)}"
    )


def _array_mismatch(value: Any, hint: Any, sizes: _Sizes, bound: dict[str, Any]) -> str:
    if not _is_array(value):
        return f"expected a JAX array, got {_describe(value)}"
    dtypes = hint.dtypes
    is_key = jnp.issubdtype(value.dtype, jax.dtypes.prng_key)
    if isinstance(dtypes, tuple) and value.dtype.name not in dtypes:
        if not (is_key and "prng_key" in dtypes):
            return f"expected a dtype of {hint.__name__}, got {value.dtype}"
    dims = _parse(hint.dim_str)
    shape = tuple(value.shape)
    split = next((i for i, d in enumerate(dims) if d.kind.endswith("variadic")), None)
    if split is None:
        if len(shape) != len(dims):
            return f"expected {len(dims)} axes ({hint.dim_str.strip()}), got shape {shape}"
        pairs = list(zip(dims, shape, strict=True))
    else:
        if len(shape) < len(dims) - 1:
            return f"expected at least {len(dims) - 1} axes ({hint.dim_str}), got shape {shape}"
        tail = len(dims) - split - 1
        middle = shape[split : len(shape) - tail]
        pairs = list(zip(dims[:split], shape[:split], strict=True))
        pairs += list(zip(dims[split + 1 :], shape[len(shape) - tail :], strict=True))
        variadic = dims[split]
        if variadic.kind == "variadic":
            name = variadic.text
            if name in sizes.variadics:
                expected = sizes.variadics[name]
            else:
                expected = bound.setdefault(f"*{name}", middle)
            if tuple(expected) != middle:
                return f"*{name} should be {tuple(expected)}, got {middle} (shape {shape})"
    known = sizes.known()
    for dim, size in pairs:
        if dim.kind == "named":
            expected_size = (
                known[dim.text] if dim.text in known else bound.setdefault(dim.text, size)
            )
        elif dim.kind == "fixed":
            expected_size = int(dim.text)
        elif dim.kind == "symbolic":
            try:
                expected_size = int(eval(dim.text, {"__builtins__": builtins}, known))
            except NameError:  # depends on a dim the layer decides
                continue
        else:
            continue
        if size != expected_size:
            return f"{dim.text} should be {expected_size}, got {size} (shape {shape})"
    return ""
