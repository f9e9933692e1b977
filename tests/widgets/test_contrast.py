"""WCAG AA contrast of the sidebar's stylesheet: every text colour against what it is drawn on
(at least 4.5:1, the sidebar's text is small) and every focus ring against the page (3:1).

The colours are read from `sidebar.css` itself, custom properties resolved, so changing a colour
to a poor one fails here. A rule's text is checked against its own background, else against the
backgrounds `DRAWN_ON` declares for it, else the page's white; a rule that paints a background
without setting a colour must say in `INHERITS` whose text it shows, so no new background goes
unchecked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from connector.widgets.base import STYLESHEET

TEXT_RATIO = 4.5
FOCUS_RATIO = 3.0
PAGE = "#ffffff"
# Text rules that are also drawn on another rule's background (selector -> those selectors).
DRAWN_ON: dict[str, tuple[str, ...]] = {
    ".topbar__brand": (".topbar",),
    ".switch": (),  # its own background
    ".review__meta": (".review--negative",),
    ".review__site": (".review--negative",),
    ".review__excerpt summary": (".review--negative",),
    "a": (".review--negative", ".topbar", ".detail"),
    "body": (".review--negative", ".topbar", ".detail", ".tone--neutral"),
    ".detail__fields dt": (".detail",),
    ".detail__note": (".detail",),
    ".detail__error": (".detail",),
    ".notes__byline": (),
    ".link-button": (),
}
# Rules painting a background without a colour -> the rule whose text colour they show.
INHERITS: dict[str, str] = {
    "body": "body",
    ".topbar": "body",
    ".switch": "a",
    ".detail-button:hover": ".detail-button",
    '.detail-button[aria-expanded="true"]': ".detail-button",
    ".detail": "body",
    ".review--negative": "body",
    ".link-button": ".link-button",
    ".notes__row button": ".notes__row button",
    "a.tab:hover": "a.tab",
}
COLOR = re.compile(r"#[0-9a-fA-F]{3}\b|#[0-9a-fA-F]{6}\b")


@dataclass(frozen=True)
class Rule:
    """One CSS rule: a single selector and its declarations (custom properties resolved)."""

    selector: str
    declarations: dict[str, str]


def without_comments(css: str) -> str:
    return re.sub(r"/\*.*?\*/", "", css, flags=re.S)


def blocks(css: str) -> list[tuple[str, str]]:
    """(prelude, body) of each top-level block; @media bodies are flattened into their rules."""
    found: list[tuple[str, str]] = []
    depth, start, prelude_start = 0, 0, 0
    for index, char in enumerate(css):
        if char == "{":
            if depth == 0:
                start = index
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                prelude, body = css[prelude_start:start].strip(), css[start + 1:index]
                if prelude.startswith("@media"):
                    found.extend(blocks(body))
                else:
                    found.append((prelude, body))
                prelude_start = index + 1
    return found


def rules(css: str) -> list[Rule]:
    """Every selector of the stylesheet with its declarations, variables resolved."""
    css = without_comments(css)
    parsed = blocks(css)
    variables = {}
    for prelude, body in parsed:
        if prelude == ":root":
            variables = dict(re.findall(r"(--[\w-]+)\s*:\s*([^;]+);", body))

    def resolve(value: str) -> str:
        return re.sub(r"var\((--[\w-]+)\)", lambda m: variables[m.group(1)].strip(), value)

    out = []
    for prelude, body in parsed:
        declarations = {}
        for name, value in re.findall(r"([\w-]+)\s*:\s*([^;]+)", body):
            declarations[name.strip()] = resolve(value.strip())
        for selector in prelude.split(","):
            out.append(Rule(" ".join(selector.split()), declarations))
    return out


def hex_colour(value: str) -> str | None:
    """The first hex colour of a declaration value, as #rrggbb; `#fff` is white."""
    match = COLOR.search(value)
    if match is None:
        return None
    code = match.group(0)[1:]
    return "#" + ("".join(c * 2 for c in code) if len(code) == 3 else code).lower()


