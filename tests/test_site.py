"""``site/``: the course as static HTML, checked in headless Chromium and on disk.

The browser loads every page from the built folder over ``file://`` and must see no console error,
no KaTeX error element, exactly the formulas the derivations call for, a reveal that adds one step
per click and per arrow key, and no request leaving the site folder. One session build of a small
course (softmax and a demo with a figure) serves the browser tests; one full-course build checks
every page of the course.
"""

import re
from pathlib import Path

import pytest

from symformer import discover
from symformer.cli import main
from symformer.export import build
from symformer.export.site import KatexError, find_katex
from symformer.notation.printer import step_latex

ROOT = Path(__file__).resolve().parent.parent
SOFTMAX_FILE = ROOT / "derivations" / "softmax.py"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

DEMO = '''
import sympy as sp
from symformer import Derivation, Figure, Size, Step

n = sp.Symbol("n", integer=True, positive=True)
k = sp.Symbol("k", integer=True)
x = sp.IndexedBase("x", shape=(n,), real=True)


def bars():
    from matplotlib.figure import Figure as Drawing

    drawing = Drawing(figsize=(4, 3))
    drawing.add_subplot().bar([1, 2, 3], [2, 4, 6])
    return drawing


double_sum = Derivation(
    slug="double-sum", title="Twice a sum $2 \\\\sum_k x_k$", topic="Demo: sums & <b>50%</b>",
    sizes={n: Size(prove=range(1, 4), numeric=16)},
    lhs=2 * sp.Sum(x[k], (k, 1, n)),
    steps=[Step(sp.Sum(2 * x[k], (k, 1, n)), "a constant factor $2$ enters the sum", cite="Knuth 1968, section 1.2.3"),
           Step(sp.Sum(x[k] + x[k], (k, 1, n)), "$2 x_k = x_k + x_k$"),
           Step(sp.Sum(x[k], (k, 1, n)) + sp.Sum(x[k], (k, 1, n)), "a sum of sums splits")],
    figures=[Figure("bars", bars, "Twice each value, $2 x_k$")],
)
'''

needs_katex = pytest.mark.skipif(find_katex() is None, reason="needs Node.js and KaTeX (npm install -g katex@0.19.1)")


def _chromium_ready():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return Path(CHROMIUM).is_file()


needs_browser = pytest.mark.skipif(not _chromium_ready(), reason="needs Playwright's Python package and /usr/bin/chromium")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMFORMER_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def small_course(tmp_path_factory):
    """A course of softmax and a demo topic with a figure, built once with its site."""
    if find_katex() is None:
        pytest.skip("needs Node.js and KaTeX (npm install -g katex@0.19.1)")
    scratch = tmp_path_factory.mktemp("site")
    demo = scratch / "demo.py"
    demo.write_text(DEMO)
    found = discover([SOFTMAX_FILE, demo])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SYMFORMER_CACHE_DIR", str(scratch / "cache"))
        result = build(found.derivations, scratch / "out", compile=False)
    return found.derivations, result


@pytest.fixture(scope="session")
def full_course(tmp_path_factory):
    if find_katex() is None:
        pytest.skip("needs Node.js and KaTeX (npm install -g katex@0.19.1)")
    found = discover([])
    scratch = tmp_path_factory.mktemp("full")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SYMFORMER_CACHE_DIR", str(scratch / "cache"))
        result = build(found.derivations, scratch / "out", compile=False, allow_unverified=True)
    return found.derivations, result


