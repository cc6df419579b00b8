r"""Beamer slides: a lecture with a title page, an outline, a section slide, the derivations, a worked
example and a summary per topic, and the references.

A derivation's steps are an ``align*`` whose rows are revealed one by one with ``\uncover<k->``
(``\pause`` breaks inside amsmath, which typesets its body twice). Under each row, revealed with it,
is its justification with its citation and its proof level, small but set on the slide itself;
``\note{}`` still carries the same reasons (and the derivation's closing prose) for the presenter.
Long rows break at their top-level relations and signs; a chain taller than a slide continues on the
next frame, split by estimated height so that no frame runs past the bottom; frames without
overlays (claims, examples, summaries, references) may also break where TeX finds the page full.
Every frame is preceded by a ``% symformer:`` comment naming its derivation and steps, so a
report of LaTeX's log can say which derivation an overfull box belongs to. The handout is the same
source with ``\documentclass[handout]{beamer}``: one page per frame, everything shown.
"""

from __future__ import annotations

from symformer.export.bibliography import Bibliography
from symformer.export.course import DEFAULT_TITLE, Entry, Lecture, claim_formula, is_claim, prerequisite_items
from symformer.export.examples import array_latex, exact_latex, number_latex, shapes_table, worked_example
from symformer.export.registry import Exporter, register
from symformer.notation.chain import WHY_MACRO, aligned_rows, chain_layout, display, justification
from symformer.notation.escape import escape_plain, escape_text
from symformer.notation.layout import SLIDE_WIDTH, row_height, text_height, text_lines, width
from symformer.notation.printer import DEFAULT_STYLE, Style, step_latex, to_latex
from symformer.notation.text import plain_text

#: The height (points) a frame's body may fill below a one-line title, at \small.
FRAME_HEIGHT = 200.0
#: Frame titles longer than this many points (at the title's size) take a second line.
TITLE_WIDTH = 330.0

PREAMBLE = r"""\documentclass[{options}]{{beamer}}
\usepackage[T1]{{fontenc}}
\usepackage[utf8]{{inputenc}}
\IfFileExists{{lmodern.sty}}{{\usepackage{{lmodern}}}}{{}}
\usepackage{{textcomp}}
\usepackage{{amsmath,amssymb,mathtools}}
\usepackage{{booktabs}}
{bibliography}\setbeamertemplate{{navigation symbols}}{{}}
\setbeamertemplate{{footline}}[frame number]
\setbeamertemplate{{bibliography item}}{{}}
\setbeamertemplate{{frametitle continuation}}[from second][(continued)]
\setbeamerfont{{frametitle}}{{size=\large}}
\allowdisplaybreaks
\newcommand{{\unverified}}[1]{{{{\footnotesize\colorbox{{red!15}}{{\parbox{{\dimexpr\linewidth-2\fboxsep}}{{\textcolor{{red}}{{\textbf{{NOT VERIFIED:}} #1}}}}}}}}\par}}
{why}
"""


def _title(lecture: Lecture, entry: Entry, part: str = "") -> str:
    number = lecture.numbers.get(entry.derivation.slug, "")
    return (f"{number}\\quad " if number else "") + escape_text(entry.derivation.title) + part


#: Room (points) kept free before claims join a chain's last frame: the chain's estimate can run a line short.
_JOIN_MARGIN = 16.0


def _title_lines(title: str) -> int:
    return text_lines(plain_text(title.replace("\\quad", " ")), TITLE_WIDTH, size=1.0)


def _budget(title: str) -> float:
    return FRAME_HEIGHT - 16.0 * (_title_lines(title) - 1)


def _marker(slug: str, what: str) -> str:
    return f"% symformer: derivation {slug}, {what}"


def _justification(lecture: Lecture, step, level) -> str:
    cite = lecture.cite(step.cite)
    return justification(lecture.prose(step.why), cite or None, lecture.level(level))


# The height of a chain on a slide (points): its rows and justification lines as estimated, plus the
# skips around the display. Checked against the rendered pages of the course (pdftotext -bbox):
# the estimates run from 0.8 to 1.1 times what TeX sets.
_ROWS, _WHYS, _PER_STEP, _DISPLAY = 1.0, 1.0, 2.0, 22.0


