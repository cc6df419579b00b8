"""``symformer new NAME``: write a commented starter derivation that verifies as written.

The starter is a complete example of the model in one screen: a display name kept by
``definitions``, one step, a claim, and a ``Gradient`` result compared with NumPy and finite
differences. The user edits it; ``docs/authoring.md`` explains every field.
"""

from __future__ import annotations

import re
from pathlib import Path

from symformer._files import write_atomically
from symformer.cli.common import check_writable, say
from symformer.engine.model import SLUG
from symformer.errors import OutputError, UsageError

#: The starter file; ``{slug}``, ``{title}`` and ``{variable}`` are filled in from NAME.
STARTER = '''\
"""{title}: a starter derivation written by `symformer new`. Edit it, then run

    symformer verify {filename}

Every field is explained in symformer's authoring guide (docs/authoring.md). symformer finds every
module-level Derivation object of this file; no registration is needed.
"""

import numpy as np
import sympy as sp
from sympy import Derivative, IndexedBase, Lambda, Sum, exp, log

from symformer import Claim, Derivation, Gradient, Size, Step

# Sizes are integer symbols. A proof "for all n" holds for every n; the Size below also says
# at which n to prove exactly when the general proof does not close, and at which n to check in float64.
n = sp.Symbol("n", integer=True, positive=True)

# Index symbols: i is free (it appears in the result), k is bound by the Sum, a is a Lambda's argument.
# Indices are 1-based, as on slides: i runs over 1..n.
i, k, a = sp.symbols("i k a", integer=True)

# An input vector: an IndexedBase with a shape. real=True lets SymPy simplify as for real numbers.
x = IndexedBase("x", shape=(n,), real=True)

# A display name: sigma_i is printed as is, and replaced by its definition before any check.
# Without it the steps would show 1/(1 + e^(-x_i)) expanded wherever the sigmoid appears.
sigma = IndexedBase("sigma", shape=(n,))

{variable} = Derivation(
    slug="{slug}",                                   # the name on the command line: lowercase words joined by "-"
    title=r"The gradient of $\\sum_k \\log(1 + e^{{x_k}})$",  # text; $...$ spans are mathematics
    topic="My derivations",                          # derivations of one topic are grouped in the notes and slides
    intro=r"Softplus, $\\log(1 + e^{{x}})$, is a smooth ReLU; its derivative is the logistic sigmoid $\\sigma$.",
    # The expression the chain starts from: d/dx_i of sum_k softplus(x_k).
    lhs=Derivative(Sum(log(1 + exp(x[k])), (k, 1, n)), x[i]),
    # sigma[a] stands for 1/(1 + e^(-x_a)); a Lambda of the index maps each sigma_i to its formula.
    definitions={{sigma: Lambda(a, 1 / (1 + exp(-x[a])))}},
    # Exact proofs at n = 1..4 when the proof for all n does not close; float64 checks at n = 64.
    sizes={{n: Size(prove=range(1, 5), numeric=64)}},
    # Every free index and the size it runs to. Forgetting this is an error that shows this line.
    indices={{i: n}},
    steps=[
        # Each step equals the previous row (here, the lhs), and says why: text with $...$ mathematics.
        Step(sigma[i], r"only the term $k = i$ depends on $x_i$, and $e^{{x_i}} / (1 + e^{{x_i}}) = \\sigma(x_i)$"),
    ],
    claims=[
        # A further identity, checked like a step: lhs == rhs for every value of the free index i.
        Claim(r"the sigmoid's derivative is $\\sigma_i (1 - \\sigma_i)$", Derivative(sigma[i], x[i]), sigma[i] * (1 - sigma[i]),
              why=r"differentiate $1 / (1 + e^{{-x_i}})$"),
    ],
    # The final step is the gradient of forward with respect to x: symformer compares it with the
    # independent NumPy reference and with finite differences of forward, at the numeric size.
    result=Gradient(
        forward=lambda x: float(np.sum(np.logaddexp(0.0, x))),  # the scalar function, in NumPy
        reference=lambda x: 1.0 / (1.0 + np.exp(-x)),           # its gradient, written independently of SymPy
        wrt="x",                                                # the input differentiated, by name
        indices=(i,),                                           # the free indices of the final expression, in array order
    ),
)
'''


def starter_source(name: str) -> tuple[str, str]:
    """The file name and the text of a starter derivation called ``name``.

    >>> filename, text = starter_source("my-softplus")
    >>> filename, 'slug="my-softplus"' in text
    ('my_softplus.py', True)
    """
    slug = name[:-3].replace("_", "-") if name.endswith(".py") else name
    if not SLUG.match(slug):
        raise UsageError(f"symformer new: {name!r} is not a derivation name; use lowercase words joined by '-', "
                         f"like 'my-softplus'")
    filename = name if name.endswith(".py") else slug.replace("-", "_") + ".py"
    variable = re.sub(r"\W", "_", slug.replace("-", "_"))
    title = slug.replace("-", " ").capitalize()
    return filename, STARTER.format(slug=slug, title=title, variable=variable, filename=filename)


def _cmd_new(args) -> int:
    from symformer.engine.catalog import builtin_slugs

    filename, text = starter_source(Path(args.name).name)
    slug = text.split('slug="', 1)[1].split('"', 1)[0]
    if slug in builtin_slugs():
        raise UsageError(f"symformer new: {slug!r} is the name of a built-in derivation; choose another name")
    target = Path(args.name).parent / filename
    if target.exists() and not args.force:
        raise UsageError(f"{target} exists; choose another name, or pass --force to replace it")
    check_writable(target)
    try:
        write_atomically(target, text)
    except OSError as exc:
        raise OutputError.from_os_error(target, exc) from None
    say(f"wrote {target}; check it with: symformer verify {target}")
    return 0


def add_commands(commands) -> None:
    """Add ``new`` to the subcommands."""
    new = commands.add_parser("new", help="write a commented starter derivation that verifies as written")
    new.add_argument("name", metavar="NAME", help="the derivation's name, like my-softplus (the file is my_softplus.py)")
    new.add_argument("--force", action="store_true", help="replace the file if it exists")
    new.set_defaults(run=_cmd_new)
