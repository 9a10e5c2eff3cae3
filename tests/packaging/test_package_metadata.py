"""Packaging's node metadata stays what it was: every node's meta["val"] (shapes, strides,
offsets, dtypes, devices, layouts, requires_grad, symbols), tensor_meta, unbacked bindings
and the range constraints of a few benchmark-zoo exports, against the stored snapshot
(tests/support/package_snapshot.py writes it)."""
import json

import pytest

from support.package_snapshot import CASES, SNAPSHOT, dumps, zoo_exports


@pytest.fixture(scope="module")
def exported() -> dict:
    return zoo_exports()


def _stored() -> dict[str, list]:
    cases: dict[str, list] = {}
    for line in SNAPSHOT.read_text().splitlines():
        record = json.loads(line)
        if "case" in record:
            current = cases.setdefault(record["case"], [record["range_constraints"]])
        else:
            current.append(record)
    return cases


@pytest.mark.parametrize("case", [f"{n}-{d}-{'dynamic' if dyn else 'static'}" for n, d, dyn in CASES])
def test_node_metadata_matches_the_snapshot(exported, case):
    stored = _stored()[case]
    now = [json.loads(line) for line in dumps({case: exported[case]}).splitlines()]
    assert now[0]["range_constraints"] == stored[0]
    assert [n["name"] for n in now[1:]] == [n["name"] for n in stored[1:]]
    for ours, expected in zip(now[1:], stored[1:]):
        assert ours == expected, ours["name"]
