"""Custom ops that write their arguments: `torch.ops.higher_order.auto_functionalized_v2`.

A custom op (not ATen) whose schema marks arguments written (`Tensor(a!) x`) has no
functional variant to call. torch.export's functional IR wraps it in the
`auto_functionalized_v2` operator, which runs the op on copies of the written tensors and
returns the op's results followed by the copies' new values. We emit that call with each
written argument's current value as its own base (`_x_base_index = i`), then write the new
values back through the pass's view chains like any other write, so a written view updates
its base.
"""
from __future__ import annotations

import operator
from typing import Any

import torch
import torch.fx
from torch._higher_order_ops.auto_functionalize import can_auto_functionalize

from ..proxy import TensorMeta, TensorProxy
from .emitter import refusal
from .storage import FTensor, KnownOutputs

HOP = torch.ops.higher_order.auto_functionalized_v2


def auto_functionalizable(op: Any) -> bool:
    """A custom op whose writes and returns auto_functionalized_v2 can express (not out=)."""
    return can_auto_functionalize(op) and not torch._library.utils.is_out(op)


def _written(arg: Any) -> bool:
    return arg.alias_info is not None and arg.alias_info.is_write


def _schema_arguments(node: torch.fx.Node) -> dict[str, Any]:
    """Every schema argument of the traced call by name (defaults for those not given)."""
    values = {}
    for i, arg in enumerate(node.target._schema.arguments):
        if not arg.kwarg_only and i < len(node.args):
            values[arg.name] = node.args[i]
        elif arg.name in node.kwargs:
            values[arg.name] = node.kwargs[arg.name]
        else:
            values[arg.name] = arg.default_value if arg.has_default_value() else None
    return values


def _tensors(value: Any) -> list:
    if isinstance(value, torch.fx.Node):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, torch.fx.Node)]
    return []


def functionalize_custom_op(pass_: Any, node: torch.fx.Node) -> None:
    """Replace the traced call `node` (a writing custom op) by the auto_functionalized_v2 call."""
    schema = node.target._schema
    given = _schema_arguments(node)
    written = [a.name for a in schema.arguments if _written(a)]
    _refuse_aliasing(pass_, node, given, written)
    kwargs: dict[str, Any] = {}
    bases: list[TensorProxy] = []
    targets: list[FTensor] = []
    for arg in schema.arguments:
        value = given[arg.name]
        if arg.name not in written:
            kwargs[arg.name] = pass_._arg(value, True)
        elif isinstance(value, (list, tuple)):
            kwargs[f"_{arg.name}_length"] = len(value)
            for i, item in enumerate(value):
                kwargs[f"_{arg.name}_{i}_base_index"] = _add_base(pass_, item, bases, targets)
        else:
            kwargs[f"_{arg.name}_base_index"] = _add_base(pass_, value, bases, targets)
    kwargs["_all_bases"] = [b.node for b in bases]
    traced = node.meta.get("st_meta")
    outputs = list(traced) if isinstance(traced, (list, tuple)) else [traced]
    metas = tuple(outputs + [b.meta for b in bases])
    call = pass_.emitter.emit_call(HOP, (node.target,), kwargs, metas)
    items = [_getitem(pass_, call, i, meta) for i, meta in enumerate(metas)]
    for ft, new in zip(targets, items[len(outputs):]):
        pass_.write(ft, new)
    _bind_returns(pass_, node, schema, given, items[:len(outputs)])
    pass_.replaced.append(node)


def _add_base(pass_: Any, value: Any, bases: list, targets: list) -> int | None:
    if value is None:
        return None         # an optional written argument not given
    ft = pass_.values[value]
    bases.append(pass_.read(ft))
    targets.append(ft)
    return len(bases) - 1


def _getitem(pass_: Any, call: torch.fx.Node, index: int, meta: Any) -> Any:
    if not isinstance(meta, TensorMeta):
        return None
    item = pass_.emitter.emit_call(operator.getitem, (call, index), {}, meta)
    return TensorProxy(item, meta, "from auto_functionalized_v2")


def _bind_returns(pass_: Any, node: torch.fx.Node, schema: Any, given: dict,
                  results: list) -> None:
    """What the traced call's results are now: fresh values, or (an in-place custom op's
    `Tensor(a!)` return) the written argument itself."""
    values = []
    for ret, result in zip(schema.returns, results):
        if ret.alias_info is not None:
            source = next(a.name for a in schema.arguments
                          if a.alias_info is not None and a.alias_info.before_set ==
                          ret.alias_info.before_set)
            values.append(pass_.values[given[source]])
        else:
            values.append(FTensor.fresh(result))
    if len(schema.returns) == 1 and not isinstance(node.meta.get("st_meta"), (list, tuple)):
        pass_.values[node] = values[0]
    elif values:
        pass_.values[node] = KnownOutputs(values)


def _refuse_aliasing(pass_: Any, node: torch.fx.Node, given: dict, written: list) -> None:
    """Eager runs the op on the tensors themselves: when a written tensor shares memory with
    another argument, the op sees its own writes through it; copies would not."""
    storages: dict[int, str] = {}
    for name, value in given.items():
        for tensor in _tensors(value):
            ft = pass_.values.get(tensor)
            if not isinstance(ft, FTensor):
                continue
            key = id(ft.storage)
            other = storages.get(key)
            if other is not None and (name in written or other in written):
                target, alias = (name, other) if name in written else (other, name)
                raise refusal(node, f"{node.target} writes its argument '{target}' while another "
                                    f"of its arguments ('{alias}') shares memory with it; a "
                                    "functional graph runs the op on a copy",
                              "pass a .clone() of one of them")
            storages[key] = name
