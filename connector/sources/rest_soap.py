"""`protocol: soap` for the REST engine: each request's `body` is the XML inside the SOAP Body,
its placeholders filled with XML-escaped values; the answer's Body is read by the XML rule
(`xml_answers`); a Fault is a classified error of the source, like an HTTP status."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any, Literal
from xml.sax.saxutils import escape

from connector.config import Strict
from connector.sources.base import (
    SourceError,
    SourceMisconfigured,
    SourceRefused,
    SourceUnavailable,
)
from connector.sources.soap_auth import WsSecurityAuth, username_token
from connector.sources.templates import TEMPLATE, MissingValue, render
from connector.sources.xml_answers import element_value, local, parse_xml

ENVELOPES = {"1.1": "http://schemas.xmlsoap.org/soap/envelope/",
             "1.2": "http://www.w3.org/2003/05/soap-envelope"}
CONTENT_TYPES = {"1.1": "text/xml; charset=utf-8", "1.2": "application/soap+xml; charset=utf-8"}
SENDER_CODES = {"Client", "Sender", "VersionMismatch", "MustUnderstand", "DataEncodingUnknown"}
RECEIVER_CODES = {"Server", "Receiver"}
REFUSAL = re.compile(r"auth|permission|credential|denied|login|password", re.IGNORECASE)
NOT_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
ATTRIBUTE_QUOTES = {'"': "&quot;", "'": "&apos;"}


class SoapSettings(Strict):
    """The SOAP version, and more header blocks (an XML template) for every envelope."""

    version: Literal["1.1", "1.2"] = "1.1"
    header: str | None = None


def fill_xml(template: str, context: dict[str, Any]) -> str:
    """An XML template filled in, each value escaped for XML text and attributes; raises
    MissingValue when a placeholder has no value."""
    pieces: list[str] = []
    last = 0
    for match in TEMPLATE.finditer(template):
        value = render(match[0], context)
        if value is None:
            raise MissingValue(match[0])
        pieces += [template[last:match.start()],
                   escape(NOT_XML_CHARS.sub("", value), ATTRIBUTE_QUOTES)]
        last = match.end()
    return "".join(pieces) + template[last:]


def xml_problem(template: str) -> str | None:
    """Why a body or header template is not well-formed XML, or None."""
    try:
        ET.fromstring(f"<_>{template}</_>")  # our own text: no entity is fetched or expanded
    except ET.ParseError as exc:
        line, column = exc.position
        column += 1 - (3 if line == 1 else 0)  # from 1, without the `<_>` around it
        return f"not well-formed XML ({str(exc).split(':')[0]}: line {line}, column {column})"
    return None


def soap_problems(config: Any) -> list[str]:
    """What the manifest gets wrong about SOAP (checked at load, each with its path)."""
    soap = config.protocol == "soap"
    problems = []
    if config.auth is not None and config.auth.type == "ws_security" and not soap:
        problems.append("auth: ws_security needs protocol: soap")
    if soap and config.soap.header and (problem := xml_problem(config.soap.header)):
        problems.append(f"soap.header: {problem}")
    for where, request in _requests(config):
        if soap and not isinstance(request.body, str):
            problems.append(f"{where}.body: protocol soap needs the Body's XML as text")
        elif soap and (problem := xml_problem(request.body)):
            problems.append(f"{where}.body: {problem}")
        if request.action is not None and not soap:
            problems.append(f"{where}.action: only for protocol: soap")
        if soap and request.paginate is not None:
            problems.append(f"{where}.paginate: not for protocol soap (ask for more items in "
                            "one call, e.g. NAV's setSize)")
    return problems


def _requests(config: Any) -> list[tuple[str, Any]]:
    found = [(f"requests[{n}]", r) for n, r in enumerate(config.requests)]
    found += [(f"details.{k}.request", d.request) for k, d in config.details.items()]
    for name in ("search", "purchases", "surveys"):
        spec = getattr(config, name)
        if spec is not None:
            found.append((f"{name}.request", spec.request))
    for kind, feed in config.changes or ():  # a model iterates as (field, value)
        if feed is not None and hasattr(feed, "request"):
            found.append((f"changes.{kind}.request", feed.request))
    return found


class SoapCalls:
    """Envelopes, headers and answers of one SOAP source."""

    def __init__(self, settings: SoapSettings, auth: Any, lists: frozenset[str]) -> None:
        self.settings = settings
        self.auth = auth if isinstance(auth, WsSecurityAuth) else None
        self.lists = lists

    def envelope(self, body: str, context: dict[str, Any]) -> bytes:
        """The whole message: header blocks (WS-Security first) and the filled Body."""
        blocks = username_token(self.auth) if self.auth else ""
        if self.settings.header:
            blocks += fill_xml(self.settings.header, context)
        soap = ENVELOPES[self.settings.version]
        header = f"<soap:Header>{blocks}</soap:Header>" if blocks else ""
        return (f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{soap}">'
                f"{header}<soap:Body>{fill_xml(body, context)}</soap:Body></soap:Envelope>"
                ).encode()

    def headers(self, action: str | None) -> dict[str, str]:
        """Content-Type and the action: `SOAPAction` (1.1) or the `action` parameter (1.2)."""
        kind = CONTENT_TYPES[self.settings.version]
        if self.settings.version == "1.2":
            return {"Content-Type": kind + (f'; action="{action}"' if action else "")}
        return {"Content-Type": kind, "SOAPAction": f'"{action or ""}"'}

    def decode(self, body: bytes, kind: str) -> Any:
        """The content of the answer's Body (the XML rule); a Fault raises its error."""
        root = parse_xml(body)
        if local(root.tag) != "Envelope":
            raise SourceError("answered without a SOAP envelope", f"root {local(root.tag)}")
        content = next((c for c in root if local(c.tag) == "Body"), None)
        if content is None:
            raise SourceError("answered without a SOAP Body")
        fault = next((c for c in content if local(c.tag) == "Fault"), None)
        if fault is not None:
            raise fault_error(fault)
        return element_value(content, self.lists)

    def fault(self, status: int, body: bytes, kind: str) -> SourceError | None:
        """The Fault an error status carries (SOAP sends them with 500), or None."""
        try:
            self.decode(body, kind)
        except SourceError as exc:
            return exc if _is_fault(exc) else None
        return None


