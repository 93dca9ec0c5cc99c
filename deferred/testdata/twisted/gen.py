"""Generate the golden vectors of deferred/vectors_test.go by running Twisted.

Each vector is a random script of operations on Deferreds (or on a
DeferredList, gatherResults, DeferredLock, DeferredSemaphore or DeferredQueue)
and the trace Twisted produces for it: which callbacks ran with what, what
callback() and errback() raised, the results and whether an unhandled error
would be logged when the Deferred is collected. vectors_test.go replays each
script on package deferred and compares the traces.

Usage (Twisted 24.7, its dependencies and typing_extensions importable):

    PYTHONPATH=<twisted checkout>/src python3 gen.py

The files were made with Twisted's trunk at commit 64661601a1e4 (24.7.0.post0).
The seeds are fixed, so a rerun with that version reproduces them byte for byte
(gzip with no timestamp).

Scripts that hit two behaviours of Twisted's implementation that package
deferred does not copy are left out (see Q1 and Q2 below and the package
documentation's "Coming from Twisted"):

Q1: a callback returns a Deferred that is in the middle of running its own
    callbacks (re-entrantly). Twisted takes that Deferred's intermediate
    result and lets its remaining callbacks go on from None; package deferred
    waits until the inner chain reaches the point where it was returned.
Q2: a Deferred hands its result to a waiting Deferred that the user has
    paused. Twisted then stops, leaving the callbacks still pending on the
    first Deferred unrun until something else runs its chain; package
    deferred runs them.
Q3: the clock advances while a Deferred that has its result is paused. If
    it had a timeout due, Twisted still counts it as timed out (and turns an
    earlier CancelledError into a TimeoutError); in package deferred it did
    not time out. (This leaves out some scripts that would agree.)
"""

import gzip
import io
import json
import random

from twisted.internet.defer import (
    AlreadyCalledError,
    CancelledError,
    Deferred,
    DeferredList,
    DeferredLock,
    DeferredQueue,
    DeferredSemaphore,
    FirstError,
    QueueOverflow,
    QueueUnderflow,
    TimeoutError,
    gatherResults,
)
from twisted.internet.task import Clock
from twisted.python.failure import Failure


class E(Exception):
    """The error numbered k; package deferred's tests use an error type with
    the same number."""

    def __init__(self, k):
        Exception.__init__(self, k)
        self.k = k


def ename(v):
    if isinstance(v, Failure):
        v = v.value
    if isinstance(v, TimeoutError):
        return "Timeout"
    if isinstance(v, CancelledError):
        return "Cancelled"
    if isinstance(v, AlreadyCalledError):
        return "AlreadyCalled"
    if isinstance(v, E):
        return "E%d" % v.k
    if isinstance(v, FirstError):
        return "First[%d,%s]" % (v.index, ename(v.subFailure))
    raise AssertionError("unexpected error %r" % (v,))


def norm(v):
    """None, the result a Deferred is left with after handing it over,
    is the zero value in Go."""
    if v is None:
        return 0
    if isinstance(v, (list, tuple)):
        return [norm(x) for x in v]
    if isinstance(v, Failure):
        return ename(v)
    return v


def atRest(d):
    r = getattr(d, "result", None)
    return d.called and not d.paused and not isinstance(r, Deferred)


def snap(d):
    if not atRest(d):
        return ["none"]
    if isinstance(d.result, Failure):
        return ["err", ename(d.result)]
    return ["val", norm(d.result)]


# Chains: four Deferreds, callbacks of every kind, implicit and explicit
# chaining, pause, cancel, timeouts, firing twice.

N = 4


def newDeferred(kind, out):
    if kind == "none":
        return Deferred()
    if kind == "noop":
        return Deferred(lambda d: out.append(["canceller", "noop"]))
    if kind == "cb":
        return Deferred(lambda d: (out.append(["canceller", "cb"]), d.callback(100)))
    return Deferred(lambda d: (out.append(["canceller", "eb"]), d.errback(E(99))))


