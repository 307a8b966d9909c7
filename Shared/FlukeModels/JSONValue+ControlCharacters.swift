extension String {
    /// True when the text holds a control character other than tab, newline and carriage return:
    /// NUL (which Postgres `text` and `jsonb` cannot store at all), the rest of C0, DEL and C1.
    /// Free text keeps its line breaks and tabs; nothing else invisible gets in.
    public var hasDisallowedControlCharacter: Bool { containsControlCharacter(allowingLineBreaks: true) }

    /// True when the text holds any control character (Unicode's general category Cc: C0, DEL,
    /// C1), tabs and line breaks included.
    public var hasControlCharacter: Bool { containsControlCharacter(allowingLineBreaks: false) }

    /// Read from the UTF-8 bytes: Cc is exactly U+0000–U+001F, U+007F and U+0080–U+009F (bytes
    /// C2 80–C2 9F), and looking each scalar's category up cost more than the rest of a log
    /// entry's checks.
    private func containsControlCharacter(allowingLineBreaks: Bool) -> Bool {
        var previous: UInt8 = 0
        for byte in utf8 {
            if byte < 0x20 {
                if !allowingLineBreaks || (byte != 0x09 && byte != 0x0A && byte != 0x0D) { return true }
            } else if byte == 0x7F || (previous == 0xC2 && byte <= 0x9F && byte >= 0x80) {
                return true
            }
            previous = byte
        }
        return false
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
