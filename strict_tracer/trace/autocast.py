"""The virtual autocast state of one trace (what `torch.autocast` blocks in forward() set).

The interpreter runs autocast's `__enter__`/`__exit__` bytecode; the natives they call
(`torch.set_autocast_enabled`, `torch.autocast_increment_nesting`, ...) have handlers
(interpreter/tensors/autocast_handlers.py) that act on this object, never on the process's autocast
state. Each entered block opens an `AutocastRegion`:

- nodes emitted inside carry `meta["st_autocast"]` = the innermost region;
- the oracle (ops/oracle/probe.py) runs their ops under the region's autocast, so output dtypes are
  what eager (and the exported program) produce;
- functional/autocast_regions.py moves each region's nodes into a
  `wrap_with_autocast(device_type, dtype, enabled, cache_enabled, submod, *inputs)` call.

Only the "cpu" device is modelled: traced tensors are CPU tensors, and a region on another
device would be recorded without knowing how its ops behave there.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

MODELLED_DEVICE = "cpu"


@dataclass(eq=False)
class AutocastRegion:
    """One entered autocast block."""

    args: tuple             # (device_type, dtype, enabled, cache_enabled) as torch.export records
    enabled: bool           # autocast on MODELLED_DEVICE inside the block (resolved by __init__)
    dtype: torch.dtype      # its lower-precision dtype
    parent: AutocastRegion | None

    def op_dtype(self) -> torch.dtype | None:
        return self.dtype if self.enabled else None

    def path_from(self, ambient: AutocastRegion | None) -> list[AutocastRegion] | None:
        """Regions from just inside `ambient` down to self; None if self is not inside it."""
        path: list[AutocastRegion] = []
        region: AutocastRegion | None = self
        while region is not ambient:
            if region is None:
                return None
            path.append(region)
            region = region.parent
        path.reverse()
        return path


class VirtualAutocast:
    """Per-device enabled flags and dtypes, the cache flag, the nesting count, open regions.

    Starts with autocast disabled everywhere, whatever the process's state at export() time:
    the exported program runs the ops outside regions as they are.
    """

    def __init__(self) -> None:
        self.enabled: dict[str, bool] = {}
        self.dtypes: dict[str, torch.dtype] = {}
        self.cache_enabled = True
        self.nesting = 0
        self.region: AutocastRegion | None = None
        # Autocast objects constructed during the trace -> the arguments torch.export records
        # for them (the call's, with the constructor's defaults; None stays None).
        self.constructed: dict[int, tuple[Any, tuple]] = {}

    def is_enabled(self, device: str) -> bool:
        return self.enabled.get(device, False)

    def dtype(self, device: str) -> torch.dtype:
        dtype = self.dtypes.get(device)
        if dtype is None:
            dtype = self.dtypes[device] = _default_dtype(device)
        return dtype

    def op_dtype(self) -> torch.dtype | None:
        """The autocast dtype ops emitted now run under, None outside enabled regions."""
        return self.region.op_dtype() if self.region is not None else None

    def open(self, args: tuple) -> AutocastRegion:
        self.region = AutocastRegion(args, self.is_enabled(MODELLED_DEVICE),
                                     self.dtype(MODELLED_DEVICE), self.region)
        self.nesting += 1
        return self.region

    def close(self) -> None:
        assert self.region is not None
        self.region = self.region.parent
        self.nesting -= 1


def _default_dtype(device: str) -> torch.dtype:
    """The process's lower-precision dtype of `device` (a region created with dtype=None
    resolves it the same way when the exported program runs)."""
    return torch.get_autocast_dtype(device)
