"""How the plugin reports: its error code, and the names it gives callees in messages.

A message names the callee as the user wrote it (`linear`, `Linear.__call__`,
`vmap(linear)`), the argument, the dims it has and the dims expected, and why a dim is what
it is (`"in" is embed, from argument "x"`).
"""

from mypy.errorcodes import ErrorCode
from mypy.nodes import Context, Expression, LambdaExpr, MemberExpr, NameExpr
from mypy.plugin import CheckerPluginInterface
from mypy.types import CallableType

SHAPE = ErrorCode("shape", "Array dims do not match", "General")
"""Every shape error has this code: `# type: ignore[shape]` silences one."""


def fail(api: CheckerPluginInterface, message: str, context: Context) -> None:
    """Report a shape error at `context`."""
    api.fail(message, context, code=SHAPE)


def paren(reason: str) -> str:
    """` (reason)`, or nothing for no reason."""
    return f" ({reason})" if reason else ""


def display_name(fullname: str, sig: CallableType) -> str:
    """A callee as a message names it: `linear`, or `Linear.__call__` for a method."""
    parts = fullname.split(".")
    if sig.is_type_obj() or len(parts) < 2:
        return parts[-1]
    if parts[-1].startswith("__") or (
        sig.definition is not None
        and sig.definition.fullname.count(".") > 1
        and parts[-2][:1].isupper()
    ):
        return ".".join(parts[-2:])
    return parts[-1]


def expr_name(expr: Expression) -> str:
    """A function passed as a value (to `jax.vmap`, `jax.lax.scan`), by its name."""
    if isinstance(expr, (NameExpr, MemberExpr)):
        return expr.name
    return "lambda" if isinstance(expr, LambdaExpr) else "function"