def _step_cost(layout, number: int, why_height: float) -> float:
    return _ROWS * layout.step_height(number) + _WHYS * why_height + _PER_STEP


def _justification_height(lecture: Lecture, step, level) -> float:
    text = plain_text(step.why) + " " + (step.cite or "") + " " + (level or "")
    return text_height(text, SLIDE_WIDTH - 12.0, size=0.8, leading=10.5) + 2.0


def _warning(entry: Entry) -> str:
    return rf"\unverified{{{escape_plain(entry.problem())}}}" if entry.report is not None and not entry.verified else ""


def _step_groups(entry: Entry, lecture: Lecture, style: Style, intro_height: float, budget: float) -> list:
    """Contiguous groups of steps, each of which fits one frame (the first also holds the intro).

    A frame holds its display's skips, its left-hand side (the derivation's, or on a later frame the
    step before, restated) and its steps; the fewest frames are used, the steps spread so that the
    fullest frame is as empty as it can be.
    """
    d = entry.derivation
    levels = entry.step_levels()
    whole = chain_layout(d, style, SLIDE_WIDTH)
    heights = [_step_cost(whole, k, _justification_height(lecture, d.steps[k], levels[k])) for k in range(len(d.steps))]
    overheads = []
    for first in range(len(d.steps)):
        if first == 0:
            overheads.append(intro_height + _DISPLAY + _ROWS * whole.lhs_height())
        else:
            restated = chain_layout(d, style, SLIDE_WIDTH, first, first + 1)
            overheads.append(_DISPLAY + _ROWS * (restated.lhs_height() or row_height(restated.lhs)))

    def load(first, last):
        return overheads[first] + sum(heights[first:last])

    groups, first = [], 0
    for last in range(1, len(heights) + 1):
        if last - 1 > first and load(first, last) > budget:
            groups.append(list(range(first, last - 1)))
            first = last - 1
    groups.append(list(range(first, len(heights))))
    return _balance(groups, load, budget)


def _balance(groups: list, load, budget: float) -> list:
    """The same number of frames, the steps spread so that the fullest frame is as empty as it can be."""
    count, total = len(groups), sum(len(g) for g in groups)
    best = groups
    best_cost = max(load(g[0], g[-1] + 1) for g in groups)
    if count == 1 or total > 14 or count > 4:
        return best
    from itertools import combinations

    for cuts in combinations(range(1, total), count - 1):
        bounds = [0, *cuts, total]
        cost = max(load(bounds[i], bounds[i + 1]) for i in range(count))
        if cost <= budget and cost < best_cost:
            best, best_cost = [list(range(bounds[i], bounds[i + 1])) for i in range(count)], cost
    return best


