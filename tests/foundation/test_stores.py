"""The operational database: schema created once per process, never on a request."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect

from servicelens.settings import Settings
from servicelens.stores import Base, init_db


def _statements(engine: Any) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    return seen


def test_schema_is_created_once_per_process(sl_env: Settings) -> None:
    engine = init_db(sl_env.db_url)
    assert set(inspect(engine).get_table_names()) == set(Base.metadata.tables)
    seen = _statements(engine)
    for _ in range(3):  # what a request path would do: only the cached engine comes back
        assert init_db(sl_env.db_url) is engine
    assert seen == []


def test_service_requests_send_no_ddl(sl_env: Settings) -> None:
    """After start-up, a service's engine is a cache look-up: no statement reaches the database."""
    from services.base import ServiceBase

    class _Svc(ServiceBase):
        name = "toy"

    svc = _Svc()
    try:
        seen = _statements(svc.engine)
        for _ in range(3):
            assert svc.engine is init_db(sl_env.db_url)
        assert not [s for s in seen if "CREATE" in s.upper() or "PRAGMA" in s.upper()]
    finally:
        svc.log.close()
