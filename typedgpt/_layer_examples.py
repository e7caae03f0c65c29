"""One example of `typedgpt.testing.check_layer`: draw the sizes, build, call and break.

`check_example` builds the layer and the method's arguments at the sizes of one hypothesis
example, abstractly (`equinox.filter_eval_shape`), and checks `check_layer`'s three
properties: the consistent call returns what its annotation says, one dim of one input made
one larger is rejected, and the traced program is the same with checks on and off.
"""

import difflib
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import equinox as eqx
import jax
from hypothesis import strategies as st
from jaxtyping import PRNGKeyArray, TypeCheckError

from ._dim_sizes import Bumped, Sizes, abstract_array, shape
from ._hints import method_hints
from ._layer_hints import (
    annotated_dims,
    array_hint,
    broadcastable_dims,
    describe,
    hint_name,
    is_array,
    mismatch,
    names,
    return_dims,
    shared_dims,
)
from ._mismatch import mentions_array
from ._shape_error import ShapeError
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
) -> set[str]:
    """Check one example; returns the dims it read, as `specs` names them (`*name`), and
    those of `specs` that an annotation of the layer names."""
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
    if not any(mentions_array(hint) for hint in hints.values()):
        raise TypeError(
            f"{where} has no array annotations, so check_layer has nothing to test: "
            'annotate its arrays, as in (self, x: Float[Array, "seq embed"]) -> ...'
        )
    if not getattr(function, "__typedgpt_checked__", False):
        raise TypeError(
            f"{where} is not checked at its calls: TypedModule checks __call__ and "
            "no other method whose name starts with a double underscore: rename it"
        )
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
        own = (  # its own result that failed, not its inputs, nor a nested call
            isinstance(error, ShapeError)
            and error.method == where
            and error.what.endswith("the return value")
        )
        done = "returned a value unlike its annotation at" if own else "rejected"
        error.add_note(f"check_layer: {where} {done} consistent sizes ({sizes!r})")
        raise
    for name in return_dims(hints.get("return")) & set(specs):  # sized by hand: check them
        _ = sizes.variadic(name[1:]) if name.startswith("*") else sizes[name]
    reason = mismatch(out, hints.get("return", Any), sizes, {})
    if reason:
        raise AssertionError(
            f"{where} returned {describe(out)}, which does not fit its annotation "
            f"{hint_name(hints.get('return'))} at the drawn sizes ({sizes!r}): {reason}"
        )

    # 2. One dim of one input made inconsistent is rejected, naming the dim.
    repeats = [(a.hint, 2 if a.passed == "items" else 1) for a in arguments if a.hint is not None]
    shared = shared_dims(layer if has_fields else None, repeats)
    drawn = [a for a in arguments if a.hint is not None]
    candidates = sorted(
        {name for a in drawn for name in names(a.hint)}
        & (shared | (layer_dims if has_fields else set()))
    )
    broadcastable = broadcastable_dims(layer, [a.hint for a in arguments])
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
        fix = (  # only make_layer's read says that the layer fixes it
            f": annotate the array field that holds {name} (as Float[Array, '... {name}']), "
            f"or, if the layer does not fix {name}, read no dims[{name!r}] in make_layer"
        )
        fix = "" if name in shared else fix
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
                f"{type(error).__name__}: {error}{fix}"
            ) from error
        raise AssertionError(f"{what} was accepted: the inconsistent {name} went unnoticed{fix}")

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
    read = set(sizes.known()) | {f"*{name}" for name in sizes.variadics}
    unread = set(specs) - read  # named by another method, perhaps: one `dims` for several
    return read | (unread & annotated_dims(layer)) if unread else read


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


def _jaxpr(layer: Any, method: str, arguments: list[_Argument], values: dict[str, Any]) -> str:
    arrays, static = eqx.partition((layer, values), is_array)

    def traced(arrays: Any) -> Any:
        layer, values = eqx.combine(arrays, static)
        return _call(layer, method, arguments, values)

    return str(jax.make_jaxpr(traced)(arrays))
