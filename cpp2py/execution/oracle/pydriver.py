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
NODE_CAP = 1000  # nodes printed per structure at most, as prelude.hpp's node_cap: a cycle cannot hang canon


class TreeNode:
    """LeetCode's, which its judge supplies to a solution that does not define its own."""

    def __init__(self, val=0, left=None, right=None):
        self.val = val
        self.left = left
        self.right = right


class ListNode:
    """LeetCode's, which its judge supplies to a solution that does not define its own."""

    def __init__(self, val=0, next=None):
        self.val = val
        self.next = next


def node_classes(names):
    """The node classes inputs are built with: the candidate's own (``names``: its globals) where it defines
    them, since its code may rely on their methods, else LeetCode's."""
    return {"tree": names.get("TreeNode") if isinstance(names.get("TreeNode"), type) else TreeNode,
            "linked": names.get("ListNode") if isinstance(names.get("ListNode"), type) else ListNode}


def new_node(cls, val, **links):
    """A node of ``cls`` whatever its constructor takes, with its attributes set by LeetCode's names."""
    try:
        node = cls(val)
    except Exception:
        node = cls.__new__(cls)
    node.val = val
    for name, to in links.items():
        setattr(node, name, to)
    return node


def build_nodes(kind, vals, classes):
    """A list's head from its values, a tree's root from its level order (``None``: no child), as LeetCode does."""
    if kind == "linked":
        head = None
        for v in reversed(vals):
            head = new_node(classes["linked"], v, next=head)
        return head
    made = [None if v is None else new_node(classes["tree"], v, left=None, right=None) for v in vals]
    children = iter(made[1:])
    for node in made:
        if node is not None:
            node.left, node.right = next(children, None), next(children, None)
    return made[0] if made else None


def decode(v, classes=None):
    if isinstance(v, list):
        return [decode(x, classes) for x in v]
    if isinstance(v, dict):
        for kind in ("tree", "linked"):
            if f"__{kind}__" in v:
                return build_nodes(kind, v[f"__{kind}__"], classes or node_classes({}))
        if "__map__" in v:
            return {key(k): decode(x, classes) for k, x in v["__map__"]}
        if "__set__" in v:
            return {key(x) for x in v["__set__"]}
        if "__tuple__" in v:
            return tuple(decode(x, classes) for x in v["__tuple__"])
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
    if hasattr(v, "val") and (hasattr(v, "next") or hasattr(v, "left") and hasattr(v, "right")):
        return canon_nodes(v, depth)
    if isinstance(v, (list, tuple)) or (hasattr(v, "__iter__") and hasattr(v, "__len__")):
        return [canon(x, depth + 1) for x in v]
    return {"__repr__": type(v).__name__}


def canon_nodes(head, depth):
    """A node's structure as prelude.hpp's put_nodes prints it: a list's values, a tree's level order."""
    tree = not hasattr(head, "next")
    out, queue, nulls = [], [head], 0
    for i, node in enumerate(queue):
        if node is None:
            nulls += 1
            continue
        out += [None] * nulls
        nulls = 0
        if i >= NODE_CAP:
            out.append("...")
            break
        out.append(canon(node.val, depth + 1))
        if tree:
            queue += [node.left, node.right]
        elif node.next is not None:
            queue.append(node.next)
    return {"__tree__" if tree else "__linked__": out}


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


def call(getter, target, args, seconds, classes):
    """One case: {ret, after} or {error}, and what the call printed as ``out`` (``classes``: see node_classes)."""
    record = {}
    real, buf = sys.stdout, io.StringIO()
    sys.stdout = buf
    try:
        if getter is None:
            raise LookupError(f"no function or method named like {target['name']!r}")
        fn = getter()
        values = decode(args, classes)
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
    # LeetCode's judge defines TreeNode and ListNode before the solution, which may name them at load time
    # (``Optional[TreeNode]``); a solution's own definitions replace them.
    ns = {"__name__": CANDIDATE_MODULE, "__builtins__": __builtins__, "TreeNode": TreeNode, "ListNode": ListNode}
    sys.stdout = io.StringIO()
    try:
        exec(compile(code, "candidate.py", "exec"), ns)
    except BaseException as e:  # SystemExit included: the candidate must not end the run
        emit({"load_error": f"{type(e).__name__}: {e}"})
        return
    classes = node_classes(ns)
    for t, target in enumerate(spec["targets"]):
        getter = find(ns, target["name"], target["cls"], spec["targets"])
        for i, args in target["cases"]:
            record = {"t": t, "i": i, **call(getter, target, args, spec["case_seconds"], classes)}
            emit(record)
            if "timed out" in record.get("error", ""):
                return


def assert_cases(spec, candidate, module="__main__"):
    """Raise on the first case where the candidate (the names it defined as module ``module``) does not do
    what the C++ did: AssertionError for a wrong result, RuntimeError for a failed or timed-out call.
    Needs :mod:`.compare`'s text run in this namespace first (its ``mismatch``)."""
    sys.setrecursionlimit(20000)
    signal.signal(signal.SIGALRM, on_alarm)
    classes = node_classes(candidate)
    for target in spec["targets"]:
        getter = find(candidate, target["name"], target["cls"], spec["targets"], module)
        for i, args, expected in target["cases"]:
            record = call(getter, target, args, spec["case_seconds"], classes)
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
