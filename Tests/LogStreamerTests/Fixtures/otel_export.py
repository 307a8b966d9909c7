"""Sends logs to log-streamer's POST /v1/logs the way an instrumented app does: OpenTelemetry's
Python SDK (LoggerProvider, BatchLogRecordProcessor) and its OTLP/HTTP exporter (protobuf), with
the standard library's logging bridged in. Used by OTLPTests.pythonSDKExporter.

    otel_export.py ENDPOINT TOKEN SERVICE_NAME none|gzip

Logs `logger.error("payment failed", extra={"order_id": 42})` inside a span, flushes, and prints
the span's trace id (32 hex digits). Exits non-zero if an export failed.
"""
import logging
import sys
import warnings

# The SDK's LoggingHandler is deprecated in favour of opentelemetry-instrumentation-logging; it
# is still the SDK's own bridge and does the same.
warnings.simplefilter("ignore", DeprecationWarning)

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

endpoint, token, service, compression = sys.argv[1:5]


class Recording(LogRecordExporter):
    """The real exporter, with each export's result kept: the SDK only logs a failed export."""

    def __init__(self, inner):
        self.inner = inner
        self.results = []

    def export(self, batch):
        result = self.inner.export(batch)
        self.results.append(result)
        return result

    def shutdown(self):
        self.inner.shutdown()

    def force_flush(self, timeout_millis=30000):
        return True


resource = Resource.create({"service.name": service, "service.version": "1.4.2", "service.instance.id": "pod-7"})
exporter = Recording(OTLPLogExporter(
    endpoint=endpoint,
    headers={"Authorization": f"Bearer {token}"},
    compression=Compression.Gzip if compression == "gzip" else Compression.NoCompression,
    timeout=20,
))
provider = LoggerProvider(resource=resource)
provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
tracer = TracerProvider(resource=resource).get_tracer("checkout")

logger = logging.getLogger("checkout")
logger.propagate = False
logger.setLevel(logging.INFO)
logger.addHandler(LoggingHandler(level=logging.NOTSET, logger_provider=provider))

with tracer.start_as_current_span("pay") as span:
    logger.error("payment failed", extra={"order_id": 42})
    trace_id = format(span.get_span_context().trace_id, "032x")

flushed = provider.force_flush(timeout_millis=30000)
provider.shutdown()
if not flushed or not exporter.results or any(r != LogRecordExportResult.SUCCESS for r in exporter.results):
    sys.exit(f"export failed: flushed={flushed} results={exporter.results}")
print(trace_id)
