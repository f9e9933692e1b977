"""The schema's versioned migrations (Alembic): `env.py`, run by `store.migrate` on the
connection it gives (no alembic.ini), and `versions/`, one file per revision, the first of
which (`0001`) creates the baseline schema (`store.baseline`). A change to `store.schema` comes
with a new revision here; `tests/store/test_migrations.py` fails while the two disagree."""
