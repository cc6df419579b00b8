"""A non-editable install into a fresh venv carries the built-in course and the console script."""

import os
import re
import subprocess
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_fresh_venv_install_lists_and_verifies_the_built_in_course(tmp_path):
    # system site packages give the venv sympy/numpy/matplotlib; symformer itself is built in pip's isolated
    # build environment, installed non-editable, and run from a directory outside the checkout
    environment = tmp_path / "venv"
    venv.create(environment, system_site_packages=True, with_pip=True)
    python = environment / "bin" / "python"
    # run from a venv, the tests' own dependencies (lark, ...) are in its site packages, not the system's
    here = sysconfig.get_paths()["purelib"]
    there = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                           capture_output=True, text=True, check=True).stdout.strip()
    if Path(here) != Path(there):
        (Path(there) / "test-dependencies.pth").write_text(here + "\n")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    assert install.returncode == 0, install.stderr
    # the installed package alone: a PYTHONPATH pointing at a checkout would shadow it
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "SYMFORMER_CACHE_DIR": str(tmp_path / "cache")}
    listing = subprocess.run([str(environment / "bin" / "symformer"), "list"], capture_output=True, text=True,
                             cwd=tmp_path, env=env, timeout=300)
    assert listing.returncode == 0, listing.stderr
    assert "softmax-jacobian" in listing.stdout
    where = subprocess.run([str(python), "-c", "import symformer.engine.catalog as c; print(c.builtin_folder())"],
                           capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert str(environment) in where.stdout, "the course should come from the installed package, not the checkout"
    shown = subprocess.run([str(python), "-m", "symformer", "show", "softmax-jacobian"], capture_output=True,
                           text=True, cwd=tmp_path, env=env, timeout=120)
    assert shown.returncode == 0 and shown.stdout.startswith("The softmax Jacobian")
    # the course's bibliography is package data: the installed package reads its entries
    cited = subprocess.run([str(python), "-c", "from symformer.export.bibliography import references, REFERENCES; "
                            "print(len(references()), REFERENCES)"], capture_output=True, text=True, cwd=tmp_path,
                           env=env, timeout=120)
    count, path = cited.stdout.split()
    shipped = len(re.findall(r"^@\w+\{", (ROOT / "symformer" / "export" / "references.bib").read_text(), re.M))
    assert int(count) == shipped and str(environment) in path, cited.stderr
