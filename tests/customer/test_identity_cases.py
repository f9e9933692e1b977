"""Hand-written identity cases: households, switchboards, partners in one system only, typos
corrected, numbers recycled. Real SQL sources, the real assembler and link store (SQLite and
PostgreSQL). Never a stranger's data in a profile; every real ambiguity shown."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from connector.identifiers import identifiers_from
from connector.store.schema import links
from tests.conftest import drop_schema, postgres_url
from tests.customer.identity_world import World, holdings

LANDLINE = "+33145454545"  # a Paris landline: shared by kind
JEAN = dict(id="C1", first="Jean", last="Martin", email="jean@x.fr", mobile="+33611111111",
            phone=LANDLINE, born="1970-03-01", orders=("J-1",))
MARIE = dict(id="C2", first="Marie", last="Martin", email="marie@x.fr", mobile="+33622222222",
             phone=LANDLINE, born="1972-05-02", zip="75011", city="Paris", orders=("M-1",))


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """The retailer, its link store on a SQLite file or in a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        made = World(tmp_path)
        yield made
        made.close()
        return
    schema = "connector_test_" + uuid.uuid4().hex[:10]
    made = World(tmp_path, postgres_url(schema))
    yield made
    made.close()
    drop_schema(schema)


def jean_and_marie(world: World) -> None:
    world.customer(**JEAN)  # type: ignore[arg-type]
    world.customer(**MARIE)  # type: ignore[arg-type]


def test_a_household_landline_shows_both_and_the_choice_shows_one(world: World) -> None:
    jean_and_marie(world)
    found = world.lookup(phone="01 45 45 45 45")
    names = sorted(c.name or "" for c in found.candidates)
    assert names == ["Jean Martin", "Marie Martin"] and found.profile is None
    marie = next(c for c in found.candidates if c.name == "Marie Martin")
    assert (marie.birth_year, marie.city, marie.source_ids) == (1972, "Paris", {"erp": "C2"})
    chosen = world.lookup(customer_id=marie.customer_id, phone="01 45 45 45 45").profile
    assert chosen is not None
    assert holdings(chosen) == {"erp:C2", "email:marie@x.fr", "phone:+33622222222",
                                f"phone:{LANDLINE}", "order:M-1"}
    again = world.lookup(phone="+33 1 45 45 45 45")  # the store knows both now
    assert len(again.candidates) == 2


def test_a_person_looked_up_by_their_own_email_never_shows_the_spouse(world: World) -> None:
    jean_and_marie(world)
    for given in ({"email": "jean@x.fr"}, {"phone": "06 11 11 11 11"},
                  {"email": "jean@x.fr", "phone": LANDLINE}):
        assert "order:M-1" not in holdings(world.profile(**given))
    assert world.lookup(phone=LANDLINE).candidates  # the landline stays ambiguous


def test_a_household_email_is_shared_by_itself(world: World) -> None:
    world.customer(**{**JEAN, "email": "famille.martin@x.fr"})  # type: ignore[arg-type]
    world.customer(**{**MARIE, "email": "famille.martin@x.fr"})  # type: ignore[arg-type]
    assert len(world.lookup(email="famille.martin@x.fr").candidates) == 2
    jean = world.profile(phone="06 11 11 11 11")
    assert "order:M-1" not in holdings(jean) and "phone:+33622222222" not in holdings(jean)
    assert len(world.lookup(email="Famille.Martin@x.fr").candidates) == 2


def test_a_shared_email_with_one_known_owner_still_asks_the_sources(world: World) -> None:
    world.customer(**{**JEAN, "email": "famille.martin@x.fr"})  # type: ignore[arg-type]
    jean = world.profile(email="famille.martin@x.fr")  # only Jean so far: he is the owner
    world.customer(**{**MARIE, "email": "famille.martin@x.fr"})  # type: ignore[arg-type]
    found = world.lookup(email="famille.martin@x.fr")
    assert found.profile is None
    assert jean.customer_id in {c.customer_id for c in found.candidates}
    assert len(found.candidates) == 2


