"""What the command line exports: a module and example inputs described in text.

A target is `path/to/file.py:Name` or `package.module:Name`. `Name` (dotted names allowed) is
an nn.Module instance, an nn.Module subclass (constructed without arguments), or a factory
function returning a module, `(module, args)` or `(module, args, kwargs)`.

Example inputs are small expressions evaluated by a whitelist interpreter (never `eval`):
literals, tuples/lists/dicts, torch factories (`randn(2, 3)`, `zeros(4, dtype=int64)`,
`randint(0, 10, (5,))`, `tensor([1, 2])`, `torch.ones(3)`) and a shorthand `f32[2, 3]` /
`i64[8]` / `bool[4]` for a random tensor of that dtype and shape. `Dim("batch", min=1)`,
`Dim.AUTO`, `Dim.STATIC` and `Dim.DYNAMIC` are available for --dynamic-shapes.
"""
from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import torch


class TargetError(Exception):
    """The target or its inputs cannot be loaded (a usage error: exit status 2)."""


@dataclass
class Target:
    module: torch.nn.Module
    args: tuple
    kwargs: dict = field(default_factory=dict)


# ---------------------------------------------------------------------- expressions
_DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32, "float": torch.float32, "f32": torch.float32,
    "float16": torch.float16, "half": torch.float16, "f16": torch.float16,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float64": torch.float64, "double": torch.float64, "f64": torch.float64,
    "int64": torch.int64, "long": torch.int64, "i64": torch.int64,
    "int32": torch.int32, "int": torch.int32, "i32": torch.int32,
    "int16": torch.int16, "i16": torch.int16, "int8": torch.int8, "i8": torch.int8,
    "uint8": torch.uint8, "u8": torch.uint8, "bool": torch.bool, "b8": torch.bool,
    "complex64": torch.complex64, "c64": torch.complex64,
}
_FACTORIES: dict[str, Callable[..., Any]] = {
    name: getattr(torch, name) for name in (
        "randn", "rand", "zeros", "ones", "empty", "full", "arange", "randint", "tensor", "eye",
        "linspace", "randperm")
}


def _shaped(dtype: torch.dtype, shape: tuple[int, ...]) -> torch.Tensor:
    """The `f32[2, 3]` shorthand: random values of the dtype (small integers, random bools)."""
    if dtype.is_floating_point or dtype.is_complex:
        return torch.randn(shape, dtype=dtype)
    if dtype is torch.bool:
        return torch.randint(0, 2, shape).bool()
    return torch.randint(0, 10, shape, dtype=dtype)


class _Evaluator(ast.NodeVisitor):
    def __init__(self, allow_dims: bool) -> None:
        self.allow_dims = allow_dims

    def generic_visit(self, node: ast.AST) -> Any:
        raise TargetError(f"unsupported syntax in an input expression: {ast.dump(node)[:60]}")

    def visit_Expression(self, node: ast.Expression) -> Any:
        return self.visit(node.body)

    def visit_Constant(self, node: ast.Constant) -> Any:
        return node.value

    def visit_Tuple(self, node: ast.Tuple) -> tuple:
        return tuple(self.visit(e) for e in node.elts)

    def visit_List(self, node: ast.List) -> list:
        return [self.visit(e) for e in node.elts]

    def visit_Dict(self, node: ast.Dict) -> dict:
        if any(k is None for k in node.keys):
            raise TargetError("`**` is not supported in input expressions")
        return {self.visit(k): self.visit(v) for k, v in zip(node.keys, node.values)}

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        value = self.visit(node.operand)
        if isinstance(node.op, ast.USub):
            return -value
        if isinstance(node.op, ast.UAdd):
            return +value
        raise TargetError("only unary + and - are supported in input expressions")

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id in _DTYPES:
            return _DTYPES[node.id]
        if node.id in ("None", "True", "False"):
            return {"None": None, "True": True, "False": False}[node.id]
        if node.id == "Dim" and self.allow_dims:
            return torch.export.Dim
        raise TargetError(f"unknown name {node.id!r} in an input expression (known: torch "
                          f"factories {', '.join(sorted(_FACTORIES))} and dtype names)")

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        if isinstance(node.value, ast.Name) and node.value.id == "torch":
            if node.attr in _FACTORIES:
                return _FACTORIES[node.attr]
            if node.attr in _DTYPES:
                return _DTYPES[node.attr]
        if (self.allow_dims and isinstance(node.value, ast.Name) and node.value.id == "Dim"
                and node.attr in ("AUTO", "STATIC", "DYNAMIC")):
            return getattr(torch.export.Dim, node.attr)
        raise TargetError(f"unknown attribute {ast.unparse(node)!r} in an input expression")

    def visit_Subscript(self, node: ast.Subscript) -> torch.Tensor:
        if not (isinstance(node.value, ast.Name) and node.value.id in _DTYPES):
            raise TargetError(f"{ast.unparse(node)!r}: the shorthand is dtype[shape], e.g. f32[2, 3]")
        shape = self.visit(node.slice)
        shape = shape if isinstance(shape, tuple) else (shape,)
        if not all(isinstance(s, int) and s >= 0 for s in shape):
            raise TargetError(f"{ast.unparse(node)!r}: sizes must be non-negative integers")
        return _shaped(_DTYPES[node.value.id], shape)

    def visit_Call(self, node: ast.Call) -> Any:
        if isinstance(node.func, ast.Name) and node.func.id in _FACTORIES:
            fn = _FACTORIES[node.func.id]
        else:
            fn = self.visit(node.func)
            if fn not in _FACTORIES.values() and fn is not torch.export.Dim:
                raise TargetError(f"{ast.unparse(node.func)!r} cannot be called in an input "
                                  "expression")
        args = [self.visit(a) for a in node.args]
        kwargs = {k.arg: self.visit(k.value) for k in node.keywords if k.arg is not None}
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise TargetError(f"{ast.unparse(node)}: {exc}") from None


