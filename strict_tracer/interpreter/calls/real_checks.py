"""Custom ops checked against their real kernels, under torch's real-tensor propagation.

When `torch._functorch.config.fake_tensor_propagate_real_tensors` is set as export starts,
every recorded op also runs on the real example values (trace/real_values.py). For a custom
op (any namespace but aten/prims) the run is checked as torch's strict export checks it:
the arguments its real kernel writes must be the ones its schema declares mutated, and the
output its fake implementation described must have the real output's rank, dtype, device,
sizes and aliasing. A failed check is the op's failure at the user's line (export lets it out
as torch._dynamo.exc.TorchRuntimeError, as torch's does).
"""
from __future__ import annotations

from typing import Any

import torch
from torch._subclasses.fake_tensor import MetadataMismatchError

from ...errors import OP_FAILURE
from ...proxy import TensorMeta, TensorProxy
from ...symbolic import SymValue
from ...trace.real_values import RealValues, rng_kept
from .custom_ops import fake_kernel


def is_custom(op: Any) -> bool:
    return isinstance(op, torch._ops.OpOverload) and op.namespace not in ("aten", "prim", "prims")


def op_failure(error: RuntimeError) -> RuntimeError:
    setattr(error, OP_FAILURE, True)
    return error


def run_recorded(values: RealValues, node: torch.fx.Node, meta: Any) -> None:
    """Run the op of a node just recorded on real values; check a custom op's run."""
    if not is_custom(node.target):
        values.run(node)
        return
    inputs = values.inputs(node)
    if inputs is None:
        return
    out = run_checked(node.target, *inputs)
    values.record(node, out)
    check_outputs(node.target, meta, out)


def run_checked(op: torch._ops.OpOverload, args: tuple, kwargs: dict) -> Any:
    """The custom op's real kernel on real values, its writes checked against its schema."""
    before = [_snapshot(v) for v in _schema_values(op, args, kwargs)]
    try:
        with torch.no_grad(), rng_kept():    # a user kernel may draw random numbers
            out = op(*args, **kwargs)
    except RuntimeError as error:    # the kernel's own (torch.library's aliasing check, ...)
        raise op_failure(error)
    for argument, was, value in zip(op._schema.arguments, before,
                                    _schema_values(op, args, kwargs)):
        if was is None:
            continue
        changed = any(_changed(a, b) for a, b in zip(was, _tensors(value)))
        declared = argument.alias_info is not None and argument.alias_info.is_write
        if changed != declared:
            raise op_failure(RuntimeError(
                f"{op._name}: for argument '{argument.name}': the operator's schema {op._schema} "
                f"says that the operator {'mutates' if declared else 'does not mutate'} the "
                f"argument, but its real kernel, run on the example values, "
                f"{'left it unchanged' if declared else 'changed it'}. Make the schema and the "
                "kernel agree: list the arguments the kernel writes in "
                "torch.library.custom_op(..., mutates_args=...) (in a schema string, "
                "'Tensor(a!) name'), and no others."))
    return out


def check_outputs(op: Any, meta: Any, real: Any) -> None:
    """The fake implementation's output metadata (a TensorMeta, or a list of them for a
    sequence) against the real kernel's output."""
    metas = meta if isinstance(meta, list) else [meta]
    reals = list(real) if isinstance(real, (list, tuple)) else [real]
    for k, (fake, value) in enumerate(zip(metas, reals)):
        if not isinstance(fake, TensorMeta) or not isinstance(value, torch.Tensor):
            continue
        where = f"output[{k}]" if isinstance(meta, list) else "output"
        if (len(fake.shape), fake.dtype, fake.device) != (value.dim(), value.dtype, value.device):
            raise op_failure(MetadataMismatchError(
                f"Real tensor propagation found a metadata mismatch between fake tensor "
                f"{describe_meta(fake)} and real tensor {describe_real(value)}, at {where}, "
                f"for func: {op}"))
        for j, (size, real_size) in enumerate(zip(fake.shape, value.shape)):
            hint = size.hint if isinstance(size, SymValue) else size
            if hint is not None and hint != real_size:
                shown = size.expr if isinstance(size, SymValue) else size
                raise op_failure(MetadataMismatchError(
                    f"Real tensor propagation found an output size mismatch between fake shape "
                    f"{shown} and real shape {real_size}, at {where}.size({j}), for func: {op}"))


def check_aliasing(values: RealValues, args: tuple, kwargs: dict, result: Any) -> None:
    """A custom op's output is one of its inputs in its Python fake implementation exactly
    when the real output shares an input's storage. (Ops with kernels in C++, such as
    `_c10d_functional.wait_tensor`, are recorded by their own rules, not by a proxy identity.)"""
    operands = [a for a in _flat((args, kwargs)) if type(a) is TensorProxy]
    for out in _flat(result):
        if type(out) is not TensorProxy or fake_kernel(out.node.target) is None:
            continue
        inputs = values.inputs(out.node)
        real = values.known(out.node)
        if inputs is None or not isinstance(real, torch.Tensor):
            continue
        storages = {t.untyped_storage()._cdata for t in _flat(inputs) if isinstance(t, torch.Tensor)}
        real_alias = real.untyped_storage()._cdata in storages
        fake_alias = any(out is a for a in operands)
        if real_alias != fake_alias:
            raise op_failure(MetadataMismatchError(
                f"Real tensor propagation found an aliasing mismatch between fake output "
                f"{describe_meta(out.meta)} and real output {describe_real(real)}, for func: "
                f"{out.node.target} (the fake implementation returns "
                f"{'one of its inputs' if fake_alias else 'a new tensor'}, the real kernel "
                f"{'an alias of an input' if real_alias else 'a new tensor'})"))


def describe_meta(meta: TensorMeta) -> str:
    sizes = tuple(s.expr if isinstance(s, SymValue) else s for s in meta.shape)
    return f"tensor(..., size={sizes}, dtype={meta.dtype}, device={meta.device})"


def describe_real(value: torch.Tensor) -> str:
    return f"tensor(..., size={tuple(value.shape)}, dtype={value.dtype}, device={value.device})"


def _schema_values(op: torch._ops.OpOverload, args: tuple, kwargs: dict) -> list:
    return [args[i] if i < len(args) else kwargs.get(a.name) for i, a in
            enumerate(op._schema.arguments)]


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, torch.Tensor)]
    return []


def _snapshot(value: Any) -> list[torch.Tensor] | None:
    tensors = _tensors(value)
    return [t.detach().clone() for t in tensors] if tensors else None


def _changed(before: torch.Tensor, after: torch.Tensor) -> bool:
    if before.shape != after.shape or before.dtype != after.dtype:
        return True
    same = (before == after) | (before.isnan() & after.isnan()) if before.is_floating_point() \
        else before == after
    return not bool(same.all())


def _flat(value: Any) -> list:
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _flat(v)]
    if isinstance(value, dict):
        return [x for v in value.values() for x in _flat(v)]
    return [value]
