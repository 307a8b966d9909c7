import FlukeModels
import Foundation

/// What projects publish on `fluke.federation.heartbeat.<slug>`.
struct Heartbeat: Decodable {
    var slug: String
    var instanceID: String
    var version: String
    var timestamp: String
    var metadata: JSONValue?

    enum CodingKeys: String, CodingKey {
        case slug, version, timestamp, metadata
        case instanceID = "instance_id"
    }
}

/// Why a heartbeat was dropped; the label of `federation_heartbeats_rejected_total`.
enum HeartbeatRejection: String, CaseIterable, Error {
    /// The payload is not JSON, or lacks a required field.
    case invalidJSON = "invalid_json"
    /// A field is present but unacceptable (timestamp not RFC 3339, empty instance id, …).
    case invalidField = "invalid_field"
    /// The subject is not `fluke.federation.heartbeat.<slug>` with a valid slug.
    case invalidSubject = "invalid_subject"
    /// The payload's slug differs from the subject's.
    case slugMismatch = "slug_mismatch"
    /// The slug is not in the catalog.
    case unknownSlug = "unknown_slug"
}

enum HeartbeatParser {
    static let subjectPrefix = "fluke.federation.heartbeat."
    static let subscription = subjectPrefix + ">"
    private static let prefixBytes = Array(subjectPrefix.utf8)

    /// Validates one message into a record, or says why not. Runs on libnats' delivery thread:
    /// the common shape (flat object of plain strings) is scanned in place; anything else (escapes,
    /// metadata, unusual values) goes through `JSONDecoder`.
    static func parse(subject: UnsafeBufferPointer<UInt8>, payload: UnsafeRawBufferPointer, receivedAt: Date,
                      isKnown: (String) -> Bool) -> Result<HeartbeatRecord, HeartbeatRejection> {
        guard subject.count > prefixBytes.count, subject.starts(with: prefixBytes) else {
            return .failure(.invalidSubject)
        }
        let subjectSlug = String(decoding: UnsafeBufferPointer(rebasing: subject[prefixBytes.count...]), as: UTF8.self)
        guard CatalogLoader.isValidSlug(subjectSlug) else { return .failure(.invalidSubject) }

        let slug: String, instanceID: String, version: String, sentAt: Date?
        var metadataJSON = "{}"
        if let flat = FlatHeartbeat(payload) {
            guard let s = flat.slug, let i = flat.instance, let v = flat.version, let t = flat.timestamp else {
                return .failure(.invalidJSON)
            }
            slug = String(decoding: UnsafeRawBufferPointer(rebasing: payload[s]), as: UTF8.self)
            instanceID = String(decoding: UnsafeRawBufferPointer(rebasing: payload[i]), as: UTF8.self)
            version = String(decoding: UnsafeRawBufferPointer(rebasing: payload[v]), as: UTF8.self)
            sentAt = RFC3339.parse(bytes: UnsafeRawBufferPointer(rebasing: payload[t]))
        } else {
            guard let hb = try? JSONDecoder().decode(Heartbeat.self, from: Data(payload)) else {
                return .failure(.invalidJSON)
            }
            (slug, instanceID, version, sentAt) = (hb.slug, hb.instanceID, hb.version, RFC3339.parse(hb.timestamp))
            if let metadata = hb.metadata {
                // A NUL cannot be stored in jsonb: let in, it would fail every flush it is part of.
                guard case .object = metadata, metadata.pathOfControlCharacter(at: "metadata") == nil,
                      let data = try? JSONEncoder().encode(metadata), data.count <= 8192 else {
                    return .failure(.invalidField)
                }
                metadataJSON = String(decoding: data, as: UTF8.self)
            }
        }
        guard slug == subjectSlug else { return .failure(.slugMismatch) }
        guard !instanceID.isEmpty, instanceID.utf8.count <= 128, !version.isEmpty, version.utf8.count <= 64,
              isPlainText(instanceID), isPlainText(version), let sentAt else { return .failure(.invalidField) }
        guard isKnown(slug) else { return .failure(.unknownSlug) }
        return .success(HeartbeatRecord(slug: slug, instanceID: instanceID, version: version, sentAt: sentAt,
                                        receivedAt: receivedAt, metadataJSON: metadataJSON))
    }
}

extension HeartbeatParser {
    /// No control characters at all (ids and versions are one line).
    static func isPlainText(_ s: String) -> Bool { !s.hasControlCharacter }
}

/// The byte ranges of a heartbeat that is a flat JSON object of plain strings (no escapes, no
/// metadata): `nil` for anything else, which the full decoder then handles.
struct FlatHeartbeat {
    var slug: Range<Int>?
    var instance: Range<Int>?
    var version: Range<Int>?
    var timestamp: Range<Int>?

    init?(_ b: UnsafeRawBufferPointer) {
        var i = 0
        let n = b.count
        func skipSpace() { while i < n, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 } }
        /// A string without escapes, as the range inside the quotes.
        func plainString() -> Range<Int>? {
            guard i < n, b[i] == 0x22 else { return nil }
            i += 1
            let start = i
            while i < n, b[i] != 0x22 {
                if b[i] == 0x5C || b[i] < 0x20 { return nil }
                i += 1
            }
            guard i < n else { return nil }
            defer { i += 1 }
            return start..<i
        }
        func equals(_ range: Range<Int>, _ key: StaticString) -> Bool {
            guard range.count == key.utf8CodeUnitCount else { return false }
            let k = key.utf8Start
            for j in 0..<range.count where b[range.lowerBound + j] != k[j] { return false }
            return true
        }
        skipSpace()
        guard i < n, b[i] == 0x7B else { return nil }
        i += 1
        skipSpace()
        if i < n, b[i] == 0x7D { i += 1 } else {
            while true {
                skipSpace()
                guard let key = plainString() else { return nil }
                skipSpace()
                guard i < n, b[i] == 0x3A else { return nil }
                i += 1
                skipSpace()
                guard let value = plainString() else { return nil }
                if equals(key, "slug") { slug = value }
                else if equals(key, "instance_id") { instance = value }
                else if equals(key, "version") { version = value }
                else if equals(key, "timestamp") { timestamp = value }
                else if equals(key, "metadata") { return nil }
                skipSpace()
                guard i < n else { return nil }
                if b[i] == 0x2C { i += 1; continue }
                guard b[i] == 0x7D else { return nil }
                i += 1
                break
            }
        }
        skipSpace()
        guard i == n else { return nil }
    }
}
