"""Real OTLP trace receivers for tests: gRPC (TraceService/Export) and HTTP (POST /v1/traces).

Both decode the protobuf ExportTraceServiceRequest with opentelemetry-proto's generated classes
and keep the spans as plain dicts, so tests assert on what a collector would really receive.
"""

from __future__ import annotations

import threading
import time
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

SPAN_KINDS = {1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}


def _value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


class Collected:
    """Spans received so far (thread-safe), plus the request headers of each export."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.spans: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []

    def add(self, req: trace_service_pb2.ExportTraceServiceRequest, headers: dict[str, str]) -> None:
        out = []
        for rs in req.resource_spans:
            resource = {a.key: _value(a.value) for a in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    out.append({
                        "name": s.name, "kind": SPAN_KINDS.get(s.kind, str(s.kind)), "scope": ss.scope.name,
                        "trace_id": s.trace_id.hex(), "span_id": s.span_id.hex(),
                        "parent_span_id": s.parent_span_id.hex(), "status": s.status.code,
                        "status_message": s.status.message, "resource": resource,
                        "attributes": {a.key: _value(a.value) for a in s.attributes},
                        "events": [(e.name, {a.key: _value(a.value) for a in e.attributes}) for e in s.events],
                    })
        with self._lock:
            self.spans.extend(out)
            self.headers.append(headers)

    def wait_for(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.spans) >= count:
                    return list(self.spans)
            time.sleep(0.05)
        with self._lock:
            raise AssertionError(f"expected {count} spans within {timeout}s, got {len(self.spans)}: {self.spans}")


class _Servicer(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, collected: Collected) -> None:
        self.collected = collected

    def Export(self, request: Any, context: Any) -> Any:  # noqa: N802 - the generated service's name
        self.collected.add(request, {k: v for k, v in context.invocation_metadata()})
        return trace_service_pb2.ExportTraceServiceResponse()


class GrpcReceiver:
    def __init__(self) -> None:
        self.collected = Collected()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Servicer(self.collected), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.stop(grace=None)


class HttpReceiver:
    def __init__(self) -> None:
        self.collected = Collected()
        self.paths: list[str] = []
        collected, paths = self.collected, self.paths

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                paths.append(self.path)
                req = trace_service_pb2.ExportTraceServiceRequest()
                req.ParseFromString(body)
                collected.add(req, {k.lower(): v for k, v in self.headers.items()})
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
