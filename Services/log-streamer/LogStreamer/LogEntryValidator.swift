import FlukeModels
import Foundation

/// Where an entry came from, which decides whose it is.
enum EntryOrigin: Sendable {
    /// `POST /api/v1/logs`: the token's tenant, whatever the entry says; the token's project when
    /// it is bound to one, else the entry's own `source.project_id` (a tenant-wide token writes
    /// for any project of its tenant).
    case http(tenant: UUID, project: UUID?)
    /// `FLUKE_LOGS`: the tenant the subject names; an entry naming another one is refused.
    case stream(tenant: UUID)
}

/// The one check every entry passes, from HTTP or from `FLUKE_LOGS`, so that what is stored
/// looks the same whichever way it came: the seed's UnifiedLogEntry fields and nothing else, each
/// within bounds, the timestamp within the retention window.
///
/// HTTP clients may leave out `@context`, `@type`, `id` (a UUID is made) and `timestamp` (now);
/// entries on the stream must carry `id` and `timestamp`. Identifiers refuse every control
/// character; `message` keeps them (terminal colours are data), except NUL, which Postgres cannot
/// store: refused over HTTP, replaced by U+FFFD from the stream (a producer's bad byte must not
/// lose the whole entry). Likewise a `message` over 32 KiB: 422 over HTTP, cut to its first
/// 32 KiB from the stream. OpenTelemetry's fields (`trace_id`, `span_id`, `attributes`,
/// `resource`) are optional and bounded (see `EntryReader+Attributes.swift`).
struct LogEntryValidator: Sendable {
    /// Entries older than this many days are refused (HTTP) or skipped (stream): their day's
    /// partition is gone, or about to go.
    let retentionDays: Int

    static let maxMessageBytes = 32 * 1024
    /// Bounds of `attributes` and of `resource`, each: top-level keys (twice OpenTelemetry's
    /// default attribute count limit, leaving room for the `otel.*` keys OTLP's mapping adds),
    /// nesting, and size (keys and strings as UTF-8; as much as `message`, for the exception
    /// stack traces SDKs put in attributes).
    static let maxAttributes = 256
    static let maxAttributeDepth = 8
    static let maxAttributeBytes = 32 * 1024
    static let entryKeys: Set<String> = ["@context", "@type", "id", "timestamp", "level", "message", "source",
                                         "flukedeploy_metadata", "trace_id", "span_id", "attributes", "resource"]
    static let sourceKeys: Set<String> = ["service", "component", "instance", "stream", "tenant_id", "project_id"]
    static let metadataKeys: Set<String> = ["deployment_id", "app_name", "phase", "event_type", "version", "duration_ms"]

    /// Whether `name` can be an app's subject token: 1–63 letters, digits, `-` or `_` (no dots,
    /// wildcards or spaces, which would change the subject's shape).
    static func isAppName(_ name: String) -> Bool {
        (1...63).contains(name.utf8.count) && name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }
    }

    /// A whole HTTP batch, all or nothing: the first bad entry throws, naming `[index].field`.
    func check(batch: [JSONValue], tenant: UUID, project: UUID?, now: Date = Date()) throws -> [CheckedEntry] {
        var seen: [String: Int] = [:]
        var checked: [CheckedEntry] = []
        checked.reserveCapacity(batch.count)
        for (index, raw) in batch.enumerated() {
            guard let entry = try check(raw, index: index, origin: .http(tenant: tenant, project: project), now: now) else { continue }
            if let first = seen.updateValue(index, forKey: entry.entry.id) {
                throw LogsError.invalidEntry(index: index, field: "id", detail: "repeats the id of [\(first)]")
            }
            checked.append(entry)
        }
        return checked
    }

    /// One entry; `nil` for a stream entry past the retention window (acknowledged, not stored).
    func check(_ raw: JSONValue, index: Int, origin: EntryOrigin, now: Date = Date()) throws -> CheckedEntry? {
        let reader = EntryReader(index: index, origin: origin)
        guard case .object(let object) = raw else { throw reader.fail("", "must be a JSON object") }
        try reader.allowOnly(object, Self.entryKeys, under: "")
        if let context = object["@context"], context != .string(UnifiedLogEntry.jsonLDContext) {
            throw reader.fail("@context", "must be \(UnifiedLogEntry.jsonLDContext)")
        }
        if let type = object["@type"], type != .string(UnifiedLogEntry.jsonLDType) {
            throw reader.fail("@type", "must be \(UnifiedLogEntry.jsonLDType)")
        }
        let id = try reader.identifier(object["id"], "id") ?? UUID().lowercased
        let timestamp = try reader.timestamp(object["timestamp"], now: now)
        if timestamp <= now.addingTimeInterval(-Double(retentionDays) * 86_400) {
            if case .stream = origin { return nil }
            throw reader.fail("timestamp", "is older than the \(retentionDays) days log-streamer keeps (LOGS_RETENTION_DAYS)")
        }
        guard timestamp <= now.addingTimeInterval(86_400) else { throw reader.fail("timestamp", "is more than a day ahead") }
        guard let level = object["level"]?.stringValue.flatMap(UnifiedLogEntry.Level.init(rawValue:)) else {
            throw reader.fail("level", "must be one of debug, info, warn, error")
        }
        let message = try reader.message(object["message"])
        let (source, tenant) = try reader.source(object["source"])
        let metadata = try reader.metadata(object["flukedeploy_metadata"])
        let entry = UnifiedLogEntry(id: id, timestamp: timestamp, level: level, message: message, source: source,
                                    flukedeployMetadata: metadata,
                                    traceID: try reader.hexIdentifier(object["trace_id"], "trace_id", digits: 32),
                                    spanID: try reader.hexIdentifier(object["span_id"], "span_id", digits: 16),
                                    attributes: try reader.attributes(object["attributes"], "attributes"),
                                    resource: try reader.attributes(object["resource"], "resource"))
        do {
            return try CheckedEntry(tenantID: tenant, entry: entry)
        } catch {
            throw reader.fail("", "cannot be encoded: \(error)")
        }
    }
}
