"""What a warm sidebar asks of the database: the record's parts we keep ourselves (requests,
notes, segments, tier) are read on one pooled connection, the link store's first read on
another, the recent changes on a third, whatever the number of statements
(`connector.store.engine.shared_reads`). The service wired in this process on the default
manifest and the demo back office, a real SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event

from connector.web import create_app
from tests.conftest import MANIFEST, Backoffice, service_env
from tests.helpdesk.scouts import in_process


def test_a_warm_sidebar_borrows_three_connections_for_its_reads(
        demo_data: Path, backoffice: Backoffice, tmp_path: Path) -> None:
    services = in_process(MANIFEST, service_env(demo_data, backoffice.url, tmp_path), tmp_path)
    services.pages.max_bytes = 0  # the page made each time (kept pages: tests/web/test_kept_pages)
    lent, ran = [0], [0]

    def borrowed(*_args: Any) -> None:
        lent[0] += 1

    def statement(*_args: Any) -> None:
        ran[0] += 1

    engine = services.assembler.resolver.store.engine
    try:
        web = create_app(services.settings, services).test_client()
        page = services.embed.url("", services.embed.token(email="pauline.deneve@easiware.fr"))
        assert web.get(page).status_code == 200  # cold: the sources asked, the links learnt
        assert web.get(page).status_code == 200  # settled
        event.listen(engine.pool, "checkout", borrowed)
        event.listen(engine, "before_cursor_execute", statement)
        answer = web.get(page)
    finally:
        services.close()
    assert answer.status_code == 200 and "Pauline" in answer.text
    assert ran[0] >= 6  # owners and around them, requests, notes, segments, tier, changes
    assert lent[0] == 3, (lent, ran)
    assert engine.pool.checkedout() == 0