def runChain(script):
    out, ds, quirks = [], {}, set()
    clock = Clock()

    def running(d):
        return d.called and not d.paused and (d.callbacks or d._runningCallbacks)

    for op in script:
        for d in ds.values():
            if atRest(d) and d.callbacks:
                quirks.add("Q2")
        o, i = op[0], op[1]
        if o == "new":
            ds[i] = newDeferred(op[2], out)
        elif o == "addcb":

            def cb(v, i=i, k=op[2]):
                out.append(["cb", i, k, norm(v)])
                return norm(v) + k

            ds[i].addCallback(cb)
        elif o == "addfail":

            def fail(v, i=i, k=op[2]):
                out.append(["fail", i, k, norm(v)])
                raise E(k)

            ds[i].addCallback(fail)
        elif o == "addeb":

            def eb(f, i=i, k=op[2]):
                out.append(["eb", i, k, ename(f)])
                return k

            ds[i].addErrback(eb)
        elif o == "addboth":

            def both(r, i=i, k=op[2]):
                if isinstance(r, Failure):
                    out.append(["both", i, k, ename(r)])
                    return r
                out.append(["both", i, k, norm(r)])
                return norm(r) * 2

            ds[i].addBoth(both)
        elif o in ("addinner", "addebinner"):

            def inner(r, i=i, j=op[2], o=o):
                if running(ds[j]):
                    quirks.add("Q1")
                seen = ename(r) if isinstance(r, Failure) else norm(r)
                out.append([o[3:], i, j, seen])
                return ds[j]

            if o == "addinner":
                ds[i].addCallback(inner)
            else:
                ds[i].addErrback(inner)
        elif o in ("callback", "errback"):
            try:
                if o == "callback":
                    ds[i].callback(op[2])
                else:
                    ds[i].errback(E(op[2]))
                out.append(["fire", i, "ok"])
            except AlreadyCalledError:
                out.append(["fire", i, "AlreadyCalled"])
        elif o == "cancel":
            ds[i].cancel()
        elif o == "pause":
            ds[i].pause()
        elif o == "unpause":
            ds[i].unpause()
        elif o == "chain":
            ds[i].chainDeferred(ds[op[2]])
        elif o == "result":
            out.append(["result", i] + snap(ds[i]))
        elif o == "timeout":
            ds[i].addTimeout(op[2], clock)
        elif o == "advance":
            for d in ds.values():
                if d.called and d.paused and not isinstance(d.result, Deferred):
                    quirks.add("Q3")
            clock.advance(1)
    for i in sorted(ds):
        info = ds[i]._debugInfo
        out.append(["unhandled", i, info is not None and info.failResult is not None])
    for d in ds.values():
        d.addErrback(lambda f: None)
    return out, quirks


def genChain(rng, n):
    script, paused = [], [0] * N
    for i in range(N):
        script.append(["new", i, rng.choice(["none", "none", "noop", "cb", "eb"])])
    for _ in range(n):
        r, i = rng.random(), rng.randrange(N)
        # Inner and chained Deferreds have higher indexes, so no Deferred
        # ever waits on itself.
        if r < 0.12:
            script.append(["addcb", i, rng.randrange(1, 9)])
        elif r < 0.18:
            script.append(["addfail", i, rng.randrange(1, 9)])
        elif r < 0.26:
            script.append(["addeb", i, rng.randrange(1, 9)])
        elif r < 0.30:
            script.append(["addboth", i, rng.randrange(1, 9)])
        elif r < 0.38 and i < N - 1:
            script.append(["addinner", i, rng.randrange(i + 1, N)])
        elif r < 0.42 and i < N - 1:
            script.append(["addebinner", i, rng.randrange(i + 1, N)])
        elif r < 0.52:
            script.append(["callback", i, rng.randrange(1, 50)])
        elif r < 0.58:
            script.append(["errback", i, rng.randrange(1, 9)])
        elif r < 0.66:
            script.append(["cancel", i])
        elif r < 0.72:
            script.append(["pause", i])
            paused[i] += 1
        elif r < 0.80 and paused[i] > 0:
            script.append(["unpause", i])
            paused[i] -= 1
        elif r < 0.84 and i < N - 1:
            script.append(["chain", i, rng.randrange(i + 1, N)])
        elif r < 0.88:
            script.append(["timeout", i, rng.randrange(1, 4)])
        elif r < 0.93:
            script.append(["advance", i])
        else:
            script.append(["result", i])
    for i in range(N):
        script += [["unpause", i]] * paused[i]
        script.append(["result", i])
    return script


# DeferredList, gatherResults.


def runList(sc):
    out = []
    ds = []
    for i, kind in enumerate(sc["cancellers"]):
        if kind == "cb":
            ds.append(Deferred(lambda d, i=i: d.callback(100 + i)))
        else:
            ds.append(newDeferred(kind, []))
    for i in sc["prefired"]:
        ds[i].callback(10 + i)
    for i in sc["prefailed"]:
        ds[i].errback(E(i))
    if sc["kind"] == "list":
        dl = DeferredList(
            ds,
            fireOnOneCallback=sc["foc"],
            fireOnOneErrback=sc["foe"],
            consumeErrors=sc["consume"],
        )
    else:
        dl = gatherResults(ds, consumeErrors=sc["consume"])

    def rec(r):
        if isinstance(r, Failure):
            out.append(["dl", "err", ename(r)])
        else:
            out.append(["dl", "val", norm(r)])
        return r

    dl.addBoth(rec)
    for op in sc["ops"]:
        if op[0] == "cancel":
            dl.cancel()
            continue
        i = op[1]
        try:
            if op[0] == "cb":
                ds[i].callback(i)
            else:
                ds[i].errback(E(i))
            out.append(["fire", i, "ok"])
        except AlreadyCalledError:
            out.append(["fire", i, "AlreadyCalled"])
    for i, d in enumerate(ds):
        out.append(["in", i] + snap(d))
    allFailed = (
        sc["kind"] == "list"
        and sc["foc"]
        and atRest(dl)
        and isinstance(dl.result, list)
    )
    dl.addErrback(lambda f: None)
    for d in ds:
        d.addErrback(lambda f: None)
    return out, allFailed


