import FlukeModels
import Foundation
import MCP

extension Value {
    /// The fleet's JSON as MCP's: whole numbers as integers.
    init(_ json: JSONValue) {
        switch json {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .number(let n): self = n.rounded() == n && abs(n) < 9e15 ? .int(Int(n)) : .double(n)
        case .string(let s): self = .string(s)
        case .array(let a): self = .array(a.map(Value.init))
        case .object(let o): self = .object(o.mapValues(Value.init))
        }
    }
}

extension JSONValue {
    /// An MCP argument as the fleet's JSON (binary data as base64 text).
    init(_ value: MCP.Value) {
        switch value {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .number(Double(i))
        case .double(let d): self = .number(d)
        case .string(let s): self = .string(s)
        case .data(_, let data): self = .string(data.base64EncodedString())
        case .array(let a): self = .array(a.map { JSONValue($0) })
        case .object(let o): self = .object(o.mapValues { JSONValue($0) })
        }
    }
}
