"""The site's HTML: an index with the outline, a page per topic, each from the page model with its formulas typeset.

Links are relative and every asset lies inside the site folder, so the pages work from ``file://``
and from any static host, and load nothing from the network.
"""

from __future__ import annotations

import html

from symformer.export.site.page import Page, Prose, Writer

STYLES = ("katex/katex.min.css", "assets/site.css")
SCRIPT = "assets/site.js"


def _head(title: str) -> str:
    links = "".join(f'<link rel="stylesheet" href="{href}">' for href in STYLES)
    return ("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title)}</title>\n{links}\n<script src=\"{SCRIPT}\" defer></script>\n</head>\n")


def topic_html(page: Page, pages: list, course_title: str, typeset: dict, katex_version: str) -> str:
    """A topic's page: navigation, its sections, the references cited on it."""
    out = Writer(typeset)
    heading = Prose(page.topic, f"topic {page.topic!r}")
    body = "\n".join(section.html(out) for section in page.sections)
    contents = "".join(f'<li><a href="#{s.anchor}"><span class="number">{s.number}</span> {s.title.html(out)}</a></li>'
                       for s in page.sections)
    index = pages.index(page)
    neighbours = []
    if index > 0:
        neighbours.append(f'<a rel="prev" href="{pages[index - 1].file}">&larr; {pages[index - 1].number} '
                          f'{Prose(pages[index - 1].topic, "").html(out)}</a>')
    if index + 1 < len(pages):
        neighbours.append(f'<a rel="next" href="{pages[index + 1].file}">{pages[index + 1].number} '
                          f'{Prose(pages[index + 1].topic, "").html(out)} &rarr;</a>')
    references = ""
    if out.references:
        items = "".join(f'<li id="ref-{key}" value="{number}">{html.escape(full)}</li>'
                        for key, (number, full) in out.references.items())
        references = f'<section class="references"><h2>References</h2><ol>{items}</ol></section>'
    nav = f'<nav class="pager">{"".join(neighbours)}</nav>'
    return (_head(f"{page.number} {_plain(page.topic)} · {course_title}") + "<body>\n"
            f'<header class="site"><a href="index.html">{html.escape(course_title)}</a></header>\n<main>\n'
            f'<h1><span class="number">{page.number}</span> {heading.html(out)}</h1>\n'
            f'<nav class="contents" aria-label="On this page"><ol>{contents}</ol></nav>\n'
            f'<p class="help">Each derivation shows its first step; <kbd>Next step</kbd> or <kbd>&rarr;</kbd> '
            f'reveals one more, <kbd>&larr;</kbd> one fewer, <kbd>Show all</kbd> the whole chain.</p>\n'
            f"{body}\n{references}\n{nav}\n</main>\n{_footer(katex_version)}</body>\n</html>\n")


def index_html(pages: list, course_title: str, typeset: dict, katex_version: str, summary: str) -> str:
    """The site's front page: the title and the outline, a link to every topic and derivation."""
    out = Writer(typeset)
    topics = []
    for page in pages:
        inner = "".join(f'<li><a href="{page.file}#{s.anchor}"><span class="number">{s.number}</span> '
                        f"{s.title.html(out)}</a></li>" for s in page.sections)
        topics.append(f'<li><a class="topic" href="{page.file}"><span class="number">{page.number}</span> '
                      f'{Prose(page.topic, "").html(out)}</a><ol>{inner}</ol></li>')
    return (_head(course_title) + "<body>\n<main>\n"
            f"<h1>{html.escape(course_title)}</h1>\n<p class=\"summary\">{html.escape(summary)}</p>\n"
            f'<nav class="outline" aria-label="Outline"><ol>{"".join(topics)}</ol></nav>\n'
            f"</main>\n{_footer(katex_version)}</body>\n</html>\n")


def _footer(katex_version: str) -> str:
    return (f'<footer class="site">The label beside each step and claim says how symformer checked it. '
            f"Mathematics typeset with KaTeX {html.escape(katex_version)}.</footer>\n")


def _plain(text: str) -> str:
    from symformer.notation.text import plain_text

    return plain_text(text)
