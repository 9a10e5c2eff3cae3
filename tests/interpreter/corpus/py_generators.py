"""Generators: send/throw/close, yield from delegation, PEP 479, generator expressions."""
from corpus.support import program


@program((5,))
def send_and_return_value(n):
    def acc():
        total = 0
        while True:
            value = yield total
            if value is None:
                return total
            total += value

    g = acc()
    out = [next(g)]
    for i in range(n):
        out.append(g.send(i))
    try:
        next(g)
    except StopIteration as stop:
        out.append(("stop", stop.value))
    return out


@program()
def throw_into_generator():
    log = []

    def gen():
        try:
            yield 1
            yield 2
        except ValueError as exc:
            log.append(("caught", str(exc)))
            yield "recovered"
        finally:
            log.append("finally")

    g = gen()
    log.append(next(g))
    log.append(g.throw(ValueError, ValueError("boom")))
    log.append(next(g, "exhausted"))
    return log


@program()
def throw_uncaught_propagates():
    def gen():
        yield 1

    g = gen()
    next(g)
    try:
        g.throw(KeyError("k"))
    except KeyError as exc:
        return ("propagated", str(exc), next(g, "done"))


@program()
def throw_into_unstarted():
    def gen():
        yield 1
    g = gen()
    try:
        g.throw(TypeError("early"))
    except TypeError:
        return list(g)


@program()
def close_runs_finally_and_generator_exit():
    log = []

    def gen():
        try:
            yield 1
            yield 2
        except GeneratorExit:
            log.append("exit")
            raise
        finally:
            log.append("cleanup")

    g = gen()
    next(g)
    g.close()
    g.close()
    return log, list(g)


@program()
def close_ignored_generator_exit():
    def gen():
        while True:
            try:
                yield 1
            except GeneratorExit:
                pass

    g = gen()
    next(g)
    g.close()


@program()
def yield_from_delegates_send_throw_close():
    log = []

    def inner():
        try:
            received = yield "inner-1"
            log.append(("inner got", received))
            yield "inner-2"
        except KeyError:
            log.append("inner caught KeyError")
            yield "inner-recovered"
        finally:
            log.append("inner finally")
        return "inner-result"

    def outer():
        result = yield from inner()
        log.append(("result", result))
        yield "outer-after"

    g = outer()
    log.append(next(g))
    log.append(g.send("hello"))
    log.append(g.throw(KeyError("k")))
    log.append(next(g))
    g2 = outer()
    next(g2)
    g2.close()
    return log


@program()
def yield_from_throw_finishes_subgenerator():
    def inner():
        try:
            yield 1
        except ValueError:
            return "inner returned"

    def outer():
        value = yield from inner()
        yield ("after", value)

    g = outer()
    next(g)
    return g.throw(ValueError("x")), list(g)


@program()
def yield_from_throw_error_caught_by_outer():
    def inner():
        yield 1

    def outer():
        try:
            yield from inner()
        except IndexError as exc:
            yield ("outer caught", str(exc))

    g = outer()
    next(g)
    return g.throw(IndexError("idx")), list(g)


@program()
def yield_from_plain_iterators():
    def gen():
        yield from [1, 2]
        yield from range(3, 5)
        yield from "ab"
        return (yield from (x * 10 for x in range(2)))
    return list(gen())


@program()
def pep479_stop_iteration_in_generator():
    def gen():
        yield 1
        raise StopIteration("inside")
    try:
        return list(gen())
    except RuntimeError as exc:
        return str(exc), type(exc.__cause__).__name__


@program()
def next_inside_generator_leaks_stop():
    def first_of_each(iterables):
        for it in iterables:
            yield next(iter(it))
    try:
        return list(first_of_each([[1], [2], []]))
    except RuntimeError as exc:
        return str(exc)


@program()
def generator_already_executing():
    def gen():
        yield next(g)
    g = gen()
    try:
        next(g)
    except ValueError as exc:
        return str(exc)


@program()
def send_non_none_to_unstarted():
    def gen():
        yield 1
    return gen().send(5)


@program((4,))
def generator_expressions_and_laziness(n):
    log = []

    def noisy(i):
        log.append(i)
        return i

    gen = (noisy(i) for i in range(n))
    first = next(gen)
    rest = sum(gen)
    nested = list(x * y for x in range(3) for y in range(x))
    return first, rest, log, nested, any(x > 2 for x in range(n)), all(x < 2 for x in range(n))


@program()
def generator_state_and_exc_info():
    import sys

    def gen():
        try:
            raise KeyError("in gen")
        except KeyError:
            yield sys.exc_info()[0].__name__
        yield sys.exc_info()[0]

    g = gen()
    inside = next(g)
    outside = sys.exc_info()[0]
    after = next(g)
    return inside, outside, after


@program()
def iter_with_sentinel():
    data = [3, 2, 1, 0, 5]
    it = iter(data)
    return list(iter(lambda: next(it), 0))


@program()
def generator_return_in_finally_and_stopiteration_value():
    def gen():
        try:
            yield 1
        finally:
            return "from finally"  # noqa: B012
    g = gen()
    next(g)
    try:
        next(g)
    except StopIteration as stop:
        return stop.value


@program()
def class_with_generator_iter():
    class Tree:
        def __init__(self, value, children=()):
            self.value, self.children = value, list(children)

        def __iter__(self):
            yield self.value
            for child in self.children:
                yield from child

    t = Tree(1, [Tree(2, [Tree(3)]), Tree(4)])
    return list(t), sum(t), max(t), sorted(t, reverse=True), 3 in t, list(zip(t, "abcd"))
