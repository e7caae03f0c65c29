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
    inputs, arrow, output = compact.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(operands):
        raise ShapeError(
            f'einsum "{spec}" names {len(terms)} operands but is given {len(operands)}'
        )
    if any(term.count(".") > 1 for term in [*terms, output]):
        return GRADUAL
    letters: dict[str, Dim] = {}
    where: dict[str, int] = {}
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
        if "." in term:
            start = term.index(".")
            stop = len(dims) - (len(term) - start - 1)
            runs.append(dims[start:stop])
            dims = (*dims[:start], *dims[stop:])
        for letter, dim in zip(named, dims, strict=True):
            seen = letters.get(letter)
            if seen is None or not seen.definite:
                letters[letter] = dim
                where[letter] = n
            elif not same(seen, dim):
                raise ShapeError(
                    f'einsum "{spec}": {letter} is {seen} in operand {where[letter]} '
                    f"but {dim} in operand {n}"
                )
    if not arrow:
        counts = {c: inputs.count(c) for c in inputs if c not in ",."}
        output = ("." if runs else "") + "".join(sorted(c for c, k in counts.items() if k == 1))
    for letter in output.replace(".", ""):
        if letter not in letters:
            raise ShapeError(f'einsum "{spec}": output letter {letter} is in no operand')
    run = _one_run(runs)
    if run is None and (any(runs) or "." in output):
        return GRADUAL  # runs that differ broadcast; the plugin does not follow that
    return tuple(d for c in output for d in (run or () if c == "." else (letters[c],)))


def _one_run(runs: list[Shape]) -> Shape | None:
    """The run of dims `...` stands for: the longest operand's, when each other's is its
    tail (broadcasting adds leading dims); `None` when they differ otherwise."""
    longest = max(runs, key=len, default=())
    for run in runs:
        tail = longest[len(longest) - len(run) :]
        if not all(map(same, run, tail)):
            return None
    return longest