def _steps_frames(entry: Entry, lecture: Lecture, style: Style, closing: list) -> list:
    """The frames of the chain; the claims (``closing`` items) join the last frame when they fit."""
    d = entry.derivation
    levels = entry.step_levels()
    intro = lecture.prose(d.intro) if d.intro else ""
    intro_height = (text_height(plain_text(d.intro), SLIDE_WIDTH, size=1.0, leading=12.0) + 6.0) if d.intro else 0.0
    warning = _warning(entry)
    if warning:
        intro_height += 24.0
    title_probe = _title(lecture, entry, " (1/2)")
    budget = _budget(title_probe)
    whole = chain_layout(d, style, SLIDE_WIDTH)
    first_cost = _ROWS * whole.lhs_height() + _DISPLAY + _step_cost(whole, 0, _justification_height(lecture, d.steps[0], levels[0]))
    intro_alone = bool(intro) and intro_height + first_cost > budget  # then the prose gets a frame of its own
    groups = _step_groups(entry, lecture, style, 0.0 if intro_alone else intro_height, budget)
    count = len(groups) + intro_alone
    frames = []
    if intro_alone:
        frames.append("\n".join([_marker(d.slug, "introduction"), rf"\begin{{frame}}[t]{{{_title(lecture, entry, f' (1/{count})')}}}",
                                  r"\small", *([warning] if warning else []), intro + r"\par", r"\end{frame}"]))
    for part, group in enumerate(groups, start=1 + intro_alone):
        first, last = group[0], group[-1] + 1
        layout = chain_layout(d, style, SLIDE_WIDTH, first, last)
        title = _title(lecture, entry, f" ({part}/{count})" if count > 1 else "")

        def wrap(number, cell):
            # inside \uncover a relation needs an empty atom before it to keep its spacing
            return rf"\uncover<{number + 1}->{{{'{}' + cell if cell.startswith('= ') else cell}}}"

        def after(number, first=first):
            step = d.steps[first + number]
            return rf"\shortintertext{{\uncover<{number + 1}->{{{_justification(lecture, step, levels[first + number])}}}}}"

        body = [_marker(d.slug, f"steps {first + 1}-{last}"), rf"\begin{{frame}}[t]{{{title}}}", r"\small"]
        if warning:
            body.append(warning)
        if part == 1 and intro:
            body.append(intro + r"\par")
        body += [r"\begin{align*}", aligned_rows(layout, wrap, after), r"\end{align*}"]
        if part == count and closing:
            used = (intro_height if part == 1 else 0.0) + _ROWS * (layout.lhs_height() or row_height(layout.lhs)) + _DISPLAY
            used += sum(_step_cost(layout, k, _justification_height(lecture, d.steps[first + k], levels[first + k]))
                        for k in range(len(group)))
            room, joined = _budget(title) - used - _JOIN_MARGIN, []
            while closing and closing[0][1] <= room:  # the first claims join the chain's last frame while they fit
                room -= closing[0][1]
                joined.append(closing.pop(0)[0])
            if joined:
                heading = r"\textbf{What follows}" if d.claims else ""
                body.append(rf"\uncover<{len(group) + 1}->{{{heading}\vspace{{-0.5ex}}\begin{{itemize}}\setlength{{\itemsep}}{{2pt}}"
                            + "\n" + "\n".join(joined) + "\n" + r"\end{itemize}}")
        notes = "\n".join(rf"\item[{number + 1}.] {lecture.prose(d.steps[number].why)}" for number in group)
        if part == count and d.outro:
            notes += "\n" + rf"\item[] {lecture.prose(d.outro)}"
        body += [r"\note{\begin{itemize}" + "\n" + notes + "\n" + r"\end{itemize}}", r"\end{frame}"]
        frames.append("\n".join(body))
    return frames, closing


def _closing_items(entry: Entry, lecture: Lecture, style: Style) -> list:
    """The claims (and the check of the final result) as itemize items with their estimated heights."""
    d = entry.derivation
    items = []
    for claim, level in zip(d.claims, entry.claim_levels()):
        text = rf"\item {lecture.prose(claim.statement)}"
        height = text_height(plain_text(claim.statement), SLIDE_WIDTH - 20.0, size=1.0, leading=12.0) + 3.0
        formula = claim_formula(claim, style)
        if formula:
            if not is_claim(claim) and width(formula) < 120:
                text += f": ${formula}$"
            else:
                shown, tall = display(formula, SLIDE_WIDTH - 30.0)
                text += "\n" + shown
                height += tall
        why = lecture.prose(claim.why) if claim.why else ""
        cite = lecture.cite(claim.cite) if getattr(claim, "cite", None) else ""
        if why or cite or level:
            text += "\n" + justification(f"Why: {why}" if why else "", cite or None, lecture.level(level))
            height += text_height(plain_text(claim.why or "") + " " + (claim.cite or "") + " " + (level or ""),
                                  SLIDE_WIDTH - 30.0, size=0.8, leading=10.5) + 2.0
        items.append((text, height + 3.0))
    result = entry.result_level()
    if result:
        items.append((rf"\item[] {{\footnotesize\color{{black!72}}The final formula against an independent NumPy "
                      rf"implementation and finite differences: \textit{{{lecture.level(result)}}}.\par}}",
                      text_height("The final formula against an independent NumPy implementation and finite "
                                  "differences: " + result, SLIDE_WIDTH - 20.0, size=0.8, leading=10.5) + 4.0))
    return items


