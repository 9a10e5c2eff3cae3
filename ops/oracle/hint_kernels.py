"""Kernels at the hints: the oracle's shortcut for calls into compiled torch bindings.

A symbolic probe runs torch's meta kernels on stand-in symbols, and most of that work (output
sizes and strides as sympy expressions, guards inside the kernel) is thrown away: output
shapes are our shape rules' business and guards inside kernels are discarded. What the probe
must keep is the routing: which ATen call torch makes and with which (symbolic) arguments.

For a compiled binding (`x.view(n, -1)`, `F.linear`, `torch.matmul`, `operator.mul`) the routing
is done before its ATen call, on the symbolic arguments, and the call's output is what the
binding returns (indexing is the exception, and never takes the shortcut). So the first recorded call's kernel can run on static twins of its arguments
at their hint values, which is cheap and cached. The shortcut is checked after the fact and
abandoned (the probe reruns symbolically) unless the binding made exactly one ATen call with
static outputs and returned exactly those outputs: anything else (a second call, data-dependent
sizes, a returned scalar) may have routed on the output's sizes. A binding that made no ATen
call at all (`x.contiguous()` of a contiguous x) ran nothing at the hints: its run stands.
"""
from __future__ import annotations

import operator
import types
from typing import Any, Callable

import torch
from torch.utils import _pytree as pytree

from . import view_kernels
from .fakes import is_static, make_fake, view_key
from .hint_outputs import known_output
from .iterator_layout import eager_layout

# Generated bindings (torch.*, torch._C._nn.*, Tensor methods) and operator functions, which
# reach them. Not the slot wrappers, and not indexing: its code makes one call per index
# element and skips a slice when the size so far says it is whole, i.e. it routes on the
# output of its first call.
_BINDINGS = (types.BuiltinFunctionType, types.MethodDescriptorType)
_ROUTES_ON_OUTPUTS = frozenset({operator.getitem, operator.setitem, operator.delitem})
# Hand-written bindings that look at their input's layout before their ATen call: `contiguous`
# makes none for a contiguous tensor, a question a symbolic run asks of the sizes.
_ROUTES_ON_LAYOUT = frozenset({torch.Tensor.contiguous})


class NeedsSymbolic(Exception):
    """The call cannot take the shortcut; probe it symbolically."""


def eligible(fn: Callable) -> bool:
    return isinstance(fn, _BINDINGS) and fn not in _ROUTES_ON_OUTPUTS


_aten = torch.ops.aten
# ATen overloads whose decomposition decides on dtype, device and layout kind alone (torch's
# `to_will_alias`: the input itself, else one `_to_copy`), as long as no memory format other
# than preserve_format is asked for (that one looks at the strides).
_DECIDED_WITHOUT_SIZES = frozenset({_aten.to.dtype, _aten.to.device, _aten.to.dtype_layout,
                                    _aten.to.other})


# ATen overloads whose decomposition asks about sizes (batch_norm: no elements, the running
# stats' length), which its run on symbolic fakes answers as routing, and ends in one ATen
# call on its own inputs (`_native_batch_norm_legit_no_training`, beside a factory of a
# constant size: an empty reserve tensor), whose kernel (a Python decomposition, ~13 ms on
# symbolic fakes) can run at the hints like a binding's.
_DECOMPOSED_TO_ONE_CALL = frozenset({_aten.batch_norm.default})


def decomposes_to_one_call(fn: Callable) -> bool:
    """`fn`'s decomposition ends in one ATen call whose kernel may run at the hints (see
    _DECOMPOSED_TO_ONE_CALL; HintKernels refuses a second such call or other inputs)."""
    return fn in _DECOMPOSED_TO_ONE_CALL


def decomposes_on_twins(fn: Callable, args: tuple, kwargs: dict) -> bool:
    """`fn`'s decomposition can run on static twins of its symbolic tensors: it never asks
    about their sizes (HintKernels' `inputs`, with an input returned by no call admitted)."""
    return fn in _DECIDED_WITHOUT_SIZES and all(
        v is torch.preserve_format for v in (*args, *kwargs.values())
        if isinstance(v, torch.memory_format))


def takes_twins(fn: Callable) -> bool:
    """The binding can be called with static twins in place of its symbolic tensors: its only
    use of their sizes is its ATen call's kernel (see HintKernels' `inputs`). An ATen overload
    called directly is that call itself."""
    return (eligible(fn) and fn not in _ROUTES_ON_LAYOUT) or isinstance(fn, torch._ops.OpOverload)


