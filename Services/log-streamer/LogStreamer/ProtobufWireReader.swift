/// The protobuf wire format over a byte slice: tags, varints, fixed-width and length-delimited
/// fields, each checked against what is left.
struct ProtobufWireReader {
    struct Field {
        var number: UInt64
        var wireType: UInt8
    }

    private var bytes: ArraySlice<UInt8>
    let path: String

    init(_ bytes: ArraySlice<UInt8>, path: String) {
        self.bytes = bytes
        self.path = path
    }

    /// The next field's tag, or nil at the end.
    mutating func next() throws -> Field? {
        guard !bytes.isEmpty else { return nil }
        let tag = try rawVarint()
        let field = Field(number: tag >> 3, wireType: UInt8(tag & 7))
        guard field.number > 0 else { throw fail("a field number of 0") }
        return field
    }

    mutating func varint(_ field: Field, name: String) throws -> UInt64 {
        guard field.wireType == 0 else { throw fail("\(name) is not a varint") }
        return try rawVarint()
    }

    mutating func fixed64(_ field: Field, name: String) throws -> UInt64 {
        guard field.wireType == 1 else { throw fail("\(name) is not fixed64") }
        return try fixed(8)
    }

    mutating func fixed32(_ field: Field, name: String) throws -> UInt32 {
        guard field.wireType == 5 else { throw fail("\(name) is not fixed32") }
        return UInt32(try fixed(4))
    }

    mutating func bytes(_ field: Field) throws -> ArraySlice<UInt8> {
        guard field.wireType == 2 else { throw fail("field \(field.number) is not length-delimited") }
        let length = try rawVarint()
        guard length <= UInt64(bytes.count) else { throw fail("a length of \(length) runs past the end") }
        let value = bytes.prefix(Int(length))
        bytes = bytes.dropFirst(Int(length))
        return value
    }

    mutating func string(_ field: Field) throws -> String {
        let raw = try bytes(field)
        guard let text = String(validating: raw, as: UTF8.self) else { throw fail("a string that is not UTF-8") }
        return text
    }

    mutating func message(_ field: Field, path: String) throws -> ProtobufWireReader {
        ProtobufWireReader(try bytes(field), path: path)
    }

    /// Steps over a field this reader does not use.
    mutating func skip(_ field: Field) throws {
        switch field.wireType {
        case 0: _ = try rawVarint()
        case 1: _ = try fixed(8)
        case 2: _ = try bytes(field)
        case 5: _ = try fixed(4)
        default: throw fail("wire type \(field.wireType) (groups are not used by OTLP)")
        }
    }

    private mutating func rawVarint() throws -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while let byte = bytes.first {
            bytes = bytes.dropFirst()
            guard shift < 64 else { throw fail("a varint longer than 10 bytes") }
            value |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        throw fail("a varint cut short")
    }

    private mutating func fixed(_ width: Int) throws -> UInt64 {
        guard bytes.count >= width else { throw fail("a fixed-width value cut short") }
        var value: UInt64 = 0
        for (index, byte) in bytes.prefix(width).enumerated() { value |= UInt64(byte) << (8 * UInt64(index)) }
        bytes = bytes.dropFirst(width)
        return value
    }

    private func fail(_ reason: String) -> OTLPDecodingError {
        OTLPDecodingError(path: path, reason: "not OTLP protobuf: \(reason)")
    }
}
