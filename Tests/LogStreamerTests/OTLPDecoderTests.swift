import Foundation
import Testing

@testable import LogStreamer

/// The OTLP decoders against opentelemetry-proto's own encoder (`Fixtures/otlp_fixture_gen.py`
/// wrote the fixtures), and against hostile input. No database.
@Suite("OTLP decoders: protobuf and OTLP/JSON")
struct OTLPDecoderTests {
    @Test("the protobuf fixture decodes to what opentelemetry-proto put in it, and its OTLP/JSON twin to the same records")
    func fixtures() throws {
        let records = try OTLPProtobufDecoder.decode(Array(try OTLPFixtures.file("otlp-request.bin")))
        #expect(records.count == 12)
        // Both sides through one JSON parser and writer, so that numbers are written alike.
        func canonical(_ data: Data) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: try JSONSerialization.jsonObject(with: data),
                                                        options: [.sortedKeys]), as: UTF8.self)
        }
        let got = try canonical(try JSONSerialization.data(withJSONObject: records.map(Self.summary)))
        #expect(try got == canonical(try OTLPFixtures.file("otlp-expected.json")), "\(got)")
        #expect(try OTLPJSONDecoder.decode(try OTLPFixtures.file("otlp-request.json")) == records)

        let first = records[0]
        #expect(first.path == "resourceLogs[0].scopeLogs[0].logRecords[0]" && first.timeUnixNano == 1_700_000_000_123_456_789)
        #expect(first.traceID == Array(0..<16) && first.spanID == Array(0..<8) && first.eventName == "deploy_start")
        #expect(first.attributes.first == OTLPAttribute(key: "order_id", value: .int(-42)))
        #expect(records[11].path == "resourceLogs[1].scopeLogs[1].logRecords[2]" && records[11].scopeName == "scope1")
    }

    @Test("every truncation and thousands of corrupted copies of the fixture decode or throw, never crash; nesting beyond 32 levels is refused")
    func hostileInput() throws {
        let fixture = Array(try OTLPFixtures.file("otlp-request.bin"))
        var refused = 0
        for cut in 0..<fixture.count {
            do { _ = try OTLPProtobufDecoder.decode(Array(fixture[..<cut])) } catch { refused += 1 }
        }
        #expect(refused > fixture.count / 2, "most truncations cut a field short: \(refused)")
        var random = SplitMix64(seed: 14)
        for _ in 0..<5000 {
            var corrupted = fixture
            for _ in 0...(random.next() % 8) {
                corrupted[Int(random.next() % UInt64(corrupted.count))] = UInt8(truncatingIfNeeded: random.next())
            }
            _ = try? OTLPProtobufDecoder.decode(corrupted)
        }
        // AnyValue{arrayValue{values: AnyValue{…}}} 40 deep, as a record's body.
        var value: [UInt8] = OTLPFixtures.field(1, Array("x".utf8))
        for _ in 0..<40 { value = OTLPFixtures.field(5, OTLPFixtures.field(1, value)) }
        #expect(throws: OTLPDecodingError.self) { try OTLPProtobufDecoder.decode(OTLPFixtures.request(record: OTLPFixtures.field(5, value))) }
    }

    @Test("a refusal names the record's path and field, in either encoding")
    func errorPaths() throws {
        let shortTrace = OTLPFixtures.request(record: OTLPFixtures.field(9, [1, 2, 3, 4, 5]))
        let error = try #require(throws: OTLPDecodingError.self) { try OTLPProtobufDecoder.decode(shortTrace) }
        #expect(error.path == "resourceLogs[0].scopeLogs[0].logRecords[0].traceId" && error.reason == "must be 16 bytes")

        let json = #"{"resourceLogs":[{"scopeLogs":[{},{"logRecords":[{},{"spanId":"zz"}]}]}]}"#
        let jsonError = try #require(throws: OTLPDecodingError.self) { try OTLPJSONDecoder.decode(Data(json.utf8)) }
        #expect(jsonError.path == "resourceLogs[0].scopeLogs[1].logRecords[1].spanId", "\(jsonError)")
        let severity = #"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":25}]}]}]}"#
        #expect(throws: OTLPDecodingError(path: "resourceLogs[0].scopeLogs[0].logRecords[0].severityNumber", reason: "must be 0 to 24")) {
            try OTLPJSONDecoder.decode(Data(severity.utf8))
        }
        #expect(throws: OTLPDecodingError.self) { try OTLPJSONDecoder.decode(Data("[1]".utf8)) }
        // 64-bit integers: as strings (OTLP/JSON's norm) or numbers; an empty AnyValue in an array is null.
        let numbers = #"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":1700000000000000000,"#
            + #""body":{"arrayValue":{"values":[{"intValue":"-9223372036854775808"},{"intValue":7},{}]}}}]}]}]}"#
        let record = try #require(try OTLPJSONDecoder.decode(Data(numbers.utf8)).first)
        #expect(record.timeUnixNano == 1_700_000_000_000_000_000 && record.body == .array([.int(.min), .int(7), nil]))
    }

    /// A record as `otlp_fixture_gen.py` summarises one.
    static func summary(_ record: OTLPLogRecord) -> [String: Any] {
        func describe(_ value: OTLPValue?) -> Any {
            switch value {
            case nil: NSNull()
            case .string(let text)?: ["string", text]
            case .bool(let flag)?: ["bool", flag]
            case .int(let number)?: ["int", number]
            case .double(let number)?: ["double", number]
            case .bytes(let bytes)?: ["bytes", hex(bytes)]
            case .array(let items)?: ["array", items.map(describe)]
            case .keyValues(let pairs)?: ["kv", pairs.map { [$0.key, describe($0.value)] }]
            }
        }
        func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
        return ["path": record.path, "time": record.timeUnixNano, "observed": record.observedTimeUnixNano,
                "sev": record.severityNumber, "sevText": record.severityText, "body": describe(record.body),
                "attrs": record.attributes.map { [$0.key, describe($0.value)] }, "trace": hex(record.traceID),
                "span": hex(record.spanID), "flags": record.flags, "event": record.eventName,
                "resource": record.resource.map { [$0.key, describe($0.value)] }, "scope": [record.scopeName, record.scopeVersion]]
    }
}

/// A seeded generator, so that a failing corruption can be found again.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
