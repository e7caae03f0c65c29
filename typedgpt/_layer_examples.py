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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import equinox as eqx
import jax
from hypothesis import strategies as st
from jaxtyping import PRNGKeyArray, TypeCheckError

from ._dim_sizes import Bumped, Sizes, abstract_array, shape
from ._hints import field_hints, method_hints
from ._layer_hints import array_hint, describe, hint_name, is_array, mismatch, name_list, names
from ._typed import TypedModule, set_checks

if TYPE_CHECKING:
    from .testing import DimSpec, InputMaker, LayerMaker


@dataclass(frozen=True)
class _Argument:
    """One argument of the method under test, and how to draw it."""

    name: str
    positional_only: bool
    hint: Any  # its array annotation, or None
    maker: "InputMaker | None"  # from `inputs`; None: drawn from `hint`
    key: PRNGKeyArray

    def make(self, sizes: "Sizes | Bumped") -> Any:
        """The argument at these sizes, abstract: arrays are `jax.ShapeDtypeStruct`s."""
        if self.maker is not None:
            maker = self.maker
            return eqx.filter_eval_shape(lambda key: maker(sizes, key), self.key)
        return abstract_array(self.hint, shape(self.hint, sizes))


def _call(layer: Any, method: str, arguments: list[_Argument], values: dict[str, Any]) -> Any:
    positional = [values[a.name] for a in arguments if a.positional_only]
    keyword = {a.name: values[a.name] for a in arguments if not a.positional_only}
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
    reason = mismatch(out, hints.get("return", Any), sizes, {})
    if reason:
        raise AssertionError(
            f"{where} returned {describe(out)}, which does not fit its annotation "
            f"{hint_name(hints.get('return'))} at the drawn sizes ({sizes!r}): {reason}"
        )

    # 2. One dim of one input made inconsistent is rejected, naming the dim.
    shared = _shared_dims(layer if has_fields else None, arguments)
    candidates = sorted(
        {name for a in arguments if a.hint is not None for name in names(a.hint)}
        & (shared | (layer_dims if has_fields else set()))
    )
    for name in candidates:
        if name in sizes.variadics and not sizes.variadics[name]:
            continue  # no axis to make larger
        holders = [a for a in arguments if a.hint is not None and name in names(a.hint)]
        chosen = data.draw(st.sampled_from([a.name for a in holders]), label=f"{name} larger in")
        target = next(a for a in holders if a.name == chosen)
        bumped = Bumped(sizes, name)
        changed = {**values, target.name: target.make(bumped)}
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
    arguments = []
    for index, parameter in enumerate(parameters):
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        hint = array_hint(hints.get(parameter.name))
        maker = makers.get(parameter.name)
        if maker is None and hint is None:
            if parameter.default is not parameter.empty:
                continue
            raise TypeError(
                f"check_layer cannot draw argument {parameter.name!r} of {where}, annotated "
                f"{hint_name(hints.get(parameter.name))}: pass "
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
        hint = array_hint(hints.get(field.name))
        if hint is not None and is_array(getattr(layer, field.name)):
            counts.update(name_list(hint))
    for argument in arguments:
        if argument.hint is not None:
            counts.update(name_list(argument.hint))
    return {name for name, count in counts.items() if count >= 2}


def _jaxpr(layer: Any, method: str, arguments: list[_Argument], values: dict[str, Any]) -> str:
    arrays, static = eqx.partition((layer, values), is_array)

    def traced(arrays: Any) -> Any:
        layer, values = eqx.combine(arrays, static)
        return _call(layer, method, arguments, values)

    return str(jax.make_jaxpr(traced)(arrays))
