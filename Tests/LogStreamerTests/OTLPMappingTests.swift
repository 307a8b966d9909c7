import FlukeModels
import Foundation
import NIOCore
import Testing

@testable import LogStreamer

/// OTLP records → UnifiedLogEntry (the documented mapping), the bounded inflater and the
/// `google.rpc.Status` bodies. No database.
@Suite("OTLP mapping, inflating and answers")
struct OTLPMappingTests {
    static let tenant = UUID()
    static let now = Date(timeIntervalSince1970: 1_800_000_000.5)
    static let mapping = OTLPMapping(tenantID: tenant, requestDigest: Array(repeating: 7, count: 32), receivedAt: now)

    static func record(_ edit: (inout OTLPLogRecord) -> Void = { _ in }) -> OTLPLogRecord {
        var record = OTLPLogRecord(path: "resourceLogs[0].scopeLogs[0].logRecords[0]")
        record.timeUnixNano = 1_800_000_000_123_456_789
        record.resource = [OTLPAttribute(key: "service.name", value: .string("checkout"))]
        edit(&record)
        return record
    }

    static func entry(_ record: OTLPLogRecord) -> [String: JSONValue] {
        guard case .object(let object) = mapping.entry(record) else { Issue.record("not an object"); return [:] }
        return object
    }

    @Test("severity numbers by OTLP's ranges, else the severity text, else info",
          arguments: [(0, "", "info"), (1, "", "debug"), (5, "", "debug"), (8, "ERROR", "debug"), (9, "", "info"),
                      (12, "", "info"), (13, "", "warn"), (16, "", "warn"), (17, "", "error"), (21, "", "error"),
                      (24, "", "error"), (0, "WARNING", "warn"), (0, "Warn", "warn"), (0, "fatal", "error"),
                      (0, "CRITICAL", "error"), (0, "DEBUG2", "debug"), (0, "trace", "debug"), (0, "ERROR4", "error"),
                      (0, "notice", "info"), (0, "loud", "info")])
    func severity(number: Int, text: String, level: String) {
        #expect(OTLPMapping.level(number: number, text: text).rawValue == level)
    }

    @Test("trace and span ids in lowercase hex, absent when all zero or missing; times to the millisecond, falling back to the observed time and then to arrival")
    func idsAndTimes() {
        let traced = Self.entry(Self.record { $0.traceID = [0xAB] + Array(repeating: 1, count: 15); $0.spanID = Array(repeating: 0xF0, count: 8) })
        #expect(traced["trace_id"] == .string("ab" + String(repeating: "01", count: 15)))
        #expect(traced["span_id"] == .string(String(repeating: "f0", count: 8)))
        #expect(traced["timestamp"] == .string("2027-01-15T08:00:00.123Z"))
        let zero = Self.entry(Self.record { $0.traceID = Array(repeating: 0, count: 16); $0.spanID = Array(repeating: 0, count: 8) })
        #expect(zero["trace_id"] == nil && zero["span_id"] == nil)
        let observed = Self.entry(Self.record { $0.timeUnixNano = 0; $0.observedTimeUnixNano = 1_800_000_001_999_999_999 })
        #expect(observed["timestamp"] == .string("2027-01-15T08:00:01.999Z"))
        let neither = Self.entry(Self.record { $0.timeUnixNano = 0 })
        #expect(neither["timestamp"] == .string(RFC3339.format(Self.now)))
    }

    @Test("AnyValue as JSON: integers beyond ±9e15 and non-finite doubles as strings, bytes as base64, an empty value null; a body that is not a string becomes its compact JSON")
    func values() {
        #expect(OTLPMapping.json(.int(42)) == .number(42) && OTLPMapping.json(.int(-8_999_999_999_999_999)) == .number(-8_999_999_999_999_999))
        #expect(OTLPMapping.json(.int(.max)) == .string("9223372036854775807") && OTLPMapping.json(.int(.min)) == .string("-9223372036854775808"))
        #expect(OTLPMapping.json(.int(9_000_000_000_000_000)) == .string("9000000000000000"))
        #expect(OTLPMapping.json(.double(.nan)) == .string("NaN") && OTLPMapping.json(.double(-.infinity)) == .string("-Infinity"))
        #expect(OTLPMapping.json(.bytes([0, 1, 0xFF])) == .string("AAH/"))
        #expect(OTLPMapping.json(.array([.bool(true), nil])) == .array([.bool(true), .null]))
        #expect(OTLPMapping.json(.keyValues([OTLPAttribute(key: "a", value: .int(1)), OTLPAttribute(key: "a", value: .int(2))])) == .object(["a": .number(2)]))
        #expect(OTLPMapping.message(nil) == "" && OTLPMapping.message(.string("plain")) == "plain")
        #expect(OTLPMapping.message(.keyValues([OTLPAttribute(key: "z", value: .int(1)), OTLPAttribute(key: "a", value: .bytes([1]))])) == #"{"a":"AQ==","z":1}"#)
    }