class SoapFault:
    """Marks the errors that come from a Fault (not from a malformed answer)."""


def _is_fault(error: SourceError) -> bool:
    return isinstance(error, SoapFault)


def fault_error(fault: ET.Element) -> SourceError:
    """A Fault as the error of the source it states: the sender's fault (ours) is permanent
    like a 4xx, the receiver's transient like a 5xx, a refusal is about credentials."""
    code, reason = _fault_parts(fault)
    shown = code if len(code) <= 32 else code.rsplit(".", 1)[-1]  # NAV's exception classes
    public = (f"SOAP fault {shown}: {reason}" if reason else f"SOAP fault {shown}")[:240]
    kind = code.split(".", 1)[0]
    if REFUSAL.search(code):
        return _FaultRefused(public, public)
    if kind in SENDER_CODES:
        return _FaultMisconfigured(public, public)
    if kind in RECEIVER_CODES:
        return _FaultUnavailable(public, public)
    return _FaultError(public, public)


def _fault_parts(fault: ET.Element) -> tuple[str, str]:
    """(code without its prefix, reason) of a SOAP 1.1 or 1.2 Fault."""
    fields = {local(child.tag): child for child in fault}
    if "Code" in fields:  # SOAP 1.2: Code/Value (Subcode/Value), Reason/Text
        values = [v for v in fields["Code"].iter() if local(v.tag) == "Value"]
        code = (values[-1].text if values else "") or ""
        texts = [t for t in fields.get("Reason", fault).iter() if local(t.tag) == "Text"]
        reason = (texts[0].text if texts else "") or ""
    else:
        code = getattr(fields.get("faultcode"), "text", "") or ""
        reason = getattr(fields.get("faultstring"), "text", "") or ""
    return code.strip().rsplit(":", 1)[-1] or "?", " ".join(reason.split())


class _FaultError(SoapFault, SourceError):
    """A Fault the source gave for a reason of its own."""


class _FaultMisconfigured(SoapFault, SourceMisconfigured):
    """A Fault blaming our request."""


class _FaultUnavailable(SoapFault, SourceUnavailable):
    """A Fault blaming the server."""


class _FaultRefused(SoapFault, SourceRefused):
    """A Fault refusing our credentials."""
