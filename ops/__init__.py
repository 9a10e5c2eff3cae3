"""strict_tracer.ops: tensor-op knowledge (ATen resolution through the oracle, templates)."""
from .dispatch import Emitter, UnsupportedCall, cache_size, clear_template_cache, dispatch
from .tensor_ops import is_tensor_op

__all__ = ["Emitter", "UnsupportedCall", "cache_size", "clear_template_cache", "dispatch",
           "is_tensor_op"]
