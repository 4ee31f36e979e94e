"""DynamoDB and SNS implementations of the task stores (:data:`kbflow.tasks.catalog.TABLES`).

Each store takes a boto3 ``Table`` resource. Dict-valued fields (review items, decisions, audit
details) are stored as JSON strings, so numbers never meet DynamoDB's ``Decimal``. Throttling and
service errors become ``Kbflow.TransientStoreError`` (retried by the flows).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any, Final, TypeVar

from kbflow.tasks.adapters.records import (
    AuditRecord,
    ManifestEntry,
    QuarantineRecord,
    ReviewRequest,
    new_id,
)
from kbflow.tasks.core.errors import TransientStoreError

__all__ = ["DynamoAudit", "DynamoManifest", "DynamoQuarantine", "DynamoReviewStore", "SnsNotifier"]

_T = TypeVar("_T")
_TRANSIENT: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "Throttling",
        "InternalFailure",
    }
)
_JSON_FIELDS: Final = ("item", "decision", "details")


def _call(fn: Callable[..., _T], **kwargs: Any) -> _T:
    from botocore.exceptions import ClientError, ConnectionError

    try:
        return fn(**kwargs)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _TRANSIENT:
            raise TransientStoreError(f"DynamoDB/SNS {code}") from exc
        raise
    except ConnectionError as exc:
        raise TransientStoreError(f"DynamoDB/SNS unreachable: {exc}") from exc


def _to_item(data: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for key, value in data.items():
        if value is None:
            continue  # DynamoDB has no use for absent attributes
        item[key] = json.dumps(value, sort_keys=True) if key in _JSON_FIELDS else value
    return item


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in item.items():
        if key in _JSON_FIELDS and isinstance(value, str):
            data[key] = json.loads(value)
        elif hasattr(value, "as_integer_ratio") and not isinstance(value, (bool, int, float)):
            data[key] = int(value) if value == int(value) else float(value)  # Decimal
        else:
            data[key] = value
    return data


def _query(table: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    while True:
        page = _call(table.query, **kwargs)
        yield from page.get("Items", [])
        last = page.get("LastEvaluatedKey")
        if not last:
            return
        kwargs["ExclusiveStartKey"] = last


def _scan(table: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    while True:
        page = _call(table.scan, **kwargs)
        yield from page.get("Items", [])
        last = page.get("LastEvaluatedKey")
        if not last:
            return
        kwargs["ExclusiveStartKey"] = last


class DynamoManifest:
    """Manifest table: key ``doc_id``; GSI ``by_source`` (``source``, ``doc_id``)."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def get(self, doc_id: str) -> ManifestEntry | None:
        """See :meth:`~kbflow.tasks.adapters.stores.Manifest.get`."""
        item = _call(self._table.get_item, Key={"doc_id": doc_id}, ConsistentRead=True).get("Item")
        return ManifestEntry.from_dict(_from_item(item)) if item else None

    def put(self, entry: ManifestEntry) -> None:
        """See :meth:`~kbflow.tasks.adapters.stores.Manifest.put`."""
        _call(self._table.put_item, Item=_to_item(entry.to_dict()))

    def list_for_source(self, source: str) -> list[ManifestEntry]:
        """See :meth:`~kbflow.tasks.adapters.stores.Manifest.list_for_source`."""
        from boto3.dynamodb.conditions import Key

        items = _query(
            self._table, IndexName="by_source", KeyConditionExpression=Key("source").eq(source)
        )
        return sorted(
            (ManifestEntry.from_dict(_from_item(i)) for i in items), key=lambda e: e.doc_id
        )

    def delete(self, doc_id: str) -> None:
        """See :meth:`~kbflow.tasks.adapters.stores.Manifest.delete`."""
        _call(self._table.delete_item, Key={"doc_id": doc_id})


