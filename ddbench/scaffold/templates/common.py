"""What every generated package has: its pyproject (with the entry point), README and .gitignore, and the
test of the four kinds a spec names (datasets, families, probes, hypotheses): ``ddbench plugin test``."""

PYPROJECT = '''\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "__DIST__"
version = "0.1.0"
description = "A ddbench __KIND__: __SUMMARY__"
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["ddbench>=__DDBENCH_VERSION__"]

[project.optional-dependencies]
test = ["pytest>=8"]

# What makes ddbench find the plugin: an entry point in the group of its kind.
[project.entry-points."__GROUP__"]
__NAME__ = "__MODULE__:__CLASS__"

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
testpaths = ["tests"]

# ddbench's own rule set
[tool.ruff]
line-length = 120
extend-exclude = ["build"]

[tool.ruff.lint]
select = ["E4", "E7", "E9", "F", "I"]
'''

README = '''\
# __DIST__

The ddbench __KIND__ `__NAME__`: __SUMMARY__. (ddbench is the Keras 3 benchmark for double descent.)

It was written by `ddbench plugin new __KIND__ __NAME__` and works as it is: a simple, real
__KIND__ to turn into your own, keeping its test passing. What it does, and what to keep when you
change it, is in the docstring of `src/__MODULE__/__init__.py`; the contract of every kind is in
ddbench's `docs/plugins.md`.

## Files

| file | what it is |
| --- | --- |
| `pyproject.toml` | the package `__DIST__` and its entry point `__NAME__` in the group `__GROUP__`: what makes ddbench find it |
| `src/__MODULE__/__init__.py` | the plugin, `__CLASS__`, __PLUGIN_NOTE__ |
| `tests/test___NAME__.py` | __TEST_SUMMARY__ |

## Install and check

```bash
pip install -e ".[test]"
__CHECK_LINES__
```

## Use it

__USAGE__'''

GITIGNORE = '''\
build/
*.egg-info/
__pycache__/
.pytest_cache/
'''

#: the four spec kinds: what the README says of the plugin, and what it adds to its usage
SPEC_PLUGIN_NOTE = ("with its options (`Config`: validated by `ddbench validate`, listed by `ddbench schema`) and its "
                    "registered name and version")
VERSION_NOTE = '''
Change the version in `@__KINDS__.register("__NAME__", version=...)` whenever what it computes
changes: the name and version go into every leaderboard it contributes to.
'''

#: the four spec kinds: their test is ddbench's conformance check
CONFORMANCE_TEST = '''\
"""The conformance check of __NAME__: ``ddbench plugin test __NAME__ --kind __KINDS__``.

__CHECK_WHAT__

Install the package first (``pip install -e ".[test]"``), then run ``pytest``.
"""

from __future__ import annotations

import subprocess
import sys

CHECK = ["plugin", "test", "__NAME__", "--kind", "__KINDS__", "--quiet"]


def test_passes_ddbench_plugin_test():
    out = subprocess.run([sys.executable, "-m", "ddbench.cli", *CHECK], capture_output=True, text=True, timeout=1800)
    report = out.stdout + out.stderr
    assert out.returncode == 0, report
    assert "FAIL" not in out.stdout and "Traceback" not in report, report
'''

CONFORMANCE_CHECK_LINES = '''\
ddbench list __KINDS__  # shows __NAME__, from __MODULE__
ddbench plugin test __NAME__ --kind __KINDS__
pytest  # runs the same check'''

CONFORMANCE_SUMMARY = "runs `ddbench plugin test __NAME__`, ddbench's conformance check of a __KIND__"

#: what ``ddbench plugin test`` does for each spec kind, in the generated test's docstring
CHECK_WHAT = {
    "dataset": "It loads the dataset twice and checks the arrays: shapes, integer labels, finite inputs,\n"
               "determinism and time.",
    "family": "It builds two widths and checks the logits, the layers ``penultimate`` and ``head``,\n"
              "``param_count`` and a seeded initialisation.",
    "probe": "It trains a tiny zoo (3 widths x 2 noise rates on MNIST-1D) and checks the probe's values:\n"
             "schema, determinism, status and time.",
    "hypothesis": "It trains a zoo that reaches the interpolation threshold (MNIST-1D, MLP widths 2 to 64) and\n"
                  "checks every claim: exercised, finite, deterministic, with a verdict.",
}
