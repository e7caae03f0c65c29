"""Tests for `typedgpt/mypy_plugin`: static shape checking, through mypy itself.

One mypy run (`mypy.api`, `--strict`, the plugin, a fresh cache) covers the corpus in
`tests/typing/` (see its README), the typedgpt package and the Python examples of
`docs/static-checking.md`. Correct code must give no error; every seeded bug must give the
error its line's marker names, and nothing else may be reported. The gallery of caught errors
in the docs is made from the same run: regenerate it with

    .venv/bin/python -m tests.test_mypy_plugin --update
"""

import ast
import functools
import importlib.util
import re
import sys
import tempfile
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pytest
from mypy import api

from typedgpt.mypy_plugin import (
    SUPPORTED_MYPY,
    ShapePlugin,
    UnsupportedMypyError,
    _lax,
    _stubs,
    check_mypy_version,
    plugin,
)
from typedgpt.mypy_plugin._binder import Binder
from typedgpt.mypy_plugin._dims import ANY_DIM, GRADUAL, Dim, DimSpecError, parse_dims
from typedgpt.mypy_plugin._einsum import einsum
from typedgpt.mypy_plugin._rules import check as check_rules
from typedgpt.mypy_plugin._shapes import (
    ShapeError,
    broadcast,
    matmul,
    moveaxis,
    reshape,
    swapaxes,
)
from typedgpt.mypy_plugin._stubs import Param

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "typing"
DOCS_PAGE = ROOT / "docs" / "static-checking.md"
MARKER = re.compile(r"#\s*([EG]):\s*\[([\w-]+)\]\s*(.*?)(?=\s+#\s*[EG]:|$)")
ERROR = re.compile(
    r"^(?P<path>[^:]+):(?P<line>\d+): error: (?P<message>.*?)  \[(?P<code>[\w-]+)\]$"
)
GALLERY_START, GALLERY_END = "<!-- gallery:start -->", "<!-- gallery:end -->"
UPDATE_COMMAND = ".venv/bin/python -m tests.test_mypy_plugin --update"


@dataclass(frozen=True)
class Expected:
    path: Path
    line: int
    code: str
    text: str
    in_gallery: bool


@dataclass(frozen=True)
class Reported:
    path: Path
    line: int
    code: str
    message: str


@dataclass(frozen=True)
class Run:
    reported: list[Reported]
    output: str
    docs_examples: Path


