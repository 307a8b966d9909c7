import FlukeModels
import Foundation

/// Reads one entry's fields for ``LogEntryValidator``, every refusal naming `[index].field`.
struct EntryReader {
    let index: Int
    let origin: EntryOrigin

    func fail(_ field: String, _ detail: String) -> LogsError {
        .invalidEntry(index: index, field: field, detail: detail)
    }

    var fromHTTP: Bool { if case .http = origin { true } else { false } }

    /// 422 for the first key (in sorted order, so a body always names the same one) not in `allowed`.
    func allowOnly(_ object: [String: JSONValue], _ allowed: Set<String>, under path: String) throws {
        // Sorted only to name the refused key: every entry passes through here.
        guard !object.keys.allSatisfy(allowed.contains) else { return }
        if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw fail(path.isEmpty ? unknown : path + "." + unknown, "is not a known field")
        }
    }

    /// A string of 1…`max` characters without control characters; `nil` when absent or null.
    func text(_ value: JSONValue?, _ field: String, required: Bool = false, max: Int) throws -> String? {
        switch value {
        case nil, .null?:
            if required { throw fail(field, "is required") }
            return nil
        case .string(let s)?:
            guard !s.isEmpty else { throw fail(field, "must not be empty") }
            // Counting characters walks grapheme clusters: only a text with more bytes than that can have more.
            guard s.utf8.count <= max || s.count <= max else { throw fail(field, "must have at most \(max) characters") }
            guard !s.hasControlCharacter else {
                throw fail(field, "must not contain control characters")
            }
            return s
        default:
            throw fail(field, "must be a string")
        }
    }

    /// An entry id: 1–128 printable ASCII characters, no spaces. Made by the caller when absent
    /// over HTTP; required on the stream.
    func identifier(_ value: JSONValue?, _ field: String) throws -> String? {
        guard let id = try text(value, field, required: !fromHTTP, max: 128) else { return nil }
        guard id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw fail(field, "must be printable ASCII without spaces")
        }
        return id
    }

    /// RFC 3339 with any precision and offset, kept to the millisecond (what the JSON carries);
    /// now when absent over HTTP.
    func timestamp(_ value: JSONValue?, now: Date) throws -> Date {
        guard let value, value != .null else {
            if fromHTTP { return Self.milliseconds(now) }
            throw fail("timestamp", "is required")
        }
        guard let raw = value.stringValue, let date = RFC3339.parse(raw) else {
            throw fail("timestamp", "must be an RFC 3339 time such as 2026-02-03T10:00:00Z")
        }
        return Self.milliseconds(date)
    }

    static func milliseconds(_ date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded(.down) / 1000)
    }

    func message(_ value: JSONValue?) throws -> String {
        guard case .string(var message)? = value else {
            throw fail("message", value == nil ? "is required" : "must be a string")
        }
        if message.utf8.contains(0) {
            guard !fromHTTP else { throw fail("message", "must not contain NUL characters") }
            message = message.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}")
        }
        let max = LogEntryValidator.maxMessageBytes
        guard message.utf8.count > max else { return message }
        guard !fromHTTP else { throw fail("message", "must have at most \(max) bytes") }
        // From the stream, a producer's long line keeps its first 32 KiB (whole characters)
        // rather than losing the whole entry.
        var kept = String.UnicodeScalarView()
        var bytes = 0
        for scalar in message.unicodeScalars {
            bytes += UTF8.width(scalar)
            if bytes > max { break }
            kept.append(scalar)
        }
        return String(kept)
    }

    func uuid(_ value: JSONValue?, _ field: String) throws -> UUID? {
        guard let raw = try text(value, field, max: 36) else { return nil }
        guard let id = UUID(text: raw) else { throw fail(field, "must be a UUID") }
        return id
    }

    /// The entry's source, stamped with its tenant (and project), and that tenant.
    func source(_ value: JSONValue?) throws -> (UnifiedLogEntry.Source, UUID) {
        guard case .object(let object)? = value else {
            throw fail("source", value == nil ? "is required" : "must be an object")
        }
        try allowOnly(object, LogEntryValidator.sourceKeys, under: "source")
        var source = UnifiedLogEntry.Source(
            service: try text(object["service"], "source.service", required: true, max: 128)!,
            component: try text(object["component"], "source.component", required: !fromHTTP, max: 128) ?? "http",
            instance: try text(object["instance"], "source.instance", max: 256),
            stream: try text(object["stream"], "source.stream", max: 64))
        let tenant: UUID
        switch origin {
        case .http(let token, let project):
            // Whatever the body says: the token decides whose entry this is.
            tenant = token
            source.projectID = try project ?? uuid(object["project_id"], "source.project_id")
        case .stream(let subjectTenant):
            if let named = try uuid(object["tenant_id"], "source.tenant_id"), named != subjectTenant {
                throw fail("source.tenant_id", "names another tenant than the subject")
            }
            tenant = subjectTenant
            source.projectID = try uuid(object["project_id"], "source.project_id")
        }
        source.tenantID = tenant
        return (source, tenant)
    }

    func metadata(_ value: JSONValue?) throws -> UnifiedLogEntry.FlukeDeployMetadata? {
        guard let value, value != .null else { return nil }
        guard case .object(let object) = value else { throw fail("flukedeploy_metadata", "must be an object") }
        try allowOnly(object, LogEntryValidator.metadataKeys, under: "flukedeploy_metadata")
        let app = try text(object["app_name"], "flukedeploy_metadata.app_name", required: true, max: 63)!
        guard LogEntryValidator.isAppName(app) else {
            throw fail("flukedeploy_metadata.app_name", "must be 1-63 letters, digits, '-' or '_'")
        }
        var eventType: UnifiedLogEntry.EventKind?
        if let raw = try text(object["event_type"], "flukedeploy_metadata.event_type", max: 64) {
            guard let kind = UnifiedLogEntry.EventKind(rawValue: raw) else {
                throw fail("flukedeploy_metadata.event_type",
                           "must be one of \(UnifiedLogEntry.EventKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            eventType = kind
        }
        var duration: Int?
        switch object["duration_ms"] {
        case nil, .null?: break
        case .number(let n)? where n >= 0 && n <= 9e15 && n.rounded() == n: duration = Int(n)
        default: throw fail("flukedeploy_metadata.duration_ms", "must be a whole number of milliseconds, 0 or more")
        }
        return UnifiedLogEntry.FlukeDeployMetadata(
            deploymentID: try uuid(object["deployment_id"], "flukedeploy_metadata.deployment_id"), appName: app,
            phase: try text(object["phase"], "flukedeploy_metadata.phase", max: 64), eventType: eventType,
            version: try text(object["version"], "flukedeploy_metadata.version", max: 128), durationMS: duration)
    }
}
