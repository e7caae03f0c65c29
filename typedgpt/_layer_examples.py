"""One example of `typedgpt.testing.check_layer`: draw the sizes, build, call and break.

`check_example` builds the layer and the method's arguments at the sizes of one hypothesis
example, abstractly (`equinox.filter_eval_shape`), and checks `check_layer`'s three
properties: the consistent call returns what its annotation says, one dim of one input made
one larger is rejected, and the traced program is the same with checks on and off.
"""

import collections
import dataclasses
import difflib
import inspect
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import equinox as eqx
import jax
from hypothesis import strategies as st
from jaxtyping import PRNGKeyArray, TypeCheckError

from ._dim_sizes import Bumped, Sizes, abstract_array, parse, shape
from ._hints import field_hints, method_hints
from ._layer_hints import array_hint, describe, hint_name, is_array, mismatch, names
from ._typed import TypedModule, set_checks

if TYPE_CHECKING:
    from .testing import DimSpec, InputMaker, LayerMaker


# How an argument is passed: by position, by keyword, as the items of `*name` or of
# `**name`, or by position with its default (so that the arguments after it can follow).
_Pass = Literal["positional", "keyword", "items", "keywords", "default"]


@dataclass(frozen=True)
class _Argument:
    """One argument of the method under test, and how to draw it."""

    name: str
    passed: _Pass
    hint: Any  # its array annotation, or None
    maker: "InputMaker | None"  # from `inputs`; None: drawn from `hint`
    key: PRNGKeyArray
    default: Any = None  # passed as it is, for "default"

    def make(self, sizes: "Sizes | Bumped", context: Mapping[str, Any]) -> Any:
        """The argument at these sizes, abstract: arrays are `jax.ShapeDtypeStruct`s. A
        symbolic axis may read `context`, the call's other arguments by name."""
        if self.passed == "default":
            return self.default
        if self.maker is not None:
            maker = self.maker
            return eqx.filter_eval_shape(lambda key: maker(sizes, key), self.key)
        if self.passed == "items":  # two items that share their dims; a bumped dim: the second
            first = sizes.unbumped if isinstance(sizes, Bumped) else sizes
            return tuple(
                abstract_array(self.hint, shape(self.hint, s, context)) for s in (first, sizes)
            )
        return abstract_array(self.hint, shape(self.hint, sizes, context))


def _call(layer: Any, method: str, arguments: list[_Argument], values: dict[str, Any]) -> Any:
    if isinstance(inspect.getattr_static(type(layer), method, None), property):
        return getattr(layer, method)
    positional: list[Any] = []
    keyword: dict[str, Any] = {}
    for a in arguments:
        if a.passed in ("positional", "default"):
            positional.append(values[a.name])
        elif a.passed == "items":
            positional.extend(values[a.name])
        elif a.passed == "keywords":
            keyword.update(values[a.name])
        else:
            keyword[a.name] = values[a.name]
    return getattr(layer, method)(*positional, **keyword)


