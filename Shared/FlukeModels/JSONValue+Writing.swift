extension JSONValue {
    /// Compact JSON text, byte for byte what `JSONEncoder` with `.sortedKeys` and
    /// `.withoutEscapingSlashes` writes for this value (whole numbers below 9e15 as integers),
    /// written straight into bytes.
    ///
    /// `fluke mcp` answers every tool call with the API's JSON twice (as text and as structured
    /// content); through `Encoder` that was a large share of a call.
    public func jsonBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out.appendJSON(self)
        return out
    }

    /// ``jsonBytes()`` as a `String`.
    public var jsonText: String { String(decoding: jsonBytes(), as: UTF8.self) }
}

extension [UInt8] {
    /// Appends `value` as ``JSONValue/jsonBytes()`` writes it.
    public mutating func appendJSON(_ value: JSONValue) {
        switch value {
        case .null: append(contentsOf: "null".utf8)
        case .bool(let b): append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n): appendJSONNumber(n)
        case .string(let s): appendJSONString(s)
        case .array(let items):
            append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { append(UInt8(ascii: ",")) }
                appendJSON(item)
            }
            append(UInt8(ascii: "]"))
        case .object(let members):
            append(UInt8(ascii: "{"))
            // JSONEncoder's .sortedKeys order: by UTF-8 bytes.
            for (index, key) in members.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
                if index > 0 { append(UInt8(ascii: ",")) }
                appendJSONString(key)
                append(UInt8(ascii: ":"))
                appendJSON(members[key]!)
            }
            append(UInt8(ascii: "}"))
        }
    }

    private mutating func appendJSONNumber(_ n: Double) {
        if n.rounded() == n, abs(n) < 9e15 {
            append(contentsOf: String(Int64(n)).utf8)
        } else if n.isFinite {
            // Swift writes 9e15 as "9000000000000000.0"; JSONEncoder leaves the ".0" out.
            let text = n.description
            append(contentsOf: (text.hasSuffix(".0") ? text.dropLast(2) : Substring(text)).utf8)
        } else {
            // JSON has no NaN or infinity; a parsed JSONValue never holds one.
            append(contentsOf: "null".utf8)
        }
    }
}
