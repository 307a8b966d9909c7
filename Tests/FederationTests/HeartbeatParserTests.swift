@testable import Federation
import Foundation
import Testing

@Suite("heartbeat parsing")
struct HeartbeatParserTests {
    func parse(_ json: String, subject: String = "fluke.federation.heartbeat.alpha")
        -> Result<HeartbeatRecord, HeartbeatRejection> {
        Array(subject.utf8).withUnsafeBufferPointer { s in
            Array(json.utf8).withUnsafeBytes { p in
                HeartbeatParser.parse(subject: s, payload: p, receivedAt: Date(), isKnown: { $0 == "alpha" })
            }
        }
    }

    @Test("the in-place scanner and the full decoder agree, metadata and escapes included")
    func shapes() throws {
        let plain = try parse(#"{"slug":"alpha","instance_id":"i-1","version":"2.0","timestamp":"2026-11-22T10:00:00.5+01:00"}"#).get()
        #expect(plain.instanceID == "i-1" && plain.version == "2.0" && plain.metadataJSON == "{}")
        #expect(plain.sentAt == Date(timeIntervalSince1970: 1_795_338_000.5))
        let spaced = try parse(" {\n \"timestamp\" : \"2026-11-22T09:00:00.5Z\", \"slug\":\"alpha\",\"version\":\"2.0\",\"instance_id\":\"i-1\" } ").get()
        #expect(spaced.sentAt == plain.sentAt)
        let escaped = try parse(#"{"slug":"alpha","instance_id":"i\u002d1","version":"2.0","timestamp":"2026-11-22T09:00:00Z"}"#).get()
        #expect(escaped.instanceID == "i-1")
        let withMetadata = try parse(#"{"slug":"alpha","instance_id":"i","version":"1","timestamp":"2026-11-22T09:00:00Z","metadata":{"region":"eu","n":2}}"#).get()
        #expect(withMetadata.metadataJSON == #"{"n":2,"region":"eu"}"# || withMetadata.metadataJSON == #"{"region":"eu","n":2}"#)
        // Free text in metadata keeps its tabs and line breaks.
        let multiline = try parse(#"{"slug":"alpha","instance_id":"i","version":"1","timestamp":"2026-11-22T09:00:00Z","metadata":{"note":"a\tb\r\nc"}}"#).get()
        #expect(multiline.metadataJSON.contains(#"a\tb\r\nc"#))
    }

    @Test("bad heartbeats are named by reason", arguments: [
        (#"{"slug":"alpha","instance_id":"i","version":"1"}"#, HeartbeatRejection.invalidJSON),
        (#"{"slug":"alpha","instance_id":"i","version":"1","timestamp":"2026-11-22 09:00:00"}"#, .invalidField),
        (#"{"slug":"alpha","instance_id":"","version":"1","timestamp":"2026-11-22T09:00:00Z"}"#, .invalidField),
        (#"{"slug":"alpha","instance_id":"i","version":"1","timestamp":"2026-11-22T09:00:00Z","metadata":[1]}"#, .invalidField),
        (#"{"slug":"beta","instance_id":"i","version":"1","timestamp":"2026-11-22T09:00:00Z"}"#, .slugMismatch),
        (#"{"slug":"alpha","instance_id":"i","version":"1","timestamp":"2026-11-22T09:00:00Z"} x"#, .invalidJSON),
        (#"["alpha"]"#, .invalidJSON),
        // Control characters: a NUL anywhere in metadata (jsonb cannot store it), in a key, in ids.
        (#"{"slug":"alpha","instance_id":"i","version":"1","timestamp":"2026-11-22T09:00:00Z","metadata":{"note":"a\u0000b"}}"#, .invalidField),
        (#"{"slug":"alpha","instance_id":"i","version":"1","timestamp":"2026-11-22T09:00:00Z","metadata":{"tags":["x","\u0000"]}}"#, .invalidField),
        (#"{"slug":"alpha","instance_id":"i","version":"1","timestamp":"2026-11-22T09:00:00Z","metadata":{"a\u0000":1}}"#, .invalidField),
        (#"{"slug":"alpha","instance_id":"i","version":"1","timestamp":"2026-11-22T09:00:00Z","metadata":{"bell":"\u0007"}}"#, .invalidField),
        (#"{"slug":"alpha","instance_id":"i\u0000","version":"1","timestamp":"2026-11-22T09:00:00Z"}"#, .invalidField),
        ("{\"slug\":\"alpha\",\"instance_id\":\"i\u{7F}\",\"version\":\"1\",\"timestamp\":\"2026-11-22T09:00:00Z\"}", .invalidField),
        (#"{"slug":"alpha","instance_id":"i","version":"1\u0085","timestamp":"2026-11-22T09:00:00Z"}"#, .invalidField),
    ])
    func rejections(json: String, reason: HeartbeatRejection) {
        #expect(throws: reason) { try parse(json).get() }
    }

    @Test("subjects must carry a valid slug, and unknown slugs are refused")
    func subjects() {
        let hb = #"{"slug":"alpha","instance_id":"i","version":"1","timestamp":"2026-11-22T09:00:00Z"}"#
        #expect(throws: HeartbeatRejection.invalidSubject) { try parse(hb, subject: "fluke.federation.heartbeat.").get() }
        #expect(throws: HeartbeatRejection.invalidSubject) { try parse(hb, subject: "fluke.federation.heartbeat.a.b").get() }
        let other = #"{"slug":"zeta","instance_id":"i","version":"1","timestamp":"2026-11-22T09:00:00Z"}"#
        #expect(throws: HeartbeatRejection.unknownSlug) { try parse(other, subject: "fluke.federation.heartbeat.zeta").get() }
    }
}
