"""The verdict cache serves a verdict only for exactly what was verified, and only as it was written."""

import json
import textwrap

import pytest

from symformer.cli.main import main

HELPER_RIGHT = "def reference(x):\n    return 2 * x\n"
HELPER_WRONG = "def reference(x):\n    return 3 * x\n"

DERIVATION = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, os.path.dirname(__file__))
    import sympy as sp
    from symformer import Derivation, Gradient, Size, Step
    from _helpers import reference

    n = sp.Symbol("n", integer=True, positive=True)
    i, k = sp.symbols("i k", integer=True)
    x = sp.IndexedBase("x", shape=(n,), real=True)

    square_gradient = Derivation(
        slug="square-gradient", title="t", topic="Mine",
        lhs=sp.Derivative(sp.Sum(x[k] ** 2, (k, 1, n)), x[i]),
        steps=[Step(2 * x[i], "only the term k = i depends on x_i")],
        sizes={n: Size(prove=range(1, 3), numeric=8)}, indices={i: n},
        result=Gradient(forward=lambda x: (x ** 2).sum(), reference=reference, wrt="x", indices=(i,)),
    )
    """
)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("SYMFORMER_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def course(tmp_path):
    folder = tmp_path / "course"
    folder.mkdir()
    (folder / "_helpers.py").write_text(HELPER_RIGHT)
    (folder / "gradient.py").write_text(DERIVATION)
    return folder


def verify_json(course) -> dict:
    return json.loads(_run(["verify", "--json", "--quiet", str(course)]))


def _run(argv) -> str:
    import io
    from contextlib import redirect_stdout

    out = io.StringIO()
    with redirect_stdout(out):
        main(argv)
    return out.getvalue()


def test_changing_an_imported_helper_invalidates_the_cached_verdict(cache, course):
    first = verify_json(course)
    assert first["ok"] and first["derivations"][0]["cached"] is False
    assert verify_json(course)["derivations"][0]["cached"] is True
    (course / "_helpers.py").write_text(HELPER_WRONG)  # the reference becomes wrong; the derivation file does not change
    again = verify_json(course)
    (report,) = again["derivations"]
    assert report["cached"] is False
    assert again["ok"] is False and report["checks"][-1]["ok"] is False


def _entry(cache):
    (path,) = cache.glob("*.json")
    return path, json.loads(path.read_text())


@pytest.mark.parametrize("tamper", [
    lambda entry: entry["report"].update(ok=True),
    lambda entry: entry["report"].update(ok="false"),
    lambda entry: entry["report"]["checks"][-1].update(ok=True, level="proved for all n"),
    lambda entry: entry["report"].update(checks=5),
    lambda entry: entry.update(report=[1, 2]),
    lambda entry: entry.clear(),
], ids=["ok-true", "ok-string", "check-ok", "checks-not-a-list", "report-not-a-dict", "empty"])
def test_an_edited_or_malformed_entry_is_discarded_and_verified_again(cache, course, tamper):
    (course / "_helpers.py").write_text(HELPER_WRONG)
    assert verify_json(course)["ok"] is False
    path, entry = _entry(cache)
    tamper(entry)
    path.write_text(json.dumps(entry))
    again = verify_json(course)
    assert again["ok"] is False
    assert again["derivations"][0]["cached"] is False


def test_an_entry_is_bound_to_its_key(cache, course, tmp_path):
    verify_json(course)
    path, entry = _entry(cache)
    from symformer.engine import cache as cache_module

    other = cache_module.cache_dir() / ("0" * 64 + ".json")
    other.write_text(path.read_text())
    assert cache_module.load("0" * 64) is None
    assert cache_module.load(path.stem) is not None
    path.write_text("not json at all")
    assert cache_module.load(path.stem) is None


def test_the_key_covers_the_library_versions_seed_and_time_bound(monkeypatch):
    import numpy
    import sympy

    from symformer import VerifyConfig, catalog
    from symformer.engine.cache import content_hash

    derivation = catalog()["softmax-jacobian"]
    base = content_hash(derivation, VerifyConfig())
    assert content_hash(derivation, VerifyConfig(seed=1)) != base
    assert content_hash(derivation, VerifyConfig(time_bound=2.0)) != base
    monkeypatch.setattr(sympy, "__version__", "0.0.1")
    assert content_hash(derivation, VerifyConfig()) != base
    monkeypatch.undo()
    monkeypatch.setattr(numpy, "__version__", "0.0.1")
    assert content_hash(derivation, VerifyConfig()) != base
