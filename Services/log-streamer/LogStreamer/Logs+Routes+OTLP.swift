import FlukeCrypto
import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation
import Hummingbird
import NIOCore

/// OpenTelemetry's `POST /v1/logs` (OTLP/HTTP, scope `logs:write`): an `ExportLogsServiceRequest`
/// in protobuf or JSON, optionally gzip- or deflate-compressed, whose records become
/// UnifiedLogEntry JSON (``OTLPMapping``) and then take `POST /api/v1/logs`' path: one
/// ``LogEntryValidator`` check of the whole batch, one outbox transaction. All or nothing.
///
/// Every answer this route gives is OTLP's (`google.rpc.Status` on errors, in the request's
/// encoding), except three the fleet's middleware gives before the route runs, as RFC 9457
/// problems with the same statuses: 401 for a token that is not valid, 503 when identity cannot
/// verify it now, and 413 for a `Content-Length` over `LOGS_MAX_BODY_BYTES` (exporters act on the
/// status). A request without a token reaches the route and gets its 401.
extension LogsRoutes {
    func registerOTLP(_ routes: inout RouteRecorder) {
        routes.on(.post, "/v1/logs") { request, context in
            let contentType = request.headers[.contentType]
            do {
                return try await exportLogs(request, context: context, encoding: OTLPEncoding(contentType: contentType))
            } catch {
                return OTLPResponse.failure(otlpFailure(error, context: context),
                                            encoding: OTLPEncoding.answering(contentType: contentType))
            }
        }
    }

    private func exportLogs(_ request: Request, context: FleetRequestContext, encoding: OTLPEncoding?) async throws -> Response {
        let principal = try context.principal(requiring: .logsWrite)
        guard let encoding else {
            throw OTLPFailure(.unsupportedMediaType, "send application/x-protobuf or application/json (OTLP/HTTP)")
        }
        let body = try await Self.readBody(request, limit: context.maxUploadSize)
        let records = try encoding == .protobuf ? OTLPProtobufDecoder.decode(body) : OTLPJSONDecoder.decode(Data(body))
        guard records.count <= maxBatchEntries else {
            throw OTLPFailure(.badRequest, "the request holds \(records.count) log records; at most \(maxBatchEntries) (LOGS_MAX_BATCH_ENTRIES)")
        }
        guard !records.isEmpty else { return OTLPResponse.success(encoding) }
        let mapping = OTLPMapping(tenantID: principal.tenantID, requestDigest: Crypto.sha256(body), receivedAt: Date())
        let entries: [CheckedEntry]
        do {
            entries = try validator.check(batch: records.map(mapping.entry), tenant: principal.tenantID,
                                          project: principal.projectID)
        } catch let error as LogsError {
            throw Self.failure(error, records: records)
        }
        try await publisher.publish(entries, principal: principal)
        return OTLPResponse.success(encoding)
    }

    /// The body as sent, or inflated (`Content-Encoding: gzip` or `deflate`); either way at most `limit` bytes.
    static func readBody(_ request: Request, limit: Int) async throws -> [UInt8] {
        // Beyond the limit (LOGS_MAX_BODY_BYTES for this route) collecting throws 413.
        let received = try await request.body.collect(upTo: limit)
        let coding = request.headers[.contentEncoding]?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        let format: BodyInflater.Format
        switch coding {
        case "", "identity": return Array(buffer: received)
        case "gzip", "x-gzip": format = .gzip
        case "deflate": format = .zlib
        default: throw OTLPFailure(.unsupportedMediaType, "Content-Encoding \(coding) is not supported; send gzip, deflate or none")
        }
        do {
            return try BodyInflater.inflate(received, format: format, limit: limit)
        } catch BodyInflater.Failure.tooLarge {
            throw OTLPFailure(.contentTooLarge, "the body inflates to more than \(limit) bytes (LOGS_MAX_BODY_BYTES)")
        } catch BodyInflater.Failure.corrupt(let why) {
            throw OTLPFailure(.badRequest, "the body is not valid \(coding): \(why)")
        }
    }

    /// A validator's refusal, naming the record by its place in the request and the entry field it maps to.
    static func failure(_ error: LogsError, records: [OTLPLogRecord]) -> OTLPFailure {
        guard case .invalidEntry(let index, let field, let detail) = error, records.indices.contains(index) else {
            return OTLPFailure(.badRequest, error.description)
        }
        let entryField = field.isEmpty ? "the entry" : "its entry's \(field)"
        return OTLPFailure(.badRequest, "\(records[index].path) (\(entryField)): \(detail)")
    }

    private func otlpFailure(_ error: any Error, context: FleetRequestContext) -> OTLPFailure {
        switch error {
        case let failure as OTLPFailure:
            return failure
        case let decoding as OTLPDecodingError:
            return OTLPFailure(.badRequest, decoding.description)
        case let problem as Problem:
            return OTLPFailure(problem)
        case let convertible as any ProblemConvertible:
            return OTLPFailure(convertible.problem)
        case let error as HTTPError where error.status == .contentTooLarge:
            return OTLPFailure(.contentTooLarge, "the body exceeds \(context.maxUploadSize) bytes (LOGS_MAX_BODY_BYTES)")
        case let error as PostgresError where error.isUnavailable:
            logger.warning("database unavailable", metadata: [
                "request_id": "\(context.requestID)", "path": "/v1/logs", "error": "\(error.code)"])
            return OTLPFailure(.serviceUnavailable, "the database is unavailable; retry shortly", headers: [.retryAfter: "2"])
        default:
            logger.error("unhandled error", metadata: [
                "request_id": "\(context.requestID)", "path": "/v1/logs", "error": "\(String(describing: type(of: error)))"])
            return OTLPFailure(.internalServerError, "an unexpected error occurred; quote the request id \(context.requestID)")
        }
    }
}
