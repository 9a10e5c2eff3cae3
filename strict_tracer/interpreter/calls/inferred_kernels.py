"""Fake kernels inferred from real outputs, under torch's real-tensor propagation.

A custom op without a fake implementation (or Meta kernel) cannot be traced on metadata
alone. With `torch._functorch.config.fake_tensor_propagate_real_tensors` set, torch's strict
export runs its real kernel on the real example values and describes each output from the
real one, as we do here: the same rank, dtype, device and dense layout, every size a fresh
unbacked size (the next input may give other sizes). An output that is not a dense tensor at
storage offset 0, or that is not a tensor, cannot be described so, and is refused.
"""
from __future__ import annotations

import operator
from typing import Any

import torch
from torch._library.custom_ops import CustomOpDef
from torch._library.utils import has_fake_kernel

from ...proxy import TensorMeta, TensorProxy
from ...symbolic import SymInt, SymValue
from ...trace.real_values import Missing, RealValues
from . import real_checks


def kernel_less_op(fn: Any) -> torch._ops.OpOverload | None:
    """The custom OpOverload `fn` calls if it has no fake implementation, else None."""
    op = fn._opoverload if isinstance(fn, CustomOpDef) else fn
    if isinstance(op, torch._ops.OpOverloadPacket):
        if op.overloads() != ["default"]:
            return None
        op = op.default
    if not real_checks.is_custom(op) or has_fake_kernel(op):
        return None
    return op


def call_inferred(tensors: Any, values: RealValues, op: torch._ops.OpOverload, args: tuple,
                  kwargs: dict) -> Any:
    """Record `op(*args, **kwargs)` with output metadata inferred from its real run; None
    when an argument has no real value (the caller then traces it as without the flag)."""
    node_args, node_kwargs = _nodes(args, tensors), _nodes(kwargs, tensors)
    try:
        real_args, real_kwargs = values.value(node_args), values.value(node_kwargs)
    except Missing:
        return None
    out = real_checks.run_checked(op, real_args, real_kwargs)
    single = isinstance(out, torch.Tensor)
    reals = [out] if single else list(out) if isinstance(out, (list, tuple)) else [out]
    if not reals or not all(isinstance(r, torch.Tensor) for r in reals):
        raise real_checks.op_failure(RuntimeError(
            f"propagate_real_tensors: cannot infer a fake kernel for operator {op._name}: it "
            f"returns values that are not tensors ({op._schema}). Register one with "
            "torch.library.register_fake."))
    env = tensors.shape_env
    metas = [_inferred_meta(op, r, env) for r in reals]
    graph = tensors.graph
    node = graph.call(op, node_args, node_kwargs, metas[0] if single else metas)
    values.record(node, out)
    if single:
        return tensors.new_proxy(node, metas[0], op)
    items = []
    for k, (meta, real) in enumerate(zip(metas, reals)):
        item = graph.call(operator.getitem, (node, k), {}, meta)
        values.record(item, real)
        items.append(tensors.new_proxy(item, meta, op))
    return type(out)(items)


def _inferred_meta(op: torch._ops.OpOverload, real: torch.Tensor, env: Any) -> TensorMeta:
    if real.storage_offset() != 0:
        _refuse(op, f"a return has a non-zero storage offset {real.storage_offset()}")
    expected = 1
    for dim in sorted(range(real.dim()), key=lambda d: (real.stride(d), -d)):
        if real.stride(dim) != expected:
            _refuse(op, f"a return is not dense in memory (sizes {list(real.shape)}, strides "
                        f"{list(real.stride())})")
        expected *= real.shape[dim]
    shape = tuple(env.create_unbacked(f"size {d} of {op}'s output (inferred from its real "
                                      "output)", SymInt, lower=0, size_like=True)
                  for d in range(real.dim()))
    return TensorMeta(shape, real.dtype, real.device, False, tuple(real.stride()), 0, real.layout)


def _refuse(op: torch._ops.OpOverload, reason: str) -> None:
    raise real_checks.op_failure(RuntimeError(
        f"propagate_real_tensors: cannot infer a fake kernel (meta kernel) for operator "
        f"{op._name} from its real output: {reason}. Register one with "
        "torch.library.register_fake."))


def _nodes(value: Any, tensors: Any) -> Any:
    if type(value) is TensorProxy:
        return value.node
    if type(value) in (list, tuple):
        return type(value)(_nodes(v, tensors) for v in value)
    if type(value) is dict:
        return {k: _nodes(v, tensors) for k, v in value.items()}
    if isinstance(value, SymValue):
        return tensors.sym_node(value)
    return value
