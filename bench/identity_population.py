"""A seeded retailer population with identity stress cases, and who owns what (ground truth)."""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass, field, replace
from functools import cache

import idna
import phonenumbers
from faker import Faker

LOCALES = {"fr_FR": "FR", "fr_BE": "BE", "en_GB": "GB", "de_DE": "DE"}
WEIGHTS = (55, 15, 15, 15)
DOMAINS = {"FR": ("orange.fr", "free.fr", "gmail.com", "laposte.net", "sfr.fr", "wanadoo.fr"),
           "BE": ("skynet.be", "telenet.be", "gmail.com", "proximus.be"),
           "GB": ("btinternet.com", "gmail.com", "yahoo.co.uk", "outlook.com"),
           "DE": ("web.de", "gmx.de", "t-online.de", "gmail.com")}
ESZETT_DOMAINS = ("straße.de", "fußball-verein.de", "groß-gerau.de", "weißbier.de")
IDN_DOMAINS = ("café-lumière.fr", "müller-bau.de", "élysée-mode.fr")
HOUSEHOLD = {"FR": "famille.{}", "BE": "famille.{}", "GB": "the.{}s", "DE": "familie.{}"}
ZERO_WIDTH = "\u200b"
NAMES = (  # (pattern, locale, first name, last name, searches); empty names come from Faker
    ("accent", "fr_FR", "", "Denève", ("DENEVE {first}",)),
    ("particle", "fr_FR", "", "Le Gall", ("legall", "legall {first}")),
    ("hyphen", "fr_FR", "Jean-Pierre", "", ("Jean Pierre {last}",)),
    ("apostrophe", "en_GB", "", "O’Brien", ("OBrien", "O'Brien {first}")),
    ("umlaut", "de_DE", "", "Müller", ("Mueller {first}",)),
    ("ø", "de_DE", "Søren", "Nielsen", ("NIELSEN Soren",)),
    ("æ", "en_GB", "Æsa", "", ("{LAST} Aesa",)),
    ("œ", "fr_FR", "", "Œillet", ("OEILLET {first}",)),
    ("ł", "de_DE", "Łukasz", "", ("Lukasz {last}",)),
    ("ı", "de_DE", "", "Yıldız", ("YILDIZ {first}",)),
)
FOLD = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O",
                      "ł": "l", "Ł": "L", "ı": "i", "’": "", "'": ""})


def ascii_word(text: str) -> str:
    """Lower-case ASCII letters and digits only (for email local parts and domains)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(FOLD))
    return re.sub(r"[^a-z0-9]", "", decomposed.encode("ascii", "ignore").decode().lower())


def fold(text: str) -> str:
    """A name folded to compare it with what the service shows (accents, case, spaces)."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text)
                    if not unicodedata.combining(c))
    return " ".join(plain.casefold().split())


@cache
def clean_email(raw: str) -> str:
    """Ground truth: the address a badly written email means (IDNA 2008 domain)."""
    text = raw.replace(ZERO_WIDTH, "").strip()
    text = text[text.index("<") + 1:text.index(">")] if "<" in text else text
    text = re.sub(r"^mailto:", "", text.strip(), flags=re.IGNORECASE).rstrip(".,; ")
    local, _, domain = text.lower().rpartition("@")
    return f"{local}@{idna.encode(domain, uts46=True).decode()}"


@cache
def e164(raw: str, country: str) -> str | None:
    """Ground truth: a number written in a record of that country, in E.164 (None: invalid)."""
    try:
        number = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        return None
    valid = phonenumbers.is_valid_number(number)
    return phonenumbers.format_number(number, 0) if valid else None  # 0: E164


