"""Fixed demo credentials of the sandbox simulators.

They are printed by ``koppel sandbox`` and written by ``--connections-out`` so that a newcomer can use
the simulators without an account. They mean nothing outside the sandbox.
"""

from __future__ import annotations

__all__ = (
    "ASPERION_CLIENT_ID",
    "ASPERION_CLIENT_SECRET",
    "ASPERION_DEFAULT_TENANT",
    "ASPERION_INITIAL_REFRESH_TOKEN",
    "ASPERION_SECOND_TENANT",
    "MOLLIE_API_KEY",
    "WOO_READ_KEY",
    "WOO_READ_SECRET",
    "WOO_RW_KEY",
    "WOO_RW_SECRET",
)

WOO_RW_KEY = "ck_koppeldemo0000000000000000000000000000rw"
WOO_RW_SECRET = "cs_koppeldemo0000000000000000000000000000rw"
WOO_READ_KEY = "ck_koppeldemo00000000000000000000000000read"
WOO_READ_SECRET = "cs_koppeldemo00000000000000000000000000read"

ASPERION_CLIENT_ID = "koppel-demo"
ASPERION_CLIENT_SECRET = "koppel-demo-secret"
ASPERION_INITIAL_REFRESH_TOKEN = "rt-koppel-demo-initial"
ASPERION_DEFAULT_TENANT = 1001
ASPERION_SECOND_TENANT = 1002

MOLLIE_API_KEY = "test_koppeldemo00000000000000000000"
"""The sandbox's Mollie test API key (``test_`` + 30 characters, as Mollie's are)."""