    @Test("service.name gives source.service and, when it is an app name, flukedeploy_metadata with service.version, fluke.deployment_id and an event_name that is a deploy event; the rest goes to attributes and resource")
    func sourceAndMetadata() {
        let deployment = UUID().lowercased
        let full = Self.entry(Self.record {
            $0.resource += [OTLPAttribute(key: "service.version", value: .string("1.4.2")),
                            OTLPAttribute(key: "service.instance.id", value: .string("pod-7"))]
            $0.attributes = [OTLPAttribute(key: "fluke.deployment_id", value: .string(deployment)), OTLPAttribute(key: "order_id", value: .int(42))]
            $0.eventName = "deploy_start"; $0.severityNumber = 17; $0.severityText = "ERROR"; $0.scopeName = "checkout"
        })
        #expect(full["source"] == .object(["service": .string("checkout"), "component": .string("otlp"), "instance": .string("pod-7")]))
        #expect(full["flukedeploy_metadata"] == .object(["app_name": .string("checkout"), "version": .string("1.4.2"),
                                                         "deployment_id": .string(deployment), "event_type": .string("deploy_start")]))
        #expect(full["attributes"] == .object(["fluke.deployment_id": .string(deployment), "order_id": .number(42),
                                               "otel.severity_text": .string("ERROR"), "otel.severity_number": .number(17),
                                               "otel.scope.name": .string("checkout"), "otel.event_name": .string("deploy_start")]))
        #expect(full["resource"]?["service.version"] == .string("1.4.2"))

        let dotted = Self.entry(Self.record { $0.resource = [OTLPAttribute(key: "service.name", value: .string("my.service"))]; $0.eventName = "checkout.paid" })
        #expect(dotted["source"]?["service"] == .string("my.service") && dotted["flukedeploy_metadata"] == nil)
        let anonymous = Self.entry(Self.record { $0.resource = [] })
        #expect(anonymous["source"]?["service"] == .string("unknown_service") && anonymous["resource"] == nil && anonymous["attributes"] == nil)
    }

    @Test("ids are the same for the same record of the same request and tenant, and differ otherwise")
    func deterministicIDs() {
        let record = Self.record()
        var elsewhere = record
        elsewhere.path = "resourceLogs[0].scopeLogs[0].logRecords[1]"
        let id = Self.mapping.id(record)
        #expect(UUID(uuidString: id) != nil && id == Self.mapping.id(record) && id != Self.mapping.id(elsewhere))
        #expect(id != OTLPMapping(tenantID: UUID(), requestDigest: Self.mapping.requestDigest, receivedAt: Self.now).id(record))
        #expect(id != OTLPMapping(tenantID: Self.tenant, requestDigest: Array(repeating: 8, count: 32), receivedAt: Self.now).id(record))
    }

    @Test("mapped records pass the validator of POST /api/v1/logs; one it refuses is named by its OTLP path")
    func throughTheValidator() throws {
        let validator = LogEntryValidator(retentionDays: 14)
        let now = Date()
        let mapping = OTLPMapping(tenantID: Self.tenant, requestDigest: [1], receivedAt: now)
        let good = Self.record { $0.timeUnixNano = 0; $0.traceID = Array(1...16); $0.attributes = [OTLPAttribute(key: "n", value: .int(.max))] }
        let checked = try validator.check(batch: [mapping.entry(good)], tenant: Self.tenant, project: nil, now: now)
        let entry = try #require(checked.first?.entry)
        #expect(entry.traceID == "0102030405060708090a0b0c0d0e0f10" && entry.source.tenantID == Self.tenant)
        #expect(entry.attributes?["n"] == .string("9223372036854775807") && entry.flukedeployMetadata?.appName == "checkout")

        var bad = Self.record { $0.timeUnixNano = 0; $0.attributes = [OTLPAttribute(key: "fluke.deployment_id", value: .string("nope"))] }
        bad.path = "resourceLogs[1].scopeLogs[0].logRecords[3]"
        let nul = Self.record { $0.timeUnixNano = 0; $0.attributes = [OTLPAttribute(key: "k", value: .string("a\u{0}b"))] }
        for (record, message) in [(bad, "resourceLogs[1].scopeLogs[0].logRecords[3] (its entry's flukedeploy_metadata.deployment_id): must be a UUID"),
                                  (nul, "resourceLogs[0].scopeLogs[0].logRecords[0] (its entry's attributes.k): must not contain NUL characters")] {
            let error = try #require(throws: LogsError.self) {
                try validator.check(batch: [mapping.entry(record)], tenant: Self.tenant, project: nil, now: now)
            }
            #expect(LogsRoutes.failure(error, records: [record]).message == message)
        }
    }

    @Test("gzip and deflate bodies inflate; a body inflating past the limit stops there; a stream cut short or followed by junk is refused; several gzip members are one body")
    func inflater() throws {
        let text = Array(String(repeating: "payment failed ", count: 1000).utf8)
        let gzip = OTLPFixtures.gzip(text)
        #expect(try BodyInflater.inflate(ByteBuffer(bytes: gzip), format: .gzip, limit: text.count) == text)
        #expect(try BodyInflater.inflate(ByteBuffer(bytes: OTLPFixtures.zlib(text)), format: .zlib, limit: text.count) == text)
        #expect(try BodyInflater.inflate(ByteBuffer(bytes: gzip + OTLPFixtures.gzip([1, 2])), format: .gzip, limit: 1 << 20) == text + [1, 2])
        #expect(throws: BodyInflater.Failure.tooLarge) { try BodyInflater.inflate(ByteBuffer(bytes: gzip), format: .gzip, limit: text.count - 1) }
        let bomb = OTLPFixtures.gzip([UInt8](repeating: 0, count: 16 << 20))
        #expect(bomb.count < 100_000)
        #expect(throws: BodyInflater.Failure.tooLarge) { try BodyInflater.inflate(ByteBuffer(bytes: bomb), format: .gzip, limit: 1 << 20) }
        for broken in [Array(gzip.dropLast(5)), Array(gzip.prefix(12)), gzip + [0x42], Array(text.prefix(100)), []] {
            #expect(throws: BodyInflater.Failure.self) { try BodyInflater.inflate(ByteBuffer(bytes: broken), format: .gzip, limit: 1 << 20) }
        }
    }

    @Test("google.rpc.Status in protobuf (fields 1 and 2) and in JSON; the answer's encoding follows the request's Content-Type")
    func statusBodies() throws {
        var reader = ProtobufWireReader(OTLPResponse.status(code: 3, message: "bad é", encoding: .protobuf)[...], path: "")
        var code: UInt64?, message: String?
        while let field = try reader.next() {
            if field.number == 1 { code = try reader.varint(field, name: "code") } else { message = try reader.string(field) }
        }
        #expect(code == 3 && message == "bad é")
        #expect(String(decoding: OTLPResponse.status(code: 16, message: "no \"token\"", encoding: .json), as: UTF8.self)
            == #"{"code":16,"message":"no \"token\""}"#)
        #expect(OTLPEncoding(contentType: "application/json; charset=utf-8") == .json)
        #expect(OTLPEncoding(contentType: "Application/X-Protobuf") == .protobuf && OTLPEncoding(contentType: "text/plain") == nil)
        #expect(OTLPEncoding.answering(contentType: "text/json") == .json && OTLPEncoding.answering(contentType: nil) == .protobuf)
        #expect(OTLPFailure(.contentTooLarge, "").grpcCode == 8 && OTLPFailure(.forbidden, "").grpcCode == 7)
    }
}
