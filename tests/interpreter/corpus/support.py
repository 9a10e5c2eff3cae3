"""Decorators that register corpus programs and the runners that compare them."""
from __future__ import annotations

import copy
import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable

import torch


@dataclass
class Program:
    fn: Callable
    argsets: list[tuple]
    check_message: bool = True          # compare exception messages, not only types
    kind: str = "python"                # "python" or "tensor"
    make_inputs: Callable[[], tuple] | None = None
    module_factory: Callable[[], torch.nn.Module] | None = None
    extra: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.fn.__module__.rsplit('.', 1)[-1]}.{self.fn.__qualname__}"


def program(*argsets: tuple, check_message: bool = True) -> Callable:
    """Register a pure-Python program; each argset is one run (default: no arguments)."""
    def register(fn: Callable) -> Callable:
        fn._corpus = Program(fn, list(argsets) or [()], check_message)
        return fn
    return register


def tensor_program(make_inputs: Callable[[], tuple], **extra: Any) -> Callable:
    """Register a forward-like function `fn(*tensors)` or an nn.Module class (built with no
    arguments); it is exported with strict_tracer and compared with eager."""
    def register(obj: Any) -> Any:
        if isinstance(obj, type) and issubclass(obj, torch.nn.Module):
            prog = Program(obj.forward, [()], kind="tensor", make_inputs=make_inputs,
                           module_factory=obj, extra=extra)
        else:
            prog = Program(obj, [()], kind="tensor", make_inputs=make_inputs,
                           module_factory=lambda: FunctionModule(obj), extra=extra)
        obj._corpus = prog
        return obj
    return register


class FunctionModule(torch.nn.Module):
    """Wraps a corpus function as a module whose forward calls it."""

    def __init__(self, fn: Callable) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


def collect() -> list[Program]:
    import corpus
    programs = []
    for info in sorted(pkgutil.iter_modules(corpus.__path__), key=lambda i: i.name):
        if info.name == "support":
            continue
        module = importlib.import_module(f"corpus.{info.name}")
        for value in vars(module).values():
            prog = getattr(value, "_corpus", None)
            if isinstance(prog, Program) and getattr(value, "__module__", None) == module.__name__:
                programs.append(prog)
    return programs


def outcome(run: Callable[[], Any]) -> tuple:
    """('ok', value) or ('raise', exception type, message)."""
    try:
        return ("ok", run())
    except Exception as exc:  # noqa: BLE001 - the outcome is what we compare
        return ("raise", type(exc), str(exc))


def snapshot_globals(module: Any) -> dict[str, str]:
    """The state of the module's globals (plain data, attributes of objects and classes
    defined in it, closure cells of its functions), to prove the sandbox restored them."""
    result = {}
    for name, value in vars(module).items():
        if name.startswith("__"):
            continue
        if isinstance(value, (int, float, str, list, dict, set, tuple)):
            result[name] = repr(value)
        elif getattr(value, "__module__", None) == module.__name__ and hasattr(value, "__dict__"):
            if isinstance(value, type):
                state = {k: v for k, v in vars(value).items() if isinstance(v, (int, str, list, dict))}
            elif callable(value) and hasattr(value, "__closure__"):
                state = [_cell(c) for c in (value.__closure__ or ())]
            else:
                state = vars(value)
            result[name] = repr(state)
    return result


def _cell(cell: Any) -> str:
    try:
        return repr(cell.cell_contents)
    except ValueError:
        return "<empty>"


def copy_inputs(inputs: tuple) -> tuple:
    return copy.deepcopy(inputs)
