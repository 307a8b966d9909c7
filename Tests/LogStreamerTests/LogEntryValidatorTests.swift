import FlukeModels
import Foundation
import Testing

@testable import LogStreamer

/// OpenTelemetry's fields on UnifiedLogEntry, as `LogEntryValidator` takes them over HTTP and from
/// `FLUKE_LOGS`. No database.
@Suite("UnifiedLogEntry's trace_id, span_id, attributes and resource")
struct LogEntryValidatorTests {
    static let tenant = UUID()
    static let validator = LogEntryValidator(retentionDays: 14)

    static func entry(_ id: String, _ extra: [String: JSONValue] = [:]) -> JSONValue {
        var object: [String: JSONValue] = ["id": .string(id), "level": .string("info"), "message": .string("m"),
                                           "source": .object(["service": .string("api")])]
        object.merge(extra) { _, new in new }
        return .object(object)
    }

    @Test("accepted over HTTP and written back as sent; an entry without them encodes exactly as before")
    func roundTrip() throws {
        let fields: [String: JSONValue] = [
            "trace_id": .string("5b8efff798038103d269b633813fc60c"), "span_id": .string("eee19b7ec3c1b174"),
            "attributes": .object(["order_id": .number(42), "tags": .array([.string("a"), .null]), "nested": .object(["ok": .bool(true)])]),
            "resource": .object(["service.name": .string("api")]),
        ]
        let checked = try Self.validator.check(batch: [Self.entry("e-1", fields)], tenant: Self.tenant, project: nil)
        let entry = try #require(checked.first?.entry)
        #expect(entry.traceID == "5b8efff798038103d269b633813fc60c" && entry.spanID == "eee19b7ec3c1b174")
        #expect(entry.attributes?["order_id"] == .number(42) && entry.resource == ["service.name": .string("api")])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(checked[0].json.utf8)) as? [String: Any])
        #expect(json["trace_id"] as? String == "5b8efff798038103d269b633813fc60c" && (json["attributes"] as? [String: Any])?["order_id"] as? Int == 42)
        #expect(try CloudEvent.decoder().decode(UnifiedLogEntry.self, from: Data(checked[0].json.utf8)) == entry)

        let plain = try Self.validator.check(batch: [Self.entry("e-2", ["attributes": .object([:]), "trace_id": .null])],
                                             tenant: Self.tenant, project: nil)
        #expect(plain[0].entry.attributes == nil && plain[0].entry.traceID == nil)
        for key in ["trace_id", "span_id", "attributes", "resource"] {
            #expect(!plain[0].json.contains("\"\(key)\""), "\(plain[0].json)")
        }
    }

    @Test("bounds, each refusal naming [index].field", arguments: [
        ("trace_id", JSONValue.string("5B8EFFF798038103D269B633813FC60C"), "[1].trace_id"),
        ("trace_id", .string(String(repeating: "0", count: 32)), "[1].trace_id"),
        ("trace_id", .number(1), "[1].trace_id"),
        ("span_id", .string("eee19b7ec3c1b17"), "[1].span_id"),
        ("attributes", .array([]), "[1].attributes"),
        ("attributes", .object(Dictionary(uniqueKeysWithValues: (0...256).map { ("k\($0)", JSONValue.null) })), "[1].attributes"),
        ("attributes", .object(["a": .object(["b\u{0}": .null])]), "[1].attributes.a"),
        ("attributes", .object(["": .null]), "[1].attributes"),
        ("attributes", .object(["a": .array([.string("x\u{0}y")])]), "[1].attributes.a[0]"),
        ("resource", .object(["big": .string(String(repeating: "x", count: 33 * 1024))]), "[1].resource.big"),
        ("resource", (0..<9).reduce(JSONValue.string("deep")) { inner, _ in .object(["d": inner]) }, "[1].resource.d.d.d.d.d.d.d.d.d"),
    ])
    func bounds(field: String, value: JSONValue, path: String) throws {
        let error = try #require(throws: LogsError.self) {
            try Self.validator.check(batch: [Self.entry("ok"), Self.entry("bad", [field: value])], tenant: Self.tenant, project: nil)
        }
        #expect(error.field == path, "\(error)")
    }

    @Test("from FLUKE_LOGS, a NUL inside an attribute's string is replaced (the entry is kept), as in message")
    func streamReplacesNUL() throws {
        var raw = Self.entry("s-1", ["attributes": .object(["k": .string("a\u{0}b")]), "timestamp": .string(RFC3339.format(Date()))])
        if case .object(var object) = raw {
            object["source"] = .object(["service": .string("api"), "component": .string("app")])
            raw = .object(object)
        }
        let checked = try #require(try Self.validator.check(raw, index: 0, origin: .stream(tenant: Self.tenant)))
        #expect(checked.entry.attributes?["k"] == .string("a\u{FFFD}b"))
    }
}
