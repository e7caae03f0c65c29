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
    """`jnp.einsum(spec, *operands)` with a literal spec: letters bind dims across operands."""
    compact = spec.replace(" ", "")
    if "." in compact:
        return GRADUAL
    inputs, arrow, output = compact.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(operands):
        raise ShapeError(
            f'einsum "{spec}" names {len(terms)} operands but is given {len(operands)}'
        )
    letters: dict[str, Dim] = {}
    where: dict[str, int] = {}
    for n, (term, dims) in enumerate(zip(terms, operands, strict=True), start=1):
        if variadic_index(dims) is not None:
            for letter in term:
                letters.setdefault(letter, ANY_DIM)
            continue
        if len(term) != len(dims):
            raise ShapeError(
                f'einsum "{spec}": operand {n} is {show(dims)}, {len(dims)} dims, but "{term}" '
                f"names {len(term)}"
            )
        for letter, dim in zip(term, dims, strict=True):
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
        counts = {c: inputs.count(c) for c in inputs if c != ","}
        output = "".join(sorted(c for c, k in counts.items() if k == 1))
    for letter in output:
        if letter not in letters:
            raise ShapeError(f'einsum "{spec}": output letter {letter} is in no operand')
    return tuple(letters[c] for c in output)
