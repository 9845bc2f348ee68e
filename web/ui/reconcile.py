"""Reconciliation page: a period of the shop against the books, a chart per VAT rate, the differences and a CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from litestar import Request, Response, get
from litestar.params import FromQuery
from sqlalchemy import select

from engine.models import LogEntry
from web.i18n import translate
from web.ui.render import language_of, render

if TYPE_CHECKING:
    from engine.db import Database
    from engine.reconcile import Report

__all__ = ("RECONCILE_ROUTES", "chart_bars")

CHART_WIDTH = 100.0
"""Bars are drawn in a 0-100 wide viewBox and scale with the page."""


def chart_bars(report: Report) -> list[dict[str, Any]]:
    """Per VAT rate: shop and books amounts incl VAT and their bar widths (of the largest), for the inline SVG."""
    rows = [(r.rate, r.shop_net + r.shop_vat, r.books_net + r.books_vat) for r in report.rates]
    largest = max((max(abs(shop), abs(books)) for _, shop, books in rows), default=0) or 1
    return [
        {
            "rate": rate,
            "shop": shop,
            "books": books,
            "shop_width": round(float(abs(shop) / largest) * CHART_WIDTH, 2),
            "books_width": round(float(abs(books) / largest) * CHART_WIDTH, 2),
            "differs": shop != books,
        }
        for rate, shop, books in rows
    ]


async def _choices(db: Database) -> tuple[dict[str, dict[str, Any]], list[str], list[str]]:
    from engine.service import connection_specs

    specs = await connection_specs(db)
    shops = sorted(name for name, spec in specs.items() if spec.get("app") == "woocommerce")
    books = sorted(name for name, spec in specs.items() if spec.get("app") == "asperion")
    return specs, shops, books


def _period(first: str, last: str) -> tuple[str, str] | str:
    """The period, or the (English source) message saying what is wrong with it."""
    try:
        start, end = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError:
        return "Pick a first and a last day."
    if end < start:
        return "The period ends before it starts."
    if (end - start).days > 366 * 3:
        return "The period is longer than three years; reconcile it in parts."
    return start.isoformat(), end.isoformat()


async def _report(
    db: Database, specs: dict[str, dict[str, Any]], shop: str, books: str, period: tuple[str, str]
) -> tuple[Report | None, str, str]:
    """The report, or no report and an (English source) error message plus the application's own words."""
    from engine.reconcile_run import BadInput, reconcile
    from nodes.connectors import ApiError

    try:
        return await reconcile(db, specs, *period, from_file=False, woocommerce=shop, asperion=books), "", ""
    except BadInput:
        return None, "Pick a WooCommerce and an Asperion connection.", ""
    except ApiError as exc:
        return None, "Could not read the shop or the books:", str(exc)


@get("/reconcile")
async def reconcile_page(
    request: Request[Any, Any, Any],
    db: Database,
    woocommerce: FromQuery[str] = "",
    asperion: FromQuery[str] = "",
    date_from: FromQuery[str] = "",
    date_to: FromQuery[str] = "",
) -> Response[str]:
    """The form; with a period, also the comparison (only the result region for htmx requests)."""
    specs, shops, books = await _choices(db)
    today = date.today()
    form = {
        "woocommerce": woocommerce or (shops[0] if shops else ""),
        "asperion": asperion or (books[0] if books else ""),
        "date_from": date_from or (today.replace(day=1) - timedelta(days=1)).replace(day=1).isoformat(),
        "date_to": date_to or today.isoformat(),
    }
    context: dict[str, Any] = {"form": form, "shops": shops, "books": books, "report": None, "error": ""}
    if date_from or date_to:
        period = _period(date_from, date_to)
        if isinstance(period, str):
            context["error"] = period
        else:
            report, error, detail = await _report(db, specs, form["woocommerce"], form["asperion"], period)
            context.update(report=report, error=error, error_detail=detail)
            if report is not None:
                context["bars"] = chart_bars(report)
    status = 400 if context["error"] and not context.get("error_detail") else 200
    if request.headers.get("hx-request"):  # htmx swaps only 2xx answers: the message goes into the result region
        return render(request, "fragments/reconcile_result.html", **context)
    return render(request, "reconcile.html", status_code=status, **context)


@get("/reconcile.csv")
async def reconcile_csv(
    db: Database,
    woocommerce: FromQuery[str] = "",
    asperion: FromQuery[str] = "",
    date_from: FromQuery[str] = "",
    date_to: FromQuery[str] = "",
) -> Response[str]:
    """The comparison as CSV: one row per VAT rate, then one per difference (with the record keys)."""
    period = _period(date_from, date_to)
    if isinstance(period, str):
        return Response(period + "\n", status_code=400, media_type="text/plain")
    specs, _, _ = await _choices(db)
    report, error, detail = await _report(db, specs, woocommerce, asperion, period)
    if report is None:
        return Response(f"{error} {detail}".strip() + "\n", status_code=400, media_type="text/plain")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["section", "kind", "rate", "order_number", "order_id", "shop", "books", "invoice_ids", "entry_ids",
                     "detail"])  # fmt: skip
    for rate in report.rates:
        writer.writerow(["rate", "net", rate.rate, "", "", rate.shop_net, rate.books_net, "", "", ""])
        writer.writerow(["rate", "vat", rate.rate, "", "", rate.shop_vat, rate.books_vat, "", "", ""])
    for item in report.differences:
        row = item.as_dict()
        rate_text = item.detail if item.kind == "rate_total" else ""
        invoices, entries = " ".join(map(str, row["invoice_ids"])), " ".join(map(str, row["entry_ids"]))
        shop, books = row["shop"] or "", row["books"] or ""
        order = [row["order_number"], row["order_id"] or ""]
        writer.writerow(["difference", row["kind"], rate_text, *order, shop, books, invoices, entries, row["detail"]])
    name = f"reconciliation-{period[0]}-{period[1]}.csv"
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@get("/reconcile/orders/{order_id:int}")
async def order_record(request: Request[Any, Any, Any], db: Database, order_id: int) -> Response[str]:
    """The newest record view of a WooCommerce order in the run log."""
    async with db.session() as session:
        entry_id = (
            await session.execute(
                select(LogEntry.id)
                .where(LogEntry.source_id == f"order:{order_id}")
                .order_by(LogEntry.id.desc())
                .limit(1)
            )
        ).scalar()
    if entry_id is None:
        message = translate(language_of(request), "No run has read WooCommerce order {number} yet.")
        return render(
            request, "error.html", title="Not found", message=message.format(number=order_id), status_code=404
        )
    # A 303 also for htmx: its request follows it and the record opens in the page's drawer (an HX-Redirect would
    # leave the page for the bare drawer).
    return Response("", status_code=303, headers={"Location": f"/logs/{entry_id}"})


RECONCILE_ROUTES: list[Any] = [reconcile_page, reconcile_csv, order_record]
