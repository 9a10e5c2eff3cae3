"""Real values of the root graph's nodes, under torch's opt-in real-tensor propagation.

With `torch._functorch.config.fake_tensor_propagate_real_tensors` set when export starts,
torch's strict export also runs every op on the real example values, to check custom ops
against their real kernels and to infer the fake kernel a custom op lacks. We do the same, on
clones: the example inputs, parameters, buffers and constants are cloned when first read, so
the user's tensors are never written or read back changed. The values serve those checks
only (interpreter/calls/real_checks.py); guards and control flow never read them.

A node whose value cannot be computed (an operator body's node, a control-flow operator, an
op whose real kernel fails) has none, and neither has anything computed from it: the checks
then skip the op, as torch's do when a real tensor is missing.
"""
from __future__ import annotations

import contextlib
import math
import operator
from typing import Any, Iterator

import torch
import torch.fx

from .graph import GraphBuilder


class Missing(Exception):
    """A node has no real value."""


_MISSING = object()
# Targets of scalar nodes (sizes, their arithmetic) computed when first asked for: they read
# tensors' sizes only, so computing them late gives what computing them early would.
_SCALAR_MODULES = frozenset({operator.__name__, math.__name__, "builtins",
                             "torch.fx.experimental.sym_node"})


def propagation_requested() -> bool:
    """Whether torch's opt-in flag asks for real-tensor propagation (read once per export)."""
    return bool(torch._functorch.config.fake_tensor_propagate_real_tensors)


class RealValues:
    """fx.Node -> its real value, for the nodes of one trace's root graph."""

    def __init__(self, builder: GraphBuilder) -> None:
        self._builder = builder
        self._graph = builder.graph
        self._values: dict[torch.fx.Node, Any] = {}
        self._clones: dict[int, Any] = {}       # id(user object) -> its clone (aliases stay aliases)

    def seed(self, node: torch.fx.Node, value: Any) -> None:
        """A placeholder's value: a clone of the example value."""
        self._values[node] = self._clone(value)

    def seed_inputs(self, leaves: list) -> None:
        """The user inputs' values (inputs.InputLeaf); a fake example value has none."""
        for leaf in leaves:
            try:
                self.seed(leaf.node, leaf.value)
            except Missing:
                pass

    def value(self, arg: Any) -> Any:
        """`arg` (a node, or a structure of nodes and constants) with nodes replaced by their
        real values; raises Missing if one has none."""
        if isinstance(arg, torch.fx.Node):
            return self._node_value(arg)
        if isinstance(arg, (list, tuple)):       # FX keeps immutable_list; kernels want lists
            return (list if isinstance(arg, list) else tuple)(self.value(a) for a in arg)
        if isinstance(arg, dict):
            return {k: self.value(v) for k, v in arg.items()}
        return arg

    def inputs(self, node: torch.fx.Node) -> tuple[tuple, dict] | None:
        """The real (args, kwargs) of a call node of the root graph, or None."""
        if node.graph is not self._graph:
            return None
        try:
            return self.value(node.args), self.value(node.kwargs)
        except Missing:
            return None

    def known(self, node: torch.fx.Node) -> Any:
        """The node's real value if it has one, else None."""
        return self._values.get(node)

    def record(self, node: torch.fx.Node, value: Any) -> None:
        self._values[node] = value

    def run(self, node: torch.fx.Node) -> None:
        """Run a recorded op on the real values of its arguments (a builtin ATen op: its
        failure on real data only leaves the node without a value)."""
        inputs = self.inputs(node)
        if inputs is None:
            return
        try:
            with torch.no_grad(), rng_kept(_draws(node.target)):
                self._values[node] = node.target(*inputs[0], **inputs[1])
        except Exception:       # noqa: BLE001 -- the trace's own rules decide what is an error
            return

    # ------------------------------------------------------------------ internals
    def _node_value(self, node: torch.fx.Node) -> Any:
        value = self._values.get(node, _MISSING)
        if value is not _MISSING:
            return value
        if node.graph is not self._graph:
            raise Missing(node.name)
        if node.op == "placeholder":
            for lifted in self._builder.lifted:
                if lifted.node is node:
                    self.seed(node, lifted.tensor)
                    return self._values[node]
        elif node.op == "call_function" and _is_scalar_target(node.target):
            self.run(node)
            if node in self._values:
                return self._values[node]
        raise Missing(node.name)

    def _clone(self, value: Any) -> Any:
        if not isinstance(value, torch.Tensor):
            return value
        if torch._subclasses.fake_tensor.is_fake(value) or value.device.type == "meta":
            raise Missing("a fake example value")
        clone = self._clones.get(id(value))
        if clone is None:
            clone = self._clones[id(value)] = value.detach().clone()
        return clone


@contextlib.contextmanager
def rng_kept(draws: bool = True) -> Iterator[None]:
    """Random numbers drawn inside leave torch's global generator as it was: export changes
    no outside state (a real dropout or randn would otherwise advance the user's seed)."""
    if not draws:
        yield
        return
    state = torch.get_rng_state()
    try:
        yield
    finally:
        torch.set_rng_state(state)


def _draws(target: Any) -> bool:
    return isinstance(target, torch._ops.OpOverload) and \
        torch.Tag.nondeterministic_seeded in target.tags


def _is_scalar_target(target: Any) -> bool:
    if isinstance(target, torch._ops.OpOverload):
        return target.namespace == "aten" and target.__name__.startswith("sym_")
    return getattr(target, "__module__", None) in _SCALAR_MODULES or \
        getattr(target, "__name__", "").startswith("sym_")
