"""Symbolic sizes inside control-flow bodies.

Each body graph computes the symbolic values its ops need from its own inputs, as torch.export
does: `a.shape[0]` of a dynamic input becomes `aten.sym_size.int(a, 0)` inside the body. A
symbol that no input of the body carries is computed by the enclosing graph and passed to the
body as an extra (SymInt) input.
"""
from __future__ import annotations

from typing import Any

import sympy
import torch

from ..proxy import TensorMeta
from .sym_nodes import SymNodes
from ..symbolic import SymValue


class BodySymNodes(SymNodes):
    """SymNodes of one body graph: bindings to the body's inputs, then to enclosing graphs."""

    def __init__(self, builder, env, parent: SymNodes) -> None:
        super().__init__(builder, env)
        self.parent = parent

    def _symbol(self, s: sympy.Symbol, cache: dict) -> torch.fx.Node:
        if s not in self.bindings:
            # As torch does: a size of an operand is read from the operand inside the body;
            # any other outer value is computed outside and becomes an extra input.
            for operand in self.graph.operands:
                if any(isinstance(size, SymValue) and s in size.expr.free_symbols
                       for size in operand.meta.shape):
                    self.graph.import_node(operand.node)
                    if s in self.bindings:
                        break
            else:
                if self.outer_binding(s) is not None:
                    self.bind_value(s, self.graph.import_node(self.parent.expr_node(s)))
        return super()._symbol(s, cache)

    def outer_binding(self, s: sympy.Symbol) -> Any:
        nodes = self.parent
        while nodes is not None:
            binding = nodes.bindings.get(s)
            if binding is not None:
                return binding
            nodes = getattr(nodes, "parent", None)
        return None

    def defined_outside(self, s: sympy.Symbol) -> bool:
        return self.outer_binding(s) is not None


def bind_placeholder(sym_nodes: SymNodes, node: torch.fx.Node, meta: Any, read: bool) -> None:
    """A new input of a body: its symbolic sizes are bound to it and, with `read`, read from
    it right away, as torch does (the reads nobody uses are dropped when the body is done)."""
    if isinstance(meta, TensorMeta) and not meta.is_static:
        sym_nodes.bind_input(node, meta.shape)
        for size in meta.shape if read else ():
            if isinstance(size, SymValue) and size.expr.is_Symbol:
                binding = sym_nodes.bindings.get(size.expr)
                if binding is not None and binding.node is node:
                    sym_nodes.expr_node(size.expr)


def leaked_unbacked(sym_nodes: BodySymNodes, metas: list[Any]) -> list[sympy.Symbol]:
    """Data-dependent symbols created inside the body that appear in `metas` (output shapes)."""
    env = sym_nodes.env
    leaked = []
    for meta in metas:
        sizes = meta.shape if isinstance(meta, TensorMeta) else (meta,)
        for size in sizes:
            if not isinstance(size, SymValue):
                continue
            for s in env.resolve(size.expr).free_symbols:
                info = env.symbols.get(s)
                if info is not None and info.unbacked and not sym_nodes.defined_outside(s) \
                        and s not in leaked:
                    leaked.append(s)
    return leaked
