#!/usr/bin/env python3
"""A Payment Service we did not write in TypeScript: Python on librdkafka (confluent-kafka).

All it knows of the contract comes from the AsyncAPI document: topic names, the schemas of
payloads and headers, the key rule (key = payload orderId), the size limit (x-max-bytes) and the
dead-letter headers. It validates every message it reads and writes against the document, answers
OrderCreated with PaymentSucceeded or PaymentFailed and RefundRequested with PaymentRefunded, and
for some orders (chosen by the cents of the total) first sends bad messages that the document says
are refused, checking that the document does refuse them.

    payment_service.py ASYNCAPI_PATH
    env: KAFKA_BROKERS, TOPIC_PREFIX, GROUP_ID, REPORT (a file: one JSON line per event)

Prints "ready" once it has its partitions; stops on SIGTERM.
"""

import json
import os
import signal
import sys
import uuid
from datetime import datetime, timezone

import yaml
from confluent_kafka import Consumer, Producer
from jsonschema import Draft202012Validator, FormatChecker

DOC = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
PREFIX = os.environ.get("TOPIC_PREFIX", "")
MESSAGES = DOC["components"]["messages"]
SCHEMAS = DOC["components"]["schemas"]
TOPICS = {name: PREFIX + channel["address"] for name, channel in DOC["channels"].items()}
REPORT = open(os.environ["REPORT"], "a", encoding="utf-8", buffering=1)

formats = FormatChecker()


@formats.checks("date-time", raises=ValueError)
def is_date_time(value):
    if not isinstance(value, str) or "T" not in value:
        return False
    datetime.fromisoformat(value)
    return True


def message_schema(name):
    """Payload and headers schemas of a message, from the document."""
    message = MESSAGES[name]
    ref = message["payload"]["$ref"].split("/")[-1]
    return (
        Draft202012Validator(SCHEMAS[ref], format_checker=formats),
        Draft202012Validator(message["headers"], format_checker=formats),
    )


VALIDATORS = {name: message_schema(name) for name in MESSAGES if name != "DeadLetter"}
DLQ_HEADERS = Draft202012Validator(MESSAGES["DeadLetter"]["headers"])


def report(**fields):
    REPORT.write(json.dumps(fields) + "\n")


def hexed(data):
    return None if data is None else data.hex()


def header_dict(headers):
    """Headers as the document's schemas see them (an object of strings); None if not UTF-8 or repeated."""
    out = {}
    for name, value in headers or []:
        if name in out:
            return None
        try:
            out[name] = (value or b"").decode("utf-8")
        except UnicodeDecodeError:
            return None
    return out