def luminance(colour: str) -> float:
    """WCAG 2 relative luminance of #rrggbb."""
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def ratio(first: str, second: str) -> float:
    """WCAG 2 contrast ratio of two colours."""
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


RULES = rules(STYLESHEET.read_text(encoding="utf-8"))


def declared(selector: str, prop: str) -> str | None:
    """The colour a selector's rules set last for a property (`background` covers both)."""
    value = None
    for rule in RULES:
        if rule.selector != selector:
            continue
        names = (prop, f"{prop}-color") if prop == "background" else (prop,)
        for name in names:
            if name in rule.declarations and (colour := hex_colour(rule.declarations[name])):
                value = colour
    return value


def text_pairs() -> tuple[list[tuple[str, str, str, str]], list[str]]:
    """(selector, text colour, background, what the background is) for every text colour, and
    the backgrounds nobody said whose text they show."""
    pairs: list[tuple[str, str, str, str]] = []
    unchecked: list[str] = []
    for selector in dict.fromkeys(rule.selector for rule in RULES):
        fg = declared(selector, "color")
        own = declared(selector, "background")
        if fg is None and own is not None:
            if selector not in INHERITS:
                unchecked.append(f"{selector} paints {own}: say in INHERITS whose text it shows")
                continue
            fg = declared(INHERITS[selector], "color") or declared("body", "color")
        if fg is None:
            continue
        grounds = [(own, "its own background")] if own else [(PAGE, "the page")]
        for other in DRAWN_ON.get(selector, ()):
            colour = declared(other, "background")
            if colour is None:
                unchecked.append(f"{other} (DRAWN_ON[{selector!r}]) paints no background")
                continue
            grounds.append((colour, other))
        pairs.extend((selector, fg, bg, where) for bg, where in grounds)
    return pairs, unchecked


PAIRS, UNCHECKED = text_pairs()


def test_the_stylesheet_is_read() -> None:
    assert declared("body", "color") == "#1f2328" and declared("body", "background") == PAGE
    assert declared(".tone--bad", "background") == "#ffebe9"
    assert len(PAIRS) > 40


def test_every_background_says_whose_text_it_shows() -> None:
    assert UNCHECKED == []


@pytest.mark.parametrize(("selector", "fg", "bg", "where"), PAIRS,
                         ids=lambda value: str(value))
def test_text_contrast_is_at_least_4_5(selector: str, fg: str, bg: str, where: str) -> None:
    assert ratio(fg, bg) >= TEXT_RATIO, f"{selector}: {fg} on {bg} ({where}) is " \
        f"{ratio(fg, bg):.2f}:1"


def focus_rings() -> list[tuple[str, str]]:
    """(selector, colour) of every outline or box-shadow set on focus."""
    rings = []
    for rule in RULES:
        if ":focus" not in rule.selector:
            continue
        for name in ("outline", "outline-color", "box-shadow"):
            if name in rule.declarations and (colour := hex_colour(rule.declarations[name])):
                rings.append((rule.selector, colour))
    return rings


def test_every_control_has_a_focus_style_with_3_to_1_contrast() -> None:
    rings = focus_rings()
    covered = {selector for selector, _ in rings}
    for control in ("a:focus-visible", "button:focus-visible", "summary:focus-visible",
                    "input:focus-visible", "textarea:focus-visible", "[tabindex]:focus-visible"):
        assert control in covered, control
    poor = [(s, c, round(ratio(c, PAGE), 2)) for s, c in rings if ratio(c, PAGE) < FOCUS_RATIO]
    assert poor == []


def test_a_poor_colour_would_be_caught() -> None:
    assert ratio("#999999", PAGE) < TEXT_RATIO < ratio("#57606a", PAGE)
    assert round(ratio("#000000", PAGE), 1) == 21.0
