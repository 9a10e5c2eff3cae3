"""Expressions, names, containers, unpacking, strings, comprehensions."""
from corpus.support import program

MODULE_CONSTANT = 7


@program((3, 4), (-7, 2), (2.5, 0.5), (7, 0), (2, -1))
def arithmetic(a, b):
    return (a + b, a - b, a * b, a / b, a // b, a % b, a ** b, -a, +a, abs(a), divmod(a, b))


@program((6, 3), (0b1010, 0b0110))
def bitwise(a, b):
    return a & b, a | b, a ^ b, ~a, a << 2, a >> 1


@program((1, 2, 3), (3, 2, 1), (1, 1, 1), ("a", "b", "c"))
def comparison_chains(a, b, c):
    return a < b < c, a <= b <= c, a == b == c, a != b, a < b > c, not a < b


@program((0,), (1,), ("",), ([],), ([0],), (None,))
def boolean_ops(x):
    return (x and "yes"), (x or "no"), (not x), (x and 0 or 5), bool(x)


@program((5,), (11,), (-3,))
def conditional_expression(n):
    return "big" if n > 10 else ("neg" if n < 0 else "small")


@program(([1, 2, 3, 4, 5, 6],), ("abcdefgh",), ((1, 2, 3),))
def slicing(s):
    return s[1:], s[:-1], s[::2], s[::-1], s[1:5:2], s[-3:], s[100:], s[:]


@program()
def slice_assignment_and_deletion():
    xs = list(range(10))
    xs[2:4] = ["a", "b", "c"]
    del xs[::3]
    xs[-1:] = []
    ys = [1, 2, 3]
    del ys[0]
    return xs, ys


@program(((1, 2, 3, 4, 5),), ((1, 2),), ((1,),))
def star_unpacking(seq):
    first, *middle, last = seq
    return first, middle, last


@program()
def nested_unpacking():
    (a, b), [c, (d, *e)] = (1, 2), [3, (4, 5, 6)]
    x, y = y, x = 1, 2
    return a, b, c, d, e, x, y


@program(((1, 2, 3),), ([1],))
def unpack_errors(seq):
    a, b = seq
    return a, b


@program()
def unpack_ex_errors():
    a, b, *c = [1]
    return a, b, c


@program()
def containers_building():
    t = (1, *[2, 3], *range(4, 6))
    l = [*t, *"ab"]
    s = {*t, 3, *{9}}
    d = {"a": 1, **{"b": 2, "c": 3}, "a": 4}
    return t, l, sorted(s), d, {1, 2} | {3}, {**d}


@program((4,))
def comprehensions(n):
    return ([i * j for i in range(n) for j in range(i) if (i + j) % 2],
            {i: i * i for i in range(n)},
            sorted({i % 3 for i in range(n)}),
            list(x + 1 for x in range(n)),
            [[j for j in range(i)] for i in range(n)])


@program((3,))
def comprehension_scope(n):
    x = 100
    values = [x for x in range(n)]
    return values, x, [lambda: i for i in range(3)][0]()


@program(([3, 1, 4, 1, 5],))
def walrus(xs):
    if (n := len(xs)) > 3:
        pass
    found = [y for x in xs if (y := x * 2) > 4]
    return n, found, y


@program(("hello", 3), ("x", 0))
def string_ops(s, n):
    return (s * n, s.upper(), s.title(), s.center(11, "*"), s[::-1], s.split("l"), "-".join([s] * 2),
            s.replace("l", "L"), s.startswith("he"), s.find("z"), len(s), s + "!", "%s=%d" % (s, n))


@program((3.14159, 42, "txt"), (-1.5, 0, ""))
def fstrings(f, i, s):
    w = 8
    return (f"{f:.2f}|{i:05d}|{s!r}|{s!s:>6}|{i!a}|{f:{w}.{2}f}|{i:#x}|{i:,}|{{literal}}|{s=}",
            f"{'nested ' + s}", f"{[i, f]}", f"{i + 1 if i else 'zero'}")


@program()
def string_formatting_methods():
    return ("{} {}".format(1, "a"), "{x:>4}".format(x=3), "{0[1]}".format([5, 6]),
            format(3.5, "08.3f"), format(10, "b"), str(1.0), repr("q'"), ascii("é"))


@program((10,))
def global_and_builtin_names(n):
    return MODULE_CONSTANT + n, len, max(n, MODULE_CONSTANT), __name__


@program()
def undefined_name():
    return not_defined_anywhere  # noqa: F821


@program()
def unbound_local():
    if False:
        value = 1
    return value  # noqa: F821


@program()
def delete_local_then_read():
    value = 1
    del value
    return value  # noqa: F821


@program((5,))
def closures_and_nonlocal(n):
    count = 0

    def bump(k=1):
        nonlocal count
        count += k
        return count

    def outer():
        inner_value = n

        def inner():
            return inner_value + count
        return inner

    for _ in range(n):
        bump()
    bump(10)
    return count, outer()()


@program()
def closure_cell_deleted():
    value = 1

    def read():
        return value
    del value
    return read()


@program((1, 2), (1,))
def defaults_and_keywords(a, b=10, *rest, c=3, **kw):
    return a, b, rest, c, sorted(kw.items())


@program()
def call_forms():
    def f(a, b=2, *args, c, d=4, **kw):
        return (a, b, args, c, d, sorted(kw.items()))
    args = (1, 2, 3)
    kwargs = {"c": 5, "z": 6}
    return (f(*args, **kwargs), f(1, c=0), f(a=1, c=2, q=3), f(*[9], *[8, 7], c=1, **{"d": 0}))


@program()
def call_errors_missing():
    def f(a, b, *, c):
        return a
    return f(1)


@program()
def call_errors_unexpected_kw():
    def f(a):
        return a
    return f(1, z=2)


@program()
def call_errors_multiple_values():
    def f(a, b=1):
        return a
    return f(1, 2, b=3)


@program()
def call_errors_posonly():
    def f(a, /, b):
        return a
    return f(a=1, b=2)


@program()
def call_errors_too_many():
    def f(a, b=1):
        return a
    return f(1, 2, 3)


@program()
def call_errors_duplicate_kwargs_merge():
    def f(**kw):
        return kw
    return f(**{"a": 1}, **{"a": 2})


@program()
def lambda_and_defaults():
    fns = [lambda x, k=k: x * k for k in range(4)]
    compose = (lambda f, g: lambda x: f(g(x)))
    return [f(3) for f in fns], compose(str, abs)(-5)


@program((7,))
def recursion(n):
    def fib(k):
        return k if k < 2 else fib(k - 1) + fib(k - 2)
    return fib(n)


@program(check_message=False)    # CPython words it by where the limit is hit
def deep_recursion_error():
    def down(k):
        return down(k + 1)
    return down(0)


@program()
def chained_assignment_and_augmented():
    a = b = []
    a += [1]
    c = (1, 2)
    d = c
    c += (3,)
    s = "x"
    s *= 3
    n = 5
    n **= 2
    n //= 3
    n %= 5
    n <<= 3
    n |= 1
    n ^= 2
    n &= 0xFF
    n >>= 1
    return a, b, a is b, c, d, s, n


@program()
def is_and_in():
    a = [1, 2]
    b = a
    c = [1, 2]
    return a is b, a is c, a is not c, 2 in a, 3 not in a, "b" in "abc", 1 in {1: 2}, None is None


@program()
def integer_and_float_edges():
    return (2 ** 100, -(2 ** 63), 7 // -2, -7 % 3, 1e308 * 10, round(2.5), round(3.5), round(1.2345, 2),
            int("12"), float("1.5"), int(3.9), 10 ** -2, (-8) ** (1 / 3) == (-8) ** (1 / 3))


@program()
def zero_division():
    return 1 % 0


@program()
def bytes_and_bytearray():
    b = b"abc"
    ba = bytearray(b)
    ba.append(100)
    ba[0] = 65
    return b[1], b + b"d", bytes(ba), ba.decode(), b.hex(), list(b)


@program()
def tuple_and_list_methods():
    t = (3, 1, 2, 1)
    l = list(t)
    l.sort()
    l.insert(0, 9)
    l.remove(1)
    popped = l.pop()
    l.extend(range(2))
    l.reverse()
    return t.count(1), t.index(2), l, popped, l.index(9), l * 2, sorted(t, reverse=True)


@program()
def dict_methods():
    d = {"a": 1}
    d.setdefault("b", []).append(2)
    d.update(c=3)
    d |= {"d": 4}
    popped = d.pop("a")
    missing = d.get("zz", "default")
    item = d.popitem()
    return sorted(d.items()), popped, missing, item, list(d.keys()), dict.fromkeys("ab", 0)


@program()
def set_methods():
    s = {1, 2, 3}
    s.add(4)
    s.discard(1)
    s -= {2}
    t = s & {3, 4, 5}
    s.update([7, 8])
    return sorted(s), sorted(t), sorted(s ^ {7, 9}), {1}.issubset(s), frozenset([1, 1, 2])


@program()
def key_error_message():
    return {"a": 1}["b"]


@program()
def index_error_message():
    return [1, 2][5]


@program()
def attribute_error_on_builtin():
    return (1).nope


@program()
def type_error_message():
    return 1 + "a"


@program()
def unhashable_key():
    return {[1]: 2}


class Shown:
    attr = 5

    def __str__(self):
        return "shown"

    def __repr__(self):
        return "Shown()"

    def __format__(self, spec):
        return f"<{spec}>"


class Count:
    def __index__(self):
        return 7


@program()
def formatting_user_objects():
    s = Shown()
    nested = [1]
    nested.append(nested)
    return ("%s|%r|%5s" % (s, s, "x"), "%(k)s" % {"k": s}, "%d-%x-%o" % (Count(), Count(), 8),
            "{0}|{0!r}|{0.attr}|{1[0]}|{x:>3}".format(s, [s], x=s), "{k}".format_map({"k": s}),
            str([s]), repr({"k": (s,)}), f"{s:spec}|{[s]}|{s!s}", format([s]), repr(nested),
            str({s}), repr(frozenset()), str(set()))


@program()
def formatting_errors():
    errors = []
    for attempt in (lambda: "%d" % Shown(), lambda: "%s %s" % (Shown(),), lambda: "{0.nope}".format(Shown()),
                    lambda: "%c" % Shown()):
        try:
            attempt()
        except (TypeError, AttributeError) as exc:
            errors.append((type(exc).__name__, str(exc)))
    return errors
