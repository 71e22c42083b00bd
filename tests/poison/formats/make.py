#!/usr/bin/env python3
"""Writes the poison corpus of the foreign formats into DIR (tests/integration/
collector/poison_formats.sh and tests/fuzz/run.sh call it) and DIR/EXPECTED:
FILE<TAB>FORMAT<TAB>INDEX<TAB>a substring of the reason, one line per dead
letter the message must become (INDEX -1: the message as a whole), and
FILE<TAB>FORMAT<TAB>rows<TAB>N for the events of the message that must be
stored. The protobuf ones are encoded here by hand (wire format: varint
tags, length-delimited messages), from the OTLP field numbers."""
import json
import os
import struct
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
expected = []

TOKEN = "sk-live-caller-token-0123456789abcdef"


def put(name, fmt, data, *lines):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    for idx, why in lines:
        expected.append(f"{name}\t{fmt}\t{idx}\t{why}")


def payload(**kw):
    p = {"id": "p-1", "model": "gpt-4o", "startTime": 1764590400.5, "endTime": 1764590401,
         "metadata": {"user_api_key_hash": "hash-poison"}, "messages": [{"role": "user", "content": "hi"}]}
    p.update(kw)
    return p


# ---- litellm ----
put("latin1.litellm", "litellm", '{"id": "caf\xe9"}'.encode("latin-1"), (-1, "litellm: invalid UTF-8 at offset"))
put("native_event.litellm", "litellm",
    json.dumps({"event_id": "e1", "ts": "2026-11-21T13:04:00Z", "api_key_id": "k", "model": "m", "model_version": "v"}),
    (-1, "is not a StandardLoggingPayload: no id, litellm_call_id or call_id"))
# the caller's token in a guardrail response, and a payload without a key:
# the dead letter's raw bytes must not hold the token (checked by the test)
put("missing_key_with_token.litellm", "litellm",
    json.dumps(payload(metadata={}, guardrail_information=[{"guardrail_name": "g", "guardrail_response": {
        "secret_fields": {"raw_headers": {"authorization": "Bearer " + TOKEN}}}}])),
    (-1, "no metadata.user_api_key_hash"))
put("array_one_bad.litellm", "litellm",
    json.dumps([payload(id="good-1"), payload(id="bad-time", startTime="yesterday"), payload(id="good-2")]),
    (1, "startTime is neither epoch seconds nor an ISO time"))
expected.append("array_one_bad.litellm\tlitellm\trows\t2")
put("ndjson_one_bad.litellm", "litellm",
    json.dumps(payload(id="nd-1")) + "\n" + '{"id": "nd-2", "model": ' + "\n" + json.dumps(payload(id="nd-3")) + "\n",
    (1, "litellm line 1: not JSON"))
expected.append("ndjson_one_bad.litellm\tlitellm\trows\t2")
put("truncated.litellm", "litellm", json.dumps(payload())[:40], (-1, "litellm: not a StandardLoggingPayload JSON object, array or NDJSON"))
put("deep.litellm", "litellm", json.dumps(payload(metadata={"user_api_key_hash": "h", "x": json.loads("[" * 40 + "]" * 40)})),
    (-1, "nested deeper than 32 levels"))
put("bad_ip.litellm", "litellm", json.dumps(payload(requester_ip_address="999.1.1.1")),
    (-1, "litellm payload 0: field client_ip \"999.1.1.1\" is not an IPv4 or IPv6 address"))


# ---- otlp_json ----
def sv(s):
    return {"stringValue": s}


def kv(k, v):
    return {"key": k, "value": v}


def span(**kw):
    s = {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "00f067aa0ba902b7", "name": "chat gpt-4",
         "startTimeUnixNano": "1764590400000000000", "endTimeUnixNano": "1764590400500000000",
         "attributes": [kv("gen_ai.operation.name", sv("chat")), kv("gen_ai.request.model", sv("gpt-4")),
                        kv("custos.api_key_id", sv("ak_poison"))]}
    s.update(kw)
    return s


def request(*spans, res=None):
    return {"resourceSpans": [{"resource": {"attributes": res or []}, "scopeSpans": [{"spans": list(spans)}]}]}


put("not_otlp.otlp_json", "otlp_json", json.dumps({"hello": 1}), (-1, "otlp_json: not an ExportTraceServiceRequest: no resourceSpans array"))
put("latin1.otlp_json", "otlp_json", b'{"resourceSpans": "\xe9"}', (-1, "otlp_json: not an OTLP/JSON ExportTraceServiceRequest: invalid UTF-8"))
put("bad_ids.otlp_json", "otlp_json",
    json.dumps(request(span(traceId="xyz"), span(spanId="0000000000000000"), span(spanId="00f067aa0ba902b9"))),
    (0, "otlp_json span 0: traceId is not 32 hex digits"), (1, "otlp_json span 1: spanId is not 16 hex digits"))
expected.append("bad_ids.otlp_json\totlp_json\trows\t1")
base = span()["attributes"]
put("huge_attrs.otlp_json", "otlp_json",
    json.dumps(request(span(attributes=base + [kv(f"a{i}", sv("x")) for i in range(2000)]))),
    (0, "2003 attributes, more than 1024"))
