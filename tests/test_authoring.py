"""The authoring guide runs as written, and the mistakes it describes get the messages it shows.

``docs/authoring.md`` is executed in order in one namespace: each ```python block as code, each
```pycon block as a doctest. Its lists of what the engine can evaluate are compared with the
evaluator's rules, so the guide cannot promise a function the engine does not compute.
"""

import doctest
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sympy as sp

from symformer import Derivation, Size, Step, verify
from symformer.blocks.base import Block
from symformer.cli.main import main
from symformer.engine.evaluate import numpy_rule
from symformer.engine.model import evaluable_functions
from symformer.errors import DerivationError

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "authoring.md"
BLOCK = re.compile(r"^```(python|pycon)\n(.*?)^```", re.S | re.M)


def _run_guide() -> dict:
    text = GUIDE.read_text()
    namespace: dict = {"__name__": "authoring_guide"}
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for match in BLOCK.finditer(text):
        kind, code = match.groups()
        line = text.count("\n", 0, match.start()) + 2
        if kind == "python":
            exec(compile(code, f"{GUIDE}:{line}", "exec"), namespace)
        else:
            test = parser.get_doctest(code, namespace, f"authoring.md line {line}", str(GUIDE), line)
            report = []
            runner.run(test, out=report.append, clear_globs=False)
            assert runner.failures == 0, "".join(report)
    return namespace


@pytest.fixture(scope="module")
def guide():
    return _run_guide()


def test_every_example_of_the_guide_runs_and_shows_what_it_says(guide):
    assert "square_gradient" in guide and "linear_layer_gradient" in guide


def test_every_derivation_of_the_guide_verifies_except_the_wrong_one(guide):
    derivations = {name: d for name, d in guide.items() if isinstance(d, Derivation)}
    assert len(derivations) >= 9
    verdicts = {d.slug: verify(d).ok for d in derivations.values()}
    assert verdicts.pop("wrong-product") is False
    assert all(verdicts.values()), verdicts


def _listed(marker: str) -> list:
    text = GUIDE.read_text()
    body = text.split(f"<!-- {marker} -->", 1)[1].split("<!-- end -->", 1)[0]
    return re.findall(r"`([^`]+)`", body)


def test_the_guides_function_list_is_the_evaluators():
    assert _listed("evaluable functions") == evaluable_functions()


def test_the_guides_matrix_and_block_lists_are_the_evaluators():
    registered = [cls for cls in numpy_rule.registry if isinstance(cls, type)]
    matrix = sorted(c.__name__ for c in registered if c.__module__.startswith("sympy.matrices"))
    import symformer.blocks as blocks

    assert _listed("matrix nodes") == matrix
    assert _listed("blocks") == sorted(n for n in blocks.__all__ if isinstance(getattr(blocks, n), type)
                                       and issubclass(getattr(blocks, n), Block))


@pytest.mark.parametrize("name", [f for f in evaluable_functions() if f not in ("KroneckerDelta", "Max", "Min", "Piecewise")])
def test_every_listed_function_evaluates_as_numpy_does(name):
    import numpy as np

    from symformer.engine.evaluate import evaluate

    t = sp.Symbol("t", real=True)
    value = float(evaluate(getattr(sp, name)(t), {t: 0.3}))
    assert value == pytest.approx(float(getattr(sp, name)(sp.Rational(3, 10)).evalf()), rel=1e-12, abs=1e-15)
    assert np.isfinite(value)
