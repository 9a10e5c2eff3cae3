"""Tensors inside the interpreter: attributes and methods of proxies, tensor ops, lifting.

The interpreter is also the `ops.Emitter`: ops.dispatch calls back into `emit_call`,
`new_proxy` and `lift_constant` to build nodes with the metadata torch.export records.
"""
from __future__ import annotations

import operator
import types
from typing import Any

import torch

from ... import ops
from ...ops import shape_rules
from ...errors import Category, DataDependentGuardError
from .known_values import known_value
from ...proxy import SymSize, TensorMeta, TensorProxy, plain_sizes
from ...symbolic import DataDependentError
from . import numpy_traced
from ..objects.protocols import _MISSING, lookup_special, stands_for
from ..calls import custom_ops, inferred_kernels, real_checks
from .contiguity import CONTIGUOUS, contiguous_call
from .symbolic_indexing import indexing_call
from .symbolic_calls import DATA_READS

# Tensor methods answered from metadata without running the oracle.
_META_METHODS = frozenset({"size", "dim", "numel", "nelement", "ndimension", "is_floating_point",
                           "is_complex", "element_size", "get_device", "is_signed"})
_META_ATTRS = frozenset({"shape", "dtype", "device", "ndim", "layout", "requires_grad", "is_cuda",
                         "is_cpu", "is_meta", "is_sparse", "is_quantized", "is_mkldnn", "is_nested",
                         "is_leaf"})
_REFUSED_ATTRS = {
    "data": "use `.detach()` for the same values without autograd history (and "
            "torch.no_grad() around in-place updates)",
    "grad": "gradients do not exist while tracing forward()",
    "grad_fn": "autograd history does not exist while tracing forward()",
    "_version": "version counters depend on eager execution",
    "data_ptr": "memory addresses differ on every run; do not use them in forward()",
    "untyped_storage": "storages do not exist while tracing; use tensor ops",
    "storage": "storages do not exist while tracing; use tensor ops",
    "__dict__": "the tracer does not track a tensor's attribute dict; read attributes by name",
}
_REFUSED_REASONS = {
    "data": "`.data` gives an alias of the tensor that autograd and the exported graph do not "
            "track: writes through it would be lost, reads could see stale values",
}
# What the oracle's fake tensors raise when an op reads tensor data (eager would not fail).
_FAKE_DATA_ERRORS = ("data is not allocated yet", "Cannot access data pointer",
                     "Cannot access storage", "not supported for tensor subclasses")
# Methods that hand the tensor's values to Python: refused as data-dependent. (apply_/map_
# call a Python function per element; on fake tensors they crash the process.) `item` and
# `tolist` are not here: they produce unbacked symbols (symbolic_calls.DATA_READS).
_DATA_METHODS = frozenset({"numpy", "__array__", "apply_", "map_", "map2_"})
_INDEXING = frozenset({operator.getitem, operator.setitem, torch.Tensor.__getitem__,
                       torch.Tensor.__setitem__})


def _getset_reader(name: str):
    def read(t):
        return getattr(t, name)
    read.__name__ = read.__qualname__ = f"Tensor.{name}"
    return read


_GETSET_READERS: dict[str, Any] = {}


@stands_for(types.BuiltinMethodType)
class TensorMethod:
    """`proxy.method` for a native Tensor method; calling it dispatches through ops. To the
    program it is the builtin method eager Python would give (`type`, `__qualname__`, repr)."""

    _strict_tracer_native = True
    __slots__ = ("interp", "tensor", "fn", "__name__")

    def __init__(self, interp, tensor: TensorProxy, fn: Any, name: str) -> None:
        self.interp = interp
        self.tensor = tensor
        self.fn = fn
        self.__name__ = name

    @property
    def __self__(self) -> TensorProxy:
        return self.tensor

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.__name__ in _META_METHODS:
            return self.interp.tensors.meta_method(self.tensor, self.__name__, args, kwargs)
        return self.interp.tensors.op(self.fn, (self.tensor, *args), kwargs)

    def __getattr__(self, name: str) -> Any:
        if name == "__qualname__":
            return f"{self.tensor.py_type.__name__}.{self.__name__}"
        raise AttributeError(f"'builtin_function_or_method' object has no attribute '{name}'")

    def describe(self) -> str:
        """For diagnostics (bytecode log, refusal stacks): which tensor it is bound to."""
        return f"<method {self.__name__} of {self.tensor.describe()}>"

    def __repr__(self) -> str:
        return (f"<built-in method {self.__name__} of {self.tensor.py_type.__name__} object at "
                f"{id(self.tensor):#x}>")


