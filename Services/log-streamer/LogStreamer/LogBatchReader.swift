import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird

/// The body of `POST /api/v1/logs` as a list of entries: a JSON array (`application/json`) or
/// one entry per line (NDJSON: `application/x-ndjson`, `application/ndjson`, `application/jsonl`;
/// blank lines skipped). An entry's index is its place in the array, or among the non-blank lines.
enum LogBatchReader {
    static let ndjsonTypes = ["application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"]

    static func read(_ request: Request, context: FleetRequestContext, maxEntries: Int) async throws -> [JSONValue] {
        let type = request.headers[.contentType]?.lowercased() ?? ""
        let ndjson = ndjsonTypes.contains { type.hasPrefix($0) }
        guard ndjson || type.hasPrefix("application/json") else {
            throw Problem(.unsupportedMediaType, detail: "send a JSON array as application/json or NDJSON as application/x-ndjson",
                          field: "Content-Type")
        }
        // Beyond the route's limit (LOGS_MAX_BODY_BYTES) this throws 413.
        let data = Data(buffer: try await request.body.collect(upTo: context.maxUploadSize))
        let entries = ndjson ? try lines(data) : try array(data)
        guard !entries.isEmpty else { throw LogsError.invalidBatch(status: .unprocessableContent, detail: "holds no entries") }
        guard entries.count <= maxEntries else {
            throw LogsError.invalidBatch(status: .unprocessableContent,
                                         detail: "holds \(entries.count) entries; at most \(maxEntries) (LOGS_MAX_BATCH_ENTRIES)")
        }
        return entries
    }

    static func array(_ data: Data) throws -> [JSONValue] {
        guard let value = try? JSONValue(parsing: data) else {
            throw LogsError.invalidBatch(status: .badRequest, detail: "the body is not valid JSON")
        }
        guard case .array(let entries) = value else {
            throw LogsError.invalidBatch(status: .badRequest, detail: "the body must be a JSON array of entries")
        }
        return entries
    }

    static func lines(_ data: Data) throws -> [JSONValue] {
        var entries: [JSONValue] = []
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            // CRLF line ends and whitespace-only lines are tolerated.
            guard line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\t") })
            else { continue }
            guard let value = try? JSONValue(parsing: Data(line)) else {
                throw LogsError.malformedEntry(index: entries.count, detail: "line \(entries.count + 1) is not valid JSON")
            }
            entries.append(value)
        }
        return entries
    }
}
