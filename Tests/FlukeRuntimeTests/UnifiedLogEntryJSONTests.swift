import FlukeModels
import Foundation
import Testing

/// `UnifiedLogEntry.canonicalJSON()` writes, byte for byte, what the fleet's encoder writes.
@Suite("UnifiedLogEntry.canonicalJSON() equals CloudEvent.encoder()'s output")
struct UnifiedLogEntryJSONTests {
    /// Every C0 control, DEL, C1, quotes, backslashes, slashes, line and paragraph separators,
    /// and characters outside the BMP.
    static let hostile = (0..<0x20).map { String(UnicodeScalar(UInt8($0))) }.joined()
        + "\u{7F}\u{80}\u{9F} \"q\" back\\slash a/b </script> \u{2028}\u{2029} é 中 😀"

    static func random(_ i: Int) -> UnifiedLogEntry {
        var g = SystemRandomNumberGenerator()
        func maybe<T>(_ value: @autoclosure () -> T) -> T? { Bool.random(using: &g) ? value() : nil }
        func text() -> String { [hostile, "plain", "", "GET /api/v1/items 200", String(hostile.shuffled())].randomElement(using: &g)! }
        // Milliseconds on both sides of rounding, before and after 1970, and far ahead.
        let seconds = [Double.random(in: -1e9...4e9, using: &g), 1_764_700_000.9995, 1_764_700_000.0004, 0, 253_402_300_799.999]
            .randomElement(using: &g)!
        let metadata = maybe(UnifiedLogEntry.FlukeDeployMetadata(
            deploymentID: maybe(UUID()), appName: "app-\(i)", phase: maybe(text()),
            eventType: maybe(UnifiedLogEntry.EventKind.allCases.randomElement(using: &g)!), version: maybe(text()),
            durationMS: maybe(Int.random(in: 0...9_000_000_000_000, using: &g))))
        return UnifiedLogEntry(
            id: "id-\(i)-" + text().filter { $0.isASCII && !$0.isWhitespace }, timestamp: Date(timeIntervalSince1970: seconds),
            level: UnifiedLogEntry.Level.allCases.randomElement(using: &g)!, message: text(),
            source: .init(service: text(), component: text(), instance: maybe(text()), stream: maybe(text()),
                          tenantID: maybe(UUID()), projectID: maybe(UUID())),
            flukedeployMetadata: metadata, traceID: maybe(String(repeating: "ab", count: 16)),
            spanID: maybe(String(repeating: "0f", count: 8)))
    }

    @Test("random entries with hostile text")
    func randomEntries() throws {
        let encoder = CloudEvent.encoder()
        for i in 0..<2_000 {
            let entry = Self.random(i)
            let expected = try encoder.encode(entry)
            let got = try entry.canonicalJSON()
            #expect(Data(got) == expected, "\(String(decoding: got, as: UTF8.self))\n\(String(decoding: expected, as: UTF8.self))")
            if Data(got) != expected { return }
        }
    }

    @Test("entries with attributes or resource are the encoder's own output")
    func attributes() throws {
        var entry = Self.random(1)
        entry.attributes = ["b": .number(1.5), "a10": .string("x"), "a9": .array([.bool(true), .null])]
        entry.resource = ["service.name": .string("api")]
        #expect(Data(try entry.canonicalJSON()) == (try CloudEvent.encoder().encode(entry)))
    }

    @Test("RFC3339.format: milliseconds, microseconds, none")
    func timestamps() {
        let date = Date(timeIntervalSince1970: 1_764_700_000.1234567)
        #expect(RFC3339.format(date) == "2025-12-02T18:26:40.123Z")
        #expect(RFC3339.format(date, fractionDigits: 6) == "2025-12-02T18:26:40.123457Z")
        #expect(RFC3339.format(date, fractionDigits: 0) == "2025-12-02T18:26:40Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: 1_764_700_000.9999)) == "2025-12-02T18:26:41.000Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: -1.5)) == "1969-12-31T23:59:58.500Z")
    }
}