def expected_errors() -> list[Expected]:
    """The markers of the seeded bugs, in file and line order."""
    found = []
    for path in sorted((CORPUS / "bugs").glob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for kind, code, text in MARKER.findall(line):
                found.append(Expected(path, number, code, text.strip(), kind == "G"))
    return found


def docs_examples(folder: Path) -> Path:
    """The ```python blocks of the static-checking page, as one module."""
    lines = DOCS_PAGE.read_text(encoding="utf-8").splitlines()
    out: list[str] = []
    inside = False
    for line in lines:
        if line.startswith("```"):
            inside = line.strip() == "```python" if not inside else False
            continue
        if inside:
            out.append(line)
    path = folder / "docs_static_checking.py"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def run_mypy(folder: Path) -> Run:
    """mypy --strict with the plugin, cold, over everything the tests look at."""
    config = folder / "mypy.ini"
    config.write_text(
        "[mypy]\nstrict = True\npython_version = 3.11\nplugins = typedgpt.mypy_plugin\n"
        "[mypy-optax.*,optax,tqdm.*,tqdm,safetensors.*,safetensors,tokenizers.*,tokenizers,"
        "transformers.*,transformers,torch.*,torch]\nignore_missing_imports = True\n",
        encoding="utf-8",
    )
    examples = docs_examples(folder)
    stdout, stderr, _ = api.run(
        [
            "--config-file",
            str(config),
            "--cache-dir",
            str(folder / "cache"),
            "--no-error-summary",
            "--show-absolute-path",
            str(ROOT / "typedgpt"),
            str(CORPUS / "clean"),
            str(CORPUS / "bugs"),
            str(examples),
        ]
    )
    assert not stderr, stderr
    reported = []
    for line in stdout.splitlines():
        match = ERROR.match(line)
        if match:
            reported.append(
                Reported(Path(match["path"]), int(match["line"]), match["code"], match["message"])
            )
        else:
            assert ": note: " in line, f"unexpected mypy output: {line}"
    return Run(reported, stdout, examples)


@functools.cache
def _run() -> Run:
    with tempfile.TemporaryDirectory() as folder:
        return run_mypy(Path(folder))


@pytest.fixture(scope="module")
def run() -> Run:
    return _run()


def test_correct_code_gives_no_error(run: Run) -> None:
    """typedgpt itself, the clean corpus and the docs' examples: not one false positive."""
    bugs = CORPUS / "bugs"
    wrong = [r for r in run.reported if bugs not in r.path.parents]
    assert not wrong, "\n".join(f"{r.path}:{r.line}: {r.message} [{r.code}]" for r in wrong)


def test_every_seeded_bug_is_caught(run: Run) -> None:
    expected = expected_errors()
    missed = []
    for e in expected:
        here = [r for r in run.reported if r.path == e.path and r.line == e.line]
        if not any(r.code == e.code and e.text in r.message for r in here):
            got = "; ".join(f"{r.message} [{r.code}]" for r in here) or "nothing"
            missed.append(f"{e.path.name}:{e.line}: expected [{e.code}] {e.text!r}, got {got}")
    assert not missed, "\n".join(missed)


def test_nothing_else_is_reported_in_the_bugs(run: Run) -> None:
    """Each reported error is one a marker asks for: no extra errors around a bug."""
    expected = expected_errors()
    extra = [
        r
        for r in run.reported
        if (CORPUS / "bugs") in r.path.parents
        and not any(
            e.path == r.path and e.line == r.line and e.code == r.code and e.text in r.message
            for e in expected
        )
    ]
    assert not extra, "\n".join(f"{r.path.name}:{r.line}: {r.message} [{r.code}]" for r in extra)


def test_the_corpus_is_large_enough() -> None:
    """At least 40 distinct seeded bugs, over every area the plugin covers."""
    lines = {(e.path, e.line) for e in expected_errors()}
    assert len(lines) >= 40, len(lines)
    names = {p.stem for p in (CORPUS / "bugs").glob("*.py")}
    assert {"projections", "attention", "kv_cache", "embeddings", "loss"} <= names
    assert {"transforms", "generic", "layers", "numpy_arrays"} <= names
    assert (CORPUS / "clean" / "numpy_arrays.py").exists()


def gallery(run: Run) -> str:
    """The gallery: each `# G:` line of the corpus and what mypy said about it."""
    parts = []
    for e in expected_errors():
        if not e.in_gallery:
            continue
        source = e.path.read_text(encoding="utf-8").splitlines()[e.line - 1]
        code = source.split("  #")[0].strip()
        messages = [
            f"error: {r.message}  [{r.code}]"
            for r in run.reported
            if r.path == e.path and r.line == e.line and r.code == e.code
        ]
        parts.append(f"{e.path.name}:{e.line}:  {code}\n" + "\n".join(messages))
    return "\n\n".join(parts)


def _shown_gallery() -> str:
    page = DOCS_PAGE.read_text(encoding="utf-8")
    block = page.split(GALLERY_START, 1)[1].split(GALLERY_END, 1)[0]
    return block.strip().removeprefix("```text").removesuffix("```").strip()


def test_docs_gallery_is_real_output(run: Run) -> None:
    made = gallery(run)
    assert made.count("error: ") >= 8
    assert _shown_gallery() == made, (
        f"the gallery in {DOCS_PAGE.name} is stale: run {UPDATE_COMMAND}"
    )


# ---------------------------------------------------------------------- pure rules


def test_dim_grammar() -> None:
    dims = parse_dims("*batch seq 3 rows=4 _ #b n+1 ...".replace(" ...", ""))
    assert [str(d) for d in dims] == ["*batch", "seq", "3", "4", "_", "_", "_"]
    assert parse_dims("") == ()
    assert parse_dims(" seq") == (Dim("name", "seq"),)
    with pytest.raises(DimSpecError, match="more than one variadic"):
        parse_dims("*a ... n")


def test_binder_binds_afresh_and_explains() -> None:
    own = Binder()
    n, m = Dim("own", "n"), Dim("own", "m")
    embed, hidden = Dim("name", "embed"), Dim("name", "hidden")
    assert own.unify((n,), (embed,), 'argument "x"') is None
    assert own.unify((m, n), (hidden, hidden), 'argument "w"') == (
        '"n" is embed, from argument "x"'
    )
    assert own.result((m,)) == (ANY_DIM,)  # the failed argument bound nothing
    assert Binder().unify((m, n), (hidden, hidden), "w") is None


def test_operation_rules() -> None:
    seq, embed, vocab = Dim("name", "seq"), Dim("name", "embed"), Dim("name", "vocab")
    assert matmul((seq, embed), (embed, vocab)) == (seq, vocab)
    with pytest.raises(ShapeError, match="contracts embed"):
        matmul((seq, embed), (vocab, embed))
    assert broadcast([(seq, embed), (embed,)], '"+"') == (seq, embed)
    assert einsum("sd,Sd->sS", [(seq, embed), (vocab, embed)]) == (seq, vocab)
    with pytest.raises(ShapeError, match="512 elements"):
        reshape((Dim("size", 16), Dim("size", 32)), [16, 4, 4])


@pytest.mark.parametrize(
    ("spec", "shapes"),
    [
        ("...e,em->...m", [(2, 3, 4), (4, 5)]),
        ("b...e,em->b...m", [(2, 3, 4), (4, 5)]),
        ("...e,e->...", [(2, 3, 4), (4,)]),
        ("...e,...e->...", [(2, 3, 4), (3, 4)]),  # broadcast: the shorter run is a tail
        ("...ij", [(2, 3, 4)]),  # implicit output: ... first, then the letters in order
        ("...e,em", [(2, 3, 4), (4, 5)]),
        ("...e,em->m", [(2, 3, 4), (4, 5)]),  # JAX sums what ... stands for
        ("i...,i...->i", [(2, 3), (2, 3)]),
        ("...e,em->...m", [(4,), (4, 5)]),  # ... stands for no dims
    ],
)
def test_einsum_with_an_ellipsis_has_jaxs_shape(spec: str, shapes: list[tuple[int, ...]]) -> None:
    """Each dim its own name, sizes as names: the rule's result has JAX's shape."""
    import jax
    import jax.numpy as jnp

    def named(shape: tuple[int, ...]) -> tuple[Dim, ...]:
        return tuple(Dim("name", f"n{size}") for size in shape)

    expected = jax.eval_shape(
        lambda *xs: jnp.einsum(spec, *xs), *[jnp.zeros(shape) for shape in shapes]
    ).shape
    assert einsum(spec, [named(shape) for shape in shapes]) == named(expected)


def test_einsum_with_an_ellipsis_it_does_not_follow() -> None:
    """Runs that broadcast otherwise, two ellipses, or a stray dot: unknown, never wrong."""
    a, b, c = Dim("name", "a"), Dim("name", "b"), Dim("name", "c")
    assert einsum("...i,...i->...", [(a, b, c), (b, c)]) == (a, b)
    assert einsum("...i,...i->...", [(a, b, c), (a, c)]) == GRADUAL
    assert einsum("...i...", [(a, b, c)]) == GRADUAL
    assert einsum("i.j", [(a, b)]) == GRADUAL
    with pytest.raises(ShapeError, match=r'"\.\.\.ijkl" names 4 and \.\.\.'):
        einsum("...ijkl,i->...", [(a, b, c), (a,)])


def test_axis_moves_and_matmul_under_a_variadic_dim() -> None:
    """`moveaxis` follows NumPy's order; `@` checks the contracted dims even when a variadic
    dim comes before them, and keeps it against a matrix."""
    a, b, c, batch = Dim("name", "a"), Dim("name", "b"), Dim("name", "c"), Dim("var", "batch")
    assert moveaxis((a, b, c), (1, 2), (0, 1)) == (b, c, a)
    assert moveaxis((a, b, c), (-1,), (0,)) == (c, a, b)
    assert swapaxes((a, b, c), 0, -1) == (c, b, a)
    with pytest.raises(ShapeError, match="2 source axes but 1 destination"):
        moveaxis((a, b, c), (0, 1), (2,))
    assert matmul((batch, a), (a, b)) == (batch, b)
    assert matmul((batch, a), (a,)) == (batch,)
    with pytest.raises(ShapeError, match="contracts a"):
        matmul((batch, a), (b, a))


def test_lax_rules_refuse_negative_axes_and_keep_unsure_sizes_unknown() -> None:
    """jax.lax refuses a negative axis whatever the rank; a named dim placed at a literal
    size, or a slice that jit refuses, is of unknown size rather than a guess."""
    seq, embed, batch = Dim("name", "seq"), Dim("name", "embed"), Dim("var", "batch")
    one, eight = Dim("size", 1), Dim("size", 8)
    with pytest.raises(
        ShapeError, match=re.escape("lhs axis -1 is negative: jax.lax counts axes from 0")
    ):
        _lax.dot_general((batch, embed), (embed,), (((-1,), (0,)), ((), ())))
    assert _lax.dot_general((batch, embed), (embed,), (((1,), (0,)), ((), ()))) == GRADUAL
    assert _lax.broadcast_in_dim((one, embed), [4, None], [0, 1]) == (ANY_DIM, embed)
    assert _lax.broadcast_in_dim((embed,), [4, 8], [1]) == (ANY_DIM, ANY_DIM)
    assert _lax.broadcast_in_dim((eight,), [4, 8], [1]) == (Dim("size", 4), eight)
    assert _lax.slice_((seq, eight), [0, 2], [4, 9], [1, 1]) == (ANY_DIM, ANY_DIM)
    with pytest.raises(ShapeError, match=re.escape("limit 9 is past the end of axis 1 of")):
        _lax.slice_((seq, eight), [0, 0], [4, 9], [1, 1])  # 9 elements: refused without jit too
    assert _lax.dynamic_slice((seq, eight), [4, 2], 2) == (ANY_DIM, Dim("size", 2))
    with pytest.raises(ShapeError, match=re.escape("axis 1 of (seq, 8) has size 8")):
        _lax.squeeze((seq, eight), [1])


def test_supported_mypy_is_the_pinned_one() -> None:
    import mypy.version

    check_mypy_version(mypy.version.__version__)  # neither raises nor warns
    pinned = re.search(r'"mypy==([\d.]+)"', (ROOT / "pyproject.toml").read_text())
    assert pinned is not None
    check_mypy_version(pinned[1])


@pytest.mark.parametrize("version", ["2.4.0", "2.4.1", "2.4.9+dev.0123abcd"])
def test_a_supported_mypy_loads_the_plugin_quietly(version: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert plugin(version) is ShapePlugin


@pytest.mark.parametrize("version", ["2.3.0", "1.18.2", "0.991"])
def test_an_older_mypy_is_refused_naming_the_versions(version: str) -> None:
    message = f"supports mypy {SUPPORTED_MYPY}, not mypy {version}"
    with pytest.raises(UnsupportedMypyError, match=re.escape(message)):
        plugin(version)


@pytest.mark.parametrize("version", ["2.5.0", "3.0.0+dev"])
def test_a_newer_mypy_is_warned_about_naming_the_versions(version: str) -> None:
    message = f"supports mypy {SUPPORTED_MYPY}, not mypy {version}, which is untested"
    with pytest.warns(UserWarning, match=re.escape(message)):
        assert plugin(version) is ShapePlugin


# ---------------------------------------------------------------------- shape stubs


def test_the_stubs_are_read_from_the_installed_package() -> None:
    """The plugin finds its stubs with importlib.resources: `stubs/` as installed."""
    stubs = _stubs.load()
    installed = resources.files("typedgpt.mypy_plugin.stubs")
    assert stubs.location == str(installed)
    shipped = {p.name for p in (ROOT / "stubs").glob("*.pyi")}
    assert {f.name for f in _stubs.stub_files()} == shipped
    assert {
        "jax_array.pyi",
        "jax_lax.pyi",
        "jax_nn.pyi",
        "jax_numpy.pyi",
        "jax_random.pyi",
    } <= shipped
    check_rules(stubs)  # every decorator names a rule the plugin has
    found = (stubs.function(f"jax.{n}") for n in ("numpy.tanh", "numpy.sum", "nn.one_hot"))
    tanh, total, one_hot = found
    assert tanh is not None and total is not None and one_hot is not None
    assert tanh.rule == "signature" and tanh.result == (Dim("ownvar", "shape"),)
    assert total.rule == "reduction" and total.param("keepdims") == Param(
        "keepdims", "positional", 4, None, None, False, False
    )
    assert one_hot.param("axis") == Param("axis", "keyword-only", None, None, (-1,), False, -1)
    assert stubs.methods["__add__"].symbol == "+" and stubs.methods["T"].is_property


def test_a_jax_function_is_matched_by_its_module_and_name() -> None:
    """`jax.lax.max` is elementwise where `jnp.max` reduces; mypy names lax's functions by
    their private module, which the stub's `MODULES` covers."""
    stubs = _stubs.load()
    lax_max, jnp_max = stubs.function("jax._src.lax.lax.max"), stubs.function("jax.numpy.max")
    assert lax_max is not None and lax_max.rule == "broadcast"
    assert jnp_max is not None and jnp_max.rule == "reduction"
    assert stubs.function("jax._src.lax.lax.rsqrt") is not None
    assert stubs.function("jax.numpy.rsqrt") is None
    assert stubs.function("jax.experimental.max") is None


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("@cached\ndef f(x: int) -> int: ...", "unknown decorator @cached"),
        ('def f(x: Shaped[Array, "n"]) -> Array: ...', "has no decorator, so its result needs"),
        ('def f(x: Shaped[Array, "*a *b"]) -> Shaped[Array, "n"]: ...', "more than one variadic"),
        ('@rule(3)\ndef f(x: Shaped[Array, "n"]) -> Array: ...', "@rule(...) takes a string"),
    ],
)
def test_a_bad_stub_is_an_error_naming_its_line(source: str, message: str) -> None:
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.FunctionDef)
    with pytest.raises(_stubs.StubError, match=re.escape(message)) as caught:
        _stubs.parse_function(node, "bad.pyi", is_method=False)
    assert str(caught.value).startswith(f"bad.pyi:{node.lineno}: ")


