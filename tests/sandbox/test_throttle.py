"""The ``throttle_rate`` fault: a share of requests, at random, answered 429 with the configured Retry-After."""

from __future__ import annotations

import httpx


def test_a_share_of_requests_is_throttled_with_retry_after(woo: httpx.Client, control: httpx.Client) -> None:
    control.delete("/stats")
    settings = control.put("/faults", json={"throttle_rate": 0.5, "throttle_retry_after_s": 2}).json()
    assert settings["throttle_rate"] == 0.5 and settings["throttle_retry_after_s"] == 2
    answers = [woo.get("/orders") for _ in range(60)]
    limited = [a for a in answers if a.status_code == 429]
    assert 10 <= len(limited) <= 50
    assert {a.headers["retry-after"] for a in limited} == {"2"}
    assert {a.status_code for a in answers} == {200, 429}
    control.put("/faults", json={"throttle_rate": 0})
    assert woo.get("/orders").status_code == 200
    assert control.get("/stats").json()["faults"]["rate_limited"] == len(limited)
    assert control.put("/faults", json={"throttle_rate": 1.5}).status_code == 400
