"""Programs that change state which existed before they ran: globals, module attributes,
closure cells, reachable containers, object and class attributes, ContextVars. The corpus
test checks the sandbox restored all of it (support.snapshot_globals) and that the results
match CPython's."""
import contextvars
import sys

from corpus.support import program

COUNT = 0
TABLE = {"runs": [], "nested": {"hits": 0}}
TO_DELETE = "present"
VAR = contextvars.ContextVar("VAR", default="default")


class Registry:
    entries = []


class Settings:
    def __init__(self):
        self.level = 1
        self.tags = ["a"]


SETTINGS = Settings()


def _make_counter():
    total = 0

    def bump():
        nonlocal total
        total += 1
        return total
    return bump


BUMP = _make_counter()


@program((1,), (5,))
def mutate_globals(k):
    global COUNT
    COUNT += k
    TABLE["runs"].append(k)
    TABLE["nested"]["hits"] += 1
    TABLE.setdefault("extra", []).extend([k, k])
    return COUNT, TABLE


@program()
def delete_and_recreate_global():
    global TO_DELETE
    before = TO_DELETE
    del TO_DELETE
    try:
        TO_DELETE  # noqa: B018
    except NameError as exc:
        missing = str(exc)
    TO_DELETE = "recreated"
    return before, missing, TO_DELETE


@program()
def mutate_module_attribute_and_class_attribute():
    this = sys.modules[__name__]
    this.NEW_ATTR = 42
    Registry.entries.append("x")
    Registry.count = len(Registry.entries)
    return this.NEW_ATTR, Registry.count, list(Registry.entries)


@program()
def mutate_existing_object():
    SETTINGS.level += 10
    SETTINGS.tags.append("b")
    SETTINGS.fresh = "new attribute"
    del SETTINGS.fresh
    SETTINGS.other = 1
    return SETTINGS.level, SETTINGS.tags, vars(SETTINGS)


@program()
def mutate_closure_cell():
    return BUMP(), BUMP()


@program()
def context_variables():
    token = VAR.set("inside")
    first = VAR.get()
    VAR.reset(token)
    VAR.set("left set")
    return first, VAR.get(), VAR.get("unused default")


@program()
def exec_and_eval_with_namespaces():
    ns = {"a": 2}
    exec("b = a * 21\ndef f(x):\n    return x + b", ns)
    local = {}
    exec("c = 5", {}, local)
    return ns["b"], ns["f"](1), eval("a + b", ns), local, eval("len([1, 2])")


@program()
def class_body_delete_and_names():
    class K:
        tmp = 1
        keep = tmp + 1
        del tmp

    return hasattr(K, "tmp"), K.keep


@program()
def import_forms_inside_function():
    import collections.abc as cabc
    from math import floor as fl
    from os import path
    from collections import OrderedDict, defaultdict
    return (fl(2.5), path.basename("/a/b.txt"), cabc.Mapping.__name__, OrderedDict.__name__,
            defaultdict(int)["x"])


@program()
def import_missing_name():
    from math import does_not_exist  # noqa: F401


@program((None,), (3,))
def backward_none_jumps(start):
    node = {"next": {"next": {"next": None}}} if start is None else None
    depth = 0
    while node is not None:
        depth += 1
        node = node["next"]
    items = [1, None, 2]
    while items and items[-1] is not None:
        items.pop()
    queue = [None, None, 7]
    head = queue.pop(0)
    while head is None:
        head = queue.pop(0)
    return depth, items, head


@program()
def locals_and_globals_builtins():
    x = 1
    y = "two"
    names = sorted(k for k in locals() if not k.startswith("_"))
    return names, "COUNT" in globals(), globals()["__name__"].rsplit(".", 1)[-1]