def _claims_frames(entry: Entry, lecture: Lecture, items: list) -> list:
    """The claims the chain's last frame could not take: frames of whole claims, about equally full."""
    if not items:
        return []
    d = entry.derivation
    title = _title(lecture, entry)
    budget = _budget(title) - 12.0  # the subtitle
    heights = [0.9 * height for _, height in items]  # the estimates of claims run high
    groups, first = [], 0
    for last in range(1, len(items) + 1):
        if last - 1 > first and sum(heights[first:last]) > budget:
            groups.append((first, last - 1))
            first = last - 1
    groups.append((first, len(items)))
    if 1 < len(groups) <= 4 and len(items) <= 14:
        from itertools import combinations

        def worst(bounds):
            return max(sum(heights[bounds[i]:bounds[i + 1]]) for i in range(len(bounds) - 1))

        options = [[0, *cuts, len(items)] for cuts in combinations(range(1, len(items)), len(groups) - 1)]
        bounds = min(options, key=worst)
        groups = [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]
    frames = []
    for part, (first, last) in enumerate(groups, start=1):
        suffix = f" ({part}/{len(groups)})" if len(groups) > 1 else ""
        body = [_marker(d.slug, "claims"), rf"\begin{{frame}}[t]{{{title}}}{{What follows{suffix}}}", r"\small"]
        if _warning(entry):
            body.append(_warning(entry))
        body += [r"\begin{itemize}\setlength{\itemsep}{3pt}", *(text for text, _ in items[first:last]),
                 r"\end{itemize}", r"\end{frame}"]
        frames.append("\n".join(body))
    return frames


def _figure_frames(entry: Entry, lecture: Lecture) -> list:
    frames = []
    for stem, caption in entry.figures:
        frames.append("\n".join([
            _marker(entry.derivation.slug, f"figure {stem}"), rf"\begin{{frame}}{{{_title(lecture, entry)}}}", r"\centering",
            rf"\includegraphics[width=\linewidth,height=0.64\textheight,keepaspectratio]{{{stem}.pdf}}\par\medskip",
            rf"{{\footnotesize {lecture.prose(caption)}\par}}", r"\end{frame}"]))
    return frames


def _example_frames(entry: Entry, lecture: Lecture) -> list:
    """The worked example of the derivation: the inputs, then the numbers (on two frames when tall)."""
    example = worked_example(entry.derivation)
    if example is None:
        return []
    quantities = example.evaluate()
    d = entry.derivation
    inputs = [f"{_input_name(name)} = {array_latex(value, exact_latex)}" for name, value in example.exact_inputs().items()]
    input_lines, line = [], ""
    for item in inputs:  # the inputs as displays, as many to a line as fit
        candidate = f"{line},\\quad {item}" if line else item
        if line and width(candidate) > SLIDE_WIDTH - 20.0:
            input_lines.append(line)
            candidate = item
        line = candidate
    if line:
        input_lines.append(line)
    rows = [f"{q.name} &= {array_latex(q.exact)}" for q in quantities]
    worst = max((q.error for q in quantities), default=0.0)
    number = lecture.numbers.get(d.slug, "")
    source = f"Section~{number}" if number else "the derivation"
    closing = (rf"{{\footnotesize\color{{black!72}}{lecture.prose(example.text) + ' ' if example.text else ''}"
               rf"The result of {source} at these inputs, evaluated exactly, shown to 4 digits; the NumPy reference "
               rf"gives the same numbers (largest difference ${number_latex(worst, 2)}$).\par}}")
    title = "Worked example" + (f": {escape_text(example.title)}" if example.title else "")
    budget = _budget(title)
    closing_height = text_height(plain_text(example.text + " The result of Section 1.1 at these inputs, evaluated exactly, "
                                            "shown to 4 digits; the NumPy reference gives the same numbers (largest "
                                            "difference 0)."), SLIDE_WIDTH, size=0.8, leading=10.5)
    heights = [row_height(r) + 2.0 for r in rows]
    top = (sum(row_height(x) for x in input_lines) + _DISPLAY + 12.0) if input_lines else 0.0
    groups, current, used = [], [], top + _DISPLAY + closing_height
    for row, height in zip(rows, heights):
        if current and used + height > budget:
            groups.append(current)
            current, used = [], _DISPLAY + closing_height
        current.append(row)
        used += height
    groups.append(current)
    frames = []
    for part, group in enumerate(groups, start=1):
        suffix = f" ({part}/{len(groups)})" if len(groups) > 1 else ""
        body = [_marker(d.slug, "worked example"), rf"\begin{{frame}}[t]{{{title}{suffix}}}", r"\small"]
        if part == 1 and input_lines:
            body += [r"Inputs:\vspace{-1ex}", r"\begin{gather*}", " \\\\\n".join(input_lines), r"\end{gather*}"]
        body += [r"\begin{align*}", " \\\\\n".join(group), r"\end{align*}"]
        if part == len(groups):
            body.append(closing)
        body.append(r"\end{frame}")
        frames.append("\n".join(body))
    return frames


