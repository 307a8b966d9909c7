extension String {
    /// True when the text holds a control character other than tab, newline and carriage return:
    /// NUL (which Postgres `text` and `jsonb` cannot store at all), the rest of C0, DEL and C1.
    /// Free text keeps its line breaks and tabs; nothing else invisible gets in.
    public var hasDisallowedControlCharacter: Bool {
        unicodeScalars.contains { scalar in
            scalar.properties.generalCategory == .control && scalar != "\t" && scalar != "\n" && scalar != "\r"
        }
    }
}

extension JSONValue {
    /// Where the first string or object key holding a disallowed control character is (see
    /// ``Swift/String/hasDisallowedControlCharacter``), as a field path below `path`
    /// (`tools[1]`, `metadata.region`); a bad key names the object holding it. `nil` when clean.
    public func pathOfControlCharacter(at path: String) -> String? {
        switch self {
        case .string(let s):
            return s.hasDisallowedControlCharacter ? path : nil
        case .array(let items):
            for (i, item) in items.enumerated() {
                if let found = item.pathOfControlCharacter(at: "\(path)[\(i)]") { return found }
            }
            return nil
        case .object(let object):
            // Sorted: the same body always names the same field.
            for key in object.keys.sorted() {
                if key.hasDisallowedControlCharacter { return path }
                let child = path.isEmpty ? key : "\(path).\(key)"
                if let found = object[key]!.pathOfControlCharacter(at: child) { return found }
            }
            return nil
        case .null, .bool, .number:
            return nil
        }
    }
}
