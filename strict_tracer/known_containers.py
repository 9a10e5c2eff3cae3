"""Containers strict_tracer knows how to flatten without the user registering them.

Hugging Face `transformers` cache classes (`DynamicCache`, `StaticCache`,
`EncoderDecoderCache`, ...) hold the KV tensors of a decode step. torch.export refuses them as
inputs and outputs until the user registers them with torch.utils._pytree; strict_tracer
registers them itself, with transformers' own registration functions, the first time one is
passed in or returned (the registration is what `ExportedProgram.module()` and
`torch.export.load` need to rebuild them, so it stays in place after export).
"""
from __future__ import annotations

import sys
from typing import Any

import torch.utils._pytree as pytree

def register_if_known(cls: type) -> bool:
    """Register `cls` as a pytree node when it is a transformers cache class; True if it is
    (now) registered."""
    if cls in pytree.SUPPORTED_NODES:
        return True
    cache_utils = sys.modules.get("transformers.cache_utils")
    if cache_utils is None or not isinstance(cls, type) or not issubclass(cls, cache_utils.Cache):
        return False
    if cls is cache_utils.DynamicCache:
        # The registration transformers documents for torch.export of DynamicCache (its
        # dynamic_shapes are {"key_cache": [...], "value_cache": [...]} per layer).
        from transformers.integrations.executorch import register_dynamic_cache_export_support
        register_dynamic_cache_export_support()
    else:
        from transformers.exporters.exporter_dynamo import register_pytree_node
        register_pytree_node(cls)
    return cls in pytree.SUPPORTED_NODES


def register_known_in(tree: Any) -> None:
    """Register the known container classes found in `tree` (example inputs)."""
    stack, seen = [tree], 0
    while stack and seen < 100_000:
        node, seen = stack.pop(), seen + 1
        node_type = pytree._get_node_type(node)
        if node_type in pytree.BUILTIN_TYPES:
            children, _ = pytree.SUPPORTED_NODES[node_type].flatten_fn(node)
            stack.extend(children)
        elif node_type not in pytree.SUPPORTED_NODES:
            register_if_known(node_type)
