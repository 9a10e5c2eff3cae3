"""Constructs whose bytecode differs between CPython 3.11, 3.12 and 3.13: inlined
comprehensions (PEP 709), super() (LOAD_SUPER_ATTR), slices (BINARY_SLICE/STORE_SLICE),
f-strings (CONVERT_VALUE/FORMAT_*), truth tests (TO_BOOL, COMPARE_OP's bool form),
superinstructions, class bodies reading enclosing variables (LOAD_FROM_DICT_OR_DEREF), function
attributes (SET_FUNCTION_ATTRIBUTE), keyword calls (CALL_KW), generator close() values, except*.
Each program is compared with the running CPython, so each version is checked against its own
semantics (a comprehension's locals(), super() inside a comprehension, close()'s value)."""
from corpus.support import program


@program((3,), (0,))
def comprehension_scoping(n):
    x = "outer"
    squares = [x * x for x in range(n)]
    after = x
    pairs = {(x, y) for x in range(n) for y in range(x)}
    keyed = {x: [x for x in range(x)] for x in range(n)}
    nested = [[y + x for y in range(2)] for x in range(n)]
    gen_sum = sum(x for x in range(n))
    return squares, after, sorted(pairs), keyed, nested, gen_sum, x


@program((2,), (-1,))
def comprehension_restores_on_error(n):
    x = "kept"
    try:
        _ = [1 // (x - n) for x in range(3)]
    except ZeroDivisionError as exc:
        caught = str(exc)
    else:
        caught = None
    return x, caught


@program()
def comprehension_over_unbound_outer_name():
    out = [y for y in range(2)]
    try:
        return out, y  # noqa: F821 - y is only bound inside the comprehension
    except NameError as exc:
        return out, type(exc).__name__, str(exc)


@program((3,))
def comprehension_cells_and_lambdas(n):
    funcs = [lambda: i for i in range(n)]
    bound = [lambda i=i: i for i in range(n)]
    total = 0
    adders = [(lambda v: v + total) for total in range(n)]
    return [f() for f in funcs], [f() for f in bound], [a(10) for a in adders], total


@program((2,))
def comprehension_sees_locals(n):
    outer = 5
    seen = [sorted(k for k in locals() if not k.startswith(".")) for _ in range(1)]
    values = [outer + v for v in range(n)]
    return seen, values


@program()
def comprehension_in_class_body():
    base = 10

    class Table:
        size = 3
        rows = [base + i for i in range(size)]
        doubled = [r * 2 for r in rows]

    return Table.rows, Table.doubled


@program()
def class_body_reads_enclosing_and_own_names():
    shared = "closure"
    other = "closure-other"

    def make():
        class Box:
            own = shared
            other = "class-level"
            seen = other

            def method(self):
                return shared, other

        return Box

    box = make()
    return box.own, box.seen, box().method()


@program()
def super_forms():
    class Base:
        tag = "base"

        def hello(self, who):
            return f"hello {who} from base"

        @classmethod
        def make(cls):
            return cls.__name__

        @property
        def prop(self):
            return "base-prop"

    class Child(Base):
        tag = "child"

        def hello(self, who):
            return super().hello(who) + "/child"

        def attrs(self):
            return super().tag, super(Child, self).tag, super().prop

        @classmethod
        def make(cls):
            return "child:" + super().make()

        def in_comprehension(self):
            try:
                return [super().hello(i) for i in range(2)]
            except (TypeError, RuntimeError) as exc:
                return type(exc).__name__, str(exc)

        def two_arg_method(self):
            method = super(Child, self).hello
            return method("m")

    c = Child()
    return (c.hello("x"), c.attrs(), Child.make(), c.in_comprehension(), c.two_arg_method())


@program()
def super_errors():
    class A:
        def f(self):
            return super().missing

        def g(self):
            return super().missing_method()

    out = []
    for name in ("f", "g"):
        try:
            getattr(A(), name)()
        except AttributeError as exc:
            out.append(str(exc))
    return out


@program(([1, 2, 3, 4, 5],))
def slices(items):
    items = list(items)
    head = items[:2]
    tail = items[2:]
    middle = items[1:-1]
    stepped = items[::2]
    items[1:3] = ["a", "b", "c"]
    items[:1] = []
    del items[-1:]
    text = "abcdef"[2:4]
    try:
        (1, 2)[1:"x"]
    except TypeError as exc:
        err = str(exc)
    return head, tail, middle, stepped, items, text, err


@program((3.14159, "txt", 7))
def fstrings(x, s, n):
    width = 8
    return (f"{x:.2f}|{s!r}|{s!s:>6}|{s!a}|{n:{width}d}|{n!r:>4}|{x=}|{'é'!a}",
            f"{n}{s}", f"{[n, s]}", f"{n:#x}" "-" f"{n:b}")


@program((1, 2), (2, 1), ("a", "b"))
def truth_and_comparisons(a, b):
    class Truthy:
        def __init__(self, value):
            self.value = value

        def __bool__(self):
            return self.value > 1

    class Sized:
        def __len__(self):
            return 0

    out = []
    if a < b:
        out.append("lt")
    if not a == b:
        out.append("ne")
    if Truthy(a):
        out.append("truthy")
    if not Sized():
        out.append("empty")
    out.append(a < b < 3 if type(a) is int else a < b)
    out.append(bool(a) and b)
    out.append(not Truthy(b))
    return out


@program()
def bad_bool_results():
    class Bad:
        def __bool__(self):
            return 1

    class BadLen:
        def __len__(self):
            return -1

    out = []
    for obj in (Bad(), BadLen()):
        try:
            if obj:
                out.append("taken")
        except (TypeError, ValueError) as exc:
            out.append((type(exc).__name__, str(exc)))
    return out


@program((1, 2, 3))
def swaps_and_pairs(a, b, c):
    a, b = b, a
    a, b, c = c, a, b
    x = y = a + b
    first, second = a, c
    return a, b, c, x, y, first, second


@program()
def function_attributes():
    scale = 3

    def inner(a: int, b: int = 2, *args, c: str = "c", **kwargs) -> str:
        """Docs."""
        return f"{a * scale}{b}{args}{c}{sorted(kwargs)}"

    return (inner(1), inner(1, 5, 6, c="z", q=1), inner.__defaults__, inner.__kwdefaults__,
            sorted(inner.__annotations__), inner.__doc__, inner.__name__,
            inner.__closure__[0].cell_contents)


@program()
def keyword_and_star_calls():
    def f(a, b=0, *args, key=None, **kw):
        return a, b, args, key, sorted(kw.items())

    class Obj:
        def m(self, *args, **kw):
            return args, sorted(kw.items())

    o = Obj()
    args = (1, 2, 3)
    kw = {"key": "k", "z": 1}
    return (f(1, key=2), f(*args, **kw), o.m(1, x=2), o.m(*args, **kw), f(1, 2, 3, key=4, w=5),
            dict(a=1, **{"b": 2}))


@program()
def generator_close_value():
    def returns_on_close():
        try:
            yield 1
        except GeneratorExit:
            return "closing value"

    def plain():
        yield 1

    g = returns_on_close()
    next(g)
    h = plain()
    next(h)
    unstarted = plain()
    return g.close(), h.close(), unstarted.close(), g.close()


@program()
def generator_throw_signatures():
    def gen():
        while True:
            try:
                yield
            except ValueError as exc:
                yield f"caught {exc}"

    g = gen()
    next(g)
    return g.throw(ValueError("one")), next(g), g.throw(ValueError("two"))


@program()
def except_star_groups():
    out = []
    try:
        try:
            raise ExceptionGroup("eg", [ValueError(1), TypeError(2), KeyError(3)])
        except* ValueError as e:
            out.append(("value", [str(x) for x in e.exceptions]))
        except* TypeError:
            out.append("type")
            raise RuntimeError("from handler")
    except BaseException as exc:  # noqa: BLE001
        out.append((type(exc).__name__, str(exc)))
    return out


@program()
def unbound_locals_and_deletes():
    out = []
    value = 1
    del value
    try:
        print(value)  # noqa: F821
    except UnboundLocalError as exc:
        out.append(str(exc))

    def inner():
        return captured  # noqa: F821

    try:
        inner()
    except NameError as exc:
        out.append(str(exc))
    captured = 2
    out.append(inner())
    return out
