"""A contact's external id (the brand's own customer number) read leniently as (source, id),
and `external_id_source` refused at load for the helpdesks whose contacts have no such field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from connector.helpdesk import adapter_modules
from connector.helpdesk.base import EXTERNAL_ID_MAX, external_id, lenient_identifiers
from connector.identifiers import Identifiers
from connector.manifest import ManifestError, load_manifest
from tests.conftest import MANIFEST


def test_lenient_identifiers_takes_externals_beside_the_rest() -> None:
    ids = lenient_identifiers("FR", emails=["Pauline.Deneve@Easiware.fr"],
                              externals=[("erp", " C100997 "), ("erp", "C100997"),
                                         ("erp", 100997), ("pos", "T-12"), (None, "C1"),
                                         ("erp", ""), ("erp", None), ("erp", True),
                                         ("erp", "x" * (EXTERNAL_ID_MAX + 1)),
                                         ("erp", "{{ticket.requester.external_id}}")])
    assert ids == Identifiers(emails=("pauline.deneve@easiware.fr",),
                              externals=(("erp", "C100997"), ("erp", "100997"), ("pos", "T-12")))
    assert external_id("erp", "x" * EXTERNAL_ID_MAX) == ("erp", "x" * EXTERNAL_ID_MAX)
    assert lenient_identifiers("FR", externals=[(None, "C100997")]) == Identifiers()


def test_the_helpdesks_that_keep_an_external_id_name_its_field() -> None:
    fields = {kind: module.Config.external_id_field for kind, module in adapter_modules().items()}
    assert fields == {"chatwoot": "identifier", "django_helpdesk": None, "freescout": None,
                      "freshdesk": "unique_external_id", "helpscout": None,
                      "zendesk": "external_id"}


@pytest.mark.parametrize("kind", ["helpscout", "freescout", "django_helpdesk"])
def test_a_helpdesk_without_an_external_id_field_refuses_the_setting(tmp_path: Path,
                                                                     kind: str) -> None:
    data = yaml.safe_load(MANIFEST.read_text())
    data["helpdesks"] = {kind: {"external_id_source": "erp"}}
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    with pytest.raises(ManifestError) as refused:
        load_manifest(path, env={})
    assert refused.value.errors == [f"helpdesks.{kind}.external_id_source: this helpdesk's "
                                    "contacts have no external id field to read"]
