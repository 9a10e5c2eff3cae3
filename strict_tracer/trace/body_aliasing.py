"""Which tensors of a subgraph share storage with its inputs or with each other.

Control-flow subgraphs may neither mutate their inputs nor return them (or views of them):
torch.export refuses both (with grad mode on), and the runtime semantics of the operators
assume fresh outputs. Storage sharing follows the ATen schemas' alias annotations: an output
annotated `Tensor(a)` shares the storage of the argument annotated `(a)`, an argument
annotated `(a!)` is written, an output without annotation is a new tensor. Composite ops
whose output only *may* alias (`reshape`, `contiguous`, `to`) are decided by running them on
fake tensors with the arguments' metadata, as torch decides with its fake tensors.
"""
from __future__ import annotations

import itertools
import operator
from typing import Any

import torch
import torch.fx

_COMPOSITE = "CompositeImplicitAutograd"


def _arguments(node: torch.fx.Node, schema: torch.FunctionSchema) -> list[tuple[Any, Any]]:
    """(schema argument, value) pairs of a call node."""
    pairs = []
    for index, arg in enumerate(schema.arguments):
        if index < len(node.args):
            pairs.append((arg, node.args[index]))
        elif arg.name in node.kwargs:
            pairs.append((arg, node.kwargs[arg.name]))
    return pairs


def _nodes_in(value: Any) -> list[torch.fx.Node]:
    if isinstance(value, torch.fx.Node):
        return [value]
    if isinstance(value, (list, tuple)):
        return [n for v in value for n in _nodes_in(v)]
    return []


class StorageTracker:
    """Storage ids of the tensors of one subgraph, built node by node as the graph grows."""

    def __init__(self) -> None:
        self._ids = itertools.count()
        self._storages: dict[torch.fx.Node, frozenset[int]] = {}
        self._items: dict[torch.fx.Node, list[frozenset[int]] | frozenset[int]] = {}
        self.input_storages: set[int] = set()

    def _fresh(self) -> frozenset[int]:
        return frozenset((next(self._ids),))

    def storages(self, node: torch.fx.Node) -> frozenset[int]:
        return self._storages.get(node, frozenset())

    def add_input(self, node: torch.fx.Node) -> None:
        storage = self._fresh()
        self.input_storages |= storage
        self._storages[node] = storage

    def aliases_input(self, node: torch.fx.Node) -> bool:
        return bool(self.storages(node) & self.input_storages)

    def add_call(self, node: torch.fx.Node) -> list[torch.fx.Node]:
        """Record the storages of a new call node; return the input-aliasing nodes it writes."""
        target = node.target
        if target is operator.getitem:
            base, index = node.args
            items = self._items.get(base)
            if isinstance(items, list) and isinstance(index, int) and index < len(items):
                self._storages[node] = items[index]
            elif isinstance(items, frozenset):        # a list output sharing one alias set
                self._storages[node] = items
            else:
                self._storages[node] = self._fresh()
            return []
        if not isinstance(target, torch._ops.OpOverload):
            # Nested control-flow operators return fresh tensors (their subgraphs were checked);
            # other Python callables in graphs produce no tensors.
            self._items[node] = [self._fresh() for _ in range(_count_outputs(node))]
            return []
        schema = target._schema
        by_set: dict[str, frozenset[int]] = {}
        written: list[torch.fx.Node] = []
        for arg, value in _arguments(node, schema):
            info = arg.alias_info
            if info is None:
                continue
            nodes = _nodes_in(value)
            storage = frozenset().union(*(self.storages(n) for n in nodes)) if nodes else frozenset()
            for name in info.before_set:
                by_set[name] = by_set.get(name, frozenset()) | storage
            if info.is_write:
                written.extend(n for n in nodes if self.aliases_input(n))
        outputs: list[frozenset[int]] = []
        for ret in schema.returns:
            info = ret.alias_info
            shared = frozenset().union(*(by_set.get(name, frozenset()) for name in info.before_set)) \
                if info is not None else frozenset()
            if info is not None and not info.is_write and shared and self._may_alias_only(target) \
                    and not _really_aliases(node):
                shared = frozenset()
            outputs.append(shared if shared else self._fresh())
        if len(schema.returns) == 1 and isinstance(schema.returns[0].type, torch.ListType):
            info = schema.returns[0].alias_info
            self._items[node] = outputs[0] if info is not None else [
                self._fresh() for _ in range(_count_outputs(node))]
        elif len(outputs) == 1:
            self._storages[node] = outputs[0]
        else:
            self._items[node] = outputs
        return written

    @staticmethod
    def _may_alias_only(op: torch._ops.OpOverload) -> bool:
        return torch._C._dispatch_has_kernel_for_dispatch_key(op.name(), _COMPOSITE)


def _count_outputs(node: torch.fx.Node) -> int:
    meta = node.meta.get("st_meta")
    return len(meta) if isinstance(meta, (list, tuple)) else 1


def _really_aliases(node: torch.fx.Node) -> bool:
    """Run a may-alias composite op on fakes with the arguments' metadata; does it alias?"""
    from strict_tracer.ops.oracle.fakes import example_of, fake_mode

    inputs: list[torch.Tensor] = []

    def fake_of(value: Any) -> Any:
        if isinstance(value, torch.fx.Node):
            meta = value.meta.get("st_meta")
            if meta is None or isinstance(meta, (list, tuple)) or not hasattr(meta, "shape") or \
                    any(getattr(s, "hint", 0) is None for s in meta.shape):
                raise _Unknown()        # (a size read from data has no value to run at)
            fake = example_of(meta)
            inputs.append(fake)
            return fake
        if isinstance(value, (list, tuple)):
            return type(value)(fake_of(v) for v in value)
        return value

    try:
        args = fake_of(node.args)
        kwargs = {k: fake_of(v) for k, v in node.kwargs.items()}
        with fake_mode():
            out = node.target(*args, **kwargs)
    except Exception:  # undecidable here: assume the annotation's worst case
        return True
    if not isinstance(out, torch.Tensor):
        return True
    storage = out.untyped_storage()._cdata
    return any(t.untyped_storage()._cdata == storage for t in inputs)


class _Unknown(Exception):
    pass
