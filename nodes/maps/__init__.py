"""Map nodes: turn a record into the shape the next node or the target application expects.

``map`` (:mod:`nodes.maps.generic`) maps field by field from the user's configuration; the domain maps
(``map.order_to_invoice`` and friends) implement the rules of the mappings spec. The registry finds every module
here by itself, so this package re-exports nothing.
"""

from __future__ import annotations

__all__ = ()
