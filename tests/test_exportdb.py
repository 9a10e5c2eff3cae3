"""ExportDB's SUPPORTED examples (torch._export.db.examples) that strict_tracer exports.

The examples that need data-dependent scalars (.item()), torch.cond on tensor predicates,
torch.map or autograd.Function are not in this list yet.
"""
import pytest
import torch
from torch._export.db.examples import all_examples

import strict_tracer
from helpers import assert_same, run_both

PASSING = [
    "class_method", "cond_branch_class_method", "cond_branch_nested_function",
    "cond_branch_nonlocal_variables", "cond_operands", "cond_predicate", "decorator",
    "dictionary", "dynamic_shape_assert", "dynamic_shape_constructor", "dynamic_shape_if_guard",
    "dynamic_shape_slicing", "dynamic_shape_view", "fn_with_kwargs", "list_contains",
    "list_unpack", "model_attr_mutation", "nested_function", "null_context_manager",
    "optional_input", "pytree_flatten", "scalar_output", "specialized_attribute",
    "static_for_loop", "static_if", "tensor_setattr", "type_reflection_method",
    "unsupported_operator", "user_input_mutation",
]

EXAMPLES = all_examples()


@pytest.mark.parametrize("name", PASSING)
def test_exportdb_example_matches_eager(name):
    case = EXAMPLES[name]
    assert str(case.support_level) == "SupportLevel.SUPPORTED"
    ep = strict_tracer.export(case.model, case.example_args, case.example_kwargs)
    got, want = run_both(case.model, ep, case.example_args, case.example_kwargs)
    assert_same(got, want)


def test_exportdb_examples_leave_models_untouched():
    case = EXAMPLES["model_attr_mutation"]
    before = {k: v for k, v in vars(case.model).items() if not k.startswith("_")}
    strict_tracer.export(case.model, case.example_args, case.example_kwargs)
    after = {k: v for k, v in vars(case.model).items() if not k.startswith("_")}
    assert before.keys() == after.keys()
    for key in before:
        assert before[key] is after[key]