def written(number: str, style: str) -> str:
    """An E.164 number written the way people do: national, dotted, `+33 (0)6…`, `0033…`."""
    parsed = phonenumbers.parse(number)
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    intl = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    code, _, rest = intl.partition(" ")
    digits = re.sub(r"\D", "", national)
    slash = f"{digits[:4]}/{digits[4:6]}.{digits[6:8]}.{digits[8:]}"  # Belgian: 0486/95.30.33
    return {"e164": number, "intl": intl, "national": national, "slash": slash,
            "dotted": national.replace(" ", "."), "trunk": f"{code} (0){rest}",
            "00": "00" + intl[1:]}[style]


@dataclass
class Person:
    """One real customer (pid = index in Population.people)."""

    pid: int
    case: str
    first: str
    last: str
    country: str
    street: str
    zip: str
    city: str
    birth: str
    searches: list[tuple[str, str]] = field(default_factory=list)  # (pattern, query)


@dataclass(frozen=True)
class ErpRow:
    """A customers row of the ERP, identifiers as written there."""

    id: str
    pid: int
    email: str | None
    mobile: str | None
    phone: str | None


@dataclass(frozen=True)
class Probe:
    """An identifier to look up, as typed, in phase 1 or 2; `old`: who must not be shown."""

    case: str
    kind: str
    value: str
    forms: tuple[str, ...]
    phase: int = 1
    old: int | None = None


Member = tuple[str, int, str | None, str | None, int, str]  # card, pid, email, phone, points, tier
Ticket = tuple[str, int, str, str, str, str, str, str]  # no, pid, date, store, total, email…


@dataclass
class Population:
    """The people, what each source holds before (phase 1) and after (2) the ERP changes."""

    people: list[Person] = field(default_factory=list)
    erp: list[ErpRow] = field(default_factory=list)
    changes: list[ErpRow] = field(default_factory=list)
    orders: list[tuple[str, str, str, str]] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    truth: dict[int, dict[tuple[str, str], frozenset[int]]] = field(default_factory=dict)

    def erp_rows(self, phase: int) -> list[ErpRow]:
        """The ERP's customers in a phase."""
        rows = {row.id: row for row in self.erp}
        rows.update({row.id: row for row in self.changes} if phase == 2 else {})
        return list(rows.values())

    def owners(self, phase: int) -> dict[tuple[str, str], frozenset[int]]:
        """Ground truth: which real people's records carry each identifier in that phase."""
        if phase in self.truth:
            return self.truth[phase]
        found: list[tuple[str, str | None, int]] = []
        for row in self.erp_rows(phase):
            country, pid = self.people[row.pid].country, row.pid
            found += [("erp", row.id, pid), ("email", row.email and clean_email(row.email), pid),
                      *(("phone", raw and e164(raw, country), pid) for raw in (row.mobile,
                                                                               row.phone))]
        for card, pid, email, phone, _points, _tier in self.members:
            found += [("loyalty", card, pid), ("card", card, pid), ("email", email, pid),
                      ("phone", phone, pid)]
        for number, pid, _date, _store, _total, email, phone, card in self.tickets:
            found += [("ticket", number, pid), ("email", clean_email(email), pid),
                      ("phone", phone, pid), ("card", card, pid)]
        erp_owner = {row.id: row.pid for row in self.erp_rows(2)}
        found += [("order", no, erp_owner[erp_id]) for no, erp_id, _day, _total in self.orders]
        truth: dict[tuple[str, str], set[int]] = {}
        for kind, value, pid in (f for f in found if f[1]):
            truth.setdefault((kind, str(value)), set()).add(pid)
        self.truth[phase] = {key: frozenset(pids) for key, pids in truth.items()}
        return self.truth[phase]


