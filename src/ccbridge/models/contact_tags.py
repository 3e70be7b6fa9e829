"""Contact tags (``/contact_tags``)."""

from __future__ import annotations

from datetime import datetime

from ccbridge.models._base import CCModel


class Tag(CCModel):
    """A tag; ``contacts_count`` only when asked for with ``include_count=True``."""

    tag_id: str | None = None
    name: str | None = None
    contacts_count: int | None = None
    tag_source: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
