import Foundation

/// One OTLP log record with what it inherits from its resource and instrumentation scope:
/// what `POST /v1/logs` maps to a `UnifiedLogEntry`.
struct OTLPLogRecord: Sendable, Equatable {
    var timeUnixNano: UInt64 = 0
    var observedTimeUnixNano: UInt64 = 0
    var severityNumber: Int = 0
    var severityText = ""
    var body: OTLPValue?
    var attributes: [OTLPAttribute] = []
    var traceID: [UInt8] = []
    var spanID: [UInt8] = []
    var flags: UInt32 = 0
    var eventName = ""
    var resource: [OTLPAttribute] = []
    var scopeName = ""
    var scopeVersion = ""
    /// Where it was in the request (`resourceLogs[0].scopeLogs[1].logRecords[3]`), for errors.
    var path = ""
}

/// An OTLP `AnyValue` (an empty one, which OTLP allows, is `nil` where it is held).
indirect enum OTLPValue: Sendable, Equatable {
    case string(String)
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case array([OTLPValue?])
    case keyValues([OTLPAttribute])
    case bytes([UInt8])
}

/// An OTLP `KeyValue`.
struct OTLPAttribute: Sendable, Equatable {
    var key: String
    var value: OTLPValue?
}

/// Why a request could not be read, naming where (`resourceLogs[0].scopeLogs[0].logRecords[2].traceId`).
struct OTLPDecodingError: Error, Equatable, CustomStringConvertible {
    var path: String
    var reason: String
    var description: String { path.isEmpty ? reason : "\(path): \(reason)" }
}
