"""`connector lookup` and `connector link` against the real demo back office."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from tests.conftest import Service, connector

SAMPLE_EMAIL = "pauline.deneve@easiware.fr"


def lookup(env: dict[str, str], *args: str) -> dict:  # type: ignore[type-arg]
    result = connector("lookup", *args, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_lookup_the_white_paper_customer_by_email(env: dict[str, str]) -> None:
    customer = lookup(env, "--email", SAMPLE_EMAIL.upper())
    kpis = customer["kpis"]
    assert Decimal(kpis["total_spend"]) == Decimal("1464.00")
    assert Decimal(kpis["average_basket"]) == Decimal("488.00")
    assert kpis["orders_count"] == 3
    assert kpis["last_order_date"] == "2017-08-05"
    assert Decimal(kpis["satisfaction"]) == Decimal("8.5")
    identity = customer["identity"]
    assert (identity["civility"], identity["full_name"]) == ("MADAME", "Pauline Denève")
    assert identity["phones"] == ["+33653888890", "+32186953033"]
    assert identity["address"] == {"line1": "1 AVENUE SPINOZA", "postcode": "77184",
                                   "city": "EMERAINVILLE", "country": "FR"}
    assert customer["status"]["segment"] == "VIP"
    orders = {o["number"]: o for o in customer["orders"]}
    assert orders["997890"]["status"] == "returned"
    assert (orders["997890"]["tracking"], orders["997890"]["total"]) == ("AU908764", "45.95")
    assert (orders["120145"]["status"], orders["120145"]["date"]) == ("delivered", "2017-06-10")
    assert customer["contacts"]["count"] == 23
    assert customer["contacts"]["last"]["date"] == "2019-02-23T16:54:00Z"
    assert {n: s["status"] for n, s in customer["sources"].items()} == {
        "erp": "ok", "pos": "not_found", "feedback": "ok", "loyalty": "ok", "history": "ok"}


@pytest.mark.parametrize("phone", ["06 53 88 88 90", "+33 (0)653888890", "0033653888890"])
def test_lookup_by_phone_finds_the_same_customer_and_what_only_email_finds(
    env: dict[str, str], phone: str
) -> None:
    by_email = lookup(env, "--email", SAMPLE_EMAIL)
    by_phone = lookup(env, "--phone", phone)
    assert by_phone["customer_id"] == by_email["customer_id"]
    # the review feed only knows emails: the ERP taught us hers
    assert [r["title"] for r in by_phone["reviews"]] == ["Retour compliqué"]


def test_unknown_customer_exits_3(env: dict[str, str]) -> None:
    result = connector("lookup", "--email", "nobody@example.org", env=env)
    assert result.returncode == 3
    assert result.stdout == ""
    assert "no customer found" in result.stderr


def test_unusable_identifier_is_a_usage_error(env: dict[str, str]) -> None:
    result = connector("lookup", "--phone", "12", env=env)
    assert result.returncode == 2
    assert "not a valid phone number" in result.stderr


def test_link_opens_the_sidebar(env: dict[str, str], service: Service) -> None:
    result = connector("link", "--email", SAMPLE_EMAIL, env=service.env)
    assert result.returncode == 0, result.stderr
    url = result.stdout.strip()
    assert url.startswith(f"{service.url}/helpdesk/embed/sidebar?t=")
    assert SAMPLE_EMAIL not in url and "pauline" not in url.lower()
    page = requests.get(url, timeout=10)
    assert page.status_code == 200
    assert "Denève" in page.text


def test_link_refused_when_tampered(service: Service) -> None:
    result = connector("link", "--phone", "06 53 88 88 90", env=service.env)
    url = result.stdout.strip()
    tampered = url[:-6] + ("A" if url[-6] != "A" else "B") + url[-5:]
    page = requests.get(tampered, timeout=10)
    assert page.status_code == 401
    assert "Denève" not in page.text


def test_probe_shows_what_each_source_maps(env: dict[str, str]) -> None:
    result = connector("check", "--probe", "--phone", "06 53 88 88 90", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    # after the summary (and the helpdesk secrets not set), each source in manifest order
    probed = [line for line in lines if not line.startswith(" ") and "found in" in line]
    assert probed[0].startswith("erp (rest): found in ")
    assert "  identity.last_name                 = 'Denève'" in lines
    assert "  orders[0].status                   = 'return' → 'returned'" in lines
    assert "  identity.birth_date                ✗ no value at 'birth_date'" in lines
    # how long it took is the machine's: not asserted (it read "0 ms" until a busy run said 1)
    assert any(re.fullmatch(r"feedback \(rest\): not found in \d+ ms \(it searches by email: "
                            r"none of them was given\)", line) for line in lines), lines


def test_probe_reports_a_refused_source_and_fails(env: dict[str, str]) -> None:
    result = connector("check", "--probe", "--email", "pauline.deneve@easiware.fr",
                       env={**env, "DEMO_ERP_TOKEN": "wrong"})
    assert result.returncode == 1
    assert "erp (rest): error: refused our credentials (401)" in result.stdout.splitlines()
    assert "wrong" not in result.stdout


def test_debug_logs_hold_no_customer_identifier(env: dict[str, str]) -> None:
    result = connector("lookup", "--email", SAMPLE_EMAIL, env={**env,
                                                              "CONNECTOR_LOG_LEVEL": "debug"})
    assert result.returncode == 0, result.stderr
    for value in (SAMPLE_EMAIL, "pauline.deneve%40easiware.fr", "+33653888890", "0653888890"):
        assert value not in result.stderr


def test_a_reader_that_stops_early_gets_no_traceback(env: dict[str, str]) -> None:
    exe = shutil.which("connector", path=str(Path(sys.executable).parent)) or "connector"
    lookup = subprocess.Popen([exe, "lookup", "--email", "pauline.deneve@easiware.fr"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert lookup.stdout is not None and lookup.stderr is not None
    assert lookup.stdout.read(20)  # `connector lookup … | head -c 20`
    lookup.stdout.close()
    errors = lookup.stderr.read().decode()
    assert lookup.wait(timeout=60) == 0 and "Traceback" not in errors, errors
