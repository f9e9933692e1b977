"""What one client may send: body caps per route, rate limits per address (in memory, and in
a real Redis shared by two apps as two processes would share it)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from pydantic import SecretStr

from connector.app import Services
from connector.web import create_app
from connector.web.limits import SMALL_BODY_BYTES
from tests.conftest import API_TOKEN, MANIFEST, Backoffice, service_env
from tests.helpdesk.scouts import in_process

REDIS_URL = "redis://127.0.0.1:6379/0"
PAGE = "/helpdesk/embed/sidebar"  # 401 without a sealed link
LOOKUP = "/api/v1/customers/lookup?email=nobody.at.all@example.com"  # 404: nobody has it
BEARER = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture(scope="module")
def services(demo_data: Path, backoffice: Backoffice,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    var = tmp_path_factory.mktemp("limits")
    running = in_process(MANIFEST, service_env(demo_data, backoffice.url, var), var)
    yield running
    running.close()


def client(services: Services, address: str = "203.0.113.7", **settings: Any) -> FlaskClient:
    """A test client of an app with these settings, its requests from `address`."""
    update = {"api_token": SecretStr(API_TOKEN), **settings}
    app = create_app(services=dataclasses.replace(
        services, settings=services.settings.model_copy(update=update)))
    test_client = app.test_client()
    test_client.environ_base["REMOTE_ADDR"] = address
    return test_client


def test_a_page_past_the_rate_limit_is_429_with_retry_after(services: Services) -> None:
    web = client(services, rate_limit="3 per minute", auth_failure_limit="off")
    assert [web.get(PAGE).status_code for _ in range(3)] == [401, 401, 401]
    refused = web.get(PAGE)
    assert refused.status_code == 429  # a page: the sidebar's message page (test_errors.py)
    assert refused.mimetype == "text/html" and "Trop de demandes" in refused.text
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    api = web.get(LOOKUP, headers=BEARER)
    assert api.status_code == 429
    assert api.is_json and "too many requests" in api.json["error"]


def test_probes_and_webhooks_are_not_rate_limited_another_address_is_not_affected(
        services: Services) -> None:
    web = client(services, rate_limit="2 per minute", auth_failure_limit="off")
    for _ in range(5):
        assert web.get("/healthz").status_code == 200
        assert web.post("/helpdesk/zendesk/webhook", data=b"{}").status_code == 401
    assert [web.get(PAGE).status_code for _ in range(3)] == [401, 401, 429]
    other = web.application.test_client()
    other.environ_base["REMOTE_ADDR"] = "198.51.100.9"
    assert other.get(PAGE).status_code == 401


def test_refusals_past_their_limit_close_every_route_to_that_address(
        services: Services) -> None:
    web = client(services, auth_failure_limit="3 per minute")
    for _ in range(3):
        assert web.post("/helpdesk/zendesk/webhook", data=b"{}").status_code == 401
    assert web.post("/helpdesk/zendesk/webhook", data=b"{}").status_code == 429
    # even with a valid token: a guesser does not learn when a guess was right
    good = web.get(LOOKUP, headers=BEARER)
    assert good.status_code == 429
    assert web.get("/healthz").status_code == 200
    other = web.application.test_client()
    other.environ_base["REMOTE_ADDR"] = "198.51.100.10"
    assert other.get(LOOKUP, headers=BEARER).status_code == 404


def test_answers_that_are_not_refusals_do_not_spend_the_refusal_budget(
        services: Services) -> None:
    web = client(services, auth_failure_limit="2 per minute", rate_limit="off")
    for _ in range(6):
        assert web.get(LOOKUP, headers=BEARER).status_code == 404


def test_bodies_are_capped_per_route_before_they_are_read(services: Services) -> None:
    web = client(services)
    small = b"x" * (SMALL_BODY_BYTES + 1)
    token = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}
    assert web.post("/api/v1/customers/cus_x/notes", data=small,
                    headers=token).status_code == 413
    assert web.post("/helpdesk/freescout/sidebar", data=small).status_code == 413
    # a webhook may be larger (a long conversation), up to the server's cap
    assert web.post("/helpdesk/zendesk/webhook", data=small).status_code == 401
    huge = b"x" * (services.settings.max_body_bytes + 1)
    assert web.post("/helpdesk/zendesk/webhook", data=huge).status_code == 413


@pytest.fixture()
def shared_prefix() -> Iterator[str]:
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {REDIS_URL} is not answering ({exc}): start it (see the env "
                    "entry of the library)")
    prefix = f"test-limits-{uuid.uuid4().hex[:12]}"
    yield prefix
    server = redis.Redis.from_url(REDIS_URL)
    for key in server.scan_iter(f"*{prefix}*"):
        server.delete(key)


def test_the_budget_is_shared_through_redis(services: Services, shared_prefix: str) -> None:
    shared = {"rate_limit": "4 per minute", "rate_limit_storage": REDIS_URL,
              "rate_limit_prefix": shared_prefix}
    first, second = client(services, **shared), client(services, **shared)
    answers = [web.get(LOOKUP, headers=BEARER).status_code
               for web in (first, second, first, second, first)]
    assert answers == [404, 404, 404, 404, 429]
    assert second.get(LOOKUP, headers=BEARER).status_code == 429
    assert any(redis.Redis.from_url(REDIS_URL).scan_iter(f"*{shared_prefix}*"))


def test_a_redis_that_does_not_answer_leaves_the_service_up(services: Services) -> None:
    """The counters fall back to memory: a rate limiter must not take the sidebars down."""
    web = client(services, rate_limit="100 per minute",
                 rate_limit_storage="redis://127.0.0.1:9/0")  # the discard port: refused
    assert web.get(LOOKUP, headers=BEARER).status_code == 404
    assert web.get("/healthz").status_code == 200


def test_each_agent_has_a_budget_of_changes() -> None:
    """CONNECTOR_CHANGE_LIMIT: corrections and actions one agent may ask for; another agent
    keeps theirs; `off` lifts it."""
    from connector.settings import Settings
    from connector.web.limits import ChangeBudget

    budget = ChangeBudget(Settings(change_limit="2 per hour", secret_key="k",  # type: ignore[arg-type]
                                   rate_limit_prefix=f"test-{uuid.uuid4().hex}"))
    assert [budget.take("margaux") for _ in range(3)] == [True, True, False]
    assert budget.take("pierre")
    unlimited = ChangeBudget(Settings(change_limit="off", secret_key="k"))  # type: ignore[arg-type]
    assert all(unlimited.take("margaux") for _ in range(100))