class Builder:
    """Makes the population, one case at a time, from one seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fakers = {loc: Faker(loc) for loc in LOCALES}
        for n, faker in enumerate(self.fakers.values()):
            faker.seed_instance(seed * 10 + n)
        self.pop = Population()
        self.taken: set[str] = set()
        self.asked: set[tuple[str, str, str, int, int | None]] = set()

    def locale(self, country: str = "") -> str:
        """A locale, by the customer base's weights, or the one of a country."""
        return {c: loc for loc, c in LOCALES.items()}.get(country) or self.rng.choices(
            list(LOCALES), WEIGHTS)[0]

    def person(self, case: str, locale: str | None = None, first: str = "", last: str = "",
               home: Person | None = None) -> Person:
        """A new person; `home` shares an address and a surname."""
        locale = locale or (self.locale(home.country) if home else self.locale())
        fake = self.fakers[locale]
        first, last = first or fake.first_name(), last or (home.last if home else fake.last_name())
        where = ((home.street, home.zip, home.city) if home else
                 (fake.street_address().replace("\n", ", "), fake.postcode(), fake.city()))
        birth = fake.date_of_birth(minimum_age=18, maximum_age=85).isoformat()
        self.pop.people.append(Person(len(self.pop.people), case, first, last, LOCALES[locale],
                                      *where, birth))
        return self.pop.people[-1]

    def number(self, country: str, landline: bool = False, start: str = "") -> str:
        """A valid, unused E.164 number of that country (mobile or landline)."""
        heads = {("FR", False): ("+336", "+337"), ("FR", True): ("+331", "+332", "+334", "+335"),
                 ("BE", False): ("+3247", "+3248", "+3249"), ("BE", True): ("+322",),
                 ("GB", False): ("+4477", "+4478", "+4479"), ("GB", True): ("+4420",),
                 ("DE", False): ("+49151",), ("DE", True): ("+4969",)}
        size = {"FR": (12, 12), "BE": (12, 11), "GB": (13, 13), "DE": (14, 12)}[country][landline]
        for _ in range(10_000):
            head = start or self.rng.choice(heads[country, landline])
            candidate = head + "".join(self.rng.choices("0123456789", k=size - len(head)))
            if candidate not in self.taken and e164(candidate, country) == candidate:
                self.taken.add(candidate)
                return candidate
        raise RuntimeError(f"no free {country} number")

    def email(self, p: Person, domain: str = "", local: str = "") -> str:
        """A new, unused address for p."""
        f, last = ascii_word(p.first), ascii_word(p.last)
        local = local or self.rng.choice([f"{f}.{last}", f"{f[0]}{last}", f"{f}_{last}",
                                          f"{last}.{f}", f"{f}.{last}{self.rng.randint(1, 99)}"])
        address, domain, n = "", domain or self.rng.choice(DOMAINS[p.country]), 1
        while not address or clean_email(address) in self.taken:
            address, n = f"{local}{n if n > 1 else ''}@{domain}", n + 1
        self.taken.add(clean_email(address))
        return address

    def erp(self, p: Person, email: str | None, mobile: str | None, phone: str | None,
            later: bool = False) -> ErpRow:
        """An ERP row, with 0-3 orders (`later`: only in phase 2, no orders)."""
        row = ErpRow(f"C{len(self.pop.erp) + len(self.pop.changes) + 1:06d}", p.pid, email,
                     mobile, phone)
        (self.pop.changes if later else self.pop.erp).append(row)
        for _ in range(0 if later else self.rng.randint(0, 3)):
            day = f"{self.rng.randint(2022, 2025)}-{self.rng.randint(1, 12):02d}-" \
                  f"{self.rng.randint(1, 28):02d}"
            self.pop.orders.append((f"CMD{len(self.pop.orders) + 1:07d}", row.id, day,
                                    f"{self.rng.randint(10, 900)}.90"))
        return row

    def customer(self, p: Person, phone: str | None = None, email: str = "",
                 mobile: str = "") -> tuple[str, str]:
        """p in the ERP with an email and a mobile (new unless given) and that landline;
        both looked up; (email, mobile)."""
        email, mobile = email or self.email(p), mobile or self.number(p.country)
        self.erp(p, email, self.written(mobile), self.written(phone))
        self.probe(p.case, "email", clean_email(email))
        self.probe(p.case, "phone", mobile)
        return email, mobile

    def card(self, p: Person, email: str | None, phone: str | None) -> str:
        """A loyalty card held by p, registered with that email and phone."""
        card = ""
        while not card or card in self.taken:
            card = f"29{self.rng.randrange(10**9):09d}"
        self.taken.add(card)
        tier = self.rng.choice(["Bronze", "Argent", "Or"])
        self.pop.members.append((card, p.pid, email, phone, self.rng.randint(0, 5000), tier))
        return card

    def ticket(self, p: Person, email: str, phone: str, card: str = "") -> None:
        """A store receipt carrying p's email (as written at the till), mobile and card."""
        day = f"{self.rng.randint(1, 28):02d}/{self.rng.randint(1, 12):02d}/2025"
        store = self.rng.choice(["Lille", "Lyon", "Bruxelles", "Paris Rivoli", "Cologne"])
        total = f"{self.rng.randint(5, 300)},{self.rng.randint(0, 99):02d}"
        self.pop.tickets.append((f"T{len(self.pop.tickets) + 1:07d}", p.pid, day, store, total,
                                 email, phone, card))

    def probe(self, case: str, kind: str, value: str | None, phase: int = 1,
              old: int | None = None, forms: tuple[str, ...] = ()) -> None:
        """Look `value` up (nothing when None, or when already planned) in a few forms."""
        if not value or (case, kind, value, phase, old) in self.asked:
            return
        self.asked.add((case, kind, value, phase, old))
        if not forms and kind == "email":
            forms = (value, value.upper())
        elif not forms and kind == "phone":
            others = ("national", "dotted", "trunk", "00") if value.startswith("+33") else (
                "intl", "trunk", "00")
            forms = (value, written(value, self.rng.choice(others)))
        elif not forms:
            forms = (self.rng.choice([value, f"{value[:4]} {value[4:8]} {value[8:]}"]),)
        self.pop.probes.append(Probe(case, kind, value, forms, phase, old))

    def written(self, number: str | None) -> str | None:
        """How the ERP writes a number: French ones in any usual way, others internationally."""
        if number is None:
            return None
        french = number.startswith("+33")
        return written(number, self.rng.choice(
            ("national", "national", "dotted", "intl") if french else ("intl",)))