def check_example(
    make_layer: "LayerMaker",
    method: str,
    specs: Mapping[str, "DimSpec"],
    makers: Mapping[str, "InputMaker"],
    data: st.DataObject,
    key: PRNGKeyArray,
) -> None:
    sizes = Sizes(data, specs)
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
    elif isinstance(function, property):  # read, not called: its getter takes the module
        function = function.fget
    if not callable(function):
        raise AttributeError(f"{type(layer).__name__} has no method {method!r}")
    where = f"{type(layer).__name__}.{method}"
    hints = method_hints(type(layer), function)
    arguments = _arguments(function, hints, makers, where, input_key, bound=bound)
    # What a symbolic axis may read besides the dims: the module (or class) by the name of
    # its parameter, the defaults, and the arguments `inputs` makes, which are made first.
    parameters = inspect.signature(function).parameters
    context = {n: p.default for n, p in parameters.items() if p.default is not p.empty}
    first = next(iter(parameters), None)
    if bound and first is not None:
        context[first] = layer if has_fields else type(layer)
    values: dict[str, Any] = {}
    for argument in sorted(arguments, key=lambda a: a.hint is not None and a.maker is None):
        values[argument.name] = argument.make(sizes, context)
        if argument.hint is None or argument.maker is not None:
            context[argument.name] = values[argument.name]

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
    reason = mismatch(out, hints.get("return", Any), sizes, {})
    if reason:
        raise AssertionError(
            f"{where} returned {describe(out)}, which does not fit its annotation "
            f"{hint_name(hints.get('return'))} at the drawn sizes ({sizes!r}): {reason}"
        )

    # 2. One dim of one input made inconsistent is rejected, naming the dim.
    shared = _shared_dims(layer if has_fields else None, arguments)
    drawn = [a for a in arguments if a.hint is not None]
    candidates = sorted(
        {name for a in drawn for name in names(a.hint)}
        & (shared | (layer_dims if has_fields else set()))
    )
    broadcastable = _broadcastable(layer, arguments)
    for name in candidates:
        if name in sizes.variadics and not sizes.variadics[name]:
            continue  # no axis to make larger
        first_axis = sizes.variadics[name][0] if name in sizes.variadics else sizes[name]
        if first_axis == 1 and name in broadcastable:
            continue  # `#name` of size 1 broadcasts against any size: one larger is consistent
        holders = [a for a in drawn if name in names(a.hint)]
        chosen = data.draw(st.sampled_from([a.name for a in holders]), label=f"{name} larger in")
        target = next(a for a in holders if a.name == chosen)
        bumped = Bumped(sizes, name)
        changed = {**values, target.name: target.make(bumped, context)}
        what = (
            f'{where} with argument "{target.name}" {describe(changed[target.name])}, '
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
    makers: Mapping[str, "InputMaker"],
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
    # `*name` of arrays gets two items, after the arguments before it, passed by position.
    items = any(
        p.kind is p.VAR_POSITIONAL and (p.name in makers or array_hint(hints.get(p.name)))
        for p in parameters
    )
    arguments = []
    for index, parameter in enumerate(parameters):
        hint = array_hint(hints.get(parameter.name))
        maker = makers.get(parameter.name)
        passed: _Pass = "keyword"
        if parameter.kind is parameter.VAR_POSITIONAL:
            passed = "items"
        elif parameter.kind is parameter.VAR_KEYWORD:
            passed, hint = "keywords", None  # none drawn: only `inputs` makes them
        elif parameter.kind is parameter.POSITIONAL_ONLY or (
            items and parameter.kind is parameter.POSITIONAL_OR_KEYWORD
        ):
            passed = "positional"
        if maker is None and hint is None:
            if passed == "positional" and parameter.default is not parameter.empty:
                passed = "default"  # kept in place, for the positional arguments after it
            elif parameter.default is not parameter.empty or passed in ("items", "keywords"):
                continue
            else:
                raise TypeError(
                    f"check_layer cannot draw argument {parameter.name!r} of {where}, "
                    f"annotated {hint_name(hints.get(parameter.name))}: pass "
                    f"inputs={{{parameter.name!r}: lambda dims, key: ...}}"
                )
        argument_key = jax.random.fold_in(key, index)
        arguments.append(
            _Argument(parameter.name, passed, hint, maker, argument_key, parameter.default)
        )
    return arguments


def _shared_dims(layer: TypedModule | None, arguments: list[_Argument]) -> set[str]:
    """Dims the method binds in two places: array fields of the layer (`None` for a static
    or class method, which checks none) and array arguments, two for `*name`. A dim named
    twice in one value is not shared: one larger there is one larger in both places."""
    counts: collections.Counter[str] = collections.Counter()
    hints = dict(field_hints(type(layer))) if layer is not None else {}
    for field in dataclasses.fields(layer) if layer is not None else ():
        hint = array_hint(hints.get(field.name))
        if hint is not None and is_array(getattr(layer, field.name)):
            counts.update(names(hint))
    for argument in arguments:
        if argument.hint is not None:
            for _ in range(2 if argument.passed == "items" else 1):
                counts.update(names(argument.hint))
    return {name for name, count in counts.items() if count >= 2}


def _broadcastable(layer: Any, arguments: list[_Argument]) -> set[str]:
    """The dims written `#name` in the arguments or in the array fields of the layer and of
    the typed modules inside it."""
    found = {
        d.text
        for a in arguments
        if a.hint is not None
        for d in parse(a.hint.dim_str)
        if d.broadcastable
    }
    for module in _modules(layer):
        for _, hint in field_hints(type(module)):
            array = array_hint(hint)
            if array is not None:
                found |= {d.text for d in parse(array.dim_str) if d.broadcastable}
    return found


def _modules(node: Any) -> Iterator[TypedModule]:
    """`node` and every typed module inside its fields, lists, tuples and dicts."""
    if isinstance(node, TypedModule):
        yield node
        children: Any = [getattr(node, f.name, None) for f in dataclasses.fields(node)]
    elif isinstance(node, list | tuple | dict):
        children = node.values() if isinstance(node, dict) else node
    else:
        return
    for child in children:
        yield from _modules(child)


def _jaxpr(layer: Any, method: str, arguments: list[_Argument], values: dict[str, Any]) -> str:
    arrays, static = eqx.partition((layer, values), is_array)

    def traced(arrays: Any) -> Any:
        layer, values = eqx.combine(arrays, static)
        return _call(layer, method, arguments, values)

    return str(jax.make_jaxpr(traced)(arrays))
