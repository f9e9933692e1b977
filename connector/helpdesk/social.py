"""Social handles as helpdesks give them: a (network, name) pair, `network:name`, or the address
of a profile (`https://twitter.com/Claire_Deco67`), each read as our `network:name`."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from connector.identifiers import normalise

RawHandle = str | tuple[str | None, str | None] | None
# the sites whose profile addresses name the person's handle, by network
PROFILE_SITES: dict[str, tuple[str, ...]] = {
    "twitter": ("twitter.com", "x.com"),
    "facebook": ("facebook.com", "fb.com"),
    "instagram": ("instagram.com",),
    "linkedin": ("linkedin.com",),
    "github": ("github.com",),
    "tiktok": ("tiktok.com",),
}
PROFILE_PREFIXES = frozenset({"in", "pub"})  # `linkedin.com/in/<name>`


def social_handle(raw: RawHandle, region: str = "") -> str | None:
    """`network:name` of a raw handle; None when unusable or when it names no network (a bare
    `@claire` could be anyone's, on any network)."""
    if isinstance(raw, tuple):
        network, name = raw
        if not (isinstance(network, str) and isinstance(name, str)):
            return None
        network = network.strip().lower()
        name = profile_name(network, name)
        text = f"{network}:{name}" if name else ""
    else:
        text = raw if isinstance(raw, str) else ""
    handle = normalise("handle", text, region) if text.strip() else None
    return handle if handle and ":" in handle else None


def profile_name(network: str, value: str) -> str | None:
    """The handle a profile's address names (`https://www.linkedin.com/in/claire-deco/` →
    `claire-deco`, `facebook.com/profile.php?id=100004` → `100004`), a value that is no
    address as it is; None for another site's address or one that names no single profile."""
    text = value.strip()
    if "/" not in text:
        return text
    parts = urlsplit(text if "//" in text else "//" + text)
    host = (parts.hostname or "").lower()
    if not any(host == site or host.endswith("." + site)
               for site in PROFILE_SITES.get(network, ())):
        return None
    path = [part for part in parts.path.split("/") if part]
    if path[:1] and path[0].lower() in PROFILE_PREFIXES:
        path = path[1:]
    if [part.lower() for part in path] == ["profile.php"]:
        path = parse_qs(parts.query).get("id", [])[:1]
    return path[0] if len(path) == 1 else None
