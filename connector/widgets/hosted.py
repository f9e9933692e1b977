"""The record's fragment as a helpdesk's own page hosts it: FreeScout's Sidebar Webhook module
inserts it with jQuery's `.html()` and keeps a `<style>` in it; Help Scout's dynamic app strips
every style (inline CSS and undocumented HTML), so there the bare HTML must read right.

`scoped_stylesheet`: every selector of `static/sidebar.css` (and of `static/fragment.css`, which
first undoes what a host's base CSS, e.g. Bootstrap's headings and `dt`, does to ours) is
prefixed with the fragment's root class, so nothing leaks into the host's page; `:root`,
`html`, `body` become the root itself. Viewport media queries become container queries on the
root: a fragment lives in a narrow sidebar of a wide window, where `@media (max-width: …)`
would never hold. `line_breaks`: a field's values, one per line, get a `<br>` between them
(hidden by our style), so an unstyled host does not run them together (`SPINOZA77184`).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from markupsafe import Markup, escape

STATIC = Path(__file__).parent / "static"
ROOT = ".connector-sidebar"
COMMENT = re.compile(r"/\*.*?\*/", re.S)
# the page's own elements: in a fragment they are the root
PAGE_ELEMENTS = re.compile(r"^(?::root|html|body)(?=$|[\s.:#\[>+~])")


@cache
def scoped_stylesheet(root: str = ROOT) -> Markup:
    """Our CSS with every rule confined to `root` (safe to inline in a `<style>`)."""
    sources = [STATIC / "fragment.css", STATIC / "sidebar.css"]
    css = "\n".join(COMMENT.sub("", path.read_text(encoding="utf-8")) for path in sources)
    head = f"{root} {{ container-type: inline-size; }}\n"
    return Markup(head + scope(css, root).replace("</", "<\\/"))


def scope(css: str, root: str) -> str:
    """`css` (no comments) with each rule's selectors prefixed with `root`."""
    out: list[str] = []
    pos = 0
    while True:
        brace = css.find("{", pos)
        if brace < 0:
            return "".join(out)
        prelude = css[pos:brace].strip()
        end = _matching(css, brace)
        body = css[brace + 1:end]
        if prelude.startswith("@media"):
            query = prelude.removeprefix("@media").strip()
            out.append(f"@container {query} {{\n{scope(body, root)}}}\n")
        elif prelude.startswith("@"):
            out.append(f"{prelude} {{{body}}}\n")
        else:
            selectors = ", ".join(_scoped(s.strip(), root) for s in prelude.split(","))
            out.append(f"{selectors} {{{body}}}\n")
        pos = end + 1


def _scoped(selector: str, root: str) -> str:
    """One selector under `root`: `body` is the root, `*` and the rest are inside it."""
    if PAGE_ELEMENTS.match(selector):
        return PAGE_ELEMENTS.sub(root, selector, count=1)
    return f"{root} {selector}"


def _matching(css: str, brace: int) -> int:
    """The index of the `}` closing the `{` at `brace`."""
    depth = 0
    for index in range(brace, len(css)):
        if css[index] == "{":
            depth += 1
        elif css[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    raise ValueError("unbalanced braces in the stylesheet")


def styled_fragment(fragment: str, title: str) -> str:
    """A fragment as FreeScout's module shows it: our `<title>` first (the module titles the
    panel with the first `title` element it finds, which would otherwise be a sparkline's),
    then the scoped style, then the record."""
    return f"<title>{escape(title)}</title>\n<style>{scoped_stylesheet()}</style>\n{fragment}"


LINE_JOIN = '</span><span class="line">'  # two values of one field, side by side


def line_breaks(fragment: str) -> str:
    """The fragment with a `<br>` between a field's values (each in a `span.line`, which only
    our style makes a block): read right where the host strips every style."""
    return fragment.replace(LINE_JOIN, '</span><br class="line-break"><span class="line">')
