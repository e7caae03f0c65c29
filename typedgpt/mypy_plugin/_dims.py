"""Dimensions as the plugin sees them, and jaxtyping's dimension grammar.

A shape is a tuple of `Dim`. Inside a function body the named dims of its annotations are
rigid symbols (`seq` is not `embed`); at a call, the callee's own dims are per-call variables
(`own`, `ownvar`), bound afresh at each call as jaxtyping binds them at run time.
"""

import re
from dataclasses import dataclass, field

NAME = "name"  # a named dim, `seq`: a rigid symbol
SIZE = "size"  # a fixed size, `3` or `rows=3`
ANY = "any"  # one dim of unknown size: `_`, `#n`, `n+1`, anything not modelled (a value: its name)
VAR = "var"  # a named variadic dim, `*batch`: a rigid run of dims
ANYVAR = "anyvar"  # `...`: any number of dims of unknown size
TVAR = "tvar"  # a dim that is a type variable of a generic class (`Linear[In, Out]`)
OWN = "own"  # a callee's named dim, bound per call
OWNVAR = "ownvar"  # a callee's named variadic dim, bound per call

VARIADIC = frozenset({VAR, ANYVAR, OWNVAR})

# jaxtyping's dtype wrappers, by the names an annotation may use: `Float[Array, "seq embed"]`.
JAXTYPING_DTYPES = frozenset(
    "Shaped Float Int Bool Num Inexact Integer Real Complex UInt Key BFloat16 Float16 Float32 "
    "Float64 Int8 Int16 Int32 Int64 UInt8 UInt16 UInt32 UInt64 Complex64 Complex128".split()
)


@dataclass(frozen=True, slots=True)
class Dim:
    """One element of a shape: its kind, its value, and (for type variables) the mypy type."""

    kind: str
    value: str | int | None = None
    typ: object = field(default=None, compare=False, hash=False)

    def __str__(self) -> str:
        if self.kind == ANY:
            return "_" if self.value is None else str(self.value)
        if self.kind == ANYVAR:
            return "..."
        if self.kind in (VAR, OWNVAR):
            return f"*{self.value}"
        if self.kind == TVAR:
            return dim_name(str(self.value))
        return str(self.value)

    @property
    def definite(self) -> bool:
        """A single dim whose identity is known: a name, a size or a class type variable."""
        return self.kind in (NAME, SIZE, TVAR)


Shape = tuple[Dim, ...]

ANY_DIM = Dim(ANY)
ANY_DIMS = Dim(ANYVAR)
GRADUAL: Shape = (ANY_DIMS,)


def dim_name(type_variable: str) -> str:
    """The dim a module's type parameter stands for, as annotations name it: `Embed` is
    embed, `HeadDim` head_dim (the plugin matches them with case and `_` ignored)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type_variable).lower()


def show(dims: tuple[Dim, ...] | list[Dim]) -> str:
    """`(seq, embed)`, `(embed,)` or `()`, as a tuple of dims reads in Python."""
    parts = [str(d) for d in dims]
    if len(parts) == 1:
        return f"({parts[0]},)"
    return "(" + ", ".join(parts) + ")"


def dims_count(n: int) -> str:
    """`1 dim`, `2 dims`: how many dims, for messages."""
    return f"{n} dim" if n == 1 else f"{n} dims"


def variadic_index(dims: tuple[Dim, ...] | list[Dim]) -> int | None:
    """The position of the variadic dim, or None when the rank is known."""
    for index, dim in enumerate(dims):
        if dim.kind in VARIADIC:
            return index
    return None


def same(a: Dim, b: Dim) -> bool:
    """Whether two single dims may be the same size.

    Unknown dims may be anything, and a name may be any size (`heads` may be 4); two names,
    two sizes, or two type variables must be equal.
    """
    if not (a.definite and b.definite) or a == b:
        return True
    return (a.kind == SIZE) != (b.kind == SIZE)


def normalise(dims: tuple[Dim, ...] | list[Dim]) -> Shape:
    """At most one variadic dim survives; a shape with two becomes fully unknown."""
    if sum(d.kind in VARIADIC for d in dims) > 1:
        return GRADUAL
    return tuple(dims)


class DimSpecError(ValueError):
    """A dimension string that jaxtyping itself would reject."""


def parse_dims(spec: str) -> Shape:
    """Read a jaxtyping dimension string, as jaxtyping reads it at run time.

    Names (`seq`) and fixed sizes (`3`, also `rows=3`) are checked; `*batch` is a named run
    of dims and `...` an anonymous one; `_`, `_name`, `#name` (size 1 or name), `?name` and
    symbolic sizes (`n+1`) are one dim of unknown size. Raises `DimSpecError` where
    jaxtyping raises (two variadic dims, `*3`).
    """
    dims: list[Dim] = []
    for token in spec.split():
        if token == "...":
            dims.append(ANY_DIMS)
            continue
        variadic = broadcast = anonymous = treepath = False
        rest = token
        while rest:
            first = rest[0]
            if first == "#" and not broadcast:
                broadcast, rest = True, rest[1:]
            elif first == "*" and not variadic:
                variadic, rest = True, rest[1:]
            elif first == "_" and not anonymous:
                anonymous, rest = True, rest[1:]
            elif first == "?" and not treepath:
                treepath, rest = True, rest[1:]
            elif rest.count("=") == 1:
                rest = rest.split("=")[1]
            else:
                break
        if variadic:
            if rest.isdigit():
                raise DimSpecError(f'"{token}" in "{spec}": a fixed size cannot be variadic')
            named = rest.isidentifier() and not (anonymous or broadcast or treepath)
            dims.append(Dim(VAR, rest) if named else ANY_DIMS)
        elif rest.isdigit() and not (broadcast or anonymous):
            dims.append(Dim(SIZE, int(rest)))
        elif rest.isidentifier() and not (anonymous or broadcast or treepath):
            dims.append(Dim(NAME, rest))
        else:
            dims.append(ANY_DIM)
    if sum(d.kind in VARIADIC for d in dims) > 1:
        raise DimSpecError(f'"{spec}" has more than one variadic dim (`*name` or `...`)')
    return tuple(dims)
