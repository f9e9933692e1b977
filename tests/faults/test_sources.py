"""Sources that misbehave on the wire (a body dribbled a byte at a time, a server that hangs
before or after its headers, a body too large, garbage), over real HTTP to a server the test
owns: each call ends by its deadline with its failure classified, the lookup renders the other
sources and marks the bad one, its stale copy stands in, the breaker opens on slow calls, and
other customers' lookups neither fail nor wait behind the stuck source."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import SecretStr

from connector.app import build_services
from connector.customer.links import LinkStore
from connector.customer.profile import Lookup, ProfileAssembler
from connector.customer.resolver import Resolver
from connector.identifiers import Identifiers
from connector.manifest import load_manifest
from connector.models import SourceState
from connector.settings import Settings
from connector.sources import build_source
from connector.sources.base import BuildContext, SourceError, SourceTimeout
from connector.sources.cache import MemoryCache, SingleFlight
from connector.web import create_app
from connector.widgets.base import BlockSpec, RenderContext
from connector.widgets.page import render_sidebar_page
from tests.faults.bad_sources import BadSources, wait_until

DEADLINE_S = 1.0
MARGIN_S = 1.5  # generous: CI runs this on two cores
KNOWN = {f"{name}@exemple.fr": name.capitalize() for name in
         ("pauline", "marc", "lea", "hugo", "ines", "paul", "zoe", "noe", "ana", "tom")}

MANIFEST = """\
version: 1
sources:
  erp:
    type: rest
    label: ERP
    base_url: {url}/erp
    timeout_s: {deadline}
    requests: [{{name: c, path: /c, params: {{email: "{{email}}"}}}}]
    id: c.id
    sections: {{identity: {{path: c, fields: {{last_name: name, emails: email}}}}}}
  reviews:
    type: rest
    label: Avis
    base_url: {url}/reviews
    timeout_s: {deadline}
    ttl_s: {reviews_ttl}
    revalidate_s: 0
    max_concurrency: 2
    circuit: {{failures: {failures}, cooldown_s: 60}}
    requests: [{{name: r, path: /r, params: {{email: "{{email}}"}}}}]
    sections: {{reviews: {{items: r, fields: {{title: title}}}}}}
