"""Run as: python -m cpp2py --help (same as the `cpp2py` command; `accelerate launch -m cpp2py` uses it)."""
from cpp2py.cli import main

main()
