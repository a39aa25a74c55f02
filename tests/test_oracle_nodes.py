"""LeetCode's TreeNode and ListNode in the function oracle: the judge's definitions supplied to the C++ and the
Python, inputs built from LeetCode's list and level-order arrays, results printed in one canonical form, and a
cyclic structure that cannot hang the printers."""
from __future__ import annotations

import dataclasses
import shutil

import pytest

pytest.importorskip("tree_sitter_cpp")
pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")

from cpp2py.execution.checks import check_candidate  # noqa: E402
from cpp2py.execution.oracle import build_oracle  # noqa: E402
from cpp2py.execution.oracle.export import benchmark_items  # noqa: E402
from cpp2py.schema import BenchmarkItem  # noqa: E402

# As LeetCode's solutions come: the node types defined only in a comment.
LISTS = r"""
/**
 * struct ListNode { int val; ListNode *next; ListNode(int x) : val(x), next(NULL) {} };
 */
class Solution {
public:
    ListNode* reverseList(ListNode* head) {
        ListNode *prev = nullptr;
        while (head) { ListNode *n = head->next; head->next = prev; prev = head; head = n; }
        return prev;
    }
    ListNode* mergeTwoLists(ListNode* a, ListNode* b) {
        ListNode dummy(0), *tail = &dummy;
        while (a && b) {
            ListNode *&low = a->val <= b->val ? a : b;
            tail->next = low; tail = low; low = low->next;
        }
        tail->next = a ? a : b;
        return dummy.next;
    }
};
"""
LISTS_PY = """
class Solution:
    def reverseList(self, head):
        prev = None
        while head:
            head.next, prev, head = prev, head, head.next
        return prev

    def mergeTwoLists(self, a, b):
        dummy = tail = ListNode()
        while a and b:
            if a.val <= b.val:
                tail.next, tail, a = a, a, a.next
            else:
                tail.next, tail, b = b, b, b.next
        tail.next = a or b
        return dummy.next
"""
TREES = r"""
class Solution {
    int dfs(TreeNode* node) { return node ? node->val + dfs(node->left) + dfs(node->right) : 0; }
public:
    int sum(TreeNode* root) { return dfs(root); }
    int maxDepth(TreeNode* root) { return root ? 1 + max(maxDepth(root->left), maxDepth(root->right)) : 0; }
    TreeNode* invertTree(TreeNode* root) {
        if (root) { swap(root->left, root->right); invertTree(root->left); invertTree(root->right); }
        return root;
    }
};
"""
TREES_PY = """
from typing import Optional


class Solution:
    def sum(self, root):
        return root.val + self.sum(root.left) + self.sum(root.right) if root else 0

    def maxDepth(self, root: Optional[TreeNode]) -> int:
        return 1 + max(self.maxDepth(root.left), self.maxDepth(root.right)) if root else 0

    def invertTree(self, root: Optional[TreeNode]) -> Optional[TreeNode]:
        if root:
            root.left, root.right = self.invertTree(root.right), self.invertTree(root.left)
        return root
"""
OWN_TREE_NODE = """
class TreeNode(object):
    def __init__(self, x):
        self.val = x
        self.left = None
        self.right = None

    def depth(self):
        return 1 + max(c.depth() if c else 0 for c in (self.left, self.right))
""" + TREES_PY.replace("1 + max(self.maxDepth(root.left), self.maxDepth(root.right))", "root.depth()")


@pytest.fixture(scope="module")
def lists():
    return build_oracle(LISTS, budget=12)


@pytest.fixture(scope="module")
def trees():
    return build_oracle(TREES, budget=12)


def _cases(oracle, name):
    (t,) = [t for t in oracle.targets if t.func.name == name]
    return [t.tagged_case(i)[0] for i in sorted(t.expected)], [t.expected[i]["ret"] for i in sorted(t.expected)]


def test_lists_and_trees_are_leetcode_arrays_in_and_out(lists, trees):
    args, rets = _cases(lists, "reverseList")
    assert {"__linked__": []} in args and {"__linked__": []} in rets  # nullptr: the empty list
    for a, r in zip(args, rets):
        assert r == {"__linked__": a["__linked__"][::-1]}
    args, rets = _cases(trees, "invertTree")
    assert {"__tree__": []} in args and any(len(a["__tree__"]) > 3 for a in args)
    assert any(None in a["__tree__"] for a in args)  # not only complete trees
    assert all(a["__tree__"][-1:] != [None] for a in args + rets)  # trailing nulls trimmed
    args, rets = _cases(trees, "maxDepth")
    assert all(isinstance(r, int) for r in rets) and max(rets) >= 3


def test_null_is_an_input_only_where_the_code_asks_whether_the_pointer_is_null(trees):
    # invertTree tests `if (root)`; sum hands its root to a helper, as LeetCode's entry points often do for
    # problems that guarantee a node (an empty tree there is outside the problem and translations differ).
    assert {"__tree__": []} in _cases(trees, "invertTree")[0]
    assert {"__tree__": []} not in _cases(trees, "sum")[0]


