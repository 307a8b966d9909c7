import FlukeModels
import FlukeRuntime
import Foundation
import NIOCore

/// A bad tail parameter or filter field: 422 naming it on the upgrade request, an
/// `{"type":"error","code":"invalid_filter"}` message on an open tail.
struct TailFilterError: Error {
    let field: String
    let detail: String
}

/// Which entries a tail receives: the seed's filters (`app_name`, `deployment_id`, `level` as a
/// minimum, `event_type`) and `project_id`. A token bound to a project always has its project here.
struct TailFilter: Sendable, Equatable {
    var appName: String?
    var deploymentID: UUID?
    var minimumLevel: UnifiedLogEntry.Level?
    var eventType: UnifiedLogEntry.EventKind?
    var projectID: UUID?

    static let fields: Set<String> = ["app_name", "deployment_id", "level", "event_type", "project_id"]

    /// The filter from named text values (URL parameters, or a subscribe message's strings);
    /// `boundProject` is the token's project, which a filter cannot widen.
    init(_ value: (String) throws(TailFilterError) -> String?, boundProject: UUID?) throws(TailFilterError) {
        if let app = try value("app_name") {
            guard LogEntryValidator.isAppName(app) else { throw TailFilterError(field: "app_name", detail: "must be 1-63 letters, digits, '-' or '_'") }
            appName = app
        }
        if let raw = try value("deployment_id") {
            guard let id = UUID(uuidString: raw) else { throw TailFilterError(field: "deployment_id", detail: "must be a UUID") }
            deploymentID = id
        }
        if let raw = try value("level") {
            guard let level = UnifiedLogEntry.Level(rawValue: raw.lowercased()) else {
                throw TailFilterError(field: "level", detail: "must be one of debug, info, warn, error")
            }
            minimumLevel = level
        }
        if let raw = try value("event_type") {
            guard let kind = UnifiedLogEntry.EventKind(rawValue: raw) else {
                throw TailFilterError(field: "event_type", detail: "must be one of \(UnifiedLogEntry.EventKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            eventType = kind
        }
        if let raw = try value("project_id") {
            guard let id = UUID(uuidString: raw) else { throw TailFilterError(field: "project_id", detail: "must be a UUID") }
            if let boundProject, id != boundProject {
                throw TailFilterError(field: "project_id", detail: "the token is bound to another project")
            }
            projectID = id
        }
        if let boundProject { projectID = boundProject }
    }

    /// The filter a subscribe message's `filter` object names; unknown keys and non-string values
    /// are refused.
    init(message filter: JSONValue?, boundProject: UUID?) throws(TailFilterError) {
        let object: [String: JSONValue]
        switch filter {
        case nil, .null?: object = [:]
        case .object(let o)?: object = o
        default: throw TailFilterError(field: "filter", detail: "must be an object")
        }
        if let unknown = object.keys.sorted().first(where: { !Self.fields.contains($0) }) {
            throw TailFilterError(field: "filter.\(unknown)", detail: "is not a known filter (\(Self.fields.sorted().joined(separator: ", ")))")
        }
        try self.init({ (name: String) throws(TailFilterError) -> String? in
            switch object[name] {
            case nil, .null?: return nil
            case .string(let s)?: return s
            default: throw TailFilterError(field: "filter.\(name)", detail: "must be a string")
            }
        }, boundProject: boundProject)
    }

    func matches(_ entry: TailEntry) -> Bool {
        if let appName, entry.appName != appName { return false }
        if let deploymentID, entry.deploymentID != deploymentID { return false }
        if let minimumLevel, entry.level.storedRank < minimumLevel.storedRank { return false }
        if let eventType, entry.eventType != eventType { return false }
        if let projectID, entry.projectID != projectID { return false }
        return true
    }

    /// The filter as a subscribed acknowledgement shows it.
    var json: JSONValue {
        var object: [String: JSONValue] = [:]
        if let appName { object["app_name"] = .string(appName) }
        if let deploymentID { object["deployment_id"] = .string(deploymentID.lowercased) }
        if let minimumLevel { object["level"] = .string(minimumLevel.rawValue) }
        if let eventType { object["event_type"] = .string(eventType.rawValue) }
        if let projectID { object["project_id"] = .string(projectID.lowercased) }
        return .object(object)
    }
}

/// An entry as the live tail passes it around: what filters look at, and its frame.
///
/// A class: each entry is queued for every tail that wants it (500,000 times a second for 100
/// tails at 5,000 entries/s), and a reference costs one retain where this struct's strings and
/// buffers cost four.
final class TailEntry: Sendable {
    let seq: Int64
    let id: String
    let tenantID: UUID
    let projectID: UUID?
    let appName: String?
    let deploymentID: UUID?
    let level: UnifiedLogEntry.Level
    let eventType: UnifiedLogEntry.EventKind?
    /// The UnifiedLogEntry JSON, as every tail's frame carries it (one buffer, shared).
    let frame: ByteBuffer
    /// The whole text frame as it goes on the wire (header and `frame`): written once here, then
    /// copied into each tail's batch without going through the frame encoder again.
    let wire: ByteBuffer

    init(seq: Int64, checked: CheckedEntry) {
        self.seq = seq
        id = checked.entry.id
        tenantID = checked.tenantID
        projectID = checked.entry.source.projectID
        appName = checked.entry.flukedeployMetadata?.appName
        deploymentID = checked.entry.flukedeployMetadata?.deploymentID
        level = checked.entry.level
        eventType = checked.entry.flukedeployMetadata?.eventType
        let payload = ByteBuffer(string: checked.json)
        wire = TailEntry.textFrame(payload)
        frame = payload
    }

    /// A final, unmasked text frame carrying `payload`, byte for byte what NIO's
    /// `WebSocketFrameEncoder` writes for `WebSocketFrame.text(payload)` from a server.
    static func textFrame(_ payload: ByteBuffer) -> ByteBuffer {
        let length = payload.readableBytes
        var wire = ByteBuffer()
        wire.reserveCapacity(length + 10)
        wire.writeInteger(UInt8(0x81))   // FIN, opcode 1 (text)
        if length < 126 {
            wire.writeInteger(UInt8(length))
        } else if length <= Int(UInt16.max) {
            wire.writeInteger(UInt8(126))
            wire.writeInteger(UInt16(length))
        } else {
            wire.writeInteger(UInt8(127))
            wire.writeInteger(UInt64(length))
        }
        wire.writeImmutableBuffer(payload)
        return wire
    }
}
