import FlukeCrypto
import FlukeModels
import FlukeRuntime
import Foundation

/// OTLP log records as UnifiedLogEntry JSON, as a client of `POST /api/v1/logs` would write them,
/// so that they pass the same ``LogEntryValidator`` (which stamps the token's tenant and project).
/// The mapping is documented in docs/architecture.md ("OTLP mapping") and the OpenAPI document.
struct OTLPMapping: Sendable {
    /// The token's tenant: part of every entry's id.
    let tenantID: UUID
    /// SHA-256 of the request body (after Content-Encoding). With a record's place in the request
    /// it makes the record's `id`, so an exporter retrying the same request stores nothing twice.
    let requestDigest: [UInt8]
    /// When the request arrived: the timestamp of a record carrying neither of its times.
    let receivedAt: Date

    static let component = "otlp"
    static let unknownService = "unknown_service"

    func entry(_ record: OTLPLogRecord) -> JSONValue {
        let resource = Self.object(record.resource)
        var entry: [String: JSONValue] = [
            "id": .string(id(record)),
            "timestamp": .string(RFC3339.format(timestamp(record))),
            "level": .string(Self.level(number: record.severityNumber, text: record.severityText).rawValue),
            "message": .string(Self.message(record.body)),
        ]
        let serviceName = resource["service.name"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        var source: [String: JSONValue] = ["service": .string(serviceName ?? Self.unknownService),
                                           "component": .string(Self.component)]
        if let instance = resource["service.instance.id"]?.stringValue, !instance.isEmpty { source["instance"] = .string(instance) }
        entry["source"] = .object(source)

        let attributes = Self.object(record.attributes)
        if let app = serviceName, LogEntryValidator.isAppName(app) {
            var metadata: [String: JSONValue] = ["app_name": .string(app)]
            if let version = resource["service.version"]?.stringValue, !version.isEmpty { metadata["version"] = .string(version) }
            if let deployment = attributes["fluke.deployment_id"] ?? resource["fluke.deployment_id"] {
                metadata["deployment_id"] = deployment
            }
            if UnifiedLogEntry.EventKind(rawValue: record.eventName) != nil { metadata["event_type"] = .string(record.eventName) }
            entry["flukedeploy_metadata"] = .object(metadata)
        }
        if let trace = Self.hex(record.traceID) { entry["trace_id"] = .string(trace) }
        if let span = Self.hex(record.spanID) { entry["span_id"] = .string(span) }

        // What OTLP carries beyond UnifiedLogEntry's own fields, under otel.*; a record's own
        // attribute of the same name is kept.
        var extended = attributes
        let extras: [(String, JSONValue?)] = [
            ("otel.severity_text", record.severityText.isEmpty ? nil : .string(record.severityText)),
            ("otel.severity_number", record.severityNumber == 0 ? nil : .number(Double(record.severityNumber))),
            ("otel.scope.name", record.scopeName.isEmpty ? nil : .string(record.scopeName)),
            ("otel.scope.version", record.scopeVersion.isEmpty ? nil : .string(record.scopeVersion)),
            ("otel.event_name", record.eventName.isEmpty ? nil : .string(record.eventName)),
        ]
        for case let (key, value?) in extras where extended[key] == nil { extended[key] = value }
        if !extended.isEmpty { entry["attributes"] = .object(extended) }
        if !resource.isEmpty { entry["resource"] = .object(resource) }
        return .object(entry)
    }

    /// A UUID from the tenant, the request's digest and the record's place in it.
    func id(_ record: OTLPLogRecord) -> String {
        LogPublisher.nameBasedUUID(Array("fluke.logs.otlp/\(tenantID.lowercased)/".utf8) + requestDigest
            + Array("/\(record.path)".utf8)).lowercased
    }

    /// `time_unix_nano`, else `observed_time_unix_nano`, else the request's arrival; to the millisecond.
    func timestamp(_ record: OTLPLogRecord) -> Date {
        let nanoseconds = record.timeUnixNano != 0 ? record.timeUnixNano : record.observedTimeUnixNano
        guard nanoseconds != 0 else { return receivedAt }
        return Date(timeIntervalSince1970: Double(nanoseconds / 1_000_000) / 1000)
    }

    /// OTLP's severity number ranges (TRACE and DEBUG → debug, INFO → info, WARN → warn, ERROR
    /// and FATAL → error); without a number, the severity text; info when neither says.
    static func level(number: Int, text: String) -> UnifiedLogEntry.Level {
        switch number {
        case 1...8: return .debug
        case 9...12: return .info
        case 13...16: return .warn
        case 17...24: return .error
        default: break
        }
        // OpenTelemetry's short names carry a digit (`DEBUG2`, `ERROR4`); syslog's are common too.
        let name = String(text.lowercased().prefix { $0.isLetter })
        switch name {
        case "trace", "debug", "fine", "finer", "finest": return .debug
        case "warn", "warning": return .warn
        case "error", "err", "fatal", "critical", "crit", "alert", "emerg", "emergency", "severe": return .error
        default: return .info
        }
    }

    /// A string body as is; any other body as its compact JSON (sorted keys); empty without one.
    static func message(_ body: OTLPValue?) -> String {
        switch body {
        case nil: return ""
        case .string(let text)?: return text
        case let value?:
            return (try? FleetJSON.encoder.encode(json(value))).map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
    }

    /// Lowercase hex; `nil` for an absent or all-zero (W3C "invalid") id.
    static func hex(_ bytes: [UInt8]) -> String? {
        guard bytes.contains(where: { $0 != 0 }) else { return nil }
        return Crypto.hex(bytes)
    }

    /// Key-value pairs as an object; a repeated key keeps its last value.
    static func object(_ pairs: [OTLPAttribute]) -> [String: JSONValue] {
        var object: [String: JSONValue] = [:]
        for pair in pairs { object[pair.key] = pair.value.map(json) ?? .null }
        return object
    }

    /// The largest integer written as a JSON number: beyond it, a number is written as a decimal
    /// string (JSONValue keeps numbers as doubles, exact below 2^53; it writes them as integers below 9e15).
    static let largestJSONInteger: Int64 = 9_000_000_000_000_000

    /// An `AnyValue` as JSON: integers beyond ±9e15 and non-finite doubles as strings, bytes as base64.
    static func json(_ value: OTLPValue) -> JSONValue {
        switch value {
        case .string(let text): return .string(text)
        case .bool(let flag): return .bool(flag)
        case .int(let number):
            return number.magnitude < largestJSONInteger.magnitude ? .number(Double(number)) : .string(String(number))
        case .double(let number):
            guard number.isFinite else { return .string(number.isNaN ? "NaN" : number > 0 ? "Infinity" : "-Infinity") }
            return .number(number)
        case .array(let items): return .array(items.map { $0.map(json) ?? .null })
        case .keyValues(let pairs): return .object(object(pairs))
        case .bytes(let bytes): return .string(Data(bytes).base64EncodedString())
        }
    }
}
