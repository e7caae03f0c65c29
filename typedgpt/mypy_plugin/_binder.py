"""Binding a callee's own dims at a call, as jaxtyping's memo binds them at run time.

Free of mypy: patterns and actuals are `Dim` tuples. A callee's named dims are `own` (and
`ownvar` for `*name`): the first argument that meets one binds it, and every later use must
agree, else the mismatch is explained by where the dim was bound.
"""

from ._dims import (
    ANY_DIM,
    ANYVAR,
    GRADUAL,
    OWN,
    OWNVAR,
    Dim,
    Shape,
    normalise,
    same,
    show,
    variadic_index,
)


class Binder:
    """The bindings of a callee's own dims during one call, as jaxtyping's memo holds them."""

    def __init__(self) -> None:
        self.single: dict[str, Dim] = {}
        self.variadic: dict[str, Shape] = {}
        self.source: dict[str, str] = {}

    def bind(self, name: str, dim: Dim, source: str) -> None:
        """Bind an own dim directly (a size the call gives as an int, say)."""
        self.single[name] = dim
        self.source[name] = source

    def unify(self, pattern: Shape, actual: Shape, source: str) -> str | None:
        """Bind `pattern` (the callee's annotation) to `actual`; None when they agree.

        On a mismatch, returns the reason to show after the dims ("" when the dims alone say
        it, as for a different rank).
        """
        pairs, middle = _align(pattern, actual)
        if pairs is None:
            return ""
        saved = dict(self.single), dict(self.variadic), dict(self.source)
        for p, a in pairs:
            reason = self._pair(p, a, source)
            if reason is not None:
                self.single, self.variadic, self.source = saved
                return reason
        if middle is not None:
            p, dims = middle
            if p.kind == OWNVAR:
                assert isinstance(p.value, str)
                bound = self.variadic.get(p.value)
                if bound is None or (_vague(bound) and not _vague(dims)):
                    self.variadic[p.value] = dims
                    self.source[f"*{p.value}"] = source
                elif _differ(bound, dims):
                    reason = f'"*{p.value}" is {show(bound)}, from {self.source[f"*{p.value}"]}'
                    self.single, self.variadic, self.source = saved
                    return reason
        return None

    def _pair(self, p: Dim, a: Dim, source: str) -> str | None:
        if p.kind == OWN:
            assert isinstance(p.value, str)
            bound = self.single.get(p.value)
            if bound is None:
                if a.definite:
                    self.single[p.value] = a
                    self.source[p.value] = source
                return None
            if not same(bound, a):
                return f'"{p.value}" is {bound}, from {self.source[p.value]}'
            return None
        if not same(p, a):
            return p.typ if isinstance(p.typ, str) else ""
        return None

    def expected(self, pattern: Shape) -> Shape:
        """The pattern as far as it is bound, for messages (unbound dims keep their names)."""
        out: list[Dim] = []
        for p in pattern:
            if p.kind == OWN and isinstance(p.value, str) and p.value in self.single:
                out.append(self.single[p.value])
            elif p.kind == OWNVAR and isinstance(p.value, str) and p.value in self.variadic:
                out.extend(self.variadic[p.value])
            else:
                out.append(p)
        return tuple(out)

    def result(self, pattern: Shape) -> Shape:
        """The pattern with bound dims substituted; a dim bound by no argument is unknown."""
        out: list[Dim] = []
        for p in pattern:
            if p.kind == OWN:
                out.append(self.single.get(str(p.value), ANY_DIM))
            elif p.kind == OWNVAR:
                out.extend(self.variadic.get(str(p.value), GRADUAL))
            else:
                out.append(p)
        return normalise(out)


def _vague(dims: Shape) -> bool:
    """Holds `...`: a later argument may bind the dim more precisely."""
    return any(d.kind == ANYVAR for d in dims)


def _differ(a: Shape, b: Shape) -> bool:
    if variadic_index(a) is not None or variadic_index(b) is not None:
        return False
    return len(a) != len(b) or any(not same(x, y) for x, y in zip(a, b, strict=True))


def _align(
    pattern: Shape, actual: Shape
) -> tuple[list[tuple[Dim, Dim]] | None, tuple[Dim, Shape] | None]:
    """Pair each dim of the pattern with the dim of `actual` it must match.

    Returns the pairs (None for a certain difference in rank) and, when the pattern's
    variadic dim covers a known run of `actual` (which may hold `actual`'s own variadic dim),
    that dim and the run.
    """
    pv, av = variadic_index(pattern), variadic_index(actual)
    if pv is None and av is None:
        if len(pattern) != len(actual):
            return None, None
        return list(zip(pattern, actual, strict=True)), None
    if pv is not None and av is None:
        head, tail = pattern[:pv], pattern[pv + 1 :]
        if len(actual) < len(head) + len(tail):
            return None, None
        cut = len(actual) - len(tail)
        pairs = list(zip(head, actual[: len(head)], strict=True))
        pairs += list(zip(tail, actual[cut:], strict=True))
        return pairs, (pattern[pv], actual[len(head) : cut])
    if pv is None:
        assert av is not None
        a_head, a_tail = actual[:av], actual[av + 1 :]
        if len(a_head) + len(a_tail) > len(pattern):
            return None, None
        pairs = list(zip(pattern[: len(a_head)], a_head, strict=True))
        pairs += list(zip(pattern[len(pattern) - len(a_tail) :], a_tail, strict=True))
        return pairs, None
    assert av is not None
    p_head, p_tail = pattern[:pv], pattern[pv + 1 :]
    a_head, a_tail = actual[:av], actual[av + 1 :]
    h, t = min(len(p_head), len(a_head)), min(len(p_tail), len(a_tail))
    pairs = list(zip(p_head[:h], a_head[:h], strict=True))
    pairs += list(zip(p_tail[len(p_tail) - t :], a_tail[len(a_tail) - t :], strict=True))
    if len(p_head) <= len(a_head) and len(p_tail) <= len(a_tail):
        # `*shape` against `(*batch, seq)`: the pattern's variadic dim covers the actual's.
        run = actual[len(p_head) : len(actual) - len(p_tail)]
        return pairs, (pattern[pv], run)
    return pairs, None
