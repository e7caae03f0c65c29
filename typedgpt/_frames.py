"""The call stack of checked calls: which module each runs on, and what it did.

Each checked method call pushes a frame naming its module by its attribute path from the
outermost checked call (`GPT.blocks[*].attn.qkv_proj`), as `ShapeError` messages show it:
found among the caller's fields by identity, else as the one module of its type and shapes
(unless a stacked field could hold it), or named by `submodule()` for a module rebuilt on
the fly. One not found is named by its class alone, never guessed. While `recording()` (for
`explain`), each frame also keeps the calls it made, the dims it bound, and its arguments
and result as shapes and dtypes.
"""

import contextlib
import dataclasses
import threading
from collections.abc import Iterator
from typing import Any

import equinox as eqx
import jax
import numpy as np

from ._hints import _Argument, _Kind
from ._mismatch import get_shape_memo

_local = threading.local()


# Module paths: which module a checked call runs on, named from the outermost checked call.


class _Frame:
    """One active checked call: its module (`None` for a static or class method), and (when
    recording) what it bound and made."""

    def __init__(
        self,
        module: Any,
        method: str,
        parent: "_Frame | None",
        name: str | None,
        scan_length: int | None,
        *,
        owner: type | None = None,
        defined_in: type | None = None,
    ) -> None:
        self.module = module
        # The class named in messages. A static or class method has no module: its class
        # (`owner`) names it, as its path too. A base class's method that the module's class
        # overrides, run through `super()`, is named by the base class (`defined_in`).
        named = owner or defined_in
        self.owner = type(module).__name__ if named is None else named.__name__
        self.method = method
        self.parent = parent
        self.name = name  # given by `submodule()`: the attribute path below the parent
        self.scan_length = scan_length
        # A static or class method called from a method of its class's module sits there.
        at_caller = owner is not None and parent is not None and isinstance(parent.module, owner)
        self._path: str | None = None if owner is None or at_caller else self.owner
        self.lost: str | None = None  # the caller's `Class.method`, when not found in it
        # Filled only while recording for `explain`.
        self.calls: list[_Frame] | None = None
        self.dims: dict[str, Any] = {}
        self.arguments: dict[str, Any] = {}
        self.result: Any = None
        self.hints: dict[str, Any] = {}  # the annotations of `arguments`, and "return"

    @property
    def where(self) -> str:
        """`Class.method`."""
        return f"{self.owner}.{self.method}"

    @property
    def path(self) -> str:
        """The module's attribute path from the outermost checked call, found on first use."""
        if self._path is None:
            self._path = _path_of(self)
        return self._path


def _path_of(frame: _Frame) -> str:
    parent = frame.parent
    if parent is None:
        return type(frame.module).__name__
    base = parent.path
    if frame.name is not None:
        return base + (frame.name if frame.name.startswith("[") else f".{frame.name}")
    if frame.module is parent.module or frame.module is None:
        return base  # another method of the same module, or of its class
    found = _find(parent.module, frame.module)
    if found is not None:
        return base + found
    if type(frame.module) is type(parent.module) and _shapes(frame.module) == _shapes(
        parent.module
    ):
        return base  # the same module rebuilt, as when a method runs itself under jax.jit
    # Not found: no path rather than a guess. The class names it, and a note says where.
    frame.lost = parent.where
    return type(frame.module).__name__


def _submodules(node: Any, prefix: str, depth: int) -> Iterator[tuple[str, Any]]:
    """Each module inside `node`'s fields, lists, tuples and dicts, with its path suffix."""
    if depth == 0:
        return
    if isinstance(node, eqx.Module):
        items: list[tuple[str, Any]] = [
            (f"{prefix}.{f.name}", getattr(node, f.name, None)) for f in dataclasses.fields(node)
        ]
    elif isinstance(node, (list, tuple)):
        items = [(f"{prefix}[{i}]", item) for i, item in enumerate(node)]
    elif isinstance(node, dict):
        items = [(f"{prefix}[{key!r}]", item) for key, item in node.items()]
    else:
        return
    for suffix, child in items:
        if isinstance(child, eqx.Module):
            yield suffix, child
        if isinstance(child, (eqx.Module, list, tuple, dict)):
            yield from _submodules(child, suffix, depth - 1)


def _find(parent: Any, module: Any) -> str | None:
    """Where `module` lies inside `parent`: by identity, else the one module of its type and
    shapes (a copy, as `eqx.filter_jit` makes), unless another of its type could hold it
    stacked (`lax.scan` and `eqx.filter_vmap` slice layers, which then may look like another
    field); `None` when neither finds it."""
    candidates = list(_submodules(parent, "", depth=8))
    for suffix, child in candidates:
        if child is module:
            return suffix
    signature = _shapes(module)
    alike = [c for c in candidates if type(c[1]) is type(module)]
    same = [suffix for suffix, child in alike if _shapes(child) == signature]
    if len(same) != 1 or any(_stacks(_shapes(child), signature) for _, child in alike):
        return None
    return same[0]


