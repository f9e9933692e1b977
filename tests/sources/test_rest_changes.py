"""A rest source's change feeds (`changes:`) are checked at load, every error with its path,
and the shipped manifest declares the reviews and loyalty feeds the demo's jobs read."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from connector.manifest import ManifestError, load_manifest
from tests.conftest import MANIFEST

SOURCE = """\
version: 1
sources:
  feedback:
    type: rest
    base_url: http://127.0.0.1:1/feedback/api
    requests:
      - {{name: reviews, path: /reviews, params: {{email: "{{email}}"}}}}
    sections:
      surveys: {{items: reviews, fields: {{score: score}}}}
    changes:
      reviews:
{feed}
"""


def errors(folder: Path, feed: str) -> list[str]:
    path = folder / "manifest.yaml"
    path.write_text(SOURCE.format(feed=feed), encoding="utf-8")
    with pytest.raises(ManifestError) as refused:
        load_manifest(path)
    return refused.value.errors


def test_each_wrong_key_of_a_feed_is_named_with_its_path(tmp_path: Path) -> None:
    assert errors(tmp_path, """\
        request: {name: page, path: /changes, params: {since: "{since}"}}
        cursor: {answer: cursor, last_item: url}
        key: "url["
        customer: {mail: email}""") == [
        "sources.feedback.changes.reviews.cursor: give exactly one of answer (over the whole "
        "answer) or last_item (over the last item)",
        'sources.feedback.changes.reviews.key: invalid jmespath expression: Incomplete '
        'expression:\n"url["\n     ^',
        "sources.feedback.changes.reviews.customer.mail: input should be 'email', 'phone', "
        "'card' or 'id'",
    ]


def test_a_feed_must_take_its_cursor_and_page_by_it_alone(tmp_path: Path) -> None:
    assert errors(tmp_path, """\
        request: {name: page, path: /changes}
        cursor: {answer: cursor}
        key: url
        customer: {email: email}""") == [
        "sources.feedback.changes.reviews.request: must use {since} (in its path, params or "
        "body): the cursor the job keeps"]
    assert errors(tmp_path, """\
        request: {name: page, path: /changes, params: {since: "{since}"}, paginate: {type: page}}
        cursor: {answer: cursor}
        key: url
        customer: {email: email}""") == [
        "sources.feedback.changes.reviews.request: a feed pages by its cursor alone: remove "
        "paginate"]


def test_a_feed_without_fields_needs_the_section_of_its_name(tmp_path: Path) -> None:
    assert errors(tmp_path, """\
        request: {name: page, path: /changes, params: {since: "{since}"}}
        cursor: {answer: cursor}
        key: url
        customer: {email: email}""") == [
        "sources.feedback: changes.reviews: give its fields, or a `reviews` section whose "
        "mapping its items take"]


def test_the_shipped_manifest_declares_its_feeds() -> None:
    sources = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))["sources"]
    assert set(sources["feedback"]["changes"]) == {"reviews", "surveys"}
    assert set(sources["erp"]["changes"]) == {"loyalty"}
    manifest = load_manifest(MANIFEST, env={"DEMO_BACKOFFICE_URL": "http://x"})
    assert manifest.jobs.refresh_reviews.describe() == "every 15m"
    assert manifest.jobs.refresh_loyalty.describe() == "every 1h"
