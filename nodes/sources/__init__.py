"""Source nodes: read WooCommerce orders, customers, products and Asperion articles and sales orders page by page."""

from __future__ import annotations

__all__ = ()
