"""The data stage: XLCoST restored into real code, CoST full programs, and executable benchmarks.

Run as: cpp2py prepare xlcost --src ../shared/data/xlcost-m_g-transeval/xlcost-m --out data/xlcost

* ``prepare_xlcost`` (xlcost.py) reads either XLCoST layout, turns the tokenised lines (``NEW_LINE``,
  ``INDENT``, ``DEDENT``, ``STRNEWLINE``, ``TABSYMBOL``, ``▁``) back into indented, normally spaced Python
  and C++ (formatting.py), drops what does not parse, removes duplicates and train leakage (common.py),
  and writes ``train/val/test.jsonl`` (``{"id", "cpp", "python", "source"}``) plus ``stats.json``.
* ``prepare_cost`` (cost.py) builds program-level pairs from CoST's CSV files, split by a hash of the
  problem id, and a ``compare_stdout`` benchmark of the programs whose C++ compiles and prints something.
* ``prepare_humaneval_x`` (humaneval_x.py) writes HumanEval-X in the benchmark format (Python tests as
  the oracle).

A new corpus is one more module here with its ``prepare_*`` function. The benchmark format (one JSON
object a line) is documented in docs/data.md.
"""
from cpp2py.data.common import SPLITS
from cpp2py.data.cost import prepare_cost
from cpp2py.data.humaneval_x import prepare_humaneval_x
from cpp2py.data.xlcost import prepare_xlcost

__all__ = ["SPLITS", "prepare_cost", "prepare_humaneval_x", "prepare_xlcost"]