def test_a_partner_only_in_the_loyalty_programme_is_not_joined(world: World) -> None:
    world.customer(**JEAN)  # type: ignore[arg-type]
    world.member("K-MARIE", "Marie Martin", "marie@x.fr", LANDLINE)
    jean = world.profile(email="jean@x.fr")
    assert "card:K-MARIE" not in holdings(jean)  # not through the landline the ERP gave
    by_landline = world.lookup(phone=LANDLINE)
    assert by_landline.profile is None and len(by_landline.candidates) == 2
    marie = world.profile(card="K-MARIE")
    assert "erp:C1" not in holdings(marie) and "order:J-1" not in holdings(marie)


def test_a_partner_with_the_household_email_is_told_apart_by_name(world: World) -> None:
    world.customer(**{**JEAN, "email": "famille.martin@x.fr"})  # type: ignore[arg-type]
    world.member("K-MARIE", "Marie Martin", "famille.martin@x.fr", "+33622222222")
    jean = world.profile(phone="06 11 11 11 11")
    assert "card:K-MARIE" not in holdings(jean)
    assert len(world.lookup(email="famille.martin@x.fr").candidates) == 2
    marie = world.profile(card="K-MARIE")
    assert "erp:C1" not in holdings(marie)


def test_one_person_in_two_systems_is_one_profile(world: World) -> None:
    world.customer(**JEAN)  # type: ignore[arg-type]
    world.member("K-JEAN", "Jean Martin", "jean.perso@y.fr", "+33611111111")  # second email
    for given in ({"email": "jean@x.fr"}, {"email": "jean.perso@y.fr"}, {"card": "K-JEAN"},
                  {"phone": "+33 6 11 11 11 11"}):
        profile = world.profile(**given)
        assert {"erp:C1", "card:K-JEAN", "order:J-1"} <= holdings(profile), given
    ids = {world.profile(email=e).customer_id for e in ("jean@x.fr", "jean.perso@y.fr")}
    assert len(ids) == 1


def test_a_switchboard_lists_everyone_behind_it(world: World) -> None:
    for n in range(4):
        world.customer(f"P{n}", f"Employee{n}", "Acme", f"e{n}@acme.fr", f"+3361000000{n}",
                       "+33149000000")
    assert len(world.lookup(phone="01 49 00 00 00").candidates) == 4
    assert world.profile(email="e2@acme.fr").identity.first_name == "Employee2"


def test_two_erp_ids_on_one_card_are_never_merged(world: World) -> None:
    world.customer(**JEAN)  # type: ignore[arg-type]
    world.member("K-1", None, "jean@x.fr", "+33611111111")  # a card with no name on it
    jean = world.profile(email="jean@x.fr")
    assert "card:K-1" in holdings(jean)
    # the card is re-registered by mistake with a second ERP customer's email
    world.customer("C9", "Paul", "Durand", "paul@y.fr", "+33699999999")
    world.loyalty.execute("UPDATE members SET email='paul@y.fr', phone='+33699999999' "
                          "WHERE card='K-1'")
    paul = world.profile(email="paul@y.fr")
    assert paul.customer_id != jean.customer_id and "card:K-1" in holdings(paul)
    assert "erp:C1" not in holdings(paul) and "order:J-1" not in holdings(paul)
    # the card is Paul's now: Jean's link to it is withdrawn, a lookup by it shows Paul
    assert world.profile(card="K-1").customer_id == paul.customer_id
    assert "withdraw" in [e["action"] for e in world.store.audit_trail(jean.customer_id)]


def test_a_corrected_typo_no_longer_names_the_person(world: World) -> None:
    world.customer(**{**JEAN, "email": "jean@gmial.com"})  # type: ignore[arg-type]
    jean = world.profile(email="jean@gmial.com")
    world.erp.execute("UPDATE customers SET email='jean@gmail.com' WHERE id='C1'")
    found = world.lookup(email="jean@gmial.com")
    assert found.profile is None and not found.candidates
    assert world.profile(email="jean@gmail.com").customer_id == jean.customer_id
    actions = [e["action"] for e in world.store.audit_trail(jean.customer_id)]
    assert "withdraw" in actions and "gmial" not in str(world.store.audit_trail())


def test_a_typo_that_is_someone_elses_address_shows_them(world: World) -> None:
    world.customer(**{**JEAN, "email": "marie@x.fr"})  # type: ignore[arg-type]
    jean = world.profile(email="marie@x.fr")
    world.erp.execute("UPDATE customers SET email='jean@x.fr' WHERE id='C1'")
    world.member("K-MARIE", "Marie Martin", "marie@x.fr", "+33622222222")
    marie = world.profile(email="marie@x.fr")
    assert marie.customer_id != jean.customer_id
    assert holdings(marie) == {"loyalty:K-MARIE", "card:K-MARIE", "email:marie@x.fr",
                               "phone:+33622222222"}