class HintKernels:
    """Runs the first recorded call at the hints (see the module docstring).

    `metas`: id of each symbolic input fake -> its TensorMeta, whose hint-shaped fake is the
    static twin. `lender` (the trace's StandInPool): twins of earlier calls with the same
    layout are borrowed from it and given back unchanged after the kernel ran.

    `inputs`: the binding itself was called with these static twins in place of its symbolic
    tensors (only its scalar arguments are stand-ins), which spares making symbolic fakes. A
    generated binding passes its tensors on to its one ATen call untouched, so the call is the
    one a symbolic run records. The run stands only if that call was made (a binding that made
    none may have returned its input because of the twins' sizes; `returns_input`: a
    decomposition known to decide without them may), and it must not have changed their sizes
    or strides in place.
    """

    def __init__(self, metas: dict[int, Any], lender: Any = None,
                 inputs: list[torch.Tensor] | None = None, returns_input: bool = False,
                 constant_factories: bool = False) -> None:
        self.metas = metas
        self.lender = lender
        self.inputs = [(t, _layout(t)) for t in inputs] if inputs is not None else None
        self.returns_input = returns_input      # no call, an input returned: decided without sizes
        # A decomposition's calls without tensors or symbolic values (an empty reserve
        # tensor) run as they are, beside the one call at the hints.
        self.constant_factories = constant_factories
        self.used = False
        self._originals: dict[int, tuple] = {}      # id(twin) -> (symbolic fake, twin's layout)
        self._lent: list = []                       # (key, twin, its state when lent)

    def run(self, func: Any, args: tuple, kwargs: dict) -> Any:
        if self.constant_factories and _constant((args, kwargs)):
            return func(*args, **kwargs)
        if self.used:
            raise NeedsSymbolic("a second ATen call")
        self.used = True
        twins, kw_twins = self._twin(args), self._twin(kwargs)
        out = known_output(func, twins, kw_twins)
        if out is None:
            out = eager_layout(func, twins, kw_twins, view_kernels.call(func, twins, kw_twins))
        result = self._untwin(out)
        for key, twin, state in self._lent:
            self.lender.give_back(key, twin, state)
        return result

    def check(self, output: Any, recorded: list) -> None:
        """The binding returned the recorded call's outputs and nothing else. (A binding that
        made no ATen call ran no kernel at the hints: its run was a symbolic run.)"""
        if self.inputs is not None:
            if not self.used and not (self.returns_input and not recorded and any(
                    output is t for t, _ in self.inputs)):
                raise NeedsSymbolic("no ATen call on twin inputs")
            if any(_layout(t) != layout for t, layout in self.inputs):
                raise NeedsSymbolic("an in-place op changed its input's sizes or strides")
        if not self.used:
            return
        if self.constant_factories:     # the calls that ran as they are aside
            recorded = [c for c in recorded if not _constant((c.args, c.kwargs))]
        if len(recorded) != 1:
            raise NeedsSymbolic("no single ATen call")
        produced = tensors_in(recorded[0].output)
        # A factory binding returns a new tensor object over its call's output: the same view,
        # with the same autograd state, is that output.
        ids, same = {id(t) for t in produced}, {(view_key(t), t.requires_grad) for t in produced}
        if not _only_tensors(output) or any(id(t) not in ids and (view_key(t), t.requires_grad)
                                            not in same for t in tensors_in(output)):
            raise NeedsSymbolic("the binding returned more than the call's outputs")

    def _twin(self, value: Any) -> Any:
        t = type(value)
        if isinstance(value, torch.Tensor):
            if is_static(value):
                return value
            meta = self.metas.get(id(value))
            if meta is None:
                raise NeedsSymbolic("a symbolic tensor the oracle did not make")
            if meta.sized_by_data:
                # No hint exists: a twin would run the kernel at an invented size.
                raise NeedsSymbolic("a size that depends on data")
            twin = self._make_twin(meta)
            self._originals[id(twin)] = (value, _layout(twin))
            return twin
        if t in (torch.SymInt, torch.SymFloat, torch.SymBool):
            hint = value.node.hint
            if hint is None:
                raise NeedsSymbolic("a data-dependent argument")
            return {torch.SymInt: int, torch.SymFloat: float, torch.SymBool: bool}[t](hint)
        if t in (list, tuple):
            return t(self._twin(v) for v in value)
        if t is dict:
            return {k: self._twin(v) for k, v in value.items()}
        return value

    def _make_twin(self, meta: Any) -> torch.Tensor:
        from .probe_symbols import fake_state
        if self.lender is None or type(meta.storage_offset) is not int:
            return make_fake(meta)
        key = ("twin", meta.hint_shape, meta.strides, meta.storage_offset, meta.dtype,
               meta.device, meta.layout, meta.requires_grad, meta.is_leaf)
        twin = self.lender.take_fake(key)
        if twin is None:
            twin = make_fake(meta)
        self._lent.append((key, twin, fake_state(twin)))
        return twin

    def _untwin(self, value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            original = self._originals.get(id(value))
            if original is not None:        # an in-place op returned its input
                fake, layout = original
                if _layout(value) != layout:
                    raise NeedsSymbolic("an in-place op changed its input's sizes or strides")
                return fake
            if not is_static(value):
                raise NeedsSymbolic("an output size that depends on data")
            return value
        if type(value) in (list, tuple):
            return type(value)(self._untwin(v) for v in value)
        if value is None:
            return value
        # A scalar computed by the kernel (it may stand for a symbolic value).
        raise NeedsSymbolic(f"an output of type {type(value).__name__}")


_NOT_CONSTANT = (torch.Tensor, torch.SymInt, torch.SymFloat, torch.SymBool)


def _constant(value: Any) -> bool:
    """No tensor and no symbolic value in a call's (nested) arguments."""
    return not any(isinstance(v, _NOT_CONSTANT) for v in pytree.tree_leaves(value))


def _layout(t: torch.Tensor) -> tuple:
    return tuple(t.shape), t.stride(), t.storage_offset()


def tensors_in(value: Any) -> list[torch.Tensor]:
    """The tensors of a (nested) list/tuple, in order."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in tensors_in(v)]
    return []


def _only_tensors(value: Any) -> bool:
    if value is None or isinstance(value, torch.Tensor):
        return True
    if type(value) in (list, tuple):
        return all(isinstance(v, torch.Tensor) for v in value)
    return False
