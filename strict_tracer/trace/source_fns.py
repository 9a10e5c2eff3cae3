"""`source_fn_stack` and `torch_fn` node metadata, as torch.export's strict mode records them.

Every node made while the user's code is inside one torch-level call (an operator on tensors,
a tensor method, a torch / torch.nn.functional function) carries:

- `source_fn_stack = [(name, target)]`: `name` is the call's node name in the graph Dynamo
  would have built (FX names: `add`, `add_1`, `sum_1` for a builtin-shadowing `sum`), and
  `target` the operator function (`operator.add`), the method name (`"view"`), the function
  (`torch.relu`), or the torch.nn module class when the call runs inside a torch.nn module's
  forward (`torch.nn.Linear`) — what `get_source_partitions` and quantizers match on;
- `torch_fn = (f"{fn.__name__}_{n}", f"{type(fn).__name__}.{fn.__name__}")` for the n-th call
  of the outermost torch function (`("linear_1", "builtin_function_or_method.linear")`);
  Python operators count as the Tensor method torch dispatches them to (`+` -> Tensor.add).

Calls nested inside the outermost one (F.relu calling torch.relu) do not start a new entry.
"""
from __future__ import annotations

import contextlib
import functools
import operator
import types
from typing import Any, Callable, Iterator

import torch
from torch.fx.graph import _Namespace
from torch.fx.proxy import _COPY_META_FIELDS

# Python operators -> the Tensor method torch.export names in torch_fn.
_OPERATOR_METHODS = {
    operator.add: "add", operator.sub: "sub", operator.mul: "mul", operator.truediv: "div",
    operator.matmul: "matmul", operator.neg: "neg", operator.abs: "abs", operator.pos: "positive",
    operator.iadd: "add_", operator.isub: "sub_", operator.imul: "mul_", operator.itruediv: "div_",
    operator.gt: "gt", operator.lt: "lt", operator.ge: "ge", operator.le: "le", operator.eq: "eq",
    operator.ne: "ne", operator.and_: "__and__", operator.or_: "__or__", operator.xor: "__xor__",
    operator.floordiv: "__floordiv__", operator.mod: "__mod__", operator.pow: "__pow__",
    operator.invert: "__invert__", operator.lshift: "__lshift__", operator.rshift: "__rshift__",
    operator.getitem: "__getitem__", operator.setitem: "__setitem__",
}
_TENSOR_BASE = torch._C.TensorBase


@functools.lru_cache(maxsize=1)
def torch_python_functions() -> frozenset:
    """The Python-level torch functions that take part in __torch_function__ (F.relu, ...)."""
    found = set()
    for functions in torch.overrides.get_overridable_functions().values():
        found.update(f for f in functions if type(f) is types.FunctionType)
    return frozenset(found)


def _is_tensor_method(fn: Any) -> bool:
    return getattr(fn, "__objclass__", None) in (_TENSOR_BASE, torch.Tensor) or (
        type(fn) is types.FunctionType and fn.__qualname__.startswith("Tensor."))


class SourceFns:
    """The torch-level call the user's code is in, and the counters naming it."""

    def __init__(self) -> None:
        self._names = _Namespace()
        self._counts: dict[Any, int] = {}
        # id(fn) -> (fn, *_describe_fn(fn)) for the few torch functions a program calls again
        # and again (fn is held, so no other callee takes its id)
        self._described: dict[int, tuple] = {}
        self.current: tuple[str, Any, tuple[str, str]] | None = None   # name, target, torch_fn

    @contextlib.contextmanager
    def call(self, fn: Any) -> Iterator[None]:
        """Inside the user's call of `fn` (no-op inside another torch-level call)."""
        if self.current is not None:
            yield
            return
        self.current = self._describe(fn)
        try:
            yield
        finally:
            self.current = None

    def run_within(self, fn: Any, run: Callable[..., Any], *args: Any) -> Any:
        """`run(*args)` inside the user's call of `fn`: call() without a generator context
        manager's cost (every tensor op passes here)."""
        if self.current is not None:
            return run(*args)
        self.current = self._describe(fn)
        try:
            return run(*args)
        finally:
            self.current = None

    def _describe(self, fn: Any) -> tuple[str, Any, tuple[str, str]]:
        entry = self._described.get(id(fn))
        if entry is None:
            entry = self._described[id(fn)] = (fn, *_describe_fn(fn))
        _, torch_fn, base, target, fn_name, kind = entry
        count = self._counts.get(torch_fn, 0) + 1
        self._counts[torch_fn] = count
        return self._names.create_name(base, None), target, (f"{fn_name}_{count}", kind)

    def metadata(self, module_type: type | None) -> dict[str, Any]:
        """The keys for a node made now; `module_type` is the innermost module's class."""
        if self.current is None:
            return {}
        name, target, torch_fn = self.current
        if module_type is not None and _is_torch_nn(module_type):
            target = module_type
        return {"source_fn_stack": [(name, target)], "torch_fn": torch_fn}


def _describe_fn(fn: Any) -> tuple[Any, str, Any, str, str]:
    """What names a call of `fn`, apart from its counts: (the torch function torch_fn counts,
    the FX name's base, source_fn_stack's target, torch_fn's name, torch_fn's kind)."""
    method = _OPERATOR_METHODS.get(fn)
    torch_fn = getattr(torch.Tensor, method) if method is not None else fn
    base = getattr(fn, "__name__", None) or type(fn).__name__
    target = base if _is_tensor_method(fn) else fn
    fn_name = getattr(torch_fn, "__name__", base)
    return torch_fn, base, target, fn_name, f"{type(torch_fn).__name__}.{fn_name}"


class RetracedGraph:
    """Re-exporting a GraphModule (an exported program's `.module()`): a node made while its
    generated forward runs the line of original node N keeps N's metadata (custom tags,
    module stack, source_fn_stack, stack trace), as torch.export does."""

    def __init__(self, gm: torch.fx.GraphModule) -> None:
        self.code = gm.forward.__code__
        self.first_line = self.code.co_firstlineno
        self.lineno_map = gm._lineno_map or {}
        self.metas = [node.meta for node in gm.graph.nodes]

    @classmethod
    def of(cls, root: Any) -> "RetracedGraph | None":
        if not isinstance(root, torch.fx.GraphModule) or getattr(root, "_lineno_map", None) is None:
            return None
        return cls(root)

    def metadata(self, code: Any, lineno: int | None) -> dict[str, Any]:
        """The fields to copy onto a node made at `lineno` of `code` ({} elsewhere)."""
        if code is not self.code or lineno is None:
            return {}
        index = self.lineno_map.get(lineno - self.first_line)
        if index is None:
            return {}
        meta = self.metas[index]
        return {k: meta[k] for k in (*_COPY_META_FIELDS, "stack_trace") if k in meta}


def _is_torch_nn(cls: type) -> bool:
    module = cls.__module__
    return module.startswith("torch.nn.") or module.startswith("torch.ao.nn.")


def annotate_lifted_placeholders(graph: torch.fx.Graph, lifted_nodes: set) -> None:
    """A lifted parameter or buffer placeholder carries the source_fn_stack of its last
    reader, as torch.export's do (quantizers find a module's weights by it)."""
    order = {n: i for i, n in enumerate(graph.nodes)}
    for node in lifted_nodes:
        readers = [u for u in node.users if "source_fn_stack" in u.meta]
        if readers:
            last = max(readers, key=order.__getitem__)
            node.meta["source_fn_stack"] = last.meta["source_fn_stack"]