"""


def erp_answer(params: dict[str, str]) -> dict[str, str] | None:
    email = params.get("email", "")
    if email not in KNOWN:
        return None
    return {"id": f"C-{email.split('@')[0]}", "name": KNOWN[email], "email": email}


def reviews_answer(params: dict[str, str]) -> list[dict[str, str]]:
    email = params.get("email", "")
    return [{"title": f"Parfait, signé {KNOWN[email]}"}] if email in KNOWN else []


@pytest.fixture
def bad() -> Iterator[BadSources]:
    server = BadSources()
    server.payloads.update({"/erp/c": erp_answer, "/reviews/r": reviews_answer})
    yield server
    server.close()


def write_manifest(bad: BadSources, tmp_path: Path, *, reviews_ttl: int = 300,
                   failures: int = 50) -> Path:
    path = tmp_path / "manifest.yaml"
    path.write_text(MANIFEST.format(url=bad.url, deadline=DEADLINE_S, reviews_ttl=reviews_ttl,
                                    failures=failures))
    return path


@pytest.fixture
def make_assembler(bad: BadSources, tmp_path: Path) -> Iterator[type[ProfileAssembler]]:
    built: list[ProfileAssembler] = []

    def make(**options: int) -> ProfileAssembler:
        manifest = load_manifest(write_manifest(bad, tmp_path, **options), env={})
        sources = {n: build_source(n, c, BuildContext(tmp_path))
                   for n, c in manifest.sources.items()}
        assembler = ProfileAssembler(manifest, sources, SingleFlight(MemoryCache()),
                                     ThreadPoolExecutor(2),
                                     Resolver(LinkStore(f"sqlite:///{tmp_path}/links.sqlite"),
                                              manifest.identity))
        built.append(assembler)
        return assembler

    yield make  # type: ignore[misc]
    for assembler in built:
        assembler.close()


def timed_lookup(assembler: ProfileAssembler, email: str) -> tuple[Lookup, float]:
    started = time.monotonic()
    found = assembler.lookup(Identifiers(emails=(email,)))
    return found, time.monotonic() - started


def states(found: Lookup) -> dict[str, SourceState]:
    return {name: status.status for name, status in found.sources.items()}


def titles(found: Lookup) -> list[str]:
    assert found.profile is not None
    return [review.title or "" for review in found.profile.reviews]


# ---- one call ----------------------------------------------------------------------------

CALL_FAULTS = {  # mode -> (the failure's class, what the admin reads, its state)
    "dribble": (SourceTimeout, "no answer within 1 s", SourceState.TIMEOUT),
    "hang_after_headers": (SourceTimeout, "no answer within 1 s", SourceState.TIMEOUT),
    "hang_before_headers": (SourceTimeout, "no answer within 1 s", SourceState.TIMEOUT),
    "huge": (SourceError, "answer larger than 5 MB", SourceState.ERROR),
    "huge_chunked": (SourceError, "answer larger than 5 MB", SourceState.ERROR),
    "html": (SourceError, "answered with invalid JSON", SourceState.ERROR),
    "truncated": (SourceError, "answered with invalid JSON", SourceState.ERROR),
}


@pytest.mark.parametrize("mode", list(CALL_FAULTS))
def test_each_bad_answer_ends_by_the_deadline_classified(bad: BadSources, tmp_path: Path,
                                                         mode: str) -> None:
    kind, public, state = CALL_FAULTS[mode]
    manifest = load_manifest(write_manifest(bad, tmp_path), env={})
    reviews = build_source("reviews", manifest.sources["reviews"], BuildContext(tmp_path))
    bad.modes["/reviews/r"] = mode
    started = time.monotonic()
    with pytest.raises(kind) as caught:
        reviews.fetch(Identifiers(emails=("pauline@exemple.fr",)))
    assert time.monotonic() - started < DEADLINE_S + MARGIN_S
    assert (caught.value.public, caught.value.state) == (public, state)
    if mode == "dribble":  # it was trickling in: no read ever waited long enough to time out
        assert bad.sent["/reviews/r"] >= 2


def test_a_paged_read_has_one_deadline_for_all_its_pages(bad: BadSources, tmp_path: Path) -> None:
    (tmp_path / "manifest.yaml").write_text(f"""\
version: 1
sources:
  orders:
    type: rest
    base_url: {bad.url}/shop
    timeout_s: {DEADLINE_S}
    requests:
      - name: o
        path: /orders
        params: {{email: "{{email}}"}}
        paginate: {{type: page, param: page, size: 1, max_pages: 5}}
    sections: {{orders: {{items: o, fields: {{number: number}}}}}}
""")
    manifest = load_manifest(tmp_path / "manifest.yaml", env={})
    orders = build_source("orders", manifest.sources["orders"], BuildContext(tmp_path))
    bad.payloads["/shop/orders"] = lambda params: [{"number": params.get("page")}]
    bad.modes["/shop/orders"] = "slow"  # 0.6 s a page: each in time, five are not
    started = time.monotonic()
    with pytest.raises(SourceTimeout):
        orders.fetch(Identifiers(emails=("pauline@exemple.fr",)))
    assert time.monotonic() - started < 3 * 0.6  # not five pages' worth
    assert bad.hit("/shop/orders") <= 2


def test_a_token_endpoint_that_hangs_is_held_to_the_deadline(bad: BadSources,
                                                            tmp_path: Path) -> None:
    (tmp_path / "manifest.yaml").write_text(f"""\