@pytest.fixture(scope="session")
def browser():
    if not _chromium_ready():
        pytest.skip("needs Playwright's Python package and /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Visit:
    """A page loaded in Chromium with every console message, page error and request recorded."""

    def __init__(self, browser, path: Path, media: str = "screen"):
        self.page = browser.new_page(viewport={"width": 1200, "height": 900})
        self.errors, self.requests = [], []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.emulate_media(media=media)
        self.page.goto(path.as_uri())
        self.page.wait_for_load_state("load")
        self.page.evaluate("document.fonts.ready.then(() => true)")

    def count(self, selector: str) -> int:
        return self.page.locator(selector).count()

    def visible_steps(self, chain) -> int:
        return chain.locator(".step:visible").count()


def _spans(text) -> int:
    return len([s for s in re.findall(r"\$[^$]+\$", text or "") if len(s) > 2])


def _expected_formulas(derivations):
    """Formulas each page must show, counted from the derivations: {file name: count}."""
    from symformer.export.site.page import topic_file

    topics: dict = {}
    for d in derivations:
        topics.setdefault(d.topic, []).append(d)
    names = list(topics)
    pages = {"index.html": sum(_spans(t) for t in names) + sum(_spans(d.title) for d in derivations)}
    for number, (topic, members) in enumerate(topics.items()):
        count = _spans(topic)  # the heading
        count += sum(_spans(n) for n in names[max(0, number - 1):number] + names[number + 1:number + 2])  # pager
        for d in members:
            count += 2 * _spans(d.title)  # contents and heading
            count += _spans(d.intro) + _spans(d.outro) + 1  # the left-hand side
            count += sum(1 + _spans(s.why) for s in d.steps)
            count += sum(_spans(c.statement) + _spans(c.why) + (1 if (getattr(c, "latex", None) or hasattr(c, "lhs")) else 0)
                         for c in d.claims)
            count += sum(_spans(f.caption) for f in d.figures)
        pages[topic_file(topic)] = count
    return pages


def _check_page(visit: Visit, site: Path, expected: int, name: str):
    assert visit.errors == [], name
    assert visit.count(".katex-error") == 0, name
    assert visit.count(".katex") == expected, name
    outside = [url for url in visit.requests if not url.startswith(site.as_uri() + "/")]
    assert outside == [], name
    assert visit.page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"), name


@needs_browser
def test_every_page_loads_without_errors_shows_every_formula_and_requests_nothing_outside(small_course, browser):
    derivations, result = small_course
    expected = _expected_formulas(derivations)
    assert sorted(p.name for p in result.site.glob("*.html")) == sorted(expected)
    for name, count in expected.items():
        visit = Visit(browser, result.site / name)
        _check_page(visit, result.site, count, name)
        visit.page.close()
    assert expected["softmax-and-cross-entropy.html"] > 40


@needs_browser
def test_the_reveal_adds_one_step_per_click_and_per_arrow_key_and_show_all_shows_all(small_course, browser):
    _, result = small_course
    visit = Visit(browser, result.site / "demo-sums-b-50-b.html")
    chain = visit.page.locator(".chain").first
    assert visit.visible_steps(chain) == 1
    assert chain.locator(".shown").inner_text() == "step 1 of 3"
    chain.locator("button.next").click()
    assert visit.visible_steps(chain) == 2
    visit.page.keyboard.press("ArrowRight")
    assert visit.visible_steps(chain) == 3
    assert chain.locator("button.next").is_disabled()
    visit.page.keyboard.press("ArrowRight")  # past the last step: nothing more to show
    assert visit.visible_steps(chain) == 3
    visit.page.keyboard.press("ArrowLeft")
    visit.page.keyboard.press("ArrowLeft")
    visit.page.keyboard.press("ArrowLeft")  # never fewer than the first step
    assert visit.visible_steps(chain) == 1
    chain.locator("button.all").click()
    assert visit.visible_steps(chain) == 3
    assert visit.errors == []


@needs_browser
def test_the_arrow_keys_move_the_chain_last_used(small_course, browser):
    _, result = small_course
    visit = Visit(browser, result.site / "softmax-and-cross-entropy.html")
    chains = visit.page.locator(".chain")
    second = chains.nth(1)
    second.scroll_into_view_if_needed()
    second.locator("button.next").click()
    visit.page.keyboard.press("ArrowRight")
    assert visit.visible_steps(second) == min(3, second.locator(".step").count())
    assert visit.visible_steps(chains.nth(0)) == 1


@needs_browser
def test_printing_shows_every_step_and_no_buttons(small_course, browser):
    derivations, result = small_course
    visit = Visit(browser, result.site / "softmax-and-cross-entropy.html", media="print")
    softmax = [d for d in derivations if d.topic == "Softmax and cross-entropy"]
    assert visit.count(".step:visible") == sum(len(d.steps) for d in softmax)
    assert visit.count(".controls:visible") == 0
    pdf = visit.page.pdf()
    assert pdf.startswith(b"%PDF")


@needs_browser
def test_without_javascript_every_step_is_shown(small_course, browser):
    _, result = small_course
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto((result.site / "demo-sums-b-50-b.html").as_uri())
    assert page.locator(".step:visible").count() == 3
    assert page.locator(".controls:visible").count() == 0
    context.close()


@needs_browser
def test_screenshots_of_the_index_and_a_topic(small_course, browser, tmp_path):
    _, result = small_course
    for name in ("index.html", "softmax-and-cross-entropy.html"):
        visit = Visit(browser, result.site / name)
        shot = tmp_path / f"{name}.png"
        visit.page.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes().startswith(b"\x89PNG")


@needs_browser
@pytest.mark.slow
def test_every_page_of_the_full_course_passes_in_the_browser(full_course, browser):
    derivations, result = full_course
    expected = _expected_formulas(derivations)
    assert sum(expected.values()) > 300
    for name, count in expected.items():
        visit = Visit(browser, result.site / name)
        _check_page(visit, result.site, count, name)
        visit.page.close()
    size = sum(p.stat().st_size for p in result.site.rglob("*") if p.is_file())
    assert size < 5_000_000


# On disk: the content, the links, the rebuild, the errors.

@needs_katex
def test_a_page_shows_the_printers_latex_and_the_reports_levels(small_course):
    derivations, result = small_course
    text = (result.site / "softmax-and-cross-entropy.html").read_text()
    jacobian = next(d for d in derivations if d.slug == "softmax-jacobian")
    for step in jacobian.steps:
        # KaTeX keeps the source in the MathML annotation: the same string the PDFs print
        assert _annotation(f"= {step_latex(step)}") in text
    report = next(r for r in result.reports if r["slug"] == "softmax-jacobian")
    levels = [c["level"] for c in report["checks"] if c["kind"] == "step"]
    section = text.split('id="d-softmax-jacobian">')[1].split("</section>")[0]
    badges = re.findall(r'<li class="step" data-step="\d+"><p class="why">.*?<span class="badge [a-z]+">([^<]*)</span>', section)
    assert badges == levels and levels[0] == "proved for all n"
    assert "The final expression against an independent NumPy implementation and finite differences: " in text


def _annotation(tex: str) -> str:
    import html

    return f'<annotation encoding="application/x-tex">{html.escape(tex, quote=False)}</annotation>'


@needs_katex
def test_the_demo_page_has_its_figure_as_svg_its_citation_and_an_escaped_topic(small_course):
    _, result = small_course
    text = (result.site / "demo-sums-b-50-b.html").read_text()
    assert '<img src="figures/double-sum-bars.svg"' in text
    assert (result.site / "figures" / "double-sum-bars.svg").read_bytes().lstrip().startswith(b"<?xml")
    assert "Demo: sums &amp; &lt;b&gt;50%&lt;/b&gt;" in text and "<b>50%</b>" not in text
    assert re.search(r'<li id="ref-knuth-1968-section-1-[0-9a-f]{8}" value="1">Knuth 1968, section 1.2.3</li>', text)
    index = (result.site / "index.html").read_text()
    assert '<a href="softmax-and-cross-entropy.html#d-softmax-jacobian">' in index


@needs_katex
def test_every_link_and_asset_lies_inside_the_site(small_course):
    _, result = small_course
    site = result.site
    for page in site.glob("*.html"):
        for target in re.findall(r'(?:href|src)="([^"#]*)(?:#[^"]*)?"', page.read_text()):
            if target:
                assert "://" not in target and not target.startswith("/"), (page.name, target)
                assert (site / target).is_file(), (page.name, target)
    css = (site / "katex" / "katex.min.css").read_text()
    fonts = set(re.findall(r"url\((fonts/[^)]+)\)", css))
    assert fonts and all(f.endswith(".woff2") and (site / "katex" / f).is_file() for f in fonts)


@needs_katex
def test_a_rebuild_that_changed_nothing_rewrites_nothing_in_the_site(demo_file, tmp_path):
    out = tmp_path / "out"
    assert main(["build", str(demo_file), "-o", str(out), "--no-pdf"]) == 0
    stamps = {p: p.stat().st_mtime_ns for p in (out / "site").rglob("*") if p.is_file()}
    assert len(stamps) > 20
    found = discover([demo_file])
    again = build(found.derivations, out, compile=False)
    assert [p for p in again.written if "site" in p.parts] == []
    assert {p: p.stat().st_mtime_ns for p in (out / "site").rglob("*") if p.is_file()} == stamps


@needs_katex
def test_a_page_of_a_topic_no_longer_built_and_a_half_written_file_are_removed(demo_file, tmp_path):
    out = tmp_path / "out"
    assert main(["build", str(demo_file), str(SOFTMAX_FILE), "-o", str(out), "--no-pdf"]) == 0
    assert (out / "site" / "softmax-and-cross-entropy.html").is_file()
    (out / "site" / ".index.html.x1y2.tmp").write_text("<html>half")  # as a killed build leaves it
    assert main(["build", str(demo_file), "-o", str(out), "--no-pdf"]) == 0
    assert not (out / "site" / ".index.html.x1y2.tmp").exists()
    assert not (out / "site" / "softmax-and-cross-entropy.html").exists()
    assert (out / "site" / "demo-sums-b-50-b.html").is_file()


@pytest.fixture
def demo_file(tmp_path):
    path = tmp_path / "demo.py"
    path.write_text(DEMO)
    return path


def test_no_site_writes_no_site(demo_file, tmp_path):
    out = tmp_path / "out"
    assert main(["build", str(demo_file), "-o", str(out), "--no-pdf", "--no-site"]) == 0
    assert (out / "notes.tex").is_file() and not (out / "site").exists()


BAD_LATEX = '''
import sympy as sp
from symformer import Derivation, Size, Step

x = sp.Symbol("x", real=True)

bad = Derivation(slug="bad-latex", title="A step KaTeX cannot read", topic="Demo", lhs=x * x,
                 steps=[Step(x**2, "powers"), Step(x**2, "written by hand", latex=r"x^{2} \\notacommand")])
'''


@needs_katex
def test_a_formula_katex_cannot_typeset_fails_the_build_naming_derivation_and_step(tmp_path, capsys):
    path = tmp_path / "bad.py"
    path.write_text(BAD_LATEX)
    out = tmp_path / "out"
    # verification already refuses the unknown command (the reader reads display forms back); exported anyway,
    # KaTeX must still name the step
    assert main(["build", str(path), "-o", str(out), "--no-pdf", "--allow-unverified"]) == 1
    err = capsys.readouterr().err
    assert re.search(r"^error: derivation 'bad-latex', step 2: KaTeX cannot typeset '= x\^\{2\} \\\\notacommand' "
                     r"\(Undefined control sequence: \\notacommand at position 9\); write LaTeX KaTeX supports there", err, re.M)
    assert "Traceback" not in err
    assert not (out / "site").exists()  # nothing half-written
    with pytest.raises(KatexError, match="step 2"):
        build(discover([path]).derivations, out, compile=False, allow_unverified=True)


def test_without_node_the_build_skips_the_site_with_one_line_naming_the_install(demo_file, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SYMFORMER_KATEX", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no node, no npm
    out = tmp_path / "out"
    assert main(["build", str(demo_file), "-o", str(out), "--no-pdf"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "site/" in line]
    assert lines == ["no Node.js and KaTeX found, so site/ was not written; the notes and slides are ready. "
                     "Install Node.js, then: npm install -g katex@0.19.1 (or set SYMFORMER_KATEX to a folder holding "
                     "katex's dist/)"]
    assert (out / "notes.tex").is_file() and not (out / "site").exists()


def test_a_katex_folder_named_in_the_environment_must_hold_katex(demo_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SYMFORMER_KATEX", str(tmp_path / "nowhere"))
    assert main(["build", str(demo_file), "-o", str(tmp_path / "out"), "--no-pdf"]) == 2
    err = capsys.readouterr().err
    assert f"error: SYMFORMER_KATEX={tmp_path / 'nowhere'} holds no KaTeX" in err


def test_ci_installs_chromium_and_katex():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "chromium" in ci and "npm install -g katex@0.19.1" in ci


@needs_katex
def test_a_block_provider_adds_a_table_to_its_topic_page(demo_file, tmp_path):
    from symformer.export.site import Prose, Section, Table
    from symformer.export.site import page as site_page

    def shapes(topic, entries):
        if not topic.startswith("Demo"):
            return []
        table = Table(Prose("Shapes", "shapes"), (Prose("matrix", "shapes"), Prose("shape", "shapes")),
                      ((Prose("$Q$", "shapes"), Prose("$N \\times d_k$", "shapes")),))
        return [Section("shapes", "1.2", Prose("Shapes of $Q$", "shapes"), [table])]

    site_page.register_topic_blocks(shapes)
    try:
        result = build(discover([demo_file]).derivations, tmp_path / "out", compile=False)
    finally:
        site_page.TOPIC_BLOCKS.remove(shapes)
    text = (result.site / "demo-sums-b-50-b.html").read_text()
    assert '<section class="derivation" id="shapes"><h2><span class="number">1.2</span> Shapes of ' in text
    assert _annotation(r"N \times d_k") in text and '<a href="#shapes">' in text


def test_figures_are_drawn_to_the_same_svg_bytes_every_time(tmp_path):
    from symformer.export.figures import export_figures

    path = tmp_path / "demo.py"
    path.write_text(DEMO)
    found = discover([path]).derivations
    export_figures(found, tmp_path / "a")
    export_figures(found, tmp_path / "b")
    svg = (tmp_path / "a" / "double-sum-bars.svg").read_bytes()
    assert svg.startswith(b"<?xml") and b"<svg" in svg
    assert svg == (tmp_path / "b" / "double-sum-bars.svg").read_bytes()


@needs_katex
def test_formulas_typeset_before_come_from_the_cache_and_a_damaged_entry_is_typeset_again(tmp_path, monkeypatch):
    from symformer.export.site import katex as katex_module

    katex = find_katex()
    formulas = [("x^2", False), (r"\frac{1}{2}", True)]
    first = katex_module.render(katex, formulas)
    assert [kind for kind, _ in first] == ["html", "html"] and "katex" in first[0][1]

    def node_must_not_run(*arguments):
        raise AssertionError("Node.js ran for formulas typeset before")

    monkeypatch.setattr(katex_module, "_run", node_must_not_run)
    assert katex_module.render(katex, formulas) == first
    [entry] = (tmp_path / "cache" / "katex").glob("*.json")
    entry.write_text(entry.read_text().replace("katex", "KATEX"))  # the HTML edited, the digest not
    ran = []
    monkeypatch.setattr(katex_module, "_run", lambda k, f: ran.append(f) or first)
    assert katex_module.render(katex, formulas) == first and ran == [formulas]
