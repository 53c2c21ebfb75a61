"""The accept path's small lookups, each one SQL statement written out (bench/load.py).

``POST /api/v1/documents/generate`` runs about ten statements. Through the ORM each costs about
a millisecond of Python on a small machine (building the filter and compiling it), against a
tenth of that for the statement itself, which made an acceptance cost 2.4 times a one-page list
request (bench/load.py measures it against that list, target at most 2x). The lookups here are
the ones whose shape never changes: table and column names come from the models' ``_meta``, every
value is a parameter prepared by its field, and every statement that reads an organization's rows
names the organization in its ``WHERE`` (CONVENTIONS: every query is scoped to the caller's
organization). Inserts stay with the ORM (defaults, signals, the audit helper).

Portable: PostgreSQL and SQLite (where ``lock_organization`` has nothing to do: every SQLite
transaction of Folio's begins IMMEDIATE, holding the database's write lock).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Model

from documents.models import (
    DocumentSet,
    GeneratedDocument,
    OutlineSnapshot,
    SourceFile,
    SourceFileVersion,
)
from portal.models import Organization


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _column(model: type[Model], field: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(field).column)


def _param(model: type[Model], field: str, value: Any) -> Any:
    """``value`` as the database expects it for ``model.field`` (a UUID is 32 hex on SQLite)."""
    target = model._meta.get_field(field)
    target = getattr(target, "target_field", target)
    return target.get_db_prep_value(value, connection, prepared=False)


def _one_row(sql: str, params: list[Any]) -> tuple[Any, ...] | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()  # type: ignore[no-any-return]


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


@dataclass(frozen=True)
class PinnedVersion:
    """The newest version of one of the caller's uploads, as a generation pins it."""

    id: uuid.UUID
    sha256: str
    source_file_id: uuid.UUID
    file_path: str
    document_set_id: uuid.UUID | None


@cache
def _newest_version_sql() -> str:
    v, f = SourceFileVersion, SourceFile
    return (
        f"SELECT v.{_column(v, 'id')}, v.{_column(v, 'sha256')}, f.{_column(f, 'id')}, "
        f"f.{_column(f, 'file_path')}, f.{_column(f, 'document_set')} "
        f"FROM {_table(v)} v INNER JOIN {_table(f)} f "
        f"ON f.{_column(f, 'id')} = v.{_column(v, 'source_file')} "
        f"WHERE f.{_column(f, 'organization')} = %s AND f.{_column(f, 'file_path')} = %s "
        f"ORDER BY v.{_column(v, 'version')} DESC LIMIT 1"
    )


def newest_version(organization_id: Any, file_path: str) -> PinnedVersion | None:
    """The newest version of the organization's upload at ``file_path``; None if it has none."""
    row = _one_row(
        _newest_version_sql(), [_param(SourceFile, "organization", organization_id), file_path]
    )
    if row is None:
        return None
    return PinnedVersion(
        id=_uuid(row[0]),
        sha256=row[1],
        source_file_id=_uuid(row[2]),
        file_path=row[3],
        document_set_id=_uuid(row[4]) if row[4] is not None else None,
    )


@cache
def _document_set_sql() -> str:
    d = DocumentSet
    return (
        f"SELECT {_column(d, 'id')} FROM {_table(d)} "
        f"WHERE {_column(d, 'organization')} = %s AND {_column(d, 'key')} = %s"
    )


def document_set_id(organization_id: Any, key: str) -> uuid.UUID | None:
    """The id of the organization's document set with ``key``; None when it has none."""
    row = _one_row(_document_set_sql(), [_param(DocumentSet, "organization", organization_id), key])
    return _uuid(row[0]) if row else None


@cache
def _snapshot_sql() -> str:
    s = OutlineSnapshot
    return f"SELECT {_column(s, 'id')} FROM {_table(s)} WHERE {_column(s, 'sha256')} = %s LIMIT 1"


def outline_snapshot_id(sha256: str) -> int | None:
    """The id of the stored outline with this content hash (outlines are shared, not scoped)."""
    row = _one_row(_snapshot_sql(), [sha256])
    return int(row[0]) if row else None


@cache
def _lock_sql() -> str:
    o = Organization
    return f"SELECT 1 FROM {_table(o)} WHERE {_column(o, 'id')} = %s FOR UPDATE"


def lock_organization(organization_id: Any) -> None:
    """Serialise generation requests of one organization until the transaction ends."""
    if connection.vendor == "sqlite":  # the IMMEDIATE transaction already holds the write lock
        return
    with connection.cursor() as cursor:
        cursor.execute(_lock_sql(), [_param(Organization, "id", organization_id)])
        cursor.fetchall()


@cache
def _capacity_sql() -> str:
    d = GeneratedDocument
    table, org, status = _table(d), _column(d, "organization"), _column(d, "status")
    return (
        f"SELECT (SELECT COUNT(*) FROM (SELECT 1 AS one FROM {table} "
        f"WHERE {org} = %s AND {status} IN (%s, %s) LIMIT %s) active_rows), "
        f"(SELECT COUNT(*) FROM (SELECT 1 AS one FROM {table} "
        f"WHERE {status} = %s LIMIT %s) queued_rows)"
    )


def active_and_queued(
    organization_id: Any, active_limit: int, queued_limit: int
) -> tuple[int, int]:
    """(the organization's Pending and Generating rows, every Pending row), each counted up to
    its limit only: the cost is bounded by the limits, not by the backlog."""
    status = GeneratedDocument.Status
    row = _one_row(
        _capacity_sql(),
        [
            _param(GeneratedDocument, "organization", organization_id),
            status.PENDING.value,
            status.GENERATING.value,
            int(active_limit),
            status.PENDING.value,
            int(queued_limit),
        ],
    )
    assert row is not None  # an aggregate always answers one row
    return int(row[0]), int(row[1])
