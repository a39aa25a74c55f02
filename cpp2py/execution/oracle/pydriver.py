"""The Python side of a function oracle. Not imported by cpp2py: its text is a script.

* The oracle's check runs it in the sandbox with ``{"spec": ..., "code": ...}`` on stdin: it loads the
  candidate under a non-main name (its ``if __name__ == "__main__"`` block does not run), finds each target
  by name, calls it on every case and writes one JSON line per case to a private copy of stdout, while the
  candidate's own prints are captured.
* An exported benchmark item's ``test`` (:mod:`.export`) runs its text, with :mod:`.compare`'s, in a namespace
  of its own after the candidate ran as the script; ``assert_cases`` then checks every case against what the
  C++ did, with the same calls and the same comparison as the oracle.
"""
import inspect
import io
import json
import math
import os
import signal
import sys

CANDIDATE_MODULE = "cpp2py_candidate"


def decode(v):
    if isinstance(v, list):
        return [decode(x) for x in v]
    if isinstance(v, dict):
        if "__map__" in v:
            return {key(k): decode(x) for k, x in v["__map__"]}
        if "__set__" in v:
            return {key(x) for x in v["__set__"]}
        if "__tuple__" in v:
            return tuple(decode(x) for x in v["__tuple__"])
    return v


def key(v):
    v = decode(v)
    return tuple(key(x) for x in v) if isinstance(v, list) else v


def canon(v, depth=0):
    if v is None or isinstance(v, (bool, int, str)) or depth > 40:
        return v if depth <= 40 else {"__repr__": "nested too deep"}
    if isinstance(v, float):
        if math.isnan(v):
            return {"__float__": "nan"}
        return {"__float__": "inf" if v > 0 else "-inf"} if math.isinf(v) else v
    if isinstance(v, dict):
        return {"__map__": [[canon(k, depth + 1), canon(x, depth + 1)] for k, x in v.items()]}
    if isinstance(v, (set, frozenset)):
        return {"__set__": [canon(x, depth + 1) for x in v]}
    if isinstance(v, (list, tuple)) or (hasattr(v, "__iter__") and hasattr(v, "__len__")):
        return [canon(x, depth + 1) for x in v]
    return {"__repr__": type(v).__name__}


def norm(name):
    return name.replace("_", "").lower()


def own(ns, module):
    return {k: v for k, v in ns.items() if getattr(v, "__module__", None) == module and callable(v)}


def find(ns, name, cls, targets, module=CANDIDATE_MODULE):
    """A getter of the callable for C++ ``cls::name`` (or free ``name``); camelCase and snake_case match."""
    mine = own(ns, module)
    funcs = {norm(k): v for k, v in mine.items() if not isinstance(v, type)}
    classes = [v for v in mine.values() if isinstance(v, type)]
    classes.sort(key=lambda c: norm(c.__name__) != norm(cls or ""))
    holders = [c for c in classes if any(norm(m) == norm(name) for m in vars(c))]
    if cls and holders:
        c = holders[0]
        return lambda: getattr(c(), next(m for m in vars(c) if norm(m) == norm(name)))
    if norm(name) in funcs:
        f = funcs[norm(name)]
        return lambda: f
    if holders:
        c = holders[0]
        return lambda: getattr(c(), next(m for m in vars(c) if norm(m) == norm(name)))
    # A renamed entry point (HumanEval-X's C++ and Python disagree on five names): the last top-level
    # function no other target claims, as the entry point is the last definition by convention.
    claimed = {norm(t["name"]) for t in targets}
    rest = [f for k, f in funcs.items() if k not in claimed]
    if len(targets) == 1 and rest:
        return lambda: rest[-1]
    return None


def positions(fn, n, outs):
    """Which C++ arguments to pass: all of them, or all but the scalar out-parameters (Python returns those)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return list(range(n))
    fixed = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    star = any(p.kind == p.VAR_POSITIONAL for p in params)
    required = sum(p.default is p.empty for p in fixed)
    for keep in (list(range(n)), [i for i in range(n) if i not in outs]):
        if required <= len(keep) and (star or len(keep) <= len(fixed)):
            return keep
    return None


class CaseTimeout(BaseException):
    pass


def on_alarm(signum, frame):
    raise CaseTimeout()


def call(getter, target, args, seconds):
    """One case: {ret, after} or {error}, and what the call printed as ``out``."""
    record = {}
    real, buf = sys.stdout, io.StringIO()
    sys.stdout = buf
    try:
        if getter is None:
            raise LookupError(f"no function or method named like {target['name']!r}")
        fn = getter()
        values = decode(args)
        keep = positions(fn, len(values), target["outs"])
        if keep is None:
            raise TypeError(f"{target['name']} does not take {len(values)} arguments as the C++ does")
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            ret = fn(*[values[j] for j in keep])
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        record.update(ret=canon(ret), after=[canon(values[j]) for j in target["mutable"]])
    except CaseTimeout:
        record["error"] = f"timed out after {seconds} s"
    except BaseException as e:
        record["error"] = f"{type(e).__name__}: {e}"[:500]
    finally:
        sys.stdout = real
    record["out"] = buf.getvalue()[:100000]
    return record


def run(spec, code, emit):
    ns = {"__name__": CANDIDATE_MODULE, "__builtins__": __builtins__}
    sys.stdout = io.StringIO()
    try:
        exec(compile(code, "candidate.py", "exec"), ns)
    except BaseException as e:  # SystemExit included: the candidate must not end the run
        emit({"load_error": f"{type(e).__name__}: {e}"})
        return
    for t, target in enumerate(spec["targets"]):
        getter = find(ns, target["name"], target["cls"], spec["targets"])
        for i, args in target["cases"]:
            record = {"t": t, "i": i, **call(getter, target, args, spec["case_seconds"])}
            emit(record)
            if "timed out" in record.get("error", ""):
                return


def assert_cases(spec, candidate, module="__main__"):
    """Raise on the first case where the candidate (the names it defined as module ``module``) does not do
    what the C++ did: AssertionError for a wrong result, RuntimeError for a failed or timed-out call.
    Needs :mod:`.compare`'s text run in this namespace first (its ``mismatch``)."""
    sys.setrecursionlimit(20000)
    signal.signal(signal.SIGALRM, on_alarm)
    for target in spec["targets"]:
        getter = find(candidate, target["name"], target["cls"], spec["targets"], module)
        for i, args, expected in target["cases"]:
            record = call(getter, target, args, spec["case_seconds"])
            why = mismatch(target, expected, record)  # noqa: F821 (compare.py's, loaded beside this text)
            if why is not None:
                where = f"case {i} of {target['name']}{tuple(args)!r}: {why}"
                raise (RuntimeError if "error" in record else AssertionError)(where[:2000])


def main():
    payload = json.loads(sys.stdin.read() or '{"spec": {"targets": []}, "code": ""}')
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")

    def emit(record):
        out.write("\x02" + json.dumps(record) + "\n")
        out.flush()

    sys.setrecursionlimit(20000)
    signal.signal(signal.SIGALRM, on_alarm)
    run(payload["spec"], payload["code"], emit)


if __name__ == "__main__":
    main()
