"""The generic REST engine: templated JSON, JSON-RPC, OData or SOAP requests (JSON or XML
answers), mapped by JMESPath."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal, TypeVar

from pydantic import Field, SecretStr, field_validator, model_validator

from connector.models import CORRECTABLE
from connector.sources.base import (
    BuildContext,
    CandidatesMap,
    DetailSpec,
    IdentifierKind,
    Identifiers,
    ListedAnswer,
    LoginRefused,
    Purchase,
    SourceCandidate,
    SourceConfig,
    SourceError,
    SourceMisconfigured,
    SourceRefused,
    Strict,
    deadline_in,
    scrub,
)
from connector.sources.expression_errors import failing_as
from connector.sources.http import Answer, new_session, send
from connector.sources.mapping import MappedSource, Reader, candidates, compiled, search
from connector.sources.rest_actions import RestAction, RestWrite
from connector.sources.rest_auth import Auth, Credentials
from connector.sources.rest_changes import (
    ChangeFeed,
    ChangeFeeds,
    ChangePage,
    FeedKind,
    feed_problems,
    read_page,
    request_problem,
)
from connector.sources.rest_graphql import graphql_answer, graphql_body
from connector.sources.rest_paging import Pagination, collect, pages
from connector.sources.rest_request import RestRequest
from connector.sources.rest_soap import SoapCalls, SoapSettings, soap_problems
from connector.sources.templates import Blank, MissingValue, render, render_value
from connector.sources.xml_answers import AnswerFormat, AnswerReader, XmlSettings

MAX_ATTEMPTS = 4
T = TypeVar("T")
Protocol = Literal["json", "jsonrpc", "odata", "graphql", "soap"]
AUTH_WORDS = re.compile(r"access|denied|session|login|auth|password|credential", re.IGNORECASE)


log = logging.getLogger(__name__)


class RestDetail(DetailSpec):
    """A detail fetched when the agent asks (`{key}` is the item's key)."""

    request: RestRequest


class RestSearch(Strict):
    """How an agent's free-text search (`{q}`) is asked of this source, and where the matching
    customers are in the answer."""

    request: RestRequest
    candidates: CandidatesMap


class RestPurchases(Strict):
    """Every purchase since a date, for the jobs over the whole base (`segments`): the request
    (`{since}`, an ISO date, fills it; give it `paginate`), where its items are, and each
    item's customer (the source's own id), date and amount, as JMESPath."""

    request: RestRequest
    customer: str
    date: str
    amount: str
    include: str | None = None  # which items count (e.g. not cancelled ones), JMESPath
    max_pages: int = Field(default=2000, ge=1, le=100_000)

    @field_validator("customer", "date", "amount", "include")
    @classmethod
    def _expression(cls, value: str | None) -> str | None:
        if value is not None:
            compiled(value)
        return value


class RestSurveys(Strict):
    """Every survey answer since a date, for the brand's NPS per month (the `segments` job):
    paged like `purchases`, each item's customer, date, kind (`nps` counts; a JMESPath
    literal such as `'nps'` when the listing holds nothing else) and score, as JMESPath."""

    request: RestRequest
    customer: str
    date: str
    score: str
    kind: str
    include: str | None = None  # which items count, JMESPath
    max_pages: int = Field(default=2000, ge=1, le=100_000)

    @field_validator("customer", "date", "score", "kind", "include")
    @classmethod
    def _expression(cls, value: str | None) -> str | None:
        if value is not None:
            compiled(value)
        return value


class RestChangeFeed(ChangeFeed):
    """A change feed over this source's HTTP API (`connector.sources.rest_changes`)."""

    request: RestRequest

    @field_validator("request")
    @classmethod
    def _cursor_request(cls, value: RestRequest) -> RestRequest:
        problem = request_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class RestChangeFeeds(ChangeFeeds):
    """The source's change feeds, read by the `refresh_reviews` and `refresh_loyalty` jobs."""

    reviews: RestChangeFeed | None = None
    surveys: RestChangeFeed | None = None
    loyalty: RestChangeFeed | None = None


class RestConfig(SourceConfig):
    """A source reached over HTTP with JSON, JSON-RPC or OData answers."""

    type: Literal["rest"]
    base_url: str
    protocol: Protocol = "json"
    answer: AnswerFormat = "auto"  # xml, json, or by the answer's Content-Type
    xml: XmlSettings = Field(default_factory=XmlSettings)
    soap: SoapSettings = Field(default_factory=SoapSettings)
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    auth: Auth | None = None
    secrets: dict[str, SecretStr] = Field(default_factory=dict)
    lookup_by: list[IdentifierKind] = Field(default=["email"], min_length=1)
    requests: list[RestRequest] = Field(min_length=1)
    found: str | None = None
    details: dict[str, RestDetail] = Field(default_factory=dict)
    search: RestSearch | None = None
    purchases: RestPurchases | None = None
    surveys: RestSurveys | None = None
    changes: RestChangeFeeds | None = None
    writes: dict[str, RestWrite] = Field(default_factory=dict)
    actions: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")], RestAction] = Field(
        default_factory=dict)

    @field_validator("writes")
    @classmethod
    def _correctable(cls, value: dict[str, RestWrite]) -> dict[str, RestWrite]:
        unknown = [name for name in value if name not in CORRECTABLE]
        if unknown:
            raise ValueError(f"'{unknown[0]}' cannot be corrected from the record (one of: "
                             f"{', '.join(CORRECTABLE)})")
        return value

    @model_validator(mode="after")
    def _feeds(self) -> RestConfig:
        problems = feed_problems(self.changes, self.sections) if self.changes else []
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _soap(self) -> RestConfig:
        problems = soap_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")


