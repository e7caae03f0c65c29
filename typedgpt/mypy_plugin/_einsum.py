"""Shape rule of `jnp.einsum` with a literal spec, on `Dim` tuples, free of mypy.

As in `_shapes`, the rule is conservative: an operand of unknown rank leaves its letters
unknown, and only a certain mismatch (a letter bound to two dims, a term of the wrong rank)
raises `ShapeError`.
"""

from collections.abc import Sequence

from ._dims import ANY_DIM, GRADUAL, Dim, Shape, same, show, variadic_index
from ._shapes import ShapeError

# --------------------------------------------------------------------------- einsum


def einsum(spec: str, operands: Sequence[Shape]) -> Shape:
    """`jnp.einsum(spec, *operands)` with a literal spec: letters bind dims across operands;
    `...` stands for the same run of dims in each operand that has it (else unknown)."""
    if "." in spec.replace("...", ""):
        return GRADUAL  # not a spec einsum takes; JAX says why
    compact = spec.replace(" ", "").replace("...", ".")
    if compact.count("->") > 1:
        raise ShapeError(
            f'einsum "{spec}" has {compact.count("->")} "->": a spec has one, between the '
            "operands and the output"
        )
    inputs, arrow, output = compact.partition("->")
    if "," in output:
        raise ShapeError(
            f'einsum "{spec}": the output "{output.replace(".", "...")}" has a ",": einsum '
            "makes one array, so the output is one term"
        )
    terms = inputs.split(",")
    if len(terms) != len(operands):
        raise ShapeError(
            f'einsum "{spec}" names {len(terms)} operands but is given {len(operands)}'
        )
    if any(term.count(".") > 1 for term in [*terms, output]):
        return GRADUAL
    letters: dict[str, Dim] = {}
    where: dict[str, tuple[int, int]] = {}  # the operand and axis a letter was bound at
    runs: list[Shape] = []  # what `...` stands for, in each operand that has it
    for n, (term, dims) in enumerate(zip(terms, operands, strict=True), start=1):
        if variadic_index(dims) is not None:
            if "." in term:
                return GRADUAL
            for letter in term:
                letters.setdefault(letter, ANY_DIM)
            continue
        named = term.replace(".", "")
        if len(named) != len(dims) if "." not in term else len(named) > len(dims):
            raise ShapeError(
                f'einsum "{spec}": operand {n} is {show(dims)}, {len(dims)} dims, but '
                f'"{term.replace(".", "...")}" names {len(named)}'
                f"{' and ...' if '.' in term else ''}"
            )
        axes = list(range(len(dims)))
        if "." in term:
            start = term.index(".")
            stop = len(dims) - (len(term) - start - 1)
            runs.append(dims[start:stop])
            dims = (*dims[:start], *dims[stop:])
            axes = [*axes[:start], *axes[stop:]]
        for letter, dim, ax in zip(named, dims, axes, strict=True):
            seen = letters.get(letter)
            if seen is None or not seen.definite:
                letters[letter] = dim
                where[letter] = (n, ax)
            elif not same(seen, dim):
                raise ShapeError(_conflict(spec, letter, (seen, *where[letter]), (dim, n, ax)))
    if not arrow:
        counts = {c: inputs.count(c) for c in inputs if c not in ",."}
        output = ("." if runs else "") + "".join(sorted(c for c, k in counts.items() if k == 1))
    for letter in output.replace(".", ""):
        if letter not in letters:
            raise ShapeError(f'einsum "{spec}": output letter {letter} is in no operand')
        if output.count(letter) > 1:
            raise ShapeError(
                f'einsum "{spec}": output letter {letter} is repeated: each axis of the output '
                "needs a letter of its own"
            )
    run = _one_run(runs)
    if run is None and (any(runs) or "." in output):
        return GRADUAL  # runs that differ broadcast; the plugin does not follow that
    return tuple(d for c in output for d in (run or () if c == "." else (letters[c],)))


def _conflict(
    spec: str, letter: str, first: tuple[Dim, int, int], then: tuple[Dim, int, int]
) -> str:
    """Why `letter` cannot stand for both dims: it is bound in two operands, or repeated in
    one (a diagonal, which needs one dim on both axes)."""
    (seen, n, ax), (dim, m, bx) = first, then
    if n != m:
        return f'einsum "{spec}": {letter} is {seen} in operand {n} but {dim} in operand {m}'
    return (
        f'einsum "{spec}": {letter} names axis {ax} ({seen}) and axis {bx} ({dim}) of operand '
        f"{n}: a letter repeated in one operand takes a diagonal, which needs one dim on both "
        "axes; give each axis its own letter"
    )


def _one_run(runs: list[Shape]) -> Shape | None:
    """The run of dims `...` stands for: the longest operand's, when each other's is its
    tail (broadcasting adds leading dims); `None` when they differ otherwise."""
    longest = max(runs, key=len, default=())
    for run in runs:
        tail = longest[len(longest) - len(run) :]
        if not all(map(same, run, tail)):
            return None
    return longest
