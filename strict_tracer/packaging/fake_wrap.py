"""Wrapping a meta tensor as a FakeTensor of the program's mode, once per node value.

`FakeTensor(mode, elem, device)` normalizes its arguments, checks them and sets a dozen
attributes through descriptors (~12 us); a program has one per node. Every FakeTensor of
one mode and device made from a fresh meta tensor carries the same instance state, so the
first one is made by torch's constructor and its instance dictionary is the template of the
rest: each later one is the same subclass wrapping of its meta tensor with that state
(~2 us). tests/packaging/test_fake_wrap.py compares the two constructions.
"""
from __future__ import annotations

import torch
from torch._subclasses.fake_tensor import FakeTensor, FakeTensorConfig, FakeTensorMode


class FakeWrapper:
    """Makes FakeTensors of one mode from fresh meta tensors (requires_grad False)."""

    def __init__(self, mode: FakeTensorMode) -> None:
        self.mode = mode
        self._templates: dict[torch.device, tuple[torch.device, dict]] = {}
        self._safe_data_ptr = not mode._allow_unsafe_data_ptr_access

    def wrap(self, elem: torch.Tensor, device: torch.device) -> FakeTensor:
        template = self._templates.get(device)
        if template is None or FakeTensorConfig.debug or elem.requires_grad:
            made = FakeTensor(self.mode, elem, device)
            if template is None and not FakeTensorConfig.debug and not elem.requires_grad:
                self._templates[device] = (made.fake_device, tuple(vars(made).items()))
            return made
        fake_device, items = template
        fake = torch.Tensor._make_subclass(FakeTensor, elem, False, dispatch_device=True,
                                           device_for_backend_keys=fake_device)
        if self._safe_data_ptr:
            torch._C._set_throw_on_mutable_data_ptr(fake)
        else:
            torch._C._set_warn_deprecated_on_mutable_data_ptr(fake)
        # Item by item, in the constructor's order: the instance dictionary keeps sharing its
        # keys with the class's other instances (update() would make it a dictionary of its
        # own, twice the size: ~0.4 KB more a node value).
        state = fake.__dict__
        for key, value in items:
            state[key] = value
        return fake