def violations(name, key, value, headers):
    """Everything the document says is wrong with this message as message `name`."""
    found = []
    limit = MESSAGES[name].get("x-max-bytes")
    if limit is not None and value is not None and len(value) > limit:
        found.append(f"larger than x-max-bytes {limit}")
    payload_validator, headers_validator = VALIDATORS[name]
    as_dict = header_dict(headers)
    if as_dict is None:
        found.append("headers not UTF-8 or repeated")
    else:
        found += [f"header {e.json_path}: {e.message}" for e in headers_validator.iter_errors(as_dict)]
    try:
        payload = json.loads((value or b"").decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return found + ["value is not UTF-8 JSON"]
    found += [f"payload {e.json_path}: {e.message}" for e in payload_validator.iter_errors(payload)]
    order_id = payload.get("orderId") if isinstance(payload, dict) else None
    if key is None or key.decode("utf-8", "replace") != order_id:
        found.append("key is not payload orderId")
    return found


def example(schema):
    """A minimal instance of a schema of the document (consts, required properties, lower bounds)."""
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object":
        return {k: example(schema["properties"][k]) for k in schema.get("required", [])}
    if kind == "array":
        return [example(schema["items"]) for _ in range(schema.get("minItems", 1))]
    if kind == "integer":
        return schema.get("minimum", 0)
    if schema.get("format") == "date-time":
        return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    return "x" * max(1, schema.get("minLength", 1))


def build(name, order_id, facts):
    """A payment event from the document's schema, its fields filled with this order's facts."""
    ref = MESSAGES[name]["payload"]["$ref"].split("/")[-1]
    event = example(SCHEMAS[ref])
    event.update({"eventId": str(uuid.uuid4()), "orderId": order_id})
    event["payload"].update({k: v for k, v in facts.items() if k in event["payload"]})
    return event


def good_headers(name, correlation_id):
    """The headers the document's schema for `name` requires, filled in."""
    headers = []
    for header in MESSAGES[name]["headers"]["required"]:
        prop = MESSAGES[name]["headers"]["properties"][header]
        value = prop.get("const", correlation_id if header == "correlation-id" else None)
        headers.append((header, value.encode("utf-8")))
    return headers


producer = Producer({"bootstrap.servers": os.environ["KAFKA_BROKERS"], "enable.idempotence": True, "acks": "all"})


def send(case, name, order_id, key, value, headers, expect_reason=None):
    """Sends one message; a good one must satisfy the document, a bad one must not."""
    found = violations(name, key, value, headers)
    if (expect_reason is None) != (not found):
        report(kind="error", case=case, orderId=order_id, error="document verdict unexpected", violations=found)
    producer.produce(TOPICS["paymentEvents"], key=key, value=value, headers=headers)
    producer.flush(30)
    report(
        kind="sent",
        case=case,
        type=name,
        orderId=order_id,
        key=hexed(key),
        value=hexed(value),
        headers=[[n, hexed(v)] for n, v in headers],
        expectReason=expect_reason,
        docViolations=found,
    )


def answer(name, order_id, facts, correlation_id, case="good"):
    event = build(name, order_id, facts)
    send(case, name, order_id, order_id.encode(), json.dumps(event).encode(), good_headers(name, correlation_id))


def bad_cases(order_id, facts, correlation_id):
    """Messages for this order the document refuses, each with the reason the document gives."""
    ok = good_headers("PaymentSucceeded", correlation_id)
    failed_event = json.dumps(build("PaymentFailed", order_id, facts)).encode()
    success_event = json.dumps(build("PaymentSucceeded", order_id, facts)).encode()
    key = order_id.encode()
    without = lambda headers, name: [(n, v) for n, v in headers if n != name]  # noqa: E731
    replaced = lambda headers, name, value: [(n, value if n == name else v) for n, v in headers]  # noqa: E731
    return {
        # A declined payment that must not cancel the order: no headers; a contradicting event-type;
        # text/plain.
        21: [
            ("no-headers", "PaymentFailed", key, failed_event, [], "missing-header: event-type"),
            (
                "event-type-contradicts",
                "PaymentFailed",
                key,
                failed_event,
                replaced(good_headers("PaymentFailed", correlation_id), "event-type", b"PaymentSucceeded"),
                "event-type-mismatch",
            ),
            (
                "text-plain",
                "PaymentFailed",
                key,
                failed_event,
                replaced(good_headers("PaymentFailed", correlation_id), "content-type", b"text/plain"),
                "content-type-mismatch",
            ),
        ],
        # A capture that must not confirm the order: the event-type PaymentFailed with
        # text/plain; no correlation-id; the event-type header twice.
        22: [
            (
                "says-failed-text-plain",
                "PaymentSucceeded",
                key,
                success_event,
                replaced(replaced(ok, "event-type", b"PaymentFailed"), "content-type", b"text/plain"),
                "content-type-mismatch",
            ),
            ("no-correlation-id", "PaymentSucceeded", key, success_event, without(ok, "correlation-id"), "missing-header: correlation-id"),
            ("event-type-twice", "PaymentSucceeded", key, success_event, ok + [("event-type", b"PaymentSucceeded")], "repeated-header: event-type"),
        ],
        # Bytes: not UTF-8 with a null key; larger than x-max-bytes; a key that is not the order.
        23: [
            ("garbage-null-key", "PaymentSucceeded", None, b"\x00\xff\xfe garbage", ok + [("x-binary", b"\xc3\x28\x00")], "invalid-utf8"),
            (
                "too-large",
                "PaymentSucceeded",
                key,
                success_event + b" " * MESSAGES["PaymentSucceeded"]["x-max-bytes"],
                ok,
                "message-too-large",
            ),
            ("key-mismatch", "PaymentSucceeded", b"not-" + key, success_event, ok, "key-mismatch"),
        ],
    }


def decide(event, headers):
    order_id = event["orderId"]
    payload = event["payload"]
    total = payload["total"]
    facts = {"amount": total, "currency": payload["currency"], "paymentId": f"pay-{uuid.uuid4()}", "reason": "declined by the python client"}
    correlation_id = headers.get("correlation-id", "")
    cents = total % 100
    if cents == 24:
        # No answer now: the owner cancels, then this capture arrives late (see OrderCancelled).
        waiting_for_cancel[order_id] = (facts, correlation_id)
        return
    for case, name, key, value, hdrs, reason in bad_cases(order_id, facts, correlation_id).get(cents, []):
        send(f"bad:{case}", name, order_id, key, value, hdrs, expect_reason=reason)
    if cents in (13, 22):
        answer("PaymentFailed", order_id, facts, correlation_id)
    else:
        answer("PaymentSucceeded", order_id, facts, correlation_id)


waiting_for_cancel = {}
seen_event_ids = set()
charged = set()
refunded = set()


def handle_order_event(message):
    key, value = message.key(), message.value()
    headers = header_dict(message.headers()) or {}
    try:
        event = json.loads(value.decode("utf-8"))
        name = event["type"]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        report(kind="read", topic=message.topic(), violations=["not an event of the document"])
        return
    found = violations(name, key, value, message.headers()) if name in VALIDATORS else [f"unknown type {name}"]
    duplicate = event.get("eventId") in seen_event_ids
    seen_event_ids.add(event.get("eventId"))
    report(kind="read", topic=message.topic(), type=name, orderId=event.get("orderId"), duplicate=duplicate, violations=found)
    if found or duplicate:
        return  # The document says: deduplicate by eventId.
    order_id = event["orderId"]
    if name == "OrderCreated" and order_id not in charged:
        charged.add(order_id)
        decide(event, headers)
    elif name == "OrderCancelled" and order_id in waiting_for_cancel:
        facts, correlation_id = waiting_for_cancel.pop(order_id)
        answer("PaymentSucceeded", order_id, facts, correlation_id, case="late-capture")
    elif name == "RefundRequested" and event["payload"]["paymentId"] not in refunded:
        refunded.add(event["payload"]["paymentId"])
        answer("PaymentRefunded", order_id, dict(event["payload"]), headers.get("correlation-id", ""), case="refund")


def handle_dead_letter(message):
    # The document: the original headers (any bytes, names may repeat), then the dlq-* ones it
    # declares; those are validated (the last of each name is the one the DLQ added).
    declared = MESSAGES["DeadLetter"]["headers"]["properties"]
    headers, found = {}, []
    for name, value in message.headers() or []:
        if name in declared:
            try:
                headers[name] = (value or b"").decode("utf-8")
            except UnicodeDecodeError:
                found.append(f"{name} is not UTF-8")
    found += [e.message for e in DLQ_HEADERS.iter_errors(headers)]
    report(kind="read", topic=message.topic(), type="DeadLetter", reason=headers.get("dlq-reason"), violations=found)


def main():
    consumer = Consumer(
        {
            "bootstrap.servers": os.environ["KAFKA_BROKERS"],
            "group.id": os.environ.get("GROUP_ID", "python-payment-service"),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": True,
        }
    )
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    announced = [False]

    def on_assign(c, partitions):
        if not announced[0]:
            announced[0] = True
            print("ready", flush=True)

    consumer.subscribe([TOPICS["orderEvents"], TOPICS["paymentDeadLetters"]], on_assign=on_assign)
    try:
        while running[0]:
            message = consumer.poll(0.2)
            if message is None:
                continue
            if message.error():
                report(kind="kafka-error", error=str(message.error()))
                continue
            if message.topic() == TOPICS["paymentDeadLetters"]:
                handle_dead_letter(message)
            else:
                handle_order_event(message)
    finally:
        consumer.close()
        producer.flush(10)


if __name__ == "__main__":
    main()