class Tensors:
    """Tensor ops, attributes and conversions: the Interpreter's collaborator (interp.tensors),
    and the ops.Emitter implementation ops.dispatch records nodes through. It reads the trace
    state and calls back into the interpreter for refusals, properties and the handlers of
    tensors.*, which take the interpreter."""

    __slots__ = ("_interp", "_state")

    def __init__(self, interp) -> None:
        self._interp = interp
        self._state = interp.state

    # ------------------------------------------------------------------ ops
    def op(self, fn: Any, args: tuple, kwargs: dict) -> Any:
        return self._state.source_fns.run_within(fn, self._op, fn, args, kwargs)

    def _op(self, fn: Any, args: tuple, kwargs: dict) -> Any:
        if kwargs.get("requires_grad") is True or (
                fn is torch.Tensor.requires_grad_ and (args[1] if len(args) > 1 else
                                                       kwargs.get("requires_grad", True))):
            # An exported graph has no autograd leaves of its own: the flag would be lost
            # (torch.export refuses it too) and `t.requires_grad` reads would be wrong.
            raise self._interp.refuse(Category.UNSUPPORTED_TENSOR_OP,
                              "making a tensor require grad inside forward() is not supported",
                              hint="create it outside forward() as an nn.Parameter, or drop "
                                   "requires_grad (exported programs do not record it)",
                              operands=tuple(args))
        read = DATA_READS.get(fn)
        if read is not None and args and type(args[0]) is TensorProxy and not kwargs:
            try:
                return read(self._interp, args[0])
            except DataDependentError as exc:
                raise self.data_dependent(str(exc), exc) from None
        if fn in _INDEXING and args and type(args[0]) is TensorProxy:
            handled, result = indexing_call(self._interp, fn, args)
            if handled:
                return result
        if fn is CONTIGUOUS:
            handled, result = contiguous_call(self._interp, args, kwargs)
            if handled:
                return result
        return self.dispatch(fn, args, kwargs)

    def _refuse_opaque_objects(self, fn: Any, args: tuple, kwargs: dict) -> None:
        """A TorchScript object (packed quantized weights, ...) has no place in an exported
        graph: its repr would be pasted into the program's code. torch.export refuses it too."""
        values = [*args, *kwargs.values()]
        values += [v for seq in values if type(seq) in (list, tuple) for v in seq]
        for value in values:
            if type(value) is not TensorProxy and isinstance(value, torch.ScriptObject):
                kind = getattr(value, "_type", lambda: None)()
                raise self._interp.refuse(
                    Category.UNSUPPORTED_TENSOR_OP,
                    f"{getattr(fn, '__name__', fn)} receives an opaque TorchScript object"
                    f"{f' ({kind.qualified_name()})' if kind is not None else ''}, which an "
                    "exported program cannot hold",
                    hint="export the float model (e.g. nn.Linear instead of a dynamically "
                         "quantized Linear) and quantize the exported program with "
                         "torch.ao.quantization.quantize_pt2e",
                    operands=tuple(args))

    def dispatch(self, fn: Any, args: tuple, kwargs: dict) -> Any:
        """ops.dispatch, with the oracle's failures turned into refusals."""
        self._refuse_opaque_objects(fn, args, kwargs)
        if SymSize in set(map(type, args)) or (kwargs and SymSize in set(map(type, kwargs.values()))):
            args = plain_sizes(args)
            kwargs = dict(zip(kwargs, plain_sizes(tuple(kwargs.values()))))
        try:
            if self._state.real_values is not None:
                return self._dispatch_with_real_values(fn, args, kwargs)
            return ops.dispatch(fn, args, kwargs, self)
        except ops.UnsupportedCall as exc:
            category = Category.DATA_DEPENDENT_VALUE if exc.data_dependent else Category.UNSUPPORTED_TENSOR_OP
            hint = ("this op's output depends on tensor values; express it with static shapes, or "
                    "mark sizes with torch._check" if exc.data_dependent else
                    "use a different torch op, or register a custom op with a fake implementation")
            raise self._interp.refuse(category, str(exc), hint=hint, operands=tuple(args),
                              standin="tensor") from None
        except DataDependentError as exc:
            raise self.data_dependent(str(exc), exc) from None
        except RuntimeError as exc:
            if not any(marker in str(exc) for marker in _FAKE_DATA_ERRORS):
                raise      # the error eager would raise (shape mismatch, bad dtype, ...)
            raise self._interp.refuse(
                Category.DATA_DEPENDENT_VALUE,
                f"{getattr(fn, '__name__', fn)} reads the values of a tensor argument, which do "
                "not exist while tracing", hint="build tensors from tensors with tensor ops "
                "(torch.stack, torch.cat) instead of from Python values",
                operands=tuple(args), standin="tensor") from None

    def _dispatch_with_real_values(self, fn: Any, args: tuple, kwargs: dict) -> Any:
        """ops.dispatch under torch's real-tensor propagation: a custom op without a fake
        implementation gets one inferred from its real run, and a custom op's aliasing is
        checked against its real kernel's (calls/real_checks.py)."""
        values = self._state.real_values
        op = inferred_kernels.kernel_less_op(fn)
        if op is not None:
            result = inferred_kernels.call_inferred(self, values, op, args, kwargs)
            if result is not None:
                return result
        result = ops.dispatch(fn, args, kwargs, self)
        real_checks.check_aliasing(values, args, kwargs, result)
        return result

    def native_tensor_op(self, op: Any, args: tuple) -> Any:
        """An operator applied to a proxy by native code."""
        return self.op(op, args, {})

    # ------------------------------------------------------------------ Emitter protocol
    @property
    def grad_enabled(self) -> bool:
        return self._state.grad_enabled

    @property
    def autocast(self) -> torch.dtype | None:
        return self._state.autocast.op_dtype()

    @property
    def shape_env(self):
        return self._state.shape_env

    def sym_node(self, value: Any) -> Any:
        """The graph node computing a symbolic value passed to an op."""
        return self._state.sym_nodes.node_for(value)

    def bind_scalar(self, value: Any, node: torch.fx.Node) -> None:
        self._state.sym_nodes.bind_value(next(iter(value.expr.free_symbols)), node, value.expr)

    @property
    def graph(self):
        """The GraphBuilder ops are recorded into now."""
        return self._state.graph

    def emit_call(self, op: Any, args: tuple, kwargs: dict, meta: Any) -> torch.fx.Node:
        node = self._state.graph.call(op, args, kwargs, meta)
        if self._state.real_values is not None:     # torch's opt-in real-tensor propagation
            real_checks.run_recorded(self._state.real_values, node, meta)
        return node

    def new_proxy(self, node: torch.fx.Node, meta: TensorMeta, origin_op: Any) -> TensorProxy:
        if not meta.is_static:
            self._state.sym_nodes.bind_unbacked_sizes(node, meta.shape)
        frames = self._interp.frames
        if frames:
            frame = frames[-1]
            return TensorProxy(node, meta, (origin_op, frame.code.co_filename, frame.lineno))
        return TensorProxy(node, meta, (origin_op, None, None))

    def lift_constant(self, tensor: torch.Tensor) -> TensorProxy:
        return self.lift(tensor)

    def symbolic_shapes(self, op: Any, args: tuple, kwargs: dict, outputs: list[TensorMeta]) -> None:
        if custom_ops.needs_fake_kernel(op, args, kwargs):
            custom_ops.apply_fake_kernel(self._interp, op, args, kwargs, outputs)
            return
        shape_rules.apply_rule(op, args, kwargs, outputs, self._state.shape_env)

    # ------------------------------------------------------------------ lifting
    def lift(self, tensor: torch.Tensor) -> TensorProxy:
        """The proxy of a real tensor (parameter, buffer, or constant) met during tracing."""
        return self._state.lift(tensor)

    # ------------------------------------------------------------------ attributes
    def attr(self, proxy: TensorProxy, name: str) -> Any:
        meta = proxy.meta
        custom = self._state.tensor_attrs.get((id(proxy), name), _MISSING)
        if custom is not _MISSING:
            return custom
        if name == "__class__":
            return proxy.py_type       # the eager class (torch.Tensor or nn.Parameter)
        if name in _META_ATTRS:
            if name == "shape":
                return size_object(meta.shape)
            if name == "ndim":
                return len(meta.shape)
            if name == "is_cuda":
                return meta.device.type == "cuda"
            if name == "is_cpu":
                return meta.device.type == "cpu"
            if name == "is_meta":
                return meta.device.type == "meta"
            if name in ("is_sparse", "is_quantized", "is_mkldnn", "is_nested"):
                return False
            if name == "is_leaf":
                return not meta.requires_grad or proxy.py_type is torch.nn.Parameter
            return getattr(meta, name)
        if name == "numpy" and numpy_traced.np is not None:
            return numpy_traced.tensor_numpy(self._interp, proxy)     # an array view of the tensor
        if name in _DATA_METHODS:
            raise self._interp.refuse(Category.DATA_DEPENDENT_VALUE,
                              f"Tensor.{name}() needs the tensor's values, which do not exist while "
                              "tracing", hint="keep the values in tensors and use tensor ops",
                              operands=(proxy,))
        if name in _REFUSED_ATTRS:
            raise self._interp.refuse(Category.UNSUPPORTED_TENSOR_OP, _REFUSED_REASONS.get(
                name, f"reading tensor.{name} inside forward() is not supported"),
                hint=_REFUSED_ATTRS[name], operands=(proxy,), standin="tensor")
        raw = lookup_special(proxy.py_type, name)
        if raw is _MISSING:
            raise AttributeError(f"'{proxy.py_type.__name__}' object has no attribute '{name}'")
        t = type(raw)
        if t is types.FunctionType:
            return types.MethodType(raw, proxy)
        if t in (types.MethodDescriptorType, types.WrapperDescriptorType):
            return TensorMethod(self._interp, proxy, raw, name)
        if t is types.GetSetDescriptorType:
            reader = _GETSET_READERS.get(name)
            if reader is None:
                reader = _GETSET_READERS[name] = _getset_reader(name)
            return self.op(reader, (proxy,), {})
        if t is property:
            return self._interp.call(raw.fget, (proxy,), {})
        if t in (staticmethod, classmethod):
            return raw.__get__(proxy, proxy.py_type)
        return raw

    def meta_method(self, proxy: TensorProxy, name: str, args: tuple, kwargs: dict) -> Any:
        meta = proxy.meta
        if name == "size":
            dim = args[0] if args else kwargs.get("dim")
            if dim is None:
                return size_object(meta.shape)
            return meta.shape[_normalize_dim(dim, len(meta.shape))]
        if name in ("dim", "ndimension"):
            return len(meta.shape)
        if name in ("numel", "nelement"):
            n = 1
            for s in meta.shape:
                n = n * s
            return n
        if name == "is_floating_point":
            return meta.dtype.is_floating_point
        if name == "is_complex":
            return meta.dtype.is_complex
        if name == "is_signed":
            return meta.dtype.is_signed
        if name == "element_size":
            return meta.dtype.itemsize
        if name == "get_device":
            return -1 if meta.device.type == "cpu" else (meta.device.index or 0)
        raise AttributeError(name)

    def set_attr(self, proxy: TensorProxy, name: str, value: Any) -> None:
        if lookup_special(torch.Tensor, name) is _MISSING:
            # A plain Python attribute on the tensor object: later reads in this trace see it.
            self._state.sandbox.check_write(proxy, f"attribute '{name}'")
            self._state.tensor_attrs[(id(proxy), name)] = value
            return
        raise self._interp.refuse(Category.UNSUPPORTED_TENSOR_OP,
                          f"setting Tensor.{name} inside forward() is not supported",
                          hint="create a new tensor instead of changing this one's attributes",
                          operands=(proxy, value))

    # ------------------------------------------------------------------ Python conversions
    def to_python(self, proxy: TensorProxy, kind: Any) -> Any:
        if kind is bool:
            raise self._interp.refuse(
                Category.DATA_DEPENDENT_BRANCH,
                "the program branches on the value of a tensor, which is unknown while tracing",
                hint="use torch.cond(pred, true_fn, false_fn, operands) for data-dependent "
                     "control flow, or branch on shapes (x.shape[0] > 2) instead of values",
                operands=(proxy,), standin="bool")
        known = known_value(self._state, proxy.node)
        if known is not None:      # torch.tensor(2) as an index: the same for every input
            return kind(known)
        raise self._interp.refuse(
            Category.DATA_DEPENDENT_VALUE,
            f"the program converts a tensor to a Python {getattr(kind, '__name__', kind)}, whose "
            "value is unknown while tracing",
            hint="keep the value as a tensor (use tensor ops instead of Python arithmetic), or "
                 "use .item() with torch._check() bounds where sizes depend on it",
            operands=(proxy,), error_class=DataDependentGuardError)

    def data_dependent(self, message: str, exc: DataDependentError | None = None):
        if exc is not None and exc.kind == "specialize":
            return self._interp.refuse(
                Category.DATA_DEPENDENT_VALUE, message,
                hint="keep the value symbolic (pass it to torch ops instead of int()/range()), or "
                     "pin it with torch._check(value == constant) if it is known")
        return self._interp.refuse(Category.DATA_DEPENDENT_BRANCH, message,
                           hint="use torch.cond for data-dependent control flow, or torch._check() "
                                "to tell the tracer facts about data-dependent values (for example "
                                "torch._check(a >= 0) before using a as a size or index)",
                           standin="bool", error_class=DataDependentGuardError)

    def length(self, proxy: TensorProxy) -> Any:
        """`len(t)` in interpreted code: dim 0's size, symbolic like `t.shape[0]` (natives
        calling `len()` get an int through TensorProxy.__len__, which specializes)."""
        if not proxy.meta.shape:
            raise TypeError("len() of a 0-d tensor")
        return proxy.meta.shape[0]

    def iterate(self, proxy: TensorProxy) -> Any:
        if not proxy.meta.shape:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.op(torch.Tensor.unbind, (proxy, 0), {}))


def size_object(shape: tuple) -> Any:
    """What `tensor.shape` returns: a torch.Size, or a SymSize standing for one."""
    if all(type(s) is int for s in shape):
        return torch.Size(shape)
    return SymSize(shape)


def _normalize_dim(dim: int, ndim: int) -> int:
    dim = operator.index(dim)
    wrapped = dim + max(ndim, 1) if dim < 0 else dim
    if not 0 <= wrapped < max(ndim, 1):
        raise IndexError(f"Dimension out of range (expected to be in range of [{-max(ndim, 1)}, "
                         f"{max(ndim, 1) - 1}], but got {dim})")
    return wrapped