class RestSource(MappedSource):
    """Runs the requests with each identifier in turn until the customer is found."""

    config: RestConfig

    def __init__(self, name: str, config: RestConfig, context: BuildContext) -> None:
        super().__init__(name, config)
        self._session = new_session()
        self._session.headers.update({k: v.get_secret_value() for k, v in config.headers.items()})
        if config.protocol == "odata":
            self._session.headers["Accept"] = "application/json"
        self._secrets = {k: v.get_secret_value() for k, v in config.secrets.items()}
        self._credentials = Credentials(config.auth, self._session, config.base_url,
                                        self._secrets, config.timeout_s,
                                        config.protocol == "jsonrpc")
        answers = AnswerReader(config.answer, config.xml)
        self._soap = (SoapCalls(config.soap, config.auth, answers.lists)
                      if config.protocol == "soap" else None)
        self._decode = self._soap.decode if self._soap else answers.decode
        self._fault = self._soap.fault if self._soap else None

    def find(self, ids: Identifiers) -> dict[str, Any] | None:
        """The answers of every request for the first identifier that finds the customer; all
        of its calls (logins, pages, every identifier tried) end within the source's timeout."""
        with deadline_in(self.config.timeout_s):
            for kind, value in ids.attempts(self.config.lookup_by, self.name)[:MAX_ATTEMPTS]:
                document: dict[str, Any] = {kind: value}
                for n, request in enumerate(self.config.requests):
                    document[request.name] = self._run(request, document, f"requests[{n}]")
                if self._found(document):
                    return document
        return None

    def search(self, query: str) -> list[SourceCandidate]:
        """Customers matching an agent's free text (a name, a postcode); [] without `search`."""
        spec = self.config.search
        if spec is None:
            return []
        with deadline_in(self.config.timeout_s):
            document = {spec.request.name: self._run(spec.request, {"q": query},
                                                     "search.request")}
        with failing_as(self.name, "search.candidates"):
            return candidates(document, spec.candidates)

    def raw_detail(self, spec: DetailSpec, key: str) -> Any:
        """The answer of a detail's request for one key (within the source's timeout)."""
        assert isinstance(spec, RestDetail)
        kind = next((k for k, v in self.config.details.items() if v is spec), "?")
        with deadline_in(self.config.timeout_s):
            return self._run(spec.request, {"key": key}, f"details.{kind}.request")

    def write(self, field: str, values: dict[str, str]) -> Any:
        """Apply a correction of `field` (`values`: new, old, external, change), within the
        source's timeout; the source's answer."""
        spec = self.config.writes.get(field)
        if spec is None:
            raise SourceMisconfigured(f"sources.{self.name} declares no writes.{field}")
        return self._change(spec.request, values, f"writes.{field}.request")

    def act(self, name: str, values: dict[str, Any]) -> Any:
        """Run an action (`values`: key, external, change, inputs), within the source's
        timeout; the source's answer."""
        spec = self.config.actions.get(name)
        if spec is None:
            raise SourceMisconfigured(f"sources.{self.name} declares no actions.{name}")
        answer = self._change(spec.request, values, f"actions.{name}.request", spec.before)
        said = search(spec.refused_if, answer) if spec.refused_if else None
        if said not in (None, "", [], {}):
            words = "; ".join(str(w) for w in said) if isinstance(said, list) else str(said)
            # its words, scrubbed of identifiers: they reach the change's outcome and the log
            raise SourceError(f"{self.name} said no: {scrub(words)}"[:200])
        return answer

    def _change(self, request: RestRequest, values: dict[str, Any], where: str,
                 before: list[RestRequest] | None = None) -> Any:
        """Send a change's request with its `Idempotency-Key`, after its reads (`before`,
        each answer named); a value the request needs and lacks (no id at this source, no
        such transaction) is a refusal, never a request sent without it."""
        headers = {"Idempotency-Key": "{change}", **request.headers}
        request = request.model_copy(update={"headers": headers})
        given = {**values, "new": _blank(values.get("new")),  # "" when none: a value, and
                 "old": _blank(values.get("old")),  # so is an address's empty part
                 "inputs": {n: _blank(v) for n, v in (values.get("inputs") or {}).items()}}
        try:
            with deadline_in(self.config.timeout_s), failing_as(self.name, where):
                for step in before or ():
                    given[step.name] = self._send(step, given, {}, {}, None).data
                return self._send(request, given, {}, {}, None).data
        except MissingValue as exc:
            raise SourceRefused(f"sources.{self.name}.{where}: no value for {exc}") from exc

    def purchases(self, since: dt.date) -> Iterator[Purchase]:
        """Every purchase since `since`, page by page (each page within the source's timeout);
        items that cannot be read are skipped, counted in the log by source only."""
        spec = self.config.purchases
        if spec is None:
            return

        def read(item: Any, reader: Reader) -> Purchase | None:
            who, day = search(spec.customer, item), reader.coerce(search(spec.date, item),
                                                                  dt.date)
            amount = reader.number(search(spec.amount, item))
            if who in (None, "") or not isinstance(day, dt.date):
                return None
            return Purchase(str(who), day, amount)

        yield from self._read_listing(spec, since, read,
                                      ("purchases", "no customer, date or amount"))

    def surveys(self, since: dt.date) -> Iterator[ListedAnswer]:
        """Every survey answer since `since`, paged like the purchases; items without a
        customer, date, kind or numeric score are skipped, counted in the log by source
        only (never a value)."""
        spec = self.config.surveys
        if spec is None:
            return

        def read(item: Any, reader: Reader) -> ListedAnswer | None:
            who, kind = search(spec.customer, item), search(spec.kind, item)
            score = reader.number(search(spec.score, item))
            day = reader.coerce(search(spec.date, item), dt.date)
            if who in (None, "") or not isinstance(day, dt.date) or not kind:
                return None
            return ListedAnswer(str(who), day, str(kind).strip().lower(), score)

        yield from self._read_listing(spec, since, read,
                                      ("survey answers", "no customer, date, kind or score"))

    def _read_listing(self, spec: RestPurchases | RestSurveys, since: dt.date,
                      read: Callable[[Any, Reader], T | None], what: tuple[str, str]
                      ) -> Iterator[T]:
        """Each item of a listing `read` into its record; those it cannot read (None, or a
        value of the wrong kind) skipped and counted in one log line, never their values."""
        reader = Reader(self.config.decimal_comma, tuple(self.config.date_formats))
        skipped = 0
        for item in self._listed(spec, since):
            try:
                record = read(item, reader)
            except ValueError:
                record = None
            if record is None:
                skipped += 1
                continue
            yield record
        if skipped:
            log.info("source %s: %d %s skipped (%s)", self.name, skipped, *what)

    def _listed(self, spec: RestPurchases | RestSurveys, since: dt.date) -> Iterator[Any]:
        """The items of a listing since `since` that its `include` keeps, page by page (each
        page within the source's timeout)."""
        request, document = spec.request, {"since": since.isoformat()}
        paging = request.paginate or Pagination(type="page", max_pages=1)

        def fetch(query: dict[str, Any], body: dict[str, Any], url: str | None) -> Answer:
            with deadline_in(self.config.timeout_s):
                return self._send(request, document, query, body, url)

        listing = "purchases" if isinstance(spec, RestPurchases) else "surveys"
        pager = pages(fetch, paging, self._items(request), spec.max_pages)
        while True:
            with failing_as(self.name, f"{listing}.request"):  # a placeholder, the next page
                batch = next(pager, None)
            if batch is None:
                return
            for item in batch:
                with failing_as(self.name, f"{listing}.include"):
                    kept = not spec.include or search(spec.include, item)
                if kept:
                    yield item

    def changes(self, kind: FeedKind, since: str, region: str) -> ChangePage:
        """One page of a change feed: the items changed after `since`, and the next cursor
        (within the source's timeout)."""
        feed = getattr(self.config.changes, kind, None)
        if not isinstance(feed, RestChangeFeed):
            return ChangePage([], since)
        with deadline_in(self.config.timeout_s), failing_as(self.name, f"changes.{kind}.request"):
            answer = self._send(feed.request, {"since": since}, {}, {}, None).data
        reader = Reader(self.config.decimal_comma, tuple(self.config.date_formats))
        with failing_as(self.name, f"changes.{kind}"):
            return read_page(answer, self._items(feed.request), feed, kind, self.name,
                             self.config.sections.get(kind), since, region, reader)

    def _found(self, document: dict[str, Any]) -> bool:
        expression = self.config.found or self.config.id or self.config.requests[0].name
        with failing_as(self.name, "found" if self.config.found else "id"):
            return search(expression, document) not in (None, "", [], {})

    def _run(self, request: RestRequest, document: dict[str, Any], where: str) -> Any:
        """One request's answer (its `items`), None when `when` says no or a value is missing;
        an expression that fails names its path (`requests[0].when`)."""
        with failing_as(self.name, f"{where}.when"):
            if request.when and not search(request.when, document):
                return None
        try:
            with failing_as(self.name, where):  # a placeholder, or the paging's next
                if request.paginate is not None:
                    return collect(lambda q, b, u: self._send(request, document, q, b, u),
                                   request.paginate, self._items(request))
                answer = self._send(request, document, {}, {}, None).data
        except MissingValue:
            return None
        with failing_as(self.name, f"{where}.items"):
            if request.items and answer is not None:
                return search(request.items, answer)
        return answer

    def _items(self, request: RestRequest) -> str:
        return request.items or ("value" if self.config.protocol == "odata" else "@")

    def _send(self, request: RestRequest, document: dict[str, Any], query: dict[str, Any],
              body_extra: dict[str, Any], url: str | None) -> Answer:
        """One HTTP call; logs in again once if a renewable credential was refused."""
        try:
            return self._send_once(request, document, query, body_extra, url)
        except LoginRefused:
            raise
        except SourceRefused:
            if not self._credentials.renewable:
                raise
            self._credentials.forget()
            return self._send_once(request, document, query, body_extra, url)

    def _send_once(self, request: RestRequest, document: dict[str, Any], query: dict[str, Any],
                   body_extra: dict[str, Any], url: str | None) -> Answer:
        headers, auth_values = self._credentials.current()
        context = {**document, "secret": self._secrets, "auth": auth_values}
        if url is None:
            path = render(request.path, context, quote_values=True)
            if path is None:
                raise MissingValue(request.path)
            url = self.config.base_url + path
            params = {k: v for k, t in request.params.items()
                      if (v := render(t, context)) is not None}
            params.update(self._credentials.query)
            params.update(query)
        else:
            params = {}
        if self._soap is not None:
            headers.update(self._soap.headers(request.action))
        headers.update({k: v for k, t in request.headers.items()
                        if (v := render(t, context)) is not None})
        body = self._body(request, context, body_extra)
        payload = {"data": body} if isinstance(body, bytes) else {"json": body}
        answer = send(self._session, self._method(request), url,
                      timeout_s=self.config.timeout_s, params=params, headers=headers,
                      decode=self._decode, fault=self._fault, **payload)
        return self._unwrap(answer)

    def _method(self, request: RestRequest) -> str:
        return ("POST" if self.config.protocol in ("jsonrpc", "graphql", "soap")
                else request.method)

    def _body(self, request: RestRequest, context: dict[str, Any], extra: dict[str, Any]) -> Any:
        if self._soap is not None:
            return self._soap.envelope(str(request.body or ""), context)
        if self.config.protocol == "graphql":
            return graphql_body(request.query or "", render_value(request.variables, context),
                                extra)
        body = render_value(request.body, context)
        if extra:
            body = {**(body or {}), **extra}
        if self.config.protocol == "jsonrpc":
            return {"jsonrpc": "2.0", "id": 1, "method": request.rpc_method, "params": body}
        return body

    def _unwrap(self, answer: Answer) -> Answer:
        if self.config.protocol == "graphql":
            return graphql_answer(answer, self.name)
        if self.config.protocol != "jsonrpc" or not isinstance(answer.data, dict):
            return answer
        error = answer.data.get("error")
        if error:
            text = str(error)
            if AUTH_WORDS.search(text):
                raise SourceRefused("refused our credentials (JSON-RPC)", text[:200])
            raise SourceError("JSON-RPC error", text[:200])
        return Answer(answer.data.get("result"), answer.headers, answer.links, answer.url)


def _blank(value: Any) -> Any:
    """A change's empty value (an optional input left empty, no old value, an address's
    empty part) as one its request is filled with, never a missing one."""
    if isinstance(value, dict):
        return {k: _blank(v) for k, v in value.items()}
    return Blank("") if value == "" else value
