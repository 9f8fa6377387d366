"""The one exception base of controller.entries. Imports the standard library only."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class EntriesError(Exception):
    """A model, plan, entry or runtime file that cannot become din.p4 entries."""