def _input_name(name: str) -> str:
    import sympy as sp

    return to_latex(sp.Symbol(name))


def _shapes_frames(entry: Entry, lecture: Lecture, style: Style) -> list:
    table = shapes_table(entry.derivation)
    if table is None:
        return []
    rows = "\n".join(f"${symbol}$ & ${shape}$ & {what} \\\\" for symbol, shape, what in table.rows(style))
    return ["\n".join([
        _marker(entry.derivation.slug, "shapes"), rf"\begin{{frame}}{{{escape_text(table.title)}}}",
        r"\footnotesize\centering", r"\begin{tabular}{@{}lll@{}}", r"\toprule", r"matrix & shape & what it is \\",
        r"\midrule", rows, r"\bottomrule", r"\end{tabular}", r"\end{frame}"])]


def _needs_claims_frames(closing: list, entry: Entry) -> bool:
    """Whether what did not join the chain's last frame gets frames of its own: claims do; the line about
    the check of the final result alone does not (the notes carry it), so no frame holds one line."""
    return bool(closing) and not (len(closing) == 1 and entry.result_level())


def to_beamer(entry: Entry, style: Style = DEFAULT_STYLE, lecture: Lecture | None = None) -> str:
    r"""The frames of one derivation (no preamble): its chain, its claims, its figures, its worked example.

    >>> import sympy as sp
    >>> from symformer import Derivation, Step
    >>> x = sp.Symbol("x")
    >>> chain = Derivation("square", "A square", "Demo", lhs=x * x, steps=[Step(x**2, "powers")])
    >>> print([line for line in to_beamer(Entry(chain)).splitlines() if "uncover" in line][0])
    x^{2} &\uncover<1->{{}= x^{2}} \\
    """
    lecture = lecture or Lecture([entry], style=style, target="slides")
    closing = _closing_items(entry, lecture, style)
    frames = _shapes_frames(entry, lecture, style)
    steps, closing = _steps_frames(entry, lecture, style, closing)
    frames += steps
    if _needs_claims_frames(closing, entry):
        frames += _claims_frames(entry, lecture, closing)
    frames += _figure_frames(entry, lecture)
    frames += _example_frames(entry, lecture)
    return "\n\n".join(frames) + "\n"


def _summary_frame(topic: str, members: list, lecture: Lecture, style: Style) -> str:
    items = []
    for entry in members:
        d = entry.derivation
        number = lecture.numbers.get(d.slug, "")
        formula = f"{d.lhs_latex or to_latex(d.lhs, style)} = {step_latex(d.steps[-1], style)}"
        item = rf"\item \textbf{{{number}}} {escape_text(d.title)}"
        if "$" not in d.title and width(formula) <= 0.6 * SLIDE_WIDTH and "=" not in step_latex(d.steps[-1], style):
            item += rf": ${formula}$"
        levels = entry.chain_levels()
        if levels:
            item += r"\\" + rf"{{\footnotesize\color{{black!72}}\textit{{every step {' or '.join(lecture.level(l) for l in levels)}}}" \
                + (rf"; {len(d.claims)} further result{'s' if len(d.claims) != 1 else ''}" if d.claims else "") + "}"
        if not entry.verified and entry.report is not None:
            item += r" \textcolor{red}{NOT VERIFIED}"
        items.append(item)
    return "\n".join([f"% symformer: summary of {topic}", rf"\begin{{frame}}[allowframebreaks]{{Summary: {escape_text(topic)}}}",
                      r"\small", r"\begin{itemize}\setlength{\itemsep}{3pt}", *items, r"\end{itemize}", r"\end{frame}"])