def evaluate_input(text: str, *, allow_dims: bool = False) -> Any:
    """Evaluate one input expression (see the module docstring for what is allowed)."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise TargetError(f"cannot parse input expression {text!r}: {exc.msg}") from None
    return _Evaluator(allow_dims).visit(tree)


def parse_kwargs(items: list[str]) -> dict[str, Any]:
    kwargs = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise TargetError(f"--kwargs expects NAME=EXPR, got {item!r}")
        kwargs[name.strip()] = evaluate_input(text)
    return kwargs


# ---------------------------------------------------------------------- targets
def _import_source(spec: str) -> Any:
    if spec.endswith(".py") or os.sep in spec or "/" in spec:
        path = os.path.abspath(spec)
        if not os.path.isfile(path):
            raise TargetError(f"no such file: {spec}")
        name = "_strict_tracer_target_" + os.path.splitext(os.path.basename(path))[0]
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise TargetError(f"cannot load {spec} as a Python module")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        directory = os.path.dirname(path)
        if directory not in sys.path:
            sys.path.insert(0, directory)        # sibling imports of the user's file
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:
            raise TargetError(f"importing {spec} failed: {type(exc).__name__}: {exc}") from exc
        return module
    try:
        return importlib.import_module(spec)
    except Exception as exc:
        raise TargetError(f"cannot import {spec}: {type(exc).__name__}: {exc}") from exc


def load_target(spec: str, args: list[str] | None, kwargs: list[str],
                seed: int = 0) -> Target:
    """Load `file.py:Name` (or `module:Name`) and build the example inputs."""
    source, sep, name = spec.rpartition(":")
    if not sep or not source or not name:
        raise TargetError(f"target must be FILE.py:NAME or MODULE:NAME, got {spec!r}")
    torch.manual_seed(seed)
    obj = _import_source(source)
    for part in name.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(f"{source} has no attribute {name!r}") from None
    module, f_args, f_kwargs = _instantiate(obj, name)
    if args is not None:
        f_args = tuple(evaluate_input(a) for a in args)
    if kwargs:
        f_kwargs = {**f_kwargs, **parse_kwargs(kwargs)}
    if f_args is None:
        raise TargetError(f"{name} gives no example inputs: pass --args (e.g. --args "
                          "\"randn(2, 3)\") or return (model, args) from a factory")
    return Target(module, f_args, f_kwargs)


def _instantiate(obj: Any, name: str) -> tuple[torch.nn.Module, tuple | None, dict]:
    if isinstance(obj, torch.nn.Module):
        return obj, None, {}
    if isinstance(obj, type) and issubclass(obj, torch.nn.Module):
        try:
            return obj(), None, {}
        except Exception as exc:
            raise TargetError(f"cannot construct {name}() without arguments ({type(exc).__name__}: "
                              f"{exc}); point the target at a factory function instead") from exc
    if not callable(obj):
        raise TargetError(f"{name} is neither an nn.Module nor a factory function")
    try:
        result = obj()
    except Exception as exc:
        raise TargetError(f"{name}() failed: {type(exc).__name__}: {exc}") from exc
    if isinstance(result, torch.nn.Module):
        return result, None, {}
    if isinstance(result, (tuple, list)) and 2 <= len(result) <= 3 and \
            isinstance(result[0], torch.nn.Module):
        args = result[1]
        args = tuple(args) if isinstance(args, (tuple, list)) else (args,)
        kwargs = dict(result[2]) if len(result) == 3 else {}
        return result[0], args, kwargs
    raise TargetError(f"{name}() returned {type(result).__name__}; a factory must return a "
                      "module, (module, args) or (module, args, kwargs)")