def test_a_variadic_dim_binds_a_run_that_holds_a_variadic_dim() -> None:
    """`*shape` against `(*batch, seq)`: the stubs' elementwise functions keep all of it."""
    binder = Binder()
    shape, batch, seq = Dim("ownvar", "shape"), Dim("var", "batch"), Dim("name", "seq")
    assert binder.unify((shape,), (batch, seq), 'argument "x"') is None
    assert binder.result((shape,)) == (batch, seq)


# ---------------------------------------------------------------------- mypy's cache

ALIASES = """\
from jaxtyping import Array, Float

Vec = Float[Array, " embed"]
"""
LAYERS = """\
from jaxtyping import Array, Float

from aliases import Vec


def project(x: Vec, w: Float[Array, "out embed"]) -> Float[Array, " out"]:
    return w @ x
"""
USER = """\
from jaxtyping import Array, Float

from aliases import Vec
from layers import project


def returned(x: Vec) -> Float[Array, " other"]:
    return x


def transposed(x: Float[Array, " e"], w: Float[Array, "e o"]) -> None:
    project(x, w)
"""


def test_a_cached_run_reports_what_a_cold_run_does(tmp_path: Path) -> None:
    """An alias's module loaded from mypy's cache keeps its dims: editing the modules that use
    it, then running mypy again, reports the same errors as the cold run."""
    for name, source in [("aliases", ALIASES), ("layers", LAYERS), ("user", USER)]:
        (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nplugins = typedgpt.mypy_plugin\n", encoding="utf-8")
    options = ["--config-file", str(config), "--cache-dir", str(tmp_path / "cache")]
    command = [*options, "--no-error-summary", str(tmp_path / "user.py")]

    def errors() -> list[str]:
        stdout, stderr, _ = api.run(command)
        assert not stderr, stderr
        return [line.split(": error: ")[1] for line in stdout.splitlines() if ": error: " in line]

    cold = errors()
    assert len(cold) == 2, cold
    assert "expected \"Array[Literal['other']]\"" in cold[0]
    assert cold[1].startswith('project: argument "w" has dims (e, o) where (out, e)')
    for name in ("layers", "user"):
        with (tmp_path / f"{name}.py").open("a", encoding="utf-8") as f:
            f.write("# edited\n")  # re-analysed, while aliases.py comes from the cache
        assert errors() == cold


SIZES_BEFORE_A_REDEFINITION = """\
import jax.numpy as jnp
from jaxtyping import Array, Float


def sizes(x: Float[Array, "seq embed"], w: Float[Array, "embed mlp"]) -> None:
    T, C = x.shape
    shape = x.shape
    width = x.shape[-1]
    x = x @ w
    reveal_type(x)
    reveal_type(jnp.zeros((T, C)))
    reveal_type(jnp.zeros(shape))
    reveal_type(jnp.zeros(width))
"""


def test_sizes_keep_the_dims_of_the_line_that_set_them(tmp_path: Path) -> None:
    """With mypy's allow_redefinition, `x = x @ w` gives `x` new dims; names set from
    `x.shape` before it keep the dims `x` had there."""
    user = tmp_path / "user.py"
    user.write_text(SIZES_BEFORE_A_REDEFINITION, encoding="utf-8")
    config = tmp_path / "mypy.ini"
    config.write_text(
        "[mypy]\nplugins = typedgpt.mypy_plugin\nallow_redefinition = True\n", encoding="utf-8"
    )
    options = ["--config-file", str(config), "--cache-dir", str(tmp_path / "cache")]
    stdout, stderr, _ = api.run([*options, "--no-error-summary", str(user)])
    assert not stderr, stderr
    dims = [line.split("Array[")[1] for line in stdout.splitlines()]
    assert dims == [
        "Literal['seq'], Literal['mlp']]\"",
        "Literal['seq'], Literal['embed']]\"",
        "Literal['seq'], Literal['embed']]\"",
        "Literal['embed']]\"",
    ], stdout


def test_an_edited_file_is_read_again(tmp_path: Path) -> None:
    """Names set once are trusted only in a function without `:=`, found in the file's text:
    a second run in the same process (as a daemon's) reads the edited file, not the first."""
    user = tmp_path / "user.py"
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nplugins = typedgpt.mypy_plugin\n", encoding="utf-8")
    options = ["--config-file", str(config), "--cache-dir", str(tmp_path / "cache")]
    source = (
        "import jax.numpy as jnp\nfrom jaxtyping import Array, Float\n\n\n"
        'def f(x: Float[Array, "seq embed"]) -> None:\n'
        "    T = x.shape[0]\n"
        "    reveal_type(jnp.zeros(T)){}\n"
    )
    revealed = []
    for tail in ("", "  # := in a comment"):
        user.write_text(source.format(tail), encoding="utf-8")
        stdout, stderr, _ = api.run([*options, "--no-error-summary", str(user)])
        assert not stderr, stderr
        revealed.append(stdout.split("Revealed type is ")[1].strip())
    assert revealed == [
        "\"jax._src.basearray.Array[Literal['seq']]\"",
        '"jax._src.basearray.Array[Any]"',
    ]


NUMPY_USER = """\
import numpy as np
import numpy.typing as npt
from jaxtyping import Float


def ids(values: list[int]) -> tuple[npt.NDArray[np.int32], ...]:
    return (np.asarray(values, dtype=np.int32),)


def rows(x: Float[np.ndarray, "seq embed"]) -> Float[np.ndarray, "embed seq"]:
    return x.T
"""


def test_numpy_aliases_from_the_cache_stay_numpy(tmp_path: Path) -> None:
    """`npt.NDArray` is an alias of `np.ndarray`; loaded from mypy's cache it is still NumPy's
    array, not a jaxtyping alias of `jax.Array`, and a warm run reports what a cold one does."""
    user = tmp_path / "user.py"
    user.write_text(NUMPY_USER, encoding="utf-8")
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nplugins = typedgpt.mypy_plugin\n", encoding="utf-8")
    options = ["--config-file", str(config), "--cache-dir", str(tmp_path / "cache")]
    for run in ("cold", "warm"):
        stdout, stderr, status = api.run([*options, "--no-error-summary", str(user)])
        assert (stdout, stderr, status) == ("", "", 0), (run, stdout, stderr)
        with user.open("a", encoding="utf-8") as f:
            f.write("# edited\n")  # re-analysed, while numpy comes from the cache


# ---------------------------------------------------------------------- with other plugins

OTHER_PLUGIN = CORPUS / "other_plugin.py"
HAS_PYDANTIC = importlib.util.find_spec("pydantic") is not None
TOGETHER = """\
from jaxtyping import Array, Float
{pydantic_import}

def tagged(label: str) -> int:
    return len(label)


def scaled(x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
    return 2.0 * x


class Meter:
    def read(self) -> int:
        return 0

{pydantic_model}

def use(x: Float[Array, "seq embed"], v: Float[Array, " embed"], obj: object) -> None:
    tagged("label")  # tagged
    Meter().read()  # read
    {pydantic_call}  # from_orm
    x @ x  # matmul
    scaled(v)  # scaled
"""


@pytest.mark.parametrize("typedgpt_first", [True, False], ids=["typedgpt-first", "typedgpt-last"])
def test_other_plugins_keep_their_hooks_in_either_order(
    tmp_path: Path, typedgpt_first: bool
) -> None:
    """typedgpt's plugin claims only shaped calls: the other plugins' hooks still run, in
    either order; where two plugins hook one call (`scaled`), the first listed has it."""
    source = TOGETHER.format(
        pydantic_import="from pydantic import BaseModel\n" if HAS_PYDANTIC else "",
        pydantic_model="\nclass Point(BaseModel):\n    x: int\n\n" if HAS_PYDANTIC else "",
        pydantic_call="Point.from_orm(obj)" if HAS_PYDANTIC else "pass",
    )
    user = tmp_path / "user.py"
    user.write_text(source, encoding="utf-8")
    line = {
        mark: n
        for n, text in enumerate(source.splitlines(), start=1)
        for mark in ("tagged", "read", "from_orm", "matmul", "scaled")
        if text.endswith(f"# {mark}")
    }
    plugins = ["typedgpt.mypy_plugin", str(OTHER_PLUGIN)]
    plugins += ["pydantic.mypy"] if HAS_PYDANTIC else []
    if not typedgpt_first:
        plugins.reverse()
    config = tmp_path / "mypy.ini"
    config.write_text(f"[mypy]\nplugins = {', '.join(plugins)}\n", encoding="utf-8")
    cache = tmp_path / "cache"
    options = ["--config-file", str(config), "--cache-dir", str(cache), "--no-error-summary"]
    stdout, stderr, _ = api.run([*options, str(user)])
    assert not stderr, stderr
    found = {(int(m["line"]), m["code"]) for m in map(ERROR.match, stdout.splitlines()) if m}
    both = {(line["tagged"], "other-plugin"), (line["read"], "other-plugin")}
    both |= {(line["matmul"], "shape")}
    both |= {(line["from_orm"], "pydantic-orm")} if HAS_PYDANTIC else set()
    first = (line["scaled"], "shape") if typedgpt_first else (line["scaled"], "other-plugin")
    assert found == both | {first}, stdout


def main(argv: list[str]) -> int:
    """`python -m tests.test_mypy_plugin --update`: rewrite the docs' gallery."""
    if argv != ["--update"]:
        print(__doc__)
        return 2
    made = gallery(_run())
    page = DOCS_PAGE.read_text(encoding="utf-8")
    before, rest = page.split(GALLERY_START, 1)
    after = rest.split(GALLERY_END, 1)[1]
    block = f"{GALLERY_START}\n```text\n{made}\n```\n{GALLERY_END}"
    DOCS_PAGE.write_text(before + block + after, encoding="utf-8")
    print(f"updated {DOCS_PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


def test_check_command_runs_mypy_with_the_plugin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from typedgpt import cli

    monkeypatch.chdir(tmp_path)
    source = tmp_path / "user.py"
    source.write_text('count: int = "three"\n', encoding="utf-8")
    assert cli.main(["check", str(source)]) == 1
    assert 'Incompatible types in assignment (expression has type "str"' in capsys.readouterr().out
    assert cli.main(["check", str(tmp_path / "missing.py")]) == 2
    assert "missing.py does not exist: pass Python files or folders" in capsys.readouterr().err


def test_check_command_lets_a_name_take_new_dims(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`h = h @ w` is the common case: `typedgpt check` sets `allow_redefinition`, so it is
    no error, and a wrong return after it still is."""
    from typedgpt import cli

    monkeypatch.chdir(tmp_path)
    source = tmp_path / "user.py"
    source.write_text(
        "from jaxtyping import Array, Float\n"
        "\n"
        "\n"
        "def mlp(\n"
        '    x: Float[Array, "seq embed"], up: Float[Array, "embed mlp"],\n'
        '    down: Float[Array, "mlp embed"],\n'
        ') -> Float[Array, "seq embed"]:\n'
        "    h = x @ up\n"
        "    h = h @ down\n"
        "    return h\n"
        "\n"
        "\n"
        'def wrong(x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:\n'
        "    x = x.T\n"
        "    return x\n",
        encoding="utf-8",
    )
    assert cli.main(["check", str(source)]) == 1
    out = capsys.readouterr().out
    assert out.count("error:") == 1 and "user.py:15: error:" in out, out


def test_check_command_outside_an_editable_checkout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from another folder, with typedgpt installed in editable mode (as `make test`
    installs it: through setuptools' import hook, which mypy cannot follow), `typedgpt
    check` still finds typedgpt, checks the shapes, and reports none of typedgpt's own
    errors."""
    from typedgpt import cli

    assert cli._editable_checkout() == ROOT
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "user.py"
    source.write_text(
        "from typing import Literal\n"
        "\n"
        "from jaxtyping import Array, Float\n"
        "\n"
        "import typedgpt as tg\n"
        "\n"
        "\n"
        "def up_project(\n"
        '    up: tg.Linear[Literal["embed"], Literal["mlp"]], x: Float[Array, " mlp"]\n'
        ') -> Float[Array, " mlp"]:\n'
        "    return up(x)\n",
        encoding="utf-8",
    )
    assert cli.main(["check", str(source)]) == 1
    out = capsys.readouterr().out
    assert "import-not-found" not in out, out
    assert out.count("error:") == 1 and 'user.py:11: error: Linear.__call__: argument "x"' in out, (
        out
    )