def ordinary(b: Builder, n: int) -> None:
    """A single person: own email and mobile, sometimes a landline, a card, store receipts."""
    p = b.person("-")
    line = b.number(p.country, landline=True) if b.rng.random() < 0.3 else None
    email, mobile = b.customer(p, line)
    card = b.card(p, email, mobile) if b.rng.random() < 0.5 else ""
    if b.rng.random() < 0.2:
        b.ticket(p, email, mobile, card)
    b.probe("-", "phone", line)
    b.probe("-", "card", card)


def household(b: Builder, case: str, email_too: bool = False) -> tuple[Person, Person, str, str]:
    """Two people at one address, their landline and (when asked) a household email."""
    a = b.person(case)
    shared = b.email(a, local=HOUSEHOLD[a.country].format(ascii_word(a.last))) if email_too else ""
    return a, b.person(case, home=a), b.number(a.country, landline=True), shared


def couple_landline(b: Builder, n: int, case: str = "a") -> None:
    """(a) Both in the ERP with own email and mobile and the household landline; some cards."""
    a, partner, line, _ = household(b, case)
    for p in (a, partner):
        email, mobile = b.customer(p, line)
        if case == "a" and b.rng.random() < 0.5:
            b.probe(case, "card", b.card(p, email, mobile))
        elif case == "e" and p is a:  # (e) the card is registered with the landline
            b.probe(case, "card", b.card(a, email if n % 2 else None, line))
    b.probe(case, "phone", line)


def card_on_landline(b: Builder, n: int) -> None:
    """(e) As (a), one spouse's loyalty card registered with the landline."""
    couple_landline(b, n, "e")


