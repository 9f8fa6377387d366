"""The one exception base of controller.steering. Imports the standard library only."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class SteeringError(Exception):
    """A steering configuration, advertisement or plan that cannot be used."""
