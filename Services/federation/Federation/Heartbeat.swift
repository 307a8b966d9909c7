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
    private static let decoder = JSONDecoder()

    /// Validates one message into a record, or says why not.
    static func parse(subject: String, payload: Data, receivedAt: Date, isKnown: (String) -> Bool)
        -> Result<HeartbeatRecord, HeartbeatRejection> {
        guard subject.hasPrefix(subjectPrefix) else { return .failure(.invalidSubject) }
        let subjectSlug = String(subject.dropFirst(subjectPrefix.count))
        guard CatalogLoader.isValidSlug(subjectSlug) else { return .failure(.invalidSubject) }
        guard let hb = try? decoder.decode(Heartbeat.self, from: payload) else { return .failure(.invalidJSON) }
        guard hb.slug == subjectSlug else { return .failure(.slugMismatch) }
        guard !hb.instanceID.isEmpty, hb.instanceID.utf8.count <= 128, !hb.version.isEmpty, hb.version.utf8.count <= 64,
              let sentAt = RFC3339.parse(hb.timestamp) else { return .failure(.invalidField) }
        var metadataJSON = "{}"
        if let metadata = hb.metadata {
            guard case .object = metadata, let data = try? JSONEncoder().encode(metadata), data.count <= 8192 else {
                return .failure(.invalidField)
            }
            metadataJSON = String(decoding: data, as: UTF8.self)
        }
        guard isKnown(hb.slug) else { return .failure(.unknownSlug) }
        return .success(HeartbeatRecord(slug: hb.slug, instanceID: hb.instanceID, version: hb.version, sentAt: sentAt,
                                        receivedAt: receivedAt, metadataJSON: metadataJSON))
    }
}