@pytest.mark.parametrize("oracle, right, broken, name", [
    ("lists", LISTS_PY, ("head.next, prev, head = prev, head, head.next", "prev, head = head, None"), "reverseList"),
    ("trees", TREES_PY, ("self.invertTree(root.right), self.invertTree(root.left)", "root.right, root.left"),
     "invertTree"),  # mirrors the top level only
])
def test_right_translations_pass_and_wrong_ones_fail(request, oracle, right, broken, name):
    oracle = request.getfixturevalue(oracle)
    assert oracle.check(right).passed
    result = oracle.check(right.replace(*broken))
    assert not result.passed and name in result.first_failure.input


def test_nodes_relinked_on_the_way_to_the_result_are_not_judged(lists):
    # Taking b's node first on ties returns the same merged list, but leaves the inputs linked differently.
    ties_from_b = LISTS_PY.replace("if a.val <= b.val:", "if a.val < b.val:")
    assert lists.check(ties_from_b).passed


def test_a_void_function_is_judged_by_its_parameter_whatever_python_returns():
    cpp = ("class Solution {\npublic:\n    void mirror(TreeNode* root) {\n        if (!root) return;\n"
           "        swap(root->left, root->right); mirror(root->left); mirror(root->right);\n    }\n};\n")
    oracle = build_oracle(cpp, budget=8)
    right = ("class Solution:\n    def mirror(self, root):\n        if root:\n"
             "            root.left, root.right = root.right, root.left\n"
             "            self.mirror(root.left)\n            self.mirror(root.right)\n        return root\n")
    assert oracle.check(right).passed
    assert not oracle.check(right.replace("            self.mirror(root.left)\n", "")).passed


def test_a_candidate_defining_its_own_node_class_gets_its_inputs_built_with_it(trees):
    assert trees.check(OWN_TREE_NODE).passed


def test_a_cyclic_list_fails_without_hanging(lists):
    cyclic = LISTS_PY.replace("        return prev\n",
                              "        if prev:\n            prev.next = prev\n        return prev\n")
    result = lists.check(cyclic, timeout=60)
    assert not result.passed and '"..."' in result.first_failure.got


def test_a_deleted_node_stays_readable_so_a_void_function_is_judged_by_its_parameter():
    # LeetCode 237: the C++ deletes the node after the one it is given; printing the list from the
    # parameter afterwards must not be a use-after-free that drops every case.
    cpp = ("class Solution {\npublic:\n    void deleteNode(ListNode* node) {\n"
           "        if (!node || !node->next) return;\n"
           "        ListNode *gone = node->next;\n        node->val = gone->val; node->next = gone->next;\n"
           "        delete gone;\n    }\n};\n")
    oracle = build_oracle(cpp, budget=8)
    assert oracle.kind == "function" and oracle.cases_total >= 6
    right = ("class Solution:\n    def deleteNode(self, node):\n        if node and node.next:\n"
             "            node.val, node.next = node.next.val, node.next.next\n")
    assert oracle.check(right).passed
    assert not oracle.check(right.replace("node.next.val, node.next.next", "node.next.val, node.next")).passed


def test_the_exported_item_judges_nodes_as_the_oracle_does(trees):
    # LeetCode's classes come first, as its judge supplies them: a candidate may name TreeNode at load time
    # (annotations) or define its own
    (item,) = benchmark_items("fixture/trees", TREES, trees)
    assert "class TreeNode" in item.prelude and BenchmarkItem.from_dict(item.to_dict()).prelude == item.prelude
    unannotated = TREES_PY.replace(": Optional[TreeNode]", "").replace(" -> Optional[TreeNode]", "")
    for right in (TREES_PY, OWN_TREE_NODE, unannotated):
        assert check_candidate(right, item).passed, right
    assert not check_candidate(OWN_TREE_NODE.replace("self.invertTree(root.right), self.invertTree(root.left)",
                                                     "root.right, root.left"), item).passed
    assert not check_candidate(TREES_PY, dataclasses.replace(item, prelude=None)).passed  # what it was for


def test_problems_leaving_the_nodes_to_the_judge_are_exported_with_the_judges_classes():
    from cpp2py.data.leetcode import oracle_items
    from cpp2py.execution.oracle.export import judge_prelude

    own = "struct ListNode { int val; ListNode *next; };\n" + LISTS.split("*/", 1)[1]
    assert "class ListNode" in judge_prelude(LISTS) and judge_prelude(own) is None
    plain = "class Solution {\npublic:\n    int twice(int x) { return 2 * x; }\n};\n"
    items, stats = oracle_items([{"id": "leetcode/lists", "problem": "lists", "cpp": LISTS},
                                 {"id": "leetcode/twice", "problem": "twice", "cpp": plain}], jobs=1)
    assert [it["id"] for it in items] == ["leetcode/lists", "leetcode/twice"]
    assert "prelude" in items[0] and "prelude" not in items[1] and not stats["no_item_problems"]
