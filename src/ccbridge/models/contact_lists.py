"""Contact lists (``/contact_lists``)."""

from __future__ import annotations

from datetime import datetime

from ccbridge.models._base import CCModel


class ContactList(CCModel):
    """A contact list; ``membership_count`` only when asked for with ``include_membership_count``."""

    list_id: str
    name: str
    description: str | None = None
    favorite: bool | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deleted_at: datetime | None = None
    membership_count: int | None = None

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None
