"""What the fragment browser tests of FreeScout and Help Scout share: a record with every block
(two matches, three sentiment points so the sparkline and its SVG `<title>` are drawn), the
real `Fragments` on the default manifest answering it, and what the browser measures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

from connector.helpdesk.embed import EmbedLinks
from connector.manifest import load_manifest
from connector.models import CustomerProfile, Match, TrendPoint
from connector.widgets.record import Fragments
from tests.conftest import MANIFEST
from tests.widgets.test_blocks_more import pauline_full

JQUERY = Path("/usr/share/javascript/jquery/jquery.min.js")  # Debian's libjs-jquery


def busy_record() -> CustomerProfile:
    """Pauline with every block filled, known by two identifiers, three satisfaction points,
    and a carrier's long parcel number on an order (the widest value of a row)."""
    profile = pauline_full()
    profile.orders.append(profile.orders[0].model_copy(update={
        "number": "WEB-2024-000123456", "tracking": "1Z999AA10123456784XYZ"}))
    profile.matched = [Match(kind="email", value="pauline.deneve@easiware.fr", sources=["erp"]),
                       Match(kind="phone", value="+33653888890", sources=["erp", "loyalty"])]
    assert profile.sentiment is not None
    profile.sentiment.trend.append(TrendPoint(date=date(2024, 2, 27), score=Decimal(7)))
    return profile


@dataclass
class Found:
    """What `ProfileAssembler.lookup` answers, for one known person."""

    profile: CustomerProfile
    undecided: bool = False
    candidates: tuple[()] = ()
    unanswered: tuple[()] = ()


class OnePerson:
    """An assembler that knows one person, whoever is asked about."""

    def __init__(self, profile: CustomerProfile) -> None:
        self.profile = profile

    def lookup(self, *args: Any, **kwargs: Any) -> Found:
        return Found(self.profile)


def fragments(profile: CustomerProfile) -> Fragments:
    """The service's fragment renderer on the default manifest, its sources answered by
    `profile`."""
    manifest = load_manifest(MANIFEST, env={})
    assembler: Any = OnePerson(profile)  # stands for a ProfileAssembler
    return Fragments(manifest, assembler, {}, EmbedLinks(b"k", 600, "FR"),
                     "http://connector.test", 120)


# What the tests read in the page: each value line's box, a block title's style, the text.
MEASURE = """
const root = document.querySelector(arguments[0]);
const box = (e) => { const r = e.getBoundingClientRect();
  return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; };
const lines = (field) => Array.from(root.querySelectorAll(`.field--${field} .line`)).map(box);
const title = root.querySelector('.block__title');
const style = title ? getComputedStyle(title) : null;
return {
  address: lines('address'), matched: lines('matched'), channels: lines('channels'),
  last: lines('last'),
  titleSize: style && style.fontSize, titleTransform: style && style.textTransform,
  text: root.innerText, scroll: root.scrollWidth, client: root.clientWidth,
};
"""


# Every element of the fragment that reaches past the right edge of the host's panel (its
# content box), and the panel's own scroll and client widths.
OVERFLOW = """
const panel = document.querySelector(arguments[0]);
const style = getComputedStyle(panel);
const inner = panel.getBoundingClientRect().right - parseFloat(style.paddingRight)
  - parseFloat(style.borderRightWidth);
const past = (e) => e.getBoundingClientRect().right - inner;
const wide = [...panel.querySelectorAll('*')]
  .filter((e) => e.getBoundingClientRect().width > 0 && past(e) > 0.5)
  .map((e) => `${e.tagName.toLowerCase()}.${e.className} ${Math.round(past(e))} px`);
return {scroll: panel.scrollWidth, client: panel.clientWidth, wide: wide};
"""


def apart(boxes: list[dict[str, float]]) -> bool:
    """Whether each box is below the one before it or to its right with a gap (no two values
    touch on one line)."""
    return all(b["top"] >= a["bottom"] - 0.5 or b["left"] >= a["right"] + 2
               for a, b in pairwise(boxes))


def below(boxes: list[dict[str, float]]) -> bool:
    """Whether each box starts under the one before it."""
    return all(b["top"] >= a["bottom"] - 0.5 for a, b in pairwise(boxes))



# The share of pixels two PNG screenshots (base64) differ in (a channel off by more than 48),
# compared on canvases in the browser itself (no imaging library); -1 when their sizes differ.
PICTURE_DIFFERENCE = """
const [a, b, done] = arguments;
const load = (src) => new Promise((ok) => {
  const image = new Image(); image.onload = () => ok(image);
  image.src = 'data:image/png;base64,' + src; });
const pixels = (image) => {
  const canvas = document.createElement('canvas');
  canvas.width = image.width; canvas.height = image.height;
  const context = canvas.getContext('2d'); context.drawImage(image, 0, 0);
  return context.getImageData(0, 0, image.width, image.height).data; };
Promise.all([load(a), load(b)]).then(([x, y]) => {
  if (x.width !== y.width || x.height !== y.height) { done(-1); return; }
  const p = pixels(x), q = pixels(y);
  let differ = 0;
  for (let i = 0; i < p.length; i += 4) {
    if (Math.abs(p[i] - q[i]) > 48 || Math.abs(p[i + 1] - q[i + 1]) > 48
        || Math.abs(p[i + 2] - q[i + 2]) > 48) { differ += 1; }
  }
  done(differ / (p.length / 4));
});
"""
