"""What the functionalization pass knows about each traced tensor: its storage and view chain.

Every tensor of the traced (aliasing) graph is a `FTensor`: a `Storage` (the current value of
a whole base tensor, a version bumped by every write) plus the chain of view steps leading
from the base to this tensor. Tensors that share a Storage alias each other at run time; a
write to one of them gives the storage a new value, and the others see it when next read.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch.fx

from ..proxy import TensorMeta, TensorProxy
from .views import ViewStep



@dataclass(frozen=True)
class InputSource:
    """The graph input a storage comes from."""

    kind: str                 # trace.graph PARAMETER / BUFFER / CONSTANT / USER_INPUT
    target: str               # state_dict / constants key, or the user input's name
    node: torch.fx.Node


@dataclass(eq=False)
class Storage:
    value: TensorProxy                    # current value of the whole base tensor
    source: InputSource | None = None     # set for parameters, buffers, constants, user inputs
    version: int = 0                      # bumped by every write
    has_views: bool = False
    no_grad_write: bool = False           # a grad-requiring value was overwritten under no_grad


@dataclass(eq=False)
class FTensor:
    storage: Storage
    chain: tuple[ViewStep, ...]
    meta: TensorMeta
    cached: TensorProxy | None = None     # this tensor's value at `cached_version`
    cached_version: int = -1

    @classmethod
    def fresh(cls, proxy: TensorProxy, source: InputSource | None = None) -> "FTensor":
        return cls(Storage(proxy, source), (), proxy.meta, proxy, 0)

    def view(self, step: ViewStep, meta: TensorMeta, proxy: TensorProxy | None) -> "FTensor":
        """A view of this tensor; `proxy` is its value now (None: make it when read)."""
        self.storage.has_views = True
        version = self.storage.version if proxy is not None else -1
        return FTensor(self.storage, self.chain + (step,), meta, proxy, version)


@dataclass(eq=False)
class ViewOutputs:
    """A multi-output view (split, unbind) of `base`; its getitem nodes become views."""

    base: FTensor
    op: Any
    args: tuple
    kwargs: dict
    origin: torch.fx.Node
    version: int              # storage version when the traced node was made
    opaque: bool = False      # see ViewStep.opaque


@dataclass(eq=False)
class KnownOutputs:
    """A multi-output node the pass replaced: getitem k reads items[k]."""

    items: list[Any] = field(default_factory=list)


FRESH_OUTPUTS = object()      # a kept multi-output node whose getitems are fresh tensors
