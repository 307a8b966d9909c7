import FlukeModels
import Foundation

/// One object of a fleet answer: its typed model, and the whole JSON it came from.
///
/// Code reads the typed fields (`project.name`); `--json` output and MCP tools hand on `json`,
/// so that a field a newer service adds is never dropped on the way to a script or an agent.
/// Encoding writes `json`.
@dynamicMemberLookup
public struct FleetObject<Model: Decodable & Sendable>: Codable, Sendable, JSONConvertible {
    public let model: Model
    public let json: JSONValue

    public init(json: JSONValue) throws {
        self.model = try json.decode(Model.self)
        self.json = json
    }

    public init(from decoder: any Decoder) throws {
        try self.init(json: try decoder.jsonValue ?? JSONValue(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }

    public subscript<T>(dynamicMember path: KeyPath<Model, T>) -> T { model[keyPath: path] }
}

/// An answer that can be handed on as the API's JSON, whole.
public protocol JSONConvertible: Sendable {
    var json: JSONValue { get }
}

extension JSONValue: JSONConvertible {
    public var json: JSONValue { self }
}

extension Page: JSONConvertible where Item: JSONConvertible {
    /// The page as the API wrote it: items whole, `next_cursor` always present.
    public var json: JSONValue {
        .object(["items": .array(items.map(\.json)), "next_cursor": nextCursor.map(JSONValue.string) ?? .null])
    }
}
