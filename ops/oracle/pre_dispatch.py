"""Keep the cost of entering the oracle's PreDispatch mode independent of the process's history.

Every push of a mode at the PreDispatch key (the recorder's own, and torch's re-push after each
call the recorder handles: about three a probe) walks `torch._ops.cached_ops`, the set of ops
that ever cached a dispatch entry, and drops each op's PreDispatch entry. That set grows with
every op the process has run (about 150 after a zoo of exports, ~0.5 us an op), yet a
PreDispatch entry is never cached (torch's Note [Not Caching Per-Dispatch-Key Mode Handlers]),
so the walk drops nothing. `prune()` takes out of the set the ops that hold no entry for the
keys the walk drops: the walk then visits only ops it could change. Nothing is lost: torch adds
an op back to the set each time it caches an entry for it (`OpOverload._get_dispatch`), and an
op that does hold such an entry is never taken out.
"""
from __future__ import annotations

import torch
from torch._ops import get_cached_ops

_KEYS = tuple(torch._C._functionality_to_backend_keys(torch._C.DispatchKey.PreDispatch))
_PRUNE_AT = 16          # ops in the set before a pruning walk (itself the cost of one push)


def prune() -> None:
    """Take the ops without a PreDispatch entry out of torch's cached-op set (see the module
    docstring); a no-op while the set is small."""
    cached = get_cached_ops()
    if len(cached) < _PRUNE_AT:
        return
    idle = [op for op in cached if not any(k in op._dispatch_cache for k in _KEYS)]
    cached.difference_update(idle)
