"""Every SUPPORTED ExportDB example (torch._export.db.examples) exports with strict_tracer
(with its dynamic_shapes) and matches eager."""
import pytest
from torch._export.db.examples import all_examples

import strict_tracer
from support.helpers import assert_same, run_both

EXAMPLES = all_examples()
PASSING = sorted(name for name, case in EXAMPLES.items()
                 if str(case.support_level) == "SupportLevel.SUPPORTED")


@pytest.mark.parametrize("name", PASSING)
def test_exportdb_example_matches_eager(name):
    case = EXAMPLES[name]
    assert str(case.support_level) == "SupportLevel.SUPPORTED"
    ep = strict_tracer.export(case.model, case.example_args, case.example_kwargs,
                              dynamic_shapes=case.dynamic_shapes)
    got, want = run_both(case.model, ep, case.example_args, case.example_kwargs)
    assert_same(got, want)


def test_all_supported_examples_are_listed():
    assert len(PASSING) >= 35


def test_exportdb_examples_leave_models_untouched():
    case = EXAMPLES["model_attr_mutation"]
    before = {k: v for k, v in vars(case.model).items() if not k.startswith("_")}
    strict_tracer.export(case.model, case.example_args, case.example_kwargs)
    after = {k: v for k, v in vars(case.model).items() if not k.startswith("_")}
    assert before.keys() == after.keys()
    for key in before:
        assert before[key] is after[key]