def _section_frame(number: int, topic: str, members: list, lecture: Lecture) -> str:
    titles = "\n".join(rf"\item[{lecture.numbers.get(e.derivation.slug, '')}] {escape_text(e.derivation.title)}" for e in members)
    return "\n".join([f"% symformer: section {topic}", r"\begin{frame}", r"\vfill\centering",
                      rf"{{\usebeamerfont{{title}}\usebeamercolor[fg]{{title}}{number}.\ {escape_text(topic)}\par}}",
                      r"\bigskip\raggedright\small", r"\begin{itemize}\setlength{\leftmargini}{2.4em}", titles,
                      r"\end{itemize}", r"\vfill", r"\end{frame}"])


def _prerequisites_frame(lecture: Lecture, style: Style) -> str:
    if not lecture.prerequisites:
        return ""
    items = prerequisite_items(lecture, style, SLIDE_WIDTH - 40.0)
    return "\n".join(["% symformer: prerequisites", r"\begin{frame}[allowframebreaks]{Before this lecture}", r"\small",
                      "This lecture uses these results of the course, derived and verified in their own sections:",
                      r"\begin{itemize}", *items, r"\end{itemize}", r"\end{frame}"])


def _title_page(lecture: Lecture) -> list:
    parts = [rf"\title{{{escape_text(lecture.title)}}}"]
    if lecture.author:
        parts.append(rf"\author{{{escape_text(lecture.author)}}}")
    else:
        parts.append(r"\author{}")
    if lecture.institute:
        parts.append(rf"\institute{{{escape_text(lecture.institute)}}}")
    parts.append(rf"\date{{{escape_text(lecture.date)}}}" if lecture.date else r"\date{\today}")
    return parts


def slides_document(entries: list, title: str = DEFAULT_TITLE, handout: bool = False, style: Style = DEFAULT_STYLE,
                    frames: list | None = None, lecture: Lecture | None = None) -> str:
    """The lecture as one beamer deck: title page, outline, then per topic a section slide, its
    derivations with their worked examples, and a summary; the references last.

    ``frames`` may hold each entry's ``to_beamer`` output already made (the handout reuses the slides').
    """
    if lecture is None:
        lecture = Lecture(list(entries), style=style, title=title, target="slides")
    parts = [PREAMBLE.format(options="handout" if handout else "", bibliography=lecture.bibliography.preamble(),
                             why=WHY_MACRO), *_title_page(lecture), r"\begin{document}", "% symformer: title",
             r"\begin{frame}\titlepage\end{frame}", ""]
    topics = lecture.topics()
    if len(topics) > 1:
        parts += ["% symformer: outline", r"\begin{frame}{Outline}", r"\small\tableofcontents", r"\end{frame}", ""]
    prerequisites = _prerequisites_frame(lecture, style)
    if prerequisites:
        parts += [prerequisites, ""]
    made = dict(zip((id(e) for e in entries), frames)) if frames is not None else {}
    for number, (topic, members) in enumerate(topics, start=1):
        parts.append(rf"\section{{{escape_text(topic)}}}")
        parts.append(_section_frame(number, topic, members, lecture))
        for entry in members:
            parts.append(made.get(id(entry)) or to_beamer(entry, style, lecture))
        parts.append(_summary_frame(topic, members, lecture, style))
        parts.append("")
    if lecture.bibliography.cited:
        parts += ["% symformer: references", r"\begin{frame}[allowframebreaks]{References}", r"\footnotesize",
                  lecture.bibliography.printed(heading=""), r"\end{frame}"]
    parts.append(r"\end{document}")
    return "\n".join(parts) + "\n"


def single_slides_document(entry: Entry, style: Style = DEFAULT_STYLE) -> str:
    """One derivation as a complete deck (``symformer export NAME --format beamer``): self-contained,
    its references typeset without biber."""
    lecture = Lecture([entry], style=style, title=entry.derivation.title, target="slides",
                      bibliography=Bibliography("plain"))
    return slides_document([entry], style=style, lecture=lecture)


register(Exporter("beamer", ".tex", "slides", single_slides_document))