put("huge_array.otlp_json", "otlp_json",
    json.dumps(request(span(attributes=base + [kv("big", {"arrayValue": {"values": [sv("x")] * 5000}})]))),
    (0, "attribute big holds 5000 values, more than 4096"))
deep = sv("leaf")
for _ in range(20):
    deep = {"kvlistValue": {"values": [kv("k", deep)]}}
put("deep_kvlist.otlp_json", "otlp_json", json.dumps(request(span(attributes=base + [kv("deep", deep)]))),
    (-1, "nested deeper than 32 levels"))
put("missing_model.otlp_json", "otlp_json",
    json.dumps(request(span(attributes=[kv("gen_ai.operation.name", sv("chat")), kv("gen_ai.system", sv("openai")),
                                        kv("custos.api_key_id", sv("k"))]))),
    (0, "no gen_ai.request.model or gen_ai.response.model"))
put("missing_time.otlp_json", "otlp_json", json.dumps(request(span(startTimeUnixNano="soon"))),
    (0, "startTimeUnixNano is missing or not a non-negative integer"))
put("end_before_start.otlp_json", "otlp_json", json.dumps(request(span(endTimeUnixNano="1764590399000000000"))),
    (0, "field latency_ms must be between 0 and 1e12"))


# ---- otlp_proto: a hand-made encoder ----
def varint(v):
    b = bytearray()
    while True:
        c = v & 0x7F
        v >>= 7
        b.append(c | (0x80 if v else 0))
        if not v:
            return bytes(b)


def field(num, wt, payload_):
    return varint(num << 3 | wt) + payload_


def ld(num, data):
    return field(num, 2, varint(len(data)) + data)


def pb_any(v):
    if "stringValue" in v:
        return ld(1, v["stringValue"].encode())
    if "kvlistValue" in v:
        return ld(6, b"".join(ld(1, pb_kv(x)) for x in v["kvlistValue"]["values"]))
    if "arrayValue" in v:
        return ld(5, b"".join(ld(1, pb_any(x)) for x in v["arrayValue"]["values"]))
    raise ValueError(v)


def pb_kv(x):
    return ld(1, x["key"].encode()) + ld(2, pb_any(x["value"]))


def pb_span(s):
    b = ld(1, bytes.fromhex(s["traceId"])) + ld(2, bytes.fromhex(s["spanId"])) + ld(5, s["name"].encode())
    b += field(7, 1, struct.pack("<Q", int(s["startTimeUnixNano"])))
    if "endTimeUnixNano" in s:
        b += field(8, 1, struct.pack("<Q", int(s["endTimeUnixNano"])))
    b += b"".join(ld(9, pb_kv(a)) for a in s["attributes"])
    return b


def pb_request(*spans):
    return ld(1, ld(2, b"".join(ld(2, pb_span(s)) for s in spans)))


good = pb_request(span())
put("truncated.otlp_proto", "otlp_proto", good[:len(good) - 5], (-1, "otlp_proto: a truncated"))
put("json.otlp_proto", "otlp_proto", json.dumps(request(span())), (-1, "otlp_proto: the message is JSON, not protobuf"))
put("garbage.otlp_proto", "otlp_proto", b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", (-1, "otlp_proto: a bad tag"))
put("group_wiretype.otlp_proto", "otlp_proto", b"\x0b\x0c", (-1, "otlp_proto: a bad tag"))
put("length_past_end.otlp_proto", "otlp_proto", b"\x0a\xff\xff\x03" + b"\x00" * 8, (-1, "otlp_proto: a truncated field in ExportTraceServiceRequest"))
deep_pb = sv("leaf")
for _ in range(20):
    deep_pb = {"kvlistValue": {"values": [kv("k", deep_pb)]}}
put("deep_kvlist.otlp_proto", "otlp_proto", pb_request(span(attributes=base + [kv("deep", deep_pb)])),
    (-1, "AnyValue nested deeper than 16 levels"))
put("bad_ids.otlp_proto", "otlp_proto", pb_request(span(traceId="0102030405060708"), span(spanId="00f067aa0ba902c0")),
    (0, "otlp_proto span 0: traceId is not 32 hex digits"))
expected.append("bad_ids.otlp_proto\totlp_proto\trows\t1")
# a Latin-1 key: "caf\xe9" as one byte, not UTF-8 (the encoder writes
# bytes as given)
latin1 = pb_request(span(attributes=base + [kv("cafXYZ", sv("x"))])).replace(b"cafXYZ", b"caf\xe9XY")
put("latin1_key.otlp_proto", "otlp_proto", latin1, (-1, "otlp_proto: a string that is not UTF-8 in KeyValue.key"))
put("huge_array.otlp_proto", "otlp_proto",
    pb_request(span(attributes=base + [kv("big", {"arrayValue": {"values": [sv("x")] * 5000}})])),
    (0, "attribute big holds 5000 values, more than 4096"))
put("missing_key.otlp_proto", "otlp_proto",
    pb_request(span(attributes=[kv("gen_ai.operation.name", sv("chat")), kv("gen_ai.request.model", sv("gpt-4"))])),
    (0, "no custos.api_key_id attribute on the span or its resource"))

with open(os.path.join(out, "EXPECTED"), "w") as f:
    f.write("\n".join(expected) + "\n")
