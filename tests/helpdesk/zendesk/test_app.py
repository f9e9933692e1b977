"""`connector zendesk-app --out DIR`: the ZAF v2 package of a private server-side app, built
from the manifest and checked against the documented rules before it is written."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml

from connector.helpdesk.png import png, png_problem
from connector.helpdesk.zendesk import adapter as zendesk
from connector.helpdesk.zendesk.app import LOGOS, check_package, package_files
from connector.manifest import load_manifest
from tests.conftest import MANIFEST, connector
from tests.helpdesk.zendesk.fake_zendesk import write_manifest, zendesk_entry

PUBLIC = "https://connector.maison-exemple.example"
FILES = ["assets/logo-small.png", "assets/logo.png", "manifest.json", "translations/en.json",
         "translations/fr.json"]


def run_app(tmp_path: Path, env: dict[str, str], entry: dict[str, object] | None = None,
            public_url: str = PUBLIC) -> subprocess.CompletedProcess[str]:
    manifest = write_manifest(tmp_path, entry or zendesk_entry("https://x.zendesk.com"))
    return connector("zendesk-app", "--manifest", str(manifest), "--out",
                     str(tmp_path / "out"), env={**env, "CONNECTOR_PUBLIC_URL": public_url})


def unzip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_package_builds_from_the_default_manifest_with_a_zendesk_entry(
        tmp_path: Path, env: dict[str, str]) -> None:
    done = run_app(tmp_path, env)
    assert done.returncode == 0, done.stdout + done.stderr
    path = Path(done.stdout.strip())
    assert path.parent == tmp_path / "out" and path.name.startswith("connector-zendesk-")
    files = unzip(path)
    assert sorted(files) == FILES
    app = json.loads(files["manifest.json"])
    sidebar = f"{PUBLIC}/helpdesk/zendesk/sidebar"
    assert app == {
        "name": "Maison Exemple sidebar",
        "author": {"name": "Maison Exemple", "email": "support@maison-exemple.example",
                   "url": PUBLIC},
        "defaultLocale": "fr", "private": True,
        "location": {"support": {"ticket_sidebar": {"url": sidebar, "flexible": True},
                                 "user_sidebar": {"url": sidebar}}},
        "signedUrls": True, "version": app["version"], "frameworkVersion": "2.0",
        "parameters": [{"name": "connector_api_token", "type": "text", "secure": True,
                        "required": False}],
    }
    for locale in ("en", "fr"):
        texts = json.loads(files[f"translations/{locale}.json"])["app"]
        assert texts["name"] == "Maison Exemple sidebar"
        assert texts["short_description"] and texts["installation_instructions"]
        assert texts["parameters"]["connector_api_token"]["label"]
    assert check_package(files) == []


def test_the_package_builds_from_the_default_manifest_as_shipped(tmp_path: Path,
                                                                 env: dict[str, str]) -> None:
    done = connector("zendesk-app", "--manifest", str(MANIFEST), "--out", str(tmp_path),
                     env={**env, "CONNECTOR_PUBLIC_URL": PUBLIC})
    assert done.returncode == 0, done.stdout + done.stderr
    files = unzip(Path(done.stdout.strip()))
    assert sorted(files) == FILES and check_package(files) == []
    location = json.loads(files["manifest.json"])["location"]["support"]["ticket_sidebar"]
    assert location["url"] == f"{PUBLIC}/helpdesk/zendesk/sidebar"


def test_the_logos_are_real_pngs_of_the_documented_sizes(tmp_path: Path,
                                                         env: dict[str, str]) -> None:
    done = run_app(tmp_path, env)
    files = unzip(Path(done.stdout.strip()))
    for name, size in LOGOS.items():
        assert png_problem(files[name], size) is None
        if shutil.which("file"):  # another reader's opinion
            (tmp_path / "logo.png").write_bytes(files[name])
            described = subprocess.run(["file", "-b", str(tmp_path / "logo.png")],
                                       capture_output=True, text=True).stdout
            assert f"PNG image data, {size} x {size}, 8-bit/color RGBA" in described


def test_app_url_and_app_name_override_the_defaults(tmp_path: Path, env: dict[str, str]) -> None:
    entry = zendesk_entry("https://x.zendesk.com", app_url="https://zd.example.com/connector/",
                          app_name="Fiche client", app_author_url="https://example.com/aide")
    done = run_app(tmp_path, env, entry, public_url="http://127.0.0.1:8000")
    assert done.returncode == 0, done.stdout
    app = json.loads(unzip(Path(done.stdout.strip()))["manifest.json"])
    assert app["location"]["support"]["user_sidebar"]["url"] == (
        "https://zd.example.com/connector/helpdesk/zendesk/sidebar")
    assert app["name"] == "Fiche client" and app["author"]["url"] == "https://example.com/aide"


def test_a_location_that_is_not_https_fails_saying_what_to_set(tmp_path: Path,
                                                               env: dict[str, str]) -> None:
    done = run_app(tmp_path, env, public_url="http://127.0.0.1:8000")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines == [
        "manifest.json: location.support.ticket_sidebar.url: must be an absolute https URL, "
        "got 'http://127.0.0.1:8000/helpdesk/zendesk/sidebar' (set CONNECTOR_PUBLIC_URL or "
        "helpdesks.zendesk.app_url to the https address Zendesk reaches this service at)",
        "manifest.json: location.support.user_sidebar.url: must be an absolute https URL, "
        "got 'http://127.0.0.1:8000/helpdesk/zendesk/sidebar' (set CONNECTOR_PUBLIC_URL or "
        "helpdesks.zendesk.app_url to the https address Zendesk reaches this service at)"]
    assert not (tmp_path / "out").exists()


def test_without_a_zendesk_entry_the_defaults_are_used_and_the_missing_author_named(
        tmp_path: Path, env: dict[str, str]) -> None:
    data = yaml.safe_load(MANIFEST.read_text())
    data.get("helpdesks", {}).pop("zendesk", None)
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(yaml.safe_dump(data, allow_unicode=True))
    done = connector("zendesk-app", "--manifest", str(manifest), "--out", str(tmp_path),
                     env={**env, "CONNECTOR_PUBLIC_URL": PUBLIC})
    assert done.returncode == 1
    assert "helpdesks.zendesk is not enabled" in done.stderr
    assert done.stdout.splitlines() == [
        "manifest.json: author.email: missing (set helpdesks.zendesk.app_author_email, the "
        "address agents write to for support)"]


def test_an_out_folder_that_cannot_be_written_is_a_usage_error(tmp_path: Path,
                                                               env: dict[str, str]) -> None:
    (tmp_path / "out").write_text("a file, not a folder")
    done = run_app(tmp_path, env)
    assert done.returncode == 2 and "cannot write" in done.stderr


# --- the checks, on tampered packages --------------------------------------------------------
@pytest.fixture
def files(tmp_path: Path) -> dict[str, bytes]:
    manifest = load_manifest(write_manifest(tmp_path, zendesk_entry("https://x.zendesk.com")),
                             env={})
    config = manifest.helpdesks.adapters["zendesk"]
    assert isinstance(config, zendesk.Config)
    built = package_files(manifest.brand, config, PUBLIC, "1.2.3")
    assert check_package(built) == []
    return built


def edited(files: dict[str, bytes], **changes: object) -> dict[str, bytes]:
    app = json.loads(files["manifest.json"])
    for key, value in changes.items():
        if value is None:
            app.pop(key, None)
        else:
            app[key] = value
    return {**files, "manifest.json": json.dumps(app).encode()}


def test_every_missing_required_key_is_listed(files: dict[str, bytes]) -> None:
    broken = edited(files, author=None, frameworkVersion=None, location=None)
    assert check_package(broken) == [
        "manifest.json: author: missing", "manifest.json: location: missing",
        "manifest.json: frameworkVersion: missing"]


@pytest.mark.parametrize(("changes", "error"), [
    ({"frameworkVersion": "1.0"}, "manifest.json: frameworkVersion: must be '2.0'"),
    ({"private": "yes"}, "manifest.json: private: must be true or false"),
    ({"signedUrls": False}, "manifest.json: signedUrls: must be true"),
    ({"author": {"name": "M", "email": "nobody", "url": PUBLIC}},
     "manifest.json: author.email: not an email address: 'nobody'"),
    ({"author": {"name": "M", "email": "a@b.example"}}, "manifest.json: author.url: missing"),
    ({"location": {"support": {"ticket_sidebar": {"url": "https://a.example/s",
                                                  "flexible": "yes"}}}},
     "manifest.json: location.support.ticket_sidebar.flexible: must be true or false"),
    ({"location": {"support": {"side_panel": {"url": "https://a.example/s"}}}},
     "manifest.json: location.support.side_panel: unknown location"),
    ({"location": {"support": {"ticket_sidebar": {"url": "ftp://a.example/s"}}}},
     "manifest.json: location.support.ticket_sidebar.url: must be an absolute https URL"),
    ({"parameters": [{"name": "token", "type": "secret"}]},
     "manifest.json: parameters.token.type: one of"),
    ({"parameters": [{"name": "t", "type": "text"}, {"name": "t", "type": "text"}]},
     "manifest.json: parameters.t: defined twice"),
    ({"parameters": [{"name": "name", "type": "text"}]},
     "manifest.json: parameters.name: needs a name other than 'name'"),
    ({"parameters": [{"name": "h", "type": "hidden", "required": True}]},
     "manifest.json: parameters.h: a hidden parameter cannot be required"),
    ({"defaultLocale": "de"}, "translations/de.json: missing"),
    ({"defaultLocale": "french"}, "manifest.json: defaultLocale: not a locale: 'french'"),
])
def test_what_zendesk_would_refuse_is_named(files: dict[str, bytes], changes: dict[str, object],
                                            error: str) -> None:
    errors = check_package(edited(files, **changes))
    assert any(e.startswith(error) for e in errors), errors


def test_a_localhost_location_is_allowed_as_zendesk_allows_it(files: dict[str, bytes]) -> None:
    local = {"support": {"ticket_sidebar": {"url": "http://localhost:4567/sidebar"}}}
    assert check_package(edited(files, location=local)) == []


def test_translations_and_logos_are_checked(files: dict[str, bytes]) -> None:
    broken = dict(files)
    broken["translations/fr.json"] = b'{"app": {}}'
    broken["translations/xx_YY.json"] = b"{}"
    broken["assets/logo.png"] = png(100, lambda x, y: (0, 0, 0, 255))
    small = bytearray(files["assets/logo-small.png"])
    small[60] ^= 0xFF  # one byte damaged inside the image data
    broken["assets/logo-small.png"] = bytes(small)
    assert check_package(broken) == [
        "translations/fr.json: app.name: missing",
        "translations/xx_YY.json: not translations/<locale>.json",
        "assets/logo.png: must be 320x320 pixels, is 100x100",
        "assets/logo-small.png: a damaged IDAT chunk"]
    del broken["manifest.json"]
    assert check_package(broken) == ["manifest.json: missing at the root of the package"]


def test_a_public_app_needs_every_listing_text(files: dict[str, bytes]) -> None:
    public = edited(files, private=False)
    public["translations/en.json"] = json.dumps({"app": {"name": "X"}}).encode()
    assert ("translations/en.json: app.short_description, app.long_description, "
            "app.installation_instructions: missing") in check_package(public)


def test_png_problem_reads_what_it_checks() -> None:
    assert png_problem(None, 10) == "missing"
    assert png_problem(b"GIF89a", 10) == "not a PNG file"
    assert png_problem(png(10, lambda x, y: (255, 0, 0, 255)), 10) is None
    stream = io.BytesIO(png(12, lambda x, y: (0, 0, 0, 0)))
    assert png_problem(stream.getvalue(), 10) == "must be 10x10 pixels, is 12x12"
