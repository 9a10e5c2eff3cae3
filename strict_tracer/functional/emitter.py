"""Building nodes during functionalization: an ops.Emitter, and refusals located at nodes.

New nodes go through `ops.dispatch`, like the interpreter's: the oracle gives each one its
exact overload, dtype, shape and strides, and symbolic shapes come from the same shape rules.
They copy the source metadata (stack trace, module stack, grad region) of the traced node
they stand for, as torch's functionalization does.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.fx

from .. import ops
from ..errors import Category, GraphBreakError, InternalTracerError
from ..trace.graph import call_node, op_display_name
from ..ops import shape_rules
from ..proxy import TensorMeta, TensorProxy
from ..symbolic import SymValue

# Node metadata that belongs to the traced node, not to the value: never copied.
_VALUE_KEYS = frozenset({"st_meta", "st_value", "val", "tensor_meta"})


def refusal(node: torch.fx.Node | None, reason: str, hint: str = "",
            category: str = Category.UNSUPPORTED_TENSOR_OP) -> GraphBreakError:
    """A GraphBreakError located where the interpreter made `node`."""
    where = node.meta.get("st_where") if node is not None else None
    if where is not None:
        return where.error(category, reason, hint)
    return GraphBreakError(category, reason, hint=hint)


def copy_source_meta(dst: torch.fx.Node, src: torch.fx.Node) -> None:
    for key, value in src.meta.items():
        if key not in _VALUE_KEYS:
            dst.meta[key] = value


class PassEmitter:
    """ops.Emitter that inserts nodes before the node being rewritten."""

    def __init__(self, graph: torch.fx.Graph, shape_env: Any, default_grad: tuple,
                 sym_nodes: Any = None) -> None:
        self.graph = graph
        self.shape_env = shape_env
        self.sym_nodes = sym_nodes
        self.default_grad = default_grad
        self.sym_sources: dict[int, torch.fx.Node] = {}   # id(SymValue) -> the node computing it
        self.origin: torch.fx.Node | None = None
        self.st_grad: tuple = default_grad

    def source(self, origin: torch.fx.Node | None) -> "_Source":
        """Emit nodes on behalf of `origin` (its metadata and grad mode) inside the `with`."""
        return _Source(self, origin)

    # -- ops.Emitter protocol --
    @property
    def grad_enabled(self) -> bool:
        return self.st_grad[0]

    @property
    def autocast(self) -> torch.dtype | None:
        region = self.origin.meta.get("st_autocast") if self.origin is not None else None
        return region.op_dtype() if region is not None else None

    def emit_call(self, op: Any, args: tuple, kwargs: dict, meta: Any) -> torch.fx.Node:
        node = call_node(self.graph, op, args, kwargs, op_display_name(op))
        if self.origin is not None:
            copy_source_meta(node, self.origin)
        node.meta["st_grad"] = self.st_grad
        node.meta["st_meta"] = meta
        return node

    def new_proxy(self, node: torch.fx.Node, meta: TensorMeta, origin_op: Any) -> TensorProxy:
        if not meta.is_static and self.sym_nodes is not None:
            self.sym_nodes.bind_unbacked_sizes(node, meta.shape)
        return TensorProxy(node, meta, f"from {origin_op}")

    def sym_node(self, value: Any) -> Any:
        """The graph value of a symbolic argument: the traced node it came from, else new nodes."""
        if not isinstance(value, SymValue):
            return value
        node = self.sym_sources.get(id(value))
        if node is not None:
            return node
        if self.sym_nodes is None:
            raise refusal(self.origin, f"cannot compute the size {value} in the graph")
        return self.sym_nodes.node_for(value, cache={})

    def bind_scalar(self, value: Any, node: torch.fx.Node) -> None:
        if self.sym_nodes is None:
            raise refusal(self.origin, f"cannot compute the value {value.describe()} in the graph")
        self.sym_nodes.bind_value(next(iter(value.expr.free_symbols)), node, value.expr)

    def values(self, value: Any) -> Any:
        """Traced arguments for dispatch: nodes computing sizes become their symbolic values."""
        if isinstance(value, torch.fx.Node):
            meta = value.meta.get("st_meta")
            if isinstance(meta, SymValue):
                self.sym_sources[id(meta)] = value
                return meta
            return value
        if isinstance(value, (list, tuple)):
            return (tuple if isinstance(value, tuple) else list)(self.values(v) for v in value)
        if isinstance(value, dict):
            return {k: self.values(v) for k, v in value.items()}
        return value

    def lift_constant(self, tensor: torch.Tensor) -> TensorProxy:
        raise refusal(self.origin, "functionalizing this op would create a new tensor constant",
                      "avoid this op, or make its functional form explicit in forward()")

    def symbolic_shapes(self, op: Any, args: tuple, kwargs: dict, outputs: list[TensorMeta]) -> None:
        shape_rules.apply_rule(op, args, kwargs, outputs, self.shape_env)

    # -- building --
    def emit(self, op: Any, args: tuple, kwargs: dict, decompose: Any = None) -> Any:
        args, kwargs = self.values(args), self.values(kwargs)
        try:
            return ops.dispatch(op, args, kwargs, self, decompose)
        except ops.UnsupportedCall as exc:
            raise refusal(self.origin, f"cannot functionalize {op}: {exc}") from None
        except GraphBreakError:
            raise
        except Exception as exc:   # the functional form failed where the traced op ran
            raise InternalTracerError(f"functionalization emitted {op} that failed: {exc}") from exc


class _Source:
    """PassEmitter.source's context (a class: the pass enters one for every node, and a
    generator-based context manager costs several times more)."""

    __slots__ = ("emitter", "origin", "saved")

    def __init__(self, emitter: PassEmitter, origin: torch.fx.Node | None) -> None:
        self.emitter, self.origin = emitter, origin

    def __enter__(self) -> None:
        emitter, origin = self.emitter, self.origin
        self.saved = emitter.origin, emitter.st_grad
        emitter.origin = origin
        emitter.st_grad = emitter.default_grad if origin is None else \
            origin.meta.get("st_grad", emitter.default_grad)

    def __exit__(self, *exc: Any) -> None:
        self.emitter.origin, self.emitter.st_grad = self.saved