def test_a_recycled_mobile_shows_its_new_owner(world: World) -> None:
    world.customer("C1", "Old", "Owner", "old@x.fr", "+33633333333")
    old = world.profile(phone="06 33 33 33 33")
    world.erp.execute("UPDATE customers SET mobile=NULL WHERE id='C1'")
    world.customer("C2", "New", "Owner", "new@x.fr", "+33633333333", orders=("N-1",))
    new = world.profile(phone="06 33 33 33 33")
    assert new.customer_id != old.customer_id and new.identity.first_name == "New"
    assert world.profile(email="old@x.fr").identity.phones == []


def test_an_old_link_is_checked_with_the_sources_before_it_is_trusted(world: World) -> None:
    world.customer(**JEAN)  # type: ignore[arg-type]
    jean = world.profile(email="jean@x.fr")
    by_email = identifiers_from("FR", email="jean@x.fr")
    assert world.resolver.resolve(by_email).customer_id == jean.customer_id
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    with world.store.engine.begin() as connection:
        connection.execute(update(links).values(confirmed_at=long_ago))
    assert world.resolver.resolve(by_email).customer_id is None
    assert world.profile(email="jean@x.fr").customer_id == jean.customer_id  # confirmed again
    assert world.resolver.resolve(by_email).customer_id == jean.customer_id


def test_a_source_listing_several_is_never_dropped_for_another_that_found_one(
        world: World) -> None:
    jean_and_marie(world)
    world.member("K-JEAN", "Jean Martin", "jean@x.fr", LANDLINE)
    found = world.lookup(phone=LANDLINE)
    assert found.profile is None and len(found.candidates) >= 2



def test_a_nameless_card_with_the_household_email_and_another_mobile_stays_apart(
        world: World) -> None:
    world.customer(**{**JEAN, "email": "famille.martin@x.fr"})  # type: ignore[arg-type]
    world.member("K-MARIE", None, "famille.martin@x.fr", "+33622222222")
    assert "card:K-MARIE" not in holdings(world.profile(phone="06 11 11 11 11"))
    assert len(world.lookup(email="famille.martin@x.fr").candidates) == 2


def test_a_nameless_card_sharing_only_an_email_is_shown_not_joined(world: World) -> None:
    world.customer(**{**JEAN, "email": "famille.martin@x.fr"})  # type: ignore[arg-type]
    world.member("K-?", None, "famille.martin@x.fr", LANDLINE)  # whose? nothing says
    found = world.lookup(email="famille.martin@x.fr")
    assert found.profile is None and len(found.candidates) == 2
    assert "card:K-?" not in holdings(world.profile(phone="06 11 11 11 11"))


def test_people_the_store_knows_share_a_number_the_sources_are_still_asked(
        world: World) -> None:
    for n in range(2):
        world.customer(f"P{n}", f"Employee{n}", "Acme", f"e{n}@acme.fr", f"+3361000000{n}",
                       "+33149000000")
    assert len(world.lookup(phone="01 49 00 00 00").candidates) == 2  # the store knows two
    world.customer("P9", "Newcomer", "Acme", "e9@acme.fr", "+33610000009", "+33149000000")
    names = {c.name for c in world.lookup(phone="01 49 00 00 00").candidates}
    assert names == {"Employee0 Acme", "Employee1 Acme", "Newcomer Acme"}


def test_a_warm_lookup_of_a_known_person_writes_nothing(world: World) -> None:
    from sqlalchemy import select

    from connector.store.schema import people

    world.customer(**JEAN)  # type: ignore[arg-type]
    world.profile(email="jean@x.fr")

    def written() -> tuple[list[object], list[object]]:
        with world.store.engine.connect() as connection:
            return (sorted(connection.execute(select(links.c.confirmed_at)).scalars()),
                    list(connection.execute(select(people.c.updated_at)).scalars()))

    before = written()
    world.profile(email="jean@x.fr")
    world.profile(phone="06 11 11 11 11")
    assert written() == before