def couple_email(b: Builder, n: int) -> None:
    """(b) Both in the ERP under one household email (different ERP ids), own mobiles."""
    a, partner, _, shared = household(b, "b", email_too=True)
    for p in (a, partner):
        b.customer(p, email=shared)


def partner_in_loyalty(b: Builder, n: int) -> None:
    """(c) A in the ERP; partner B only in loyalty, card on the landline and/or household email."""
    a, partner, line, shared = household(b, "c", email_too=True)
    on_line, on_email = n % 3 != 1, n % 3 != 0
    b.customer(a, line, email=shared if on_email else "")
    b_email = shared if on_email else b.email(partner)
    b_phone = line if on_line else b.number(partner.country)
    b.probe("c", "card", b.card(partner, b_email, b_phone))
    b.probe("c", "phone", line)
    b.probe("c", "email", None if on_email else b_email)
    b.probe("c", "phone", None if on_line else b_phone)


def switchboard(b: Builder, n: int) -> None:
    """(d) 3-6 employees of a company, each ERP record with the switchboard number."""
    locale = b.locale()
    country = LOCALES[locale]
    name = ascii_word(b.fakers[locale].company())[:20] or "societe"
    domain = f"{name}{n}.{'co.uk' if country == 'GB' else country.lower()}"
    line = b.number(country, landline=True)
    for _ in range(b.rng.randint(3, 6)):
        p = b.person("d", locale)
        b.customer(p, line, email=b.email(p, domain=domain))
    b.probe("d", "phone", line)


def second_email(b: Builder, n: int) -> None:
    """(f) Email 1 in the ERP, email 2 on the loyalty card."""
    p = b.person("f")
    first, mobile = b.customer(p)
    other = b.email(p, domain=b.rng.choice([d for d in DOMAINS[p.country]
                                            if not first.endswith(d)]))
    b.probe("f", "email", other)
    b.probe("f", "card", b.card(p, other, mobile))


def typo(b: Builder, n: int) -> None:
    """(g) The ERP holds a typo, corrected in phase 2; half the typos are Q's real address."""
    p = b.person("g")
    domain = b.rng.choice(DOMAINS[p.country])
    right = b.email(p, domain=domain, local=f"{ascii_word(p.first)}.{ascii_word(p.last)}")
    local, mobile = right.partition("@")[0], b.number(p.country)
    label, _, rest = domain.partition(".")  # mistyped: gmail → gmial, or sfr → sfrr
    swap = len(label) > 3 and label[2] != label[3]
    label = label[:2] + label[3] + label[2] + label[4:] if swap else label + label[-1]
    wrong = f"{local}@{label}.{rest}"
    if n % 2 == 0:  # a slip of the finger that is somebody else's real address
        cut = len(local) - 1 - b.rng.randrange(3)
        slip = local[:cut] + b.rng.choice("dtnmes".replace(local[cut], "")) + local[cut + 1:]
        q = b.person("g", b.locale(p.country), p.first, slip.rpartition(".")[2].title())
        wrong, q_mobile = b.email(q, domain=domain, local=slip), b.number(q.country)
        card = b.card(q, wrong, q_mobile)
        b.probe("g", "card", card)
        b.probe("g", "card", card, 2)
        b.probe("g", "phone", q_mobile)
    b.pop.changes.append(replace(b.erp(p, wrong, b.written(mobile), None), email=right))
    b.probe("g", "email", wrong)
    b.probe("g", "phone", mobile)
    b.probe("g", "email", right, 2)
    b.probe("g", "email", wrong, 2, old=p.pid)
    b.probe("g", "phone", mobile, 2)


def recycled(b: Builder, n: int) -> None:
    """(h) X's mobile is taken from X (new number or none) and given to new customer Y."""
    x = b.person("h")
    x_email, number = b.customer(x)
    new = b.number(x.country) if n % 2 else None
    b.pop.changes.append(replace(b.pop.erp[-1], mobile=b.written(new)))
    y = b.person("h", b.locale(x.country))
    y_email = b.email(y)
    b.erp(y, y_email, b.written(number), None, later=True)
    b.probe("h", "phone", number, 2, old=x.pid, forms=(number, written(number, "00")))
    for kind, value in (("email", y_email), ("email", x_email), ("phone", new)):
        b.probe("h", kind, value, 2)


