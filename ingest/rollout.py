"""After publishing an index version: record it in the shared database and tell replicas."""

from __future__ import annotations

import logging

from askwiki.settings import Settings

logger = logging.getLogger(__name__)


def announce_published(settings: Settings, version: str) -> None:
    """With ASKWIKI_DATABASE_URL set, announce ``version`` (replicas switch at once).

    A failure is logged, not raised: the version is already live on disk, and every
    replica still finds it by polling within ASKWIKI_INDEX_POLL_S.
    """
    if not settings.database_url:
        return
    # Imported only when there is a database: SQLAlchemy, Alembic and psycopg cost about
    # 1 s of start-up, which an unchanged `askwiki ingest` (issue 18: < 3 s) cannot afford.
    from askwiki.database import open_engine, upgrade
    from askwiki.database.rollout import announce

    try:
        engine = open_engine(settings.database_url)
        try:
            upgrade(engine)
            announce(engine, settings.index, version)
        finally:
            engine.dispose()
    except Exception as exc:  # see the docstring: never fail a published ingest
        logger.warning(
            "Version %s is live but was not announced (%s); replicas pick it up by polling",
            version,
            exc,
        )
