"""Hostile inputs: JSON values of every wrong type and size, real payloads mutated in place,
bodies that are not JSON at all, wrong content types and random headers.

Values a JSON encoder cannot write (nesting past Python's limits, numbers past any float or
past Python's 4,300-digit integers, literal NaN, invalid UTF-8) travel as `Raw` bytes spliced
into the encoded document, so every body is exactly what a client could send.
"""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures"


@dataclass(frozen=True)
class Raw:
    """Bytes written as they are where a JSON value goes."""

    data: bytes


def deep(depth: int, opener: str) -> Raw:
    """`depth` nested arrays or objects around a 1."""
    if opener == "[":
        return Raw(b"[" * depth + b"1" + b"]" * depth)
    return Raw(b'{"a":' * depth + b"1" + b"}" * depth)


# depths around Python's limits: the recursion limit (1,000, less what the stack already
# holds when a parser or a walker starts) and far past it
DEPTHS = st.sampled_from([2, 50, 400, 800, 900, 950, 980, 990, 995, 1000, 1500, 5000, 50_000])
RAW_LITERALS = st.sampled_from([
    b"1e999999", b"-1e999999", b"NaN", b"Infinity", b"-Infinity", b"1" * 5000, b"-" + b"9" * 4301,
    b"0.1e-99999", b"-0", b"1E400", b"123456789012345678901234567890", b'"\\ud800"',
    b'"\\udfff\\ud800"', b'"\\u0000"', b'"\xff\xfe"', b'"\xc3"', b"[1,]", b"{,}", b"",
])

NASTY_TEXT = st.sampled_from([
    "", " ", "\x00", "\ud800", "\udfff", "\u202e", "\ufeff", "\u0085", "\r\n", "\t",
    "a" * 10_000, "{{ticket.requester.email}}", "null", "true", "[]", "{}", "0", "-1", "1e999",
    "NaN", "é", "ß", "İ", "ﬀ", "🙂", "𝔭𝔞𝔲𝔩𝔦𝔫𝔢", "<script>alert(1)</script>", "../../etc/passwd",
    "%00", "%", "pauline.deneve@easiware.fr", "PAULINE.DENEVE@EASIWARE.FR", "+33653888890",
    "06 53 88 88 90", "0653888890", "29000123456", "@", "a@", "@b", "a@b", "a@b.", "a@.b",
    "x@" + "y" * 300 + ".fr", "é@ß.de", "pauline@xn--", "instagram:pauline", "twitter:",
    "facebook:" + "x" * 500, "https://instagram.com/", "erp:C100997", "erp:", ":", "C100997",
    "2024-04-17T17:18:10Z", "9999-12-31T23:59:59Z", "0000-00-00", "2024-13-45T99:99:99",
    "1" * 5000, "75011", "cus_0000000000000000000a", "ticket_sidebar",
    "zen:event-type:ticket.created", "zen:event-type:", "conversation_created",
    "message_created", "contact_updated", "convo.created", "ticket_created",
])
# text a URL or a UTF-8 encoder can carry (no lone surrogate)
PLAIN_TEXT = st.one_of(NASTY_TEXT.filter(lambda s: not any(0xD800 <= ord(c) <= 0xDFFF for c in s)),
                       st.text(max_size=40))
TEXT = st.one_of(
    NASTY_TEXT,
    st.text(max_size=40),
    # any code point, lone surrogates too (JSON's \ud800 escapes make them)
    st.text(st.one_of(st.characters(), st.characters(categories=["Cs"])), max_size=40),
)
NUMBERS = st.one_of(
    st.sampled_from([0, -1, 1, 2**31, 2**31 - 1, 2**53 + 1, 2**63, -(2**63) - 1, 10**30,
                     10**4299, float("inf"), float("-inf"), float("nan"), -0.0, 1e308,
                     5e-324, 0.5, 1.0]),
    st.integers(),
    st.floats(),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
SPECIAL = st.one_of(st.builds(deep, DEPTHS, st.sampled_from(["[", "{"])),
                    RAW_LITERALS.map(Raw))


def json_values(max_leaves: int = 12, raw: bool = True) -> st.SearchStrategy[Any]:
    """Any JSON value, of any shape, with hostile leaves (and some `raw` ones)."""
    leaves = st.one_of(SCALARS, SPECIAL) if raw else SCALARS
    return st.recursive(leaves, lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(TEXT, inner, max_size=4)), max_leaves=max_leaves)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value (the root too)."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


@st.composite
def mutated(draw: st.DrawFn, seed: Any) -> Any:
    """A real payload with a few places replaced by hostile values, removed, or given new
    hostile keys: the parser walks a familiar shape and meets the unexpected deep inside."""
    value = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(_paths(value)))
        action = draw(st.sampled_from(["replace", "replace", "delete", "insert"]))
        if not path:
            if action == "replace":
                return draw(json_values())
            continue
        parent = _get(value, path[:-1])
        if action == "replace":
            parent[path[-1]] = draw(st.one_of(SCALARS, SPECIAL, json_values(6)))
        elif action == "delete":
            del parent[path[-1]]
        else:
            target = _get(value, path)
            if isinstance(target, dict):
                target[draw(TEXT)] = draw(json_values(6))
            elif isinstance(target, list):
                target.append(draw(json_values(6)))
    return value