def national_numbers(b: Builder, n: int) -> None:
    """(i) BE mobiles and DE (Frankfurt) numbers written nationally with the country; half
    have a French number (what the national form means in France) owned by someone else."""
    country = "BE" if n % 2 == 0 else "DE"
    p, misread, own, raw = b.person("i", b.locale(country)), None, "", ""
    while not misread or misread in b.taken:
        own = (b.number("BE") if country == "BE" else
               b.number("DE", landline=True, start="+4969" + b.rng.choice("589")))
        raw = written(own, "slash" if country == "BE" else "national")
        misread = e164(raw, "FR")
    b.taken.add(misread)
    mobile = b.number("DE") if country == "DE" else None
    email = b.email(p)
    b.erp(p, email, raw if country == "BE" else written(mobile or "", "national"),
          raw if country == "DE" else None)
    b.probe("i", "email", email)
    for number in (x for x in (own, mobile) if x):
        b.probe("i", "phone", number, forms=(number, written(number, "intl"),
                                             written(number, "00")))
    if n % 4 in (0, 1):  # the French owner of the misread number
        as_mobile = misread.startswith(("+336", "+337"))
        b.customer(b.person("i", "fr_FR"), None if as_mobile else misread,
                   mobile=misread if as_mobile else "")
        b.probe("i", "phone", misread)


def bad_email(b: Builder, n: int) -> None:
    """(j) The ERP and the till write the email badly; IDN domains (ß: IDNA 2008 keeps it)."""
    p, style = b.person("j"), n % 7
    idn = (ESZETT_DOMAINS if style == 5 else IDN_DOMAINS)[n // 7 % 3] if style >= 5 else ""
    address, mobile = b.email(p, domain=idn), b.number(p.country)
    raw = [f"mailto:{address}", f"{p.first} {p.last} <{address}>",
           address + b.rng.choice(".,;"), address.replace("@", ZERO_WIDTH + "@"),
           address.upper(), address, address.title()][style]
    b.erp(p, raw, b.written(mobile), None)
    b.ticket(p, raw, mobile)
    clean = clean_email(address)
    b.probe("j", "email", clean, forms=(address, clean, clean.upper()) if idn else ())
    b.probe("j", "phone", mobile)
    if style == 5 and n % 2:  # what IDNA 2003 makes of it is another real address
        twin = b.person("j", "de_DE")
        local, _, domain = address.partition("@")
        b.customer(twin, email=b.email(twin, domain=domain.replace("ß", "ss"), local=local))


def names(b: Builder, n: int) -> None:
    """(k) Names with accents, particles, hyphens, apostrophes and letters NFKD cannot fold."""
    pattern, locale, first, last, queries = NAMES[n % len(NAMES)]
    p = b.person("k", locale, first, last)
    p.searches = [(pattern, q.format(first=p.first, last=p.last, LAST=p.last.upper()))
                  for q in queries]
    b.customer(p)


STRESS = (couple_landline, couple_email, partner_in_loyalty, switchboard, card_on_landline,
          second_email, typo, recycled, national_numbers, bad_email, names)


def build(people: int, seed: int) -> Population:
    """`people` customers; each stress case people/80 times (at least 30 from 2400 people)."""
    b = Builder(seed)
    each = max(30 if people >= 2400 else 1, round(people / 80))
    for make in STRESS:
        for n in range(each):
            make(b, n)
    if len(b.pop.people) > people:
        raise ValueError(f"the stress cases alone need {len(b.pop.people)} people")
    for n in range(people - len(b.pop.people)):
        ordinary(b, n)
    return b.pop
