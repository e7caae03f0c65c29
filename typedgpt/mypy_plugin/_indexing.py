"""Shape rule of indexing, `x[...]`, on `Dim` tuples, free of mypy.

As in `_shapes`, the rule is conservative: where a dim or a rank is unknown it says nothing,
and it raises `ShapeError` only for a certain mismatch (more entries than dims).
"""

from collections.abc import Sequence
from dataclasses import dataclass

from ._dims import (
    ANY_DIM,
    ANYVAR,
    GRADUAL,
    OWNVAR,
    SIZE,
    VAR,
    Dim,
    Shape,
    dims_count,
    normalise,
    same,
    show,
    variadic_index,
)
from ._shapes import ShapeError

# --------------------------------------------------------------------------- indexing


@dataclass(frozen=True)
class Index:
    """One entry of an index: `int`, `slice` (with a size when known), `none`, `ellipsis`,
    `array` (an integer array or boolean mask index, with its dims) or `unknown`."""

    kind: str
    size: int | None = None
    keeps: bool = False  # for a slice: `:` keeps the dim as it is
    dims: Shape = ()


def index(a: Shape, items: Sequence[Index]) -> Shape:
    """`x[...]` with ints, slices, None, `...` and at most one integer array."""
    if any(i.kind == "unknown" for i in items):
        return GRADUAL
    if sum(i.kind == "ellipsis" for i in items) > 1:
        return GRADUAL
    consuming = [i for i in items if i.kind in ("int", "slice", "array")]
    if variadic_index(a) is not None:
        return _index_variadic(a, items, consuming)
    if len(consuming) > len(a):
        entries = f"{len(consuming)} entr{'y' if len(consuming) == 1 else 'ies'}"
        raise ShapeError(f"index with {entries} for {show(a)}, which has {dims_count(len(a))}")
    if not any(i.kind == "ellipsis" for i in items):
        items = [*items, Index("ellipsis")]
    out: list[Dim] = []
    pos = 0
    arrays = [i for i in items if i.kind == "array"]
    if len(arrays) > 1:
        return GRADUAL
    for item in items:
        if item.kind == "ellipsis":
            span = len(a) - len(consuming)
            out.extend(a[pos : pos + span])
            pos += span
        elif item.kind == "none":
            out.append(ANY_DIM)  # size 1, but typed unknown: it broadcasts like any name
        elif item.kind == "int":
            pos += 1
        elif item.kind == "slice":
            out.append(a[pos] if item.keeps else _slice_size(a[pos], item.size))
            pos += 1
        elif _may_be_mask(item.dims, a[pos:]):
            if len(item.dims) > 1:  # a mask takes its dims' place, a gather one dim's
                return GRADUAL
            out.append(ANY_DIM)  # a mask keeps an unknown number of entries
            pos += 1
        else:  # an integer array: its dims take the place of the indexed dim
            out.extend(item.dims)
            pos += 1
    return normalise(out)


def _may_be_mask(index: Shape, rest: Shape) -> bool:
    """Whether an array index may be a boolean mask: dtypes are not read, but a mask has the
    dims it indexes (`x[x > 0]`), where an integer array's dims are its own (`table[tokens]`)."""
    return (
        0 < len(index) <= len(rest)
        and not any(d.kind in (VAR, ANYVAR, OWNVAR) for d in index)
        and all(same(d, r) for d, r in zip(index, rest, strict=False))
    )


def _slice_size(dim: Dim, size: int | None) -> Dim:
    if size is None:
        return ANY_DIM
    if dim.kind == SIZE and isinstance(dim.value, int):
        return Dim(SIZE, min(size, dim.value))
    return ANY_DIM


def _index_variadic(a: Shape, items: Sequence[Index], consuming: Sequence[Index]) -> Shape:
    # Leading ints and slices are known when they come before the variadic dim.
    v = variadic_index(a)
    assert v is not None
    if any(i.kind in ("array", "ellipsis") for i in items) or len(consuming) > v:
        return GRADUAL
    out: list[Dim] = []
    pos = 0
    for item in items:
        if item.kind == "none":
            out.append(ANY_DIM)
        elif item.kind == "int":
            pos += 1
        else:
            out.append(a[pos] if item.keeps else _slice_size(a[pos], item.size))
            pos += 1
    return normalise([*out, *a[pos:]])
