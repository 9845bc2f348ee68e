"""The run log's words for what happens after booking (cancellations, moved payments, sales orders) in Dutch."""

from __future__ import annotations


def test_after_booking_messages_are_translated_with_their_values() -> None:
    from web.i18n import translate_message

    assert translate_message("nl", "sales order 50012 cancelled: the order is cancelled, its stock comes back") == (
        "verkooporder 50012 geannuleerd: de bestelling is geannuleerd, de voorraad komt terug"
    )
    assert translate_message("nl", "already cancelled: sales order 50012") == "al geannuleerd: verkooporder 50012"
    moved = translate_message("nl", "its payment of 38.97 moved onto the new invoice")
    assert moved == "de betaling van 38.97 is naar de nieuwe factuur verplaatst"
    assert translate_message(
        "nl", "the order was cancelled and credited in full: its refunds are not credited again"
    ) == ("de bestelling is geannuleerd en volledig gecrediteerd: de terugbetalingen worden niet nog eens gecrediteerd")