def genList(rng):
    n = rng.randrange(1, 4)
    sc = {
        "kind": rng.choice(["list", "gather"]),
        "foc": rng.random() < 0.3,
        "foe": rng.random() < 0.5,
        "consume": rng.random() < 0.5,
        "cancellers": [rng.choice(["none", "none", "noop", "cb", "eb"]) for _ in range(n)],
    }
    order = list(range(n))
    rng.shuffle(order)
    chosen = order[: rng.randrange(0, n + 1)]
    sc["prefired"] = [i for i in chosen if rng.random() < 0.5]
    sc["prefailed"] = [i for i in chosen if i not in sc["prefired"]]
    ops = []
    for _ in range(rng.randrange(1, 6)):
        r = rng.random()
        if r < 0.4:
            ops.append(["cb", rng.randrange(n)])
        elif r < 0.75:
            ops.append(["eb", rng.randrange(n)])
        else:
            ops.append(["cancel"])
    sc["ops"] = ops
    return sc


# DeferredLock, DeferredSemaphore, DeferredQueue.


def runPrimitive(sc):
    out, ds = [], []
    kind = sc["kind"]
    if kind == "lock":
        p = DeferredLock()
    elif kind == "sem":
        p = DeferredSemaphore(sc["tokens"])
    else:
        p = DeferredQueue(sc["size"], sc["backlog"])
    for op in sc["ops"]:
        o = op[0]
        if o in ("acquire", "get"):
            try:
                d = p.acquire() if o == "acquire" else p.get()
            except QueueUnderflow:
                out.append(["get", "underflow"])
                continue
            ds.append(d)

            def got(r, i=len(ds) - 1):
                out.append(["got", i] + ([r] if kind == "queue" else []))
                return r

            d.addCallback(got)
        elif o == "release":
            try:
                p.release()
                out.append(["released"])
            except AssertionError:
                out.append(["release-bad"])
        elif o == "put":
            try:
                p.put(op[1])
                out.append(["put", "ok"])
            except QueueOverflow:
                out.append(["put", "overflow"])
        elif o == "cancel":
            if ds:
                ds[op[1] % len(ds)].cancel()
        elif o == "state":
            if kind == "lock":
                out.append(["locked", p.locked])
            elif kind == "sem":
                out.append(["tokens", p.tokens])
            else:
                out.append(["len", len(p.pending), len(p.waiting)])
    for i, d in enumerate(ds):
        s = snap(d)
        if kind != "queue" and s[0] == "val":
            s = ["val", "self"]
        out.append(["d", i] + s)
    for d in ds:
        d.addErrback(lambda f: None)
    return out


def genPrimitive(rng):
    kind = rng.choice(["lock", "sem", "queue"])
    sc = {
        "kind": kind,
        "tokens": rng.randrange(1, 4),
        "size": rng.choice([None, 0, 1, 2]),
        "backlog": rng.choice([None, 0, 1, 2]),
    }
    ops = []
    for _ in range(rng.randrange(3, 25)):
        r = rng.random()
        if kind == "queue":
            op = ["put", rng.randrange(100)] if r < 0.35 else ["get"] if r < 0.7 else None
        else:
            op = ["acquire"] if r < 0.4 else ["release"] if r < 0.7 else None
        if op is None:
            op = ["cancel", rng.randrange(100)] if r < 0.85 else ["state"]
        ops.append(op)
    sc["ops"] = ops
    return sc


def create(name):
    """A gzip file whose bytes depend only on what is written to it."""
    raw = gzip.GzipFile(name + ".jsonl.gz", "wb", compresslevel=9, mtime=0)
    return io.TextIOWrapper(raw, encoding="utf-8", newline="\n")


def main():
    with create("chain") as f:
        seed, kept = 0, 0
        while kept < 1000:
            script = genChain(random.Random(seed), 30)
            trace, quirks = runChain(script)
            if not quirks:
                f.write(json.dumps({"seed": seed, "script": script, "trace": trace}) + "\n")
                kept += 1
            seed += 1
    with create("list") as f:
        seed, kept = 0, 0
        while kept < 1000:
            sc = genList(random.Random(seed))
            trace, allFailed = runList(sc)
            # First fails with a *RaceError where DeferredList with
            # fireOnOneCallback fires with the list of failures.
            if not allFailed:
                f.write(json.dumps({"seed": seed, "case": sc, "trace": trace}) + "\n")
                kept += 1
            seed += 1
    with create("primitives") as f:
        for seed in range(1000):
            sc = genPrimitive(random.Random(seed))
            f.write(json.dumps({"seed": seed, "case": sc, "trace": runPrimitive(sc)}) + "\n")


if __name__ == "__main__":
    main()