def _stacks(outer: tuple[Any, ...], inner: tuple[Any, ...]) -> bool:
    """Whether `outer` is `inner` with axes in front of each array: a stack of it."""
    if outer[0] != inner[0] or len(outer) != len(inner):
        return False
    stacked = False
    for (outer_shape, outer_dtype), (shape, dtype) in zip(outer[1:], inner[1:], strict=True):
        if outer_shape is None or shape is None:
            if (outer_shape, outer_dtype) != (shape, dtype):
                return False
            continue
        extra = len(outer_shape) - len(shape)
        if extra < 1 or outer_dtype != dtype or tuple(outer_shape[extra:]) != tuple(shape):
            return False
        stacked = True
    return stacked


def _shapes(module: Any) -> tuple[Any, ...]:
    leaves, treedef = jax.tree.flatten(module)
    return (treedef, *((getattr(x, "shape", None), getattr(x, "dtype", None)) for x in leaves))


def _stack() -> list[_Frame]:
    stack: list[_Frame] | None = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


@contextlib.contextmanager
def submodule(name: str, *, scan_length: int | None = None) -> Iterator[None]:
    """Name the module of the next checked call made inside this block, for messages.

    For a module rebuilt on the fly, which cannot be found among the caller's fields:
    `with submodule("blocks[2]"):` names a layer unstacked from `blocks`, and
    `with submodule("blocks[*]", scan_length=12):` the one layer that `lax.scan` traces for
    12 stacked layers. Wrap exactly the one call.
    """
    stack = _stack()
    previous = getattr(_local, "pending", None)
    _local.pending = (stack[-1] if stack else None, name, scan_length)
    try:
        yield
    finally:
        _local.pending = previous


# Recording the calls, for `explain`.


def _abstract(value: Any) -> Any:
    """`value` with every array replaced by a `jax.ShapeDtypeStruct`."""

    def leaf(x: Any) -> Any:
        if isinstance(x, jax.Array | np.ndarray):
            return jax.ShapeDtypeStruct(x.shape, x.dtype)  # type: ignore[no-untyped-call]
        return x

    return jax.tree.map(leaf, value)


def _record(frame: _Frame, arguments: "list[_Argument]", returns: Any, out: Any) -> None:
    frame.dims = _bound_dims()
    frame.hints = {label: hint for label, _, hint, _ in arguments}
    frame.hints["return"] = returns
    frame.arguments = {label: _abstract(value) for label, value, _, _ in arguments}
    frame.result = _abstract(out)
    # lax.scan may trace its body twice; the layer it stands for ran once.
    siblings = frame.parent.calls if frame.parent is not None else None
    if frame.scan_length is not None and siblings is not None:
        for other in siblings:
            if other is frame:
                break
            if (other.path, other.method, repr(other.arguments)) == (
                frame.path,
                frame.method,
                repr(frame.arguments),
            ):
                siblings.remove(frame)
                break


def _bound_dims() -> dict[str, Any]:
    single, variadic, _, _ = get_shape_memo()
    dims: dict[str, Any] = dict(single)
    dims.update({f"*{name}": shape for name, (_, shape) in variadic.items()})
    return dims


def _push(module: Any, method: str, defined_in: type | None) -> _Frame:
    """Start a checked call: its frame, named from the caller's frame, on the stack."""
    stack = _stack()
    parent = stack[-1] if stack else None
    name = scan_length = None
    pending = getattr(_local, "pending", None)
    if pending is not None and parent is not None and pending[0] is parent:
        _, name, scan_length = pending
    frame = _Frame(module, method, parent, name, scan_length, defined_in=defined_in)
    calls: list[_Frame] | None = getattr(_local, "recording", None)
    if calls is not None:
        frame.calls = []
        if parent is not None and parent.calls is not None:
            calls = parent.calls
        calls.append(frame)
    stack.append(frame)
    return frame


def _open(first: Any, cls: type, method: str, kind: _Kind, defined_in: type | None) -> _Frame:
    """The frame of a checked call. Only a method's goes on the stack, to name the calls it
    makes and be recorded for `explain`; a property read, a static or a class method's frame
    names the failure only. `defined_in` names a method run through `super()`."""
    if kind == "method":
        return _push(first, method, defined_in)
    stack = _stack()
    parent = stack[-1] if stack else None
    if kind == "property":
        return _Frame(first, method, parent, None, None)
    return _Frame(None, method, parent, None, None, owner=cls)
