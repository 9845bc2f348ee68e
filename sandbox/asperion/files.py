"""Files attached to sales invoices (``POST /v1/salesinvoiceswithlines/{id}/file``, multipart part ``File``)."""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath
from typing import Any

from sandbox.asperion.state import Record, Tenant

__all__ = ("attach_file", "render_file")


def attach_file(
    tenant: Tenant,
    invoice: Record,
    filename: str,
    content_type: str,
    content: bytes,
    now: str,
    *,
    validate_only: bool,
) -> Record:
    """Attach a file to an invoice.

    Args:
        tenant: The administration.
        invoice: The invoice.
        filename: The upload's file name.
        content_type: The upload's media type.
        content: The file's bytes.
        now: The current time.
        validate_only: Answer, but store nothing.

    Returns:
        The stored file record (``_content`` holds the bytes).
    """
    record: Record = {
        "id": str(uuid.uuid4()),
        "name": filename,
        "type": content_type,
        "extension": PurePosixPath(filename).suffix,
        "size": len(content),
        "createdOn": now,
        "_content": content,
        "_invoiceId": invoice["id"],
    }
    if not validate_only:
        tenant.files[record["id"]] = record
        invoice.setdefault("_files", []).append(record["id"])
    return record


def render_file(record: Record, base: str) -> dict[str, Any]:
    """The answer describing a stored file.

    Args:
        record: The file record.
        base: The API base URL (no trailing slash).

    Returns:
        The file's public description, with the URL where it can be downloaded.
    """
    url = f"{base}/v1/files/{record['id']}"
    is_image = str(record["type"]).startswith("image/")
    return {
        **{key: value for key, value in record.items() if key[0] != "_"},
        "fileUrl": url,
        "fullImageUrl": url if is_image else "",
        "thumbnail1Url": url if is_image else "",
        "thumbnail2Url": url if is_image else "",
        "thumbnail3Url": url if is_image else "",
        "_meta": {"self": url},
    }
