"""Symbolic shape rules for ATen ops, one module per op family (see rule_table.py)."""
# Importing a family module registers its rules.
from . import (conv, data_dependent, factories, indexing, joins, linalg, misc, norm,  # noqa: F401
               pointwise, reductions, scatter_views, views)
from .rule_table import Bound, ShapeRuleError, bind, covered_ops, find_rule, runs_always

__all__ = ["Bound", "ShapeRuleError", "bind", "covered_ops", "find_rule", "runs_always"]
