"""Higher-order operators: torch.cond, map, while_loop, scan and hints_wrapper.

Each operator's Python entry point has a handler (`@special`) so the interpreter never runs
torch's own implementation: the handler traces the bodies into subgraphs with our
interpreter (trace/subgraph.py), checks them as torch.export does, and emits
`torch.ops.higher_order.<op>` with the subgraphs as get_attr submodules (hop_nodes.py). Packaging
names and finishes the subgraphs (naming.py).
"""
from . import cond  # noqa: F401  (registers the handlers)
from . import map_impl  # noqa: F401
from . import while_loop  # noqa: F401
from . import scan  # noqa: F401
from . import hints_wrapper  # noqa: F401
from . import vmap  # noqa: F401
