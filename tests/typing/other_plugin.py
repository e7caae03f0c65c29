"""A third-party-style mypy plugin, for the test that typedgpt's plugin works beside others.

It hooks calls of its own: any function named `tagged`, any method `Meter.read`, and any
function named `scaled` (which has jaxtyping dims, so typedgpt's plugin wants it too). Each
hook reports an error with the code `other-plugin`, so a test can see that it ran.
"""

from collections.abc import Callable

from mypy.errorcodes import ErrorCode
from mypy.plugin import FunctionContext, MethodContext, Plugin
from mypy.types import Type

OTHER = ErrorCode("other-plugin", "Seen by the other plugin", "General")


def _seen(what: str) -> Callable[[FunctionContext | MethodContext], Type]:
    def hook(ctx: FunctionContext | MethodContext) -> Type:
        ctx.api.fail(f"other plugin saw {what}", ctx.context, code=OTHER)
        return ctx.default_return_type

    return hook


class OtherPlugin(Plugin):
    def get_function_hook(self, fullname: str) -> Callable[[FunctionContext], Type] | None:
        name = fullname.rsplit(".", 1)[-1]
        return _seen(f"{name}()") if name in ("tagged", "scaled") else None

    def get_method_hook(self, fullname: str) -> Callable[[MethodContext], Type] | None:
        return _seen("Meter.read()") if fullname.endswith(".Meter.read") else None


def plugin(version: str) -> type[Plugin]:
    return OtherPlugin
