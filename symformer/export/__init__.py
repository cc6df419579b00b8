"""Exporters: verified derivations to course notes, beamer slides, Markdown, notebooks and figures.

Each exporter is a ``to_*`` function over the same :class:`~symformer.Derivation` and, where it
shows proof levels, the verification report dict (``Report.to_dict()``). :func:`build` runs them
all for a course and compiles the PDFs. The core never imports this package.
"""

from symformer.export.beamer import slides_document, to_beamer
from symformer.export.builder import BuildResult, build
from symformer.export.compile import LatexCompileError, find_toolchain
from symformer.export.course import Entry, Lecture
from symformer.export.examples import ShapesTable, WorkedExample
from symformer.export.markdown import to_markdown
from symformer.export.notebook import to_notebook
from symformer.export.notes import notes_document, to_notes
from symformer.export.registry import EXPORTERS, Exporter, exporter, register
from symformer.export.tables import merges_to_beamer, merges_to_latex, trace_to_beamer, trace_to_latex

__all__ = ["EXPORTERS", "BuildResult", "Entry", "Exporter", "Lecture", "ShapesTable", "WorkedExample", "LatexCompileError", "build", "exporter", "find_toolchain",
           "merges_to_beamer", "merges_to_latex", "notes_document", "register", "slides_document", "to_beamer",
           "to_markdown", "to_notebook", "to_notes", "trace_to_beamer", "trace_to_latex"]
