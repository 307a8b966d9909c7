import FlukeModels
import Foundation

/// A PUT accepts the object exactly as the GET returned it (read, modify, write back): fields a
/// client cannot change may come along, and are accepted when they are unchanged.
extension RequestFields {
    /// `name`, if sent, must equal `current` (the value the GET shows); 422 naming it otherwise.
    /// Times compare as instants and UUIDs regardless of case, so any faithful copy passes.
    public func unchanged(_ name: String, _ current: JSONValue) throws {
        guard let sent = values[name], sent != current else { return }
        if case .string(let a) = sent, case .string(let b) = current {
            if let x = RFC3339.parse(a), let y = RFC3339.parse(b), abs(x.timeIntervalSince(y)) < 0.0005 { return }
            if let x = UUID(uuidString: a), x == UUID(uuidString: b) { return }
        }
        throw Problem.invalid(name, "cannot change (send it as read, or leave it out)")
    }

    /// Each of `names` that was sent must equal the same field of `current`'s JSON representation.
    public func unchanged(_ names: [String], in current: some Encodable) throws {
        guard names.contains(where: has) else { return }
        let representation = try JSONValue(encoding: current)
        for name in names { try unchanged(name, representation[name] ?? .null) }
    }
}