class DynamoQuarantine:
    """Quarantine table: key (``run_id``, ``doc_id``)."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def put(self, record: QuarantineRecord) -> None:
        """See :meth:`~kbflow.tasks.adapters.stores.Quarantine.put`."""
        _call(self._table.put_item, Item=_to_item(record.to_dict()))

    def list_for_run(self, run_id: str) -> list[QuarantineRecord]:
        """See :meth:`~kbflow.tasks.adapters.stores.Quarantine.list_for_run`."""
        from boto3.dynamodb.conditions import Key

        items = _query(self._table, KeyConditionExpression=Key("run_id").eq(run_id))
        return [QuarantineRecord.from_dict(_from_item(i)) for i in items]


class DynamoReviewStore:
    """Reviews table: key ``review_id``; GSI ``by_status`` (``status``, ``requested_at``)."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def put(self, request: ReviewRequest) -> None:
        """See :meth:`~kbflow.tasks.adapters.stores.ReviewStore.put`."""
        _call(self._table.put_item, Item=_to_item(request.to_dict()))

    def get(self, review_id: str) -> ReviewRequest | None:
        """See :meth:`~kbflow.tasks.adapters.stores.ReviewStore.get`."""
        item = _call(self._table.get_item, Key={"review_id": review_id}, ConsistentRead=True).get(
            "Item"
        )
        return ReviewRequest.from_dict(_from_item(item)) if item else None

    def update(self, review_id: str, **changes: Any) -> ReviewRequest:
        """See :meth:`~kbflow.tasks.adapters.stores.ReviewStore.update`."""
        current = self.get(review_id)
        if current is None:
            raise KeyError(f"no review request {review_id!r}")
        updated = replace(current, **changes)
        _call(
            self._table.put_item,
            Item=_to_item(updated.to_dict()),
            ConditionExpression="attribute_exists(review_id)",
        )
        return updated

    def list(self, status: str | None = None) -> list[ReviewRequest]:
        """See :meth:`~kbflow.tasks.adapters.stores.ReviewStore.list`."""
        from boto3.dynamodb.conditions import Key

        if status is None:
            items: Iterator[dict[str, Any]] = _scan(self._table)
        else:
            items = _query(
                self._table, IndexName="by_status", KeyConditionExpression=Key("status").eq(status)
            )
        requests = [ReviewRequest.from_dict(_from_item(i)) for i in items]
        return sorted(requests, key=lambda r: (r.requested_at, r.review_id))


class DynamoAudit:
    """Audit table: key (``subject``, ``seq``); writes are conditional, so records never change."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def append(self, record: AuditRecord) -> AuditRecord:
        """See :meth:`~kbflow.tasks.adapters.stores.Audit.append`."""
        stored = replace(record, seq=f"{record.at}#{new_id()[:12]}")
        _call(
            self._table.put_item,
            Item=_to_item(stored.to_dict()),
            ConditionExpression="attribute_not_exists(subject) AND attribute_not_exists(seq)",
        )
        return stored

    def list(self, subject: str | None = None) -> list[AuditRecord]:
        """See :meth:`~kbflow.tasks.adapters.stores.Audit.list`."""
        from boto3.dynamodb.conditions import Key

        if subject is None:
            items: Iterator[dict[str, Any]] = _scan(self._table)
        else:
            items = _query(self._table, KeyConditionExpression=Key("subject").eq(subject))
        return sorted((AuditRecord.from_dict(_from_item(i)) for i in items), key=lambda r: r.seq)


class SnsNotifier:
    """Publishes notifications to an SNS topic (JSON message body)."""

    def __init__(self, client: Any, topic_arn: str) -> None:
        self._sns = client
        self._topic = topic_arn

    def notify(self, subject: str, message: dict[str, Any]) -> str:
        """See :meth:`~kbflow.tasks.adapters.stores.Notifier.notify`."""
        response = _call(
            self._sns.publish,
            TopicArn=self._topic,
            Subject=subject[:100],
            Message=json.dumps(message, sort_keys=True),
        )
        return str(response["MessageId"])
