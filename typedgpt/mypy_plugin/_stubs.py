"""The shape stubs: jax's functions and `jax.Array`'s methods, as signatures with dims.

The stubs are the `.pyi` files of the package `typedgpt.mypy_plugin.stubs`, which the wheel
builds from the repository's `stubs/` folder (its `__init__.py` says how a stub reads). They
are found with `importlib.resources`, wherever typedgpt is installed, so nothing needs
configuring, and parsed with `ast` once per process: never imported, never seen by mypy.
"""

import ast
import functools
import hashlib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from ._dims import JAXTYPING_DTYPES as DTYPES
from ._dims import NAME, OWN, OWNVAR, VAR, Dim, DimSpecError, Shape, parse_dims

PACKAGE = "typedgpt.mypy_plugin.stubs"
MARKERS = frozenset({"broadcast", "reduction", "checks_axis"})
SIGNATURE = "signature"  # the rule of a stub without a decorator: its signature

# Parameter kinds, as Python's `inspect` names them; `self` is the array a method is called on.
SELF = "self"
POSITIONAL_ONLY = "positional-only"
POSITIONAL = "positional"
VAR_POSITIONAL = "var-positional"
KEYWORD_ONLY = "keyword-only"
VAR_KEYWORD = "var-keyword"


class StubError(Exception):
    """Shape stubs that cannot be found or read: an installation problem, or a bug."""


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT = _NoDefault()
"""The default of a parameter without one, or with one that is not a literal."""


@dataclass(frozen=True)
class Param:
    """A parameter of a stub."""

    name: str
    kind: str
    position: int | None  # among the positional arguments of a call (`self` not counted)
    dims: Shape | None  # a jaxtyping annotation: its dims, the function's own
    only: tuple[object, ...] | None  # a `Literal[...]` annotation: the values it holds for
    is_int: bool  # annotated `int`: a dim of its name is the argument's value
    default: object = NO_DEFAULT


@dataclass(frozen=True)
class Stub:
    """One function or method: its signature, and the rule that computes its result."""

    name: str
    where: str  # "jax_numpy.pyi:12", for messages about the stub itself
    params: tuple[Param, ...]
    result: Shape | None
    rule: str  # SIGNATURE, a marker, "operator", or the name given to `@rule(...)`
    symbol: str | None = None  # an operator's symbol: "+"
    is_method: bool = False
    is_property: bool = False

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    @property
    def arrays(self) -> tuple[Param, ...]:
        """The parameters annotated with dims, in order."""
        return tuple(p for p in self.params if p.dims is not None)


@dataclass(frozen=True)
class Stubs:
    """Every stub: the functions of jax's modules, and `jax.Array`'s members."""

    functions: dict[str, Stub]  # by module and name: "jax.numpy.max", "jax._src.lax.max"
    methods: dict[str, Stub]  # by name
    location: str  # where the stubs were found, for messages and tests

    def function(self, fullname: str) -> Stub | None:
        """The stub of a jax function as mypy names it, by its module or a module above it:
        `jax._src.lax.lax.max` is `jax._src.lax`'s `max` (elementwise), not `jax.numpy.max`
        (a reduction)."""
        module, _, name = fullname.rpartition(".")
        while module:
            stub = self.functions.get(f"{module}.{name}")
            if stub is not None:
                return stub
            module = module.rpartition(".")[0]
        return None


def root() -> Traversable:
    """The installed stubs package, wherever it is."""
    try:
        return resources.files(PACKAGE)
    except ModuleNotFoundError as error:
        raise StubError(
            f"typedgpt.mypy_plugin cannot find its shape stubs, the package {PACKAGE}: "
            "reinstall typedgpt (`pip install -e .` in a checkout of the repository)"
        ) from error


def stub_files() -> list[Traversable]:
    """The `.pyi` files of the installed stubs package, by name."""
    return sorted((f for f in root().iterdir() if f.name.endswith(".pyi")), key=lambda f: f.name)


def digest() -> str:
    """A hash of the stubs, for mypy's cache: a changed stub invalidates it."""
    h = hashlib.sha256()
    for f in stub_files():
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


@functools.cache
def load() -> Stubs:
    """Read every stub, once."""
    files = stub_files()
    if not files:
        raise StubError(f"the package {PACKAGE} has no .pyi files: reinstall typedgpt")
    functions: dict[str, Stub] = {}
    methods: dict[str, Stub] = {}
    for f in files:
        tree = ast.parse(f.read_text(encoding="utf-8"), filename=f.name)
        modules = _modules(tree)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                if not modules:
                    raise StubError(
                        f'{f.name}: name the modules of its functions: MODULES = ("jax.numpy",)'
                    )
                stub = parse_function(node, f.name, is_method=False)
                for module in modules:
                    _add(functions, f"{module}.{stub.name}", stub)
            elif isinstance(node, ast.ClassDef):
                if node.name != "Array":
                    raise StubError(f"{f.name}:{node.lineno}: only `class Array` is read")
                for item in node.body:
                    if isinstance(item, ast.FunctionDef):
                        stub = parse_function(item, f.name, is_method=True)
                        _add(methods, stub.name, stub)
    return Stubs(functions, methods, str(root()))