def encode(value: Any, ascii_only: bool = True) -> bytes:
    """The JSON document of a value, Raw parts spliced in as they are."""
    raws: list[bytes] = []

    def mark(item: object) -> str:
        if not isinstance(item, Raw):
            raise TypeError(type(item).__name__)
        raws.append(item.data)
        return f"@@raw{len(raws) - 1}@@"

    text = json.dumps(value, default=mark, ensure_ascii=ascii_only)
    data = text.encode("utf-8", "surrogatepass")  # a lone surrogate: invalid UTF-8, as sent
    for index, raw in enumerate(raws):
        data = data.replace(f'"@@raw{index}@@"'.encode(), raw, 1)
    return data


@st.composite
def encoded(draw: st.DrawFn, value: st.SearchStrategy[Any]) -> bytes:
    """A value as a JSON body, in one of the encodings a client might (wrongly) use."""
    data = encode(draw(value), ascii_only=draw(st.booleans()))
    form = draw(st.sampled_from(["plain", "plain", "plain", "bom", "utf16", "spaces", "cut"]))
    if form == "bom":
        return b"\xef\xbb\xbf" + data
    if form == "utf16":
        try:
            return data.decode("utf-8").encode("utf-16")
        except UnicodeDecodeError:
            return data
    if form == "spaces":
        return b" \n\t" + data + b"\n\x00"
    if form == "cut":
        return data[:draw(st.integers(0, max(0, len(data) - 1)))]
    return data


def seeds(helpdesk: str, *names: str) -> list[Any]:
    """Stored payloads of a helpdesk (tests/fixtures), parsed."""
    folder = FIXTURES / helpdesk
    paths = [folder / n for n in names] if names else sorted(folder.glob("*.json"))
    return [json.loads(p.read_bytes()) for p in paths]


def bodies(shapes: list[Any]) -> st.SearchStrategy[bytes]:
    """Hostile bodies: real shapes mutated, any JSON value, and bytes that are not JSON."""
    structured = st.sampled_from(shapes).flatmap(mutated) if shapes else json_values()
    return st.one_of(
        encoded(structured),
        encoded(structured),
        encoded(json_values()),
        SPECIAL.map(lambda raw: raw.data),
        st.binary(max_size=200),
        st.sampled_from([b"", b"null", b"[]", b"{}", b'""', b"0", b"\xff\xfe\x00", b"a=1&b=2",
                         b"ticket[id]=1&ticket[id]=2", b"<xml/>", b"--x\r\n\r\n--x--"]),
        st.dictionaries(TEXT, TEXT, max_size=5).map(_form),
    )


def _form(fields: dict[str, str]) -> bytes:
    from urllib.parse import urlencode

    return urlencode({k: v for k, v in fields.items()}, encoding="utf-8",
                     errors="surrogatepass").encode()


CONTENT_TYPES = st.sampled_from([
    None, "application/json", "application/json", "application/json; charset=utf-8",
    "application/json; charset=latin-1", "application/json; charset=nope", "text/json",
    "text/plain", "text/html", "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-16", "multipart/form-data",
    "multipart/form-data; boundary=x", "multipart/form-data; boundary=", "application/xml",
    "application/octet-stream", "*/*", "application/", ";", "application/json;;;",
    "application/merge-patch+json", "x" * 300,
])

HEADER_VALUE = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
            max_size=120),
    st.sampled_from([
        "", " ", "Basic", "Basic ", "Basic !!!", "Basic " + base64.b64encode(b"x:y").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
        "Basic " + base64.b64encode(b"no-colon").decode(), "Bearer", "Bearer ", "Bearer x y",
        "sha256=", "sha256=" + "0" * 64, "sha1=abc", "=", "0", "-1", "1e10", "99999999999999",
        "999999999999", "2024-04-17T17:18:10Z", "9999-12-31T23:59:59+23:59", "2024-13-45T99:99:99Z",
        "fr", "fr-FR,fr;q=0.9", "*", "gzip", "chunked", "a" * 2000, "ä", "\xff", "null",
    ]),
)
# the headers adapters read (their names as helpdesks send them), and others
HEADER_NAMES = st.one_of(
    st.sampled_from([
        "Authorization", "Accept", "Accept-Language", "Cookie", "Content-Encoding", "Origin",
        "Referer", "User-Agent", "X-Forwarded-For", "X-Zendesk-Webhook-Signature",
        "X-Zendesk-Webhook-Signature-Timestamp", "X-Zendesk-Webhook-Id",
        "X-Zendesk-Webhook-Invocation-Id", "X-HelpScout-Signature", "X-HelpScout-Event",
        "X-FreeScout-Signature", "X-FreeScout-Event", "X-Chatwoot-Signature",
        "X-Chatwoot-Timestamp", "X-Chatwoot-Delivery", "X-Connector-Secret",
    ]),
    st.from_regex(r"X-[A-Za-z0-9-]{1,20}", fullmatch=True),
)
HEADERS = st.dictionaries(HEADER_NAMES, HEADER_VALUE, max_size=6)