version: 1
sources:
  shop:
    type: rest
    base_url: {bad.url}/shop
    timeout_s: {DEADLINE_S}
    auth: {{type: oauth2_client_credentials, token_url: "{bad.url}/token", client_id: a,
            client_secret: b}}
    requests: [{{name: c, path: /c, params: {{email: "{{email}}"}}}}]
    sections: {{identity: {{path: c, fields: {{last_name: name}}}}}}
""")
    manifest = load_manifest(tmp_path / "manifest.yaml", env={})
    shop = build_source("shop", manifest.sources["shop"], BuildContext(tmp_path))
    bad.modes["/token"] = "dribble"
    started = time.monotonic()
    with pytest.raises(SourceTimeout):
        shop.fetch(Identifiers(emails=("pauline@exemple.fr",)))
    assert time.monotonic() - started < DEADLINE_S + MARGIN_S
    assert bad.hit("/shop/c") == 0


# ---- a lookup ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["dribble", "hang_after_headers", "hang_before_headers"])
def test_the_lookup_renders_the_healthy_source_and_marks_the_stuck_one(
        bad: BadSources, make_assembler: type[ProfileAssembler], mode: str) -> None:
    assembler = make_assembler()
    bad.modes["/reviews/r"] = mode
    found, elapsed = timed_lookup(assembler, "pauline@exemple.fr")
    assert elapsed < DEADLINE_S + MARGIN_S
    assert states(found) == {"erp": SourceState.OK, "reviews": SourceState.TIMEOUT}
    assert found.profile is not None
    ctx = RenderContext(locale="fr", currency="EUR", now=dt.datetime.now(dt.UTC),
                        source_labels={"erp": "ERP", "reviews": "Avis"})
    html = render_sidebar_page(found.profile, [BlockSpec("identity"), BlockSpec("freshness")],
                               ctx)
    assert "Pauline" in html and "Avis" in html and "délai dépassé" in html


def test_the_stale_copy_stands_in_when_the_source_misses_its_deadline(
        bad: BadSources, make_assembler: type[ProfileAssembler]) -> None:
    assembler = make_assembler(reviews_ttl=0)  # every lookup asks the reviews again
    first, _ = timed_lookup(assembler, "pauline@exemple.fr")
    assert titles(first) == ["Parfait, signé Pauline"]
    bad.modes["/reviews/r"] = "dribble"
    again, elapsed = timed_lookup(assembler, "pauline@exemple.fr")
    assert elapsed < DEADLINE_S + MARGIN_S
    assert again.sources["reviews"].status == SourceState.STALE
    assert again.sources["reviews"].error == "no answer within 1 s"
    assert titles(again) == ["Parfait, signé Pauline"]


def test_the_stale_copy_stands_in_while_another_lookup_still_loads(
        bad: BadSources, make_assembler: type[ProfileAssembler]) -> None:
    assembler = make_assembler(reviews_ttl=0)
    timed_lookup(assembler, "pauline@exemple.fr")
    bad.modes["/reviews/r"] = "hang_before_headers"
    asked = bad.hit("/reviews/r")
    first: list[Lookup] = []
    holder = threading.Thread(target=lambda: first.append(
        assembler.lookup(Identifiers(emails=("pauline@exemple.fr",)))))
    holder.start()
    wait_until(lambda: bad.hit("/reviews/r") > asked)  # its load is under way, holding the key
    found, elapsed = timed_lookup(assembler, "pauline@exemple.fr")
    holder.join(DEADLINE_S + MARGIN_S)
    assert elapsed < DEADLINE_S + MARGIN_S
    for lookup in (found, first[0]):
        assert lookup.sources["reviews"].status == SourceState.STALE
        assert titles(lookup) == ["Parfait, signé Pauline"]
    assert bad.hit("/reviews/r") == asked + 1  # the waiter did not ask again


def test_the_breaker_opens_after_slow_calls(bad: BadSources,
                                            make_assembler: type[ProfileAssembler]) -> None:
    assembler = make_assembler(failures=2)
    bad.modes["/reviews/r"] = "dribble"
    for email in ("pauline@exemple.fr", "marc@exemple.fr"):
        assert states(timed_lookup(assembler, email)[0])["reviews"] == SourceState.TIMEOUT
    found, elapsed = timed_lookup(assembler, "lea@exemple.fr")
    assert states(found) == {"erp": SourceState.OK, "reviews": SourceState.CIRCUIT_OPEN}
    assert elapsed < DEADLINE_S  # not waited for: not even asked
    assert bad.hit("/reviews/r") == 2


def test_other_customers_neither_fail_nor_wait_while_one_source_is_stuck(
        bad: BadSources, make_assembler: type[ProfileAssembler]) -> None:
    assembler = make_assembler()
    stuck = "pauline@exemple.fr"
    warm = ["marc@exemple.fr", "lea@exemple.fr", "hugo@exemple.fr", "ines@exemple.fr"]
    for email in warm:
        assert timed_lookup(assembler, email)[0].profile is not None
    bad.modes[("/reviews/r", stuck)] = "hang_before_headers"
    with ThreadPoolExecutor(8) as agents:  # eight agents reopen the stuck record at once
        reopened = [agents.submit(timed_lookup, assembler, stuck) for _ in range(8)]
        wait_until(lambda: bad.hit("/reviews/r", stuck) >= 1)
        for email in warm:  # answered from the cache at once, whatever the reviews do
            found, elapsed = timed_lookup(assembler, email)
            assert states(found) == {"erp": SourceState.OK, "reviews": SourceState.OK}
            assert elapsed < DEADLINE_S / 2
        for email in ("paul@exemple.fr", "zoe@exemple.fr"):  # cold: the reviews bounded
            found, elapsed = timed_lookup(assembler, email)
            assert found.profile is not None and found.sources["erp"].status == SourceState.OK
            assert elapsed < DEADLINE_S + MARGIN_S
        for future in reopened:
            found, elapsed = future.result(timeout=2 * (DEADLINE_S + MARGIN_S))
            assert found.profile is not None and elapsed < DEADLINE_S + MARGIN_S
            assert found.sources["reviews"].status == SourceState.TIMEOUT


# ---- the sidebar -------------------------------------------------------------------------


def test_the_sidebar_says_unavailable_never_not_found_when_the_source_is_stuck(
        bad: BadSources, tmp_path: Path) -> None:
    settings = Settings(manifest=write_manifest(bad, tmp_path), data_dir=tmp_path / "var",
                        secret_key=SecretStr("test-secret-key"), demo=False)
    services = build_services(settings, load_manifest(settings.manifest, env={}))
    try:
        web = create_app(services=services).test_client()

        def page(email: str) -> tuple[int, str]:
            answer = web.get("/helpdesk/embed/sidebar", query_string={
                "t": services.embed.token(email=email), "lang": "fr"})
            return answer.status_code, answer.get_data(as_text=True)

        bad.modes[("/erp/c", "pauline@exemple.fr")] = "hang_before_headers"
        bad.modes[("/reviews/r", "pauline@exemple.fr")] = "ok"
        reviews_answers = bad.payloads["/reviews/r"]
        bad.payloads["/reviews/r"] = lambda p: [] if p.get("email") == "pauline@exemple.fr" \
            else reviews_answers(p)
        status, html = page("pauline@exemple.fr")  # only the stuck ERP knows her
        assert status == 503
        assert "Sources indisponibles" in html and "ERP" in html
        assert "introuvable" not in html and "Aucune fiche" not in html
        status, html = page("marc@exemple.fr")
        assert status == 200 and "Marc" in html
        status, html = page("nobody@exemple.fr")  # every source answered: truly unknown
        assert status == 404 and "Aucune fiche ne correspond à ce contact" in html
    finally:
        services.close()