def _modules(tree: ast.Module) -> tuple[str, ...]:
    """The modules a stub file's functions are in: its `MODULES = ("jax.lax", ...)`."""
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and [ast.unparse(t) for t in node.targets] == ["MODULES"]
            and isinstance(node.value, ast.Tuple)
        ):
            names = [e.value for e in node.value.elts if isinstance(e, ast.Constant)]
            if names and all(isinstance(n, str) for n in names):
                return tuple(str(n) for n in names)
    return ()


def _add(table: dict[str, Stub], key: str, stub: Stub) -> None:
    if key in table:
        raise StubError(
            f"{stub.where}: {key} is also at {table[key].where}; a function is matched by "
            "its module and name, so it is defined once in a module"
        )
    table[key] = stub


def parse_function(node: ast.FunctionDef, file: str, *, is_method: bool) -> Stub:
    """One `def` of a stub file (in `class Array` when `is_method`)."""
    where = f"{file}:{node.lineno}"
    rule, symbol, is_property = SIGNATURE, None, False
    for deco in node.decorator_list:
        name = (
            deco.func.id if isinstance(deco, ast.Call) and isinstance(deco.func, ast.Name) else None
        )
        if isinstance(deco, ast.Name) and deco.id == "property" and is_method:
            is_property = True
        elif isinstance(deco, ast.Name) and deco.id in MARKERS:
            rule = deco.id
        elif isinstance(deco, ast.Call) and name in ("operator", "rule") and len(deco.args) == 1:
            value = deco.args[0].value if isinstance(deco.args[0], ast.Constant) else None
            if not isinstance(value, str):
                raise StubError(f"{where}: @{name}(...) takes a string")
            rule, symbol = ("operator", value) if name == "operator" else (value, None)
        else:
            raise StubError(f"{where}: unknown decorator @{ast.unparse(deco)}")
    params = _params(node.args, where, is_method=is_method)
    result = _annotation(node.returns, where)[0]
    if rule == SIGNATURE and result is None:
        raise StubError(f"{where}: {node.name} has no decorator, so its result needs dims")
    return Stub(node.name, where, params, result, rule, symbol, is_method, is_property)


def _params(args: ast.arguments, where: str, *, is_method: bool) -> tuple[Param, ...]:
    out: list[Param] = []
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += args.defaults
    position = 0
    for i, (arg, default) in enumerate(zip(positional, defaults, strict=True)):
        if is_method and i == 0:
            out.append(_param(arg, SELF, None, None, where))
            continue
        kind = POSITIONAL_ONLY if i < len(args.posonlyargs) else POSITIONAL
        out.append(_param(arg, kind, position, default, where))
        position += 1
    if args.vararg is not None:
        out.append(_param(args.vararg, VAR_POSITIONAL, position, None, where))
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        out.append(_param(arg, KEYWORD_ONLY, None, kw_default, where))
    if args.kwarg is not None:
        out.append(_param(args.kwarg, VAR_KEYWORD, None, None, where))
    return tuple(out)


def _param(
    arg: ast.arg, kind: str, position: int | None, default: ast.expr | None, where: str
) -> Param:
    dims, only, is_int = _annotation(arg.annotation, where)
    value: object = NO_DEFAULT
    if default is not None:
        try:
            value = ast.literal_eval(default)
        except ValueError:
            value = NO_DEFAULT
    return Param(arg.arg, kind, position, dims, only, is_int, value)


def _annotation(
    node: ast.expr | None, where: str
) -> tuple[Shape | None, tuple[object, ...] | None, bool]:
    """(dims, literal values, is `int`) of an annotation; each part None or False if absent."""
    if isinstance(node, ast.Name) and node.id == "int":
        return None, None, True
    if not isinstance(node, ast.Subscript) or not isinstance(node.value, ast.Name):
        return None, None, False
    if node.value.id == "Literal":
        value = ast.literal_eval(node.slice)
        return None, value if isinstance(value, tuple) else (value,), False
    if node.value.id not in DTYPES:
        return None, None, False
    items = node.slice.elts if isinstance(node.slice, ast.Tuple) else []
    spec = items[1].value if len(items) == 2 and isinstance(items[1], ast.Constant) else None
    if not isinstance(spec, str):
        raise StubError(f'{where}: write a jaxtyping annotation as {node.value.id}[Array, "dims"]')
    try:
        dims = parse_dims(spec)
    except DimSpecError as error:
        raise StubError(f"{where}: {error}") from error
    return tuple(_own(d) for d in dims), None, False


def _own(d: Dim) -> Dim:
    """A stub's named dims are its own: bound afresh at each call."""
    if d.kind == NAME:
        return Dim(OWN, d.value)
    if d.kind == VAR:
        return Dim(OWNVAR, d.value)
    return d
