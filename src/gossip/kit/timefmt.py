"""Timestamps as the Chirp spec writes them: ISO 8601, UTC, milliseconds, `Z`."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        # SQLite hands back naive datetimes; everything we store is UTC.
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    if moment.year >= 1000:
        # The same text as the strftime below, at a third of its cost (every message and
        # every answer carries one): "+00:00" becomes "Z", microseconds are truncated.
        return moment.isoformat(timespec="milliseconds")[:-6] + "Z"
    # strftime's %Y does not pad years before 1000 (glibc); kept as it always was.
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
