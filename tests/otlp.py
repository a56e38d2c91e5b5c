"""A local OTLP/HTTP trace receiver, standing in for a collector: the test stack's API and worker
export their spans to it (tests/conftest.py sets OTEL_EXPORTER_OTLP_ENDPOINT), and
tests/e2e/test_traces.py reads them."""

import gzip
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str  # "" for a root span
    kind: int
    links: tuple[tuple[str, str], ...]  # (trace id, span id) of each linked span
    attributes: dict[str, str]
    start_ns: int = 0  # Unix nanoseconds
    end_ns: int = 0


@dataclass
class Receiver:
    """Decodes every ExportTraceServiceRequest POSTed to /v1/traces (protobuf) into Spans."""

    spans: list[Span] = field(default_factory=list)
    endpoint: str = ""  # OTEL_EXPORTER_OTLP_ENDPOINT, once served
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        found = []
        for resource_spans in request.resource_spans:
            service = next(
                (
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                ),
                "",
            )
            for scope_spans in resource_spans.scope_spans:
                for s in scope_spans.spans:
                    found.append(
                        Span(
                            service,
                            s.name,
                            s.trace_id.hex(),
                            s.span_id.hex(),
                            s.parent_span_id.hex(),
                            s.kind,
                            tuple((link.trace_id.hex(), link.span_id.hex()) for link in s.links),
                            {a.key: a.value.string_value for a in s.attributes},
                            s.start_time_unix_nano,
                            s.end_time_unix_nano,
                        )
                    )
        with self.lock:
            self.spans += found

    def snapshot(self) -> list[Span]:
        with self.lock:
            return list(self.spans)


def serve(receiver: Receiver) -> ThreadingHTTPServer:
    """On a free port of 127.0.0.1, in a thread, with `receiver.endpoint` set to it;
    `.shutdown()` stops it."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            if self.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path != "/v1/traces":
                self.send_response(404)
                self.end_headers()
                return
            receiver.add(body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    receiver.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    return server
