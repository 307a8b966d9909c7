import FlukeModels
import Foundation
import MCP

/// A tool call's arguments, read against the tool's input schema: a missing or mistyped one is a
/// JSON-RPC invalid-params error naming it, never a call to the fleet.
struct ToolArguments: Sendable {
    let values: [String: Value]
    let tool: String

    func string(_ name: String) throws -> String? {
        switch values[name] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        default: throw MCPError.invalidParams("\(tool): \(name) must be a string")
        }
    }

    func requiredString(_ name: String) throws -> String {
        guard let value = try string(name), !value.isEmpty else { throw MCPError.invalidParams("\(tool): \(name) is required") }
        return value
    }

    func int(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        switch values[name] {
        case nil, .null?: return nil
        case .int(let i)? where range.contains(i): return i
        case .double(let d)? where d.rounded() == d && range.contains(Int(d)): return Int(d)
        default: throw MCPError.invalidParams("\(tool): \(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
    }

    func bool(_ name: String) throws -> Bool? {
        switch values[name] {
        case nil, .null?: return nil
        case .bool(let b)?: return b
        default: throw MCPError.invalidParams("\(tool): \(name) must be true or false")
        }
    }

    func strings(_ name: String) throws -> [String]? {
        switch values[name] {
        case nil, .null?: return nil
        case .array(let items)?:
            return try items.map {
                guard case .string(let s) = $0 else { throw MCPError.invalidParams("\(tool): \(name) must be a list of strings") }
                return s
            }
        default: throw MCPError.invalidParams("\(tool): \(name) must be a list of strings")
        }
    }

    /// Refuses arguments the schema does not name: a typo is an error, not a silent default.
    func allowOnly(_ names: Set<String>) throws {
        if let unknown = values.keys.sorted().first(where: { !names.contains($0) }) {
            throw MCPError.invalidParams("\(tool): unknown argument \(unknown)")
        }
    }
}
