"""XML answers read into the same JMESPath-able structure as JSON ones, safely.

The rule (docs/sources/soap.md): an element becomes its text (a string; `xsi:nil="true"` and an
empty element become null) or, when it has children or attributes, an object whose keys are
its children's local names (namespaces dropped) and its attributes as `@name`, its text then
under `#text`. A name that occurs more than once among siblings becomes a list, in document
order; the names listed in `xml.lists` are lists always, even with one element, so a one-item
answer keeps the shape of a many-item one. A plain XML answer is `{root name: content}`.

Parsing refuses any DTD, hence every entity expansion (billion laughs) and external entity.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, Literal

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from pydantic import Field

from connector.config import Strict
from connector.sources.base import SourceError
from connector.sources.http import json_answer

XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
AnswerFormat = Literal["auto", "json", "xml"]


class XmlSettings(Strict):
    """How XML answers are read: the element names that are lists even when alone."""

    lists: list[str] = Field(default_factory=list)


def is_xml(kind: str) -> bool:
    """Whether a Content-Type names XML (text/xml, application/soap+xml, …+xml)."""
    media = kind.split(";", 1)[0].strip().lower()
    return media in ("text/xml", "application/xml") or media.endswith("+xml")


def parse_xml(body: bytes) -> ET.Element:
    """The document's root element; raises SourceError for a malformed or unsafe document."""
    try:
        return fromstring(body, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise SourceError("answered with refused XML (a DTD or entities)",
                          type(exc).__name__) from exc
    except ET.ParseError as exc:
        raise SourceError("answered with invalid XML", f"{len(body)} bytes: {exc}") from exc


def local(tag: str) -> str:
    """A tag or attribute name without its `{namespace}`."""
    return tag.rsplit("}", 1)[-1]


def element_value(element: ET.Element, lists: frozenset[str] = frozenset()) -> Any:
    """An element as text, null, or an object of its children and attributes (the rule above)."""
    if element.get(XSI_NIL) in ("true", "1"):
        return None
    text = (element.text or "").strip()
    children = list(element)
    attributes = {f"@{local(k)}": v for k, v in element.attrib.items() if k != XSI_NIL}
    if not children and not attributes:
        return element.text if text else None
    value: dict[str, Any] = dict(attributes)
    groups: dict[str, list[Any]] = {}
    for child in children:
        groups.setdefault(local(child.tag), []).append(element_value(child, lists))
    for name, reads in groups.items():
        value[name] = reads if len(reads) > 1 or name in lists else reads[0]
    if text:
        value["#text"] = element.text
    return value


def document_value(root: ET.Element, lists: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A plain XML answer: `{root name: content}`."""
    return {local(root.tag): element_value(root, lists)}


class AnswerReader:
    """Reads an answer's bytes as JSON or XML: `answer: xml` always, `json` always, `auto` by
    its Content-Type."""

    def __init__(self, answer: AnswerFormat, settings: XmlSettings) -> None:
        self.answer = answer
        self.lists = frozenset(settings.lists)

    def wants_xml(self, kind: str) -> bool:
        """Whether an answer of this Content-Type is read as XML."""
        return self.answer == "xml" or (self.answer == "auto" and is_xml(kind))

    def decode(self, body: bytes, kind: str) -> Any:
        """The answer as dicts and lists."""
        if self.wants_xml(kind):
            return document_value(parse_xml(body), self.lists)
        return json_answer(body, kind)
