"""Views of static fakes made by their C++ kernel, without the Python dispatch around it.

A view op (`aten.unsqueeze`, `aten.transpose`, ...) of a static fake costs the oracle ~200 us
for a ~1 us kernel:
- under the Python dispatcher (on for every probe: torch.export's pre-dispatch ops are
  recorded under it) each dispatch key goes through Python, and the Meta key runs the op's
  Python meta function, written for symbolic sizes;
- FakeTensorMode hashes the arguments for its cache and looks for special handlers before it
  calls the meta kernel on the fakes and wraps the meta outputs as fakes of their device.
For the view overloads below, when the tensor is a static fake of the oracle's mode with no
constant value and every other argument a plain int (or None), `call` runs the op below the Python
dispatcher (autograd still wraps the output) and `OracleFakeMode` makes FakeTensorMode's last
step directly: the kernel a CPU tensor would run, the same wrapping, outputs sharing their
input's storage. tests/ops/test_view_kernels.py compares the outputs with FakeTensorMode's
under the Python dispatcher across layouts, sizes 0 and 1, and grad modes. Anything else is
FakeTensorMode's, and so are errors: a call the kernel refuses (whose C++ message differs from
the Python meta function's) is run again the usual way, which raises.
"""
from __future__ import annotations

from typing import Any

import torch
from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode, in_kernel_invocation_manager

aten = torch.ops.aten

# torch wraps every dispatch mode's __torch_dispatch__ in a Dynamo-disabling function (its
# frames must not be compiled under torch.compile), which costs ~5 us a call in set_eval_frame
# and stance lookups. The oracle's modes only run inside an export, never under torch.compile:
# they opt out (TorchDispatchMode._should_skip_dynamo) and call FakeTensorMode's own method.
_FAKE_DISPATCH = FakeTensorMode.__dict__["__torch_dispatch__"]
_FAKE_DISPATCH = getattr(_FAKE_DISPATCH, "__wrapped__", _FAKE_DISPATCH)

# CompositeExplicit view overloads with C++ meta kernels that only compute a layout.
# (CompositeImplicit ones, reshape or flatten, reach the mode as these.)
VIEW_OPS = frozenset({
    aten.view.default, aten.unsqueeze.default, aten.squeeze.default, aten.squeeze.dim,
    aten.squeeze.dims, aten.transpose.int, aten.permute.default, aten.expand.default,
    aten.slice.Tensor, aten.select.int, aten.t.default, aten.split.Tensor,
    aten.split_with_sizes.default, aten.unbind.int, aten.alias.default, aten.unfold.default,
    aten.diagonal.default,
})


def call(func: Any, args: tuple, kwargs: dict) -> Any:
    """`func(*args, **kwargs)` as the oracle's recorded call runs it: a view of a static fake
    below the Python dispatcher."""
    if func in VIEW_OPS and _static_device(args, kwargs) is not None:
        try:
            with torch._C._DisablePythonDispatcher():
                return func(*args, **kwargs)
        except Exception:   # noqa: BLE001 - the error is the one FakeTensorMode raises below
            pass
    return func(*args, **kwargs)


class OracleFakeMode(FakeTensorMode):
    """The oracle's FakeTensorMode: view ops of static fakes skip the dispatch machinery."""

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        return False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in VIEW_OPS and not self.in_kernel_invocation:
            device = _static_device(args, kwargs, self)
            if device is not None:
                try:
                    with torch._C._DisablePythonDispatcher(), in_kernel_invocation_manager(self):
                        out = func(*args, **(kwargs or {}))
                    return self._wrap(out, device)
                except Exception:   # noqa: BLE001 - FakeTensorMode's own error is raised below
                    pass
        return _FAKE_DISPATCH(self, func, types, args, kwargs)

    def _wrap(self, out: Any, device: torch.device) -> Any:
        convert = self.fake_tensor_converter.from_meta_and_device
        if isinstance(out, torch.Tensor):
            return convert(self, out, device)
        return type(out)(convert(self, t, device) for t in out)


def _static_device(args: tuple, kwargs: dict | None, mode: Any = None) -> torch.device | None:
    """The device of the one tensor argument, a static fake of an OracleFakeMode (`mode`, if
    given) with no constant value, the other arguments plain ints or None; None otherwise."""
    tensor = args[0] if args else None
    if type(tensor) is not FakeTensor or not isinstance(tensor.fake_mode, OracleFakeMode) or \
            (mode is not None and tensor.fake_mode is not mode) or \
            tensor.constant is not None or tensor._has_symbolic_sizes_strides:
        return None
    for value in (*args[1:], *(kwargs or {}).values()):
        if isinstance(value, (list, tuple)):
            if not all(type(v) is int for v in value):
                return None
        elif type(value) is not int and value is not None:
            return None
    return tensor.fake_device
