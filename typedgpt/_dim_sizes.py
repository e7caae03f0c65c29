"""Sizes for `typedgpt.testing`: jaxtyping dimension strings, and sizes drawn for their dims.

`parse` reads a dimension string with jaxtyping's own grammar. `Sizes` draws the size of each
dim with hypothesis the first time a layer or an input reads it, as `check_layer`'s `dims`
says or else distinct from the others; `Bumped` is the same sizes with one dim one larger.
`shape` and `abstract_array` give the abstract array an annotation names at those sizes.
"""

import builtins
import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import strategies as st

if TYPE_CHECKING:
    from .testing import DimSpec

_SIZES = (1, 12)  # a dim without a DimSpec gets a size in this range, distinct from others
_VARIADIC = st.lists(st.integers(1, 4), max_size=2).map(tuple)


# --------------------------------------------------------------------------------------------
# Dimension strings
# --------------------------------------------------------------------------------------------

_Kind = Literal["named", "fixed", "variadic", "anonymous", "anonymous_variadic", "symbolic"]


@dataclass(frozen=True)
class _Dim:
    """One entry of a jaxtyping dimension string."""

    kind: _Kind
    text: str  # the name, the size or the expression; "" when anonymous
    broadcastable: bool = False  # `#name`: size 1 stands for any size


def parse(dim_str: str) -> tuple[_Dim, ...]:
    """The entries of a jaxtyping dimension string, read with jaxtyping's own grammar."""
    dims = []
    for elem in dim_str.split():
        if elem == "...":
            dims.append(_Dim("anonymous_variadic", ""))
            continue
        variadic = anonymous = broadcastable = False
        while elem:
            if elem[0] in "#?":  # broadcastable, tree-path dependent: sized as usual
                broadcastable, elem = broadcastable or elem[0] == "#", elem[1:]
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
            dims.append(_Dim("variadic", elem, broadcastable))
        elif elem.isidentifier():
            dims.append(_Dim("named", elem, broadcastable))
        elif elem.isdigit():
            dims.append(_Dim("fixed", elem))
        else:
            dims.append(_Dim("symbolic", elem))
    return tuple(dims)


# --------------------------------------------------------------------------------------------
# Sizes, drawn lazily
# --------------------------------------------------------------------------------------------


class Sizes(Mapping[str, int]):
    """The size of each dim, drawn with hypothesis the first time it is read.

    Dims without a `DimSpec` get distinct sizes, so that a swapped axis cannot pass.
    `reading()` records the names read inside it (not those a derived size reads).
    """

    def __init__(self, data: st.DataObject, specs: Mapping[str, "DimSpec"]) -> None:
        self._data = data
        self._specs = specs
        self._sizes: dict[str, int] = {}
        self.variadics: dict[str, tuple[int, ...]] = {}
        self._drawing: list[str] = []
        self._reads: set[str] | None = None

    def __getitem__(self, name: str) -> int:
        if self._reads is not None and not self._drawing:  # a read of its own, not a DimSpec's
            self._reads.add(name)
        if name.startswith("*"):  # a variadic dim: its tuple of sizes, as `dims` may set it
            return self.variadic(name[1:])  # type: ignore[return-value]
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


class Bumped(Mapping[str, int]):
    """The drawn sizes with one dim one larger (for a variadic dim, its first axis)."""

    def __init__(self, sizes: Sizes, name: str) -> None:
        self._sizes, self._name = sizes, name
        self.unbumped = sizes

    def __getitem__(self, name: str) -> int:
        if name.startswith("*"):
            return self.variadic(name[1:])  # type: ignore[return-value]
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


def shape(
    hint: Any, sizes: Sizes | Bumped, context: Mapping[str, Any] | None = None
) -> tuple[int, ...]:
    """The shape of an array annotation at these sizes; a symbolic axis may also read the
    call's other arguments by name (`context`: `self`, an int `k`), as jaxtyping lets it."""
    shape: list[int] = []
    for dim in parse(hint.dim_str):
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
            shape.append(_symbolic(dim.text, sizes, context or {}))
    return tuple(shape)


def _symbolic(text: str, sizes: Sizes | Bumped, context: Mapping[str, Any]) -> int:
    """A symbolic axis as jaxtyping computes it: `{...}` parts formatted with the call's
    arguments (`{self.num_heads}`), then the expression evaluated with the dims and, for
    names that are no dim, the arguments (`seq-k`); builtins such as `max` stay builtins."""
    namespace = {"__builtins__": builtins, **context}
    if "{" in text:
        text = eval(f"f'{text}'", namespace)
    return int(eval(text, namespace, _Scope(sizes, context)))


class _Scope(Mapping[str, Any]):
    """The names a symbolic axis reads: drawn dims, else the call's arguments, else a new
    dim drawn (a builtin's name falls through to the builtin)."""

    def __init__(self, sizes: Sizes | Bumped, context: Mapping[str, Any]) -> None:
        self._sizes, self._context = sizes, context

    def __getitem__(self, name: str) -> Any:
        drawn = self._sizes.unbumped if isinstance(self._sizes, Bumped) else self._sizes
        if name not in drawn and (name in self._context or hasattr(builtins, name)):
            return self._context[name]  # a KeyError sends eval on to the builtins
        return self._sizes[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._sizes)

    def __len__(self) -> int:
        return len(self._sizes)


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


def abstract_array(hint: Any, shape: tuple[int, ...]) -> jax.ShapeDtypeStruct:
    dtype = _dtype(hint)
    if dtype == "prng_key":
        keys: jax.ShapeDtypeStruct = jax.eval_shape(
            lambda: jax.random.split(jax.random.key(0), shape) if shape else jax.random.key(0)
        )
        return keys
    return jax.ShapeDtypeStruct(shape, dtype)  # type: ignore[no-untyped-call]
