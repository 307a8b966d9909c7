import FlukeModels
import Foundation
import Testing

/// `JSONValue(parsing:)` must give what `JSONDecoder` gives, and refuse what it refuses.
@Suite("JSONValue(parsing:) agrees with JSONDecoder")
struct JSONParsingTests {
    static func decoded(_ text: [UInt8]) -> JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: Data(text)) }
    static func parsed(_ text: [UInt8]) -> JSONValue? { try? JSONValue(parsing: Data(text)) }

    static let validTexts: [String] = [
        #"{}"#, #"[]"#, #"null"#, #"true"#, #"false"#, #"0"#, #"-0"#, #"  42  "#, #"-17"#, #"3.25"#, #"1e3"#, #"1E-2"#,
        #"-1.5e+10"#, #"123456789012345"#, #"1234567890123456789"#, #"12345678901234567890123"#, #"0.1"#,
        #"1.7976931348623157e308"#, #"5e-324"#,
        #""plain""#, #""""#, #""esc \" \\ \/ \b \f \n \r \t""#, #""\u00e9\u4e2d\ud83d\ude00""#, #""ünïcödé ✓ 😀""#,
        #"{"a":1,"b":[true,false,null],"c":{"d":"e"}}"#, "\t{ \"k\" :\r\n [ 1 , 2 ] }\n",
        #"{"dup":1,"dup":2}"#, #"[[[[[[]]]]]]"#, #"{"":""}"#, #"["\u0000"]"#,
        #"{"@context":"https://flukebase.me/schemas/unified-log","level":"info","message":"x\u001b[31mred","n":1.0}"#,
    ]

    static let invalidTexts: [[UInt8]] = [
        "", " ", "{", "[", "{\"a\"}", "{a:1}", "01", "-", "1.", ".5", "1e", "+1", "NaN", "Infinity",
        "1e999", "-1e999", "tru", "nul", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
        "\"a\u{01}b\"", "\"tab\there\"", "[1] [2]", "{} x", "'single'", "[1 2]", "{\"a\" 1}",
    ].map { Array($0.utf8) } + [
        [0x22, 0xFF, 0x22], [0x22, 0xC3, 0x28, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22],  // not UTF-8, a CESU surrogate
        Array(repeating: UInt8(ascii: "["), count: 600) + Array(repeating: UInt8(ascii: "]"), count: 600),
        Array("[1]".utf8) + [0],
    ]

    @Test("valid texts give JSONDecoder's value", arguments: validTexts)
    func valid(_ text: String) throws {
        let expected = try #require(Self.decoded(Array(text.utf8)), "JSONDecoder refused \(text)")
        let got = try JSONValue(parsing: Data(text.utf8))
        #expect(got == expected, "\(text)")
        if case .number(let n) = got, text.contains("-0"), !text.contains(".") { #expect(n.sign == .minus) }
    }

    @Test("invalid texts are refused, as JSONDecoder refuses them")
    func invalid() {
        for text in Self.invalidTexts {
            #expect(Self.parsed(text) == nil, "parsed \(String(decoding: text, as: UTF8.self).prefix(40))")
            #expect(Self.decoded(text) == nil, "JSONDecoder accepted \(String(decoding: text, as: UTF8.self).prefix(40))")
        }
        // JSONDecoder lets trailing commas through; RFC 8259 does not.
        for text in ["[1,]", "{\"a\":1,}", "[[],]"] {
            #expect(throws: JSONParseError.self) { try JSONValue(parsing: Data(text.utf8)) }
            #expect(Self.decoded(Array(text.utf8)) != nil)
        }
    }

    @Test("nesting up to the limit parses; one deeper does not")
    func depth() throws {
        let deep = JSONValue.maxParsingDepth
        let ok = String(repeating: "[", count: deep) + String(repeating: "]", count: deep)
        #expect(Self.parsed(Array(ok.utf8)) != nil)
        let tooDeep = "[" + ok + "]"
        #expect(Self.parsed(Array(tooDeep.utf8)) == nil)
    }

    /// Random documents built from the cases above, encoded by JSONEncoder, parse to what they
    /// were made from.
    @Test("JSONEncoder's output of random values parses back to them")
    func roundTrip() throws {
        var generator = SystemRandomNumberGenerator()
        func random(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0..<(depth > 3 ? 4 : 6), using: &generator) {
            case 0: return .null
            case 1: return .bool(Bool.random(using: &generator))
            case 2: return .number(Double.random(in: -1e12...1e12, using: &generator).rounded() / [1, 10, 1000].randomElement()!)
            case 3:
                let scalars = (0..<Int.random(in: 0..<12)).map { _ in
                    Unicode.Scalar([0x22, 0x5C, 0x0A, 0x01, 0x41, 0xE9, 0x4E2D, 0x1F600].randomElement()!)!
                }
                return .string(String(String.UnicodeScalarView(scalars)))
            case 4: return .array((0..<Int.random(in: 0..<4)).map { _ in random(depth + 1) })
            default:
                var o: [String: JSONValue] = [:]
                for i in 0..<Int.random(in: 0..<4) { o["k\(i)\u{E9}"] = random(depth + 1) }
                return .object(o)
            }
        }
        for _ in 0..<500 {
            let value = random(0)
            let text = try JSONEncoder().encode(value)
            #expect(try JSONValue(parsing: text) == (try JSONDecoder().decode(JSONValue.self, from: text)))
        }
    }

    /// `jsonBytes()` writes what JSONEncoder (sorted keys, slashes as they are) writes: numbers of
    /// every size, every escape, keys that sort differently by bytes than by characters.
    @Test("jsonBytes() writes JSONEncoder's bytes for random values")
    func writing() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var generator = SystemRandomNumberGenerator()
        let keys = ["a", "B", "b", "é", "e\u{301}", "中", "😀", "a/b", "", "k\"", "z\n", "10", "9", "ｚ", "Z"]
        func random(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0..<(depth > 3 ? 4 : 6), using: &generator) {
            case 0: return Bool.random(using: &generator) ? .null : .bool(Bool.random(using: &generator))
            case 1: return .number([0, -0.0, 1, -17, 9e15 - 1, 9e15, 1e300, 5e-324, 0.1, 1e-7, 3.25, -1.5e10,
                                    Double.random(in: -1e6...1e6, using: &generator)].randomElement(using: &generator)!)
            case 2: return .number(Double(Int.random(in: -1_000_000...1_000_000, using: &generator)))
            case 3:
                let scalars = (0..<Int.random(in: 0..<12, using: &generator)).map { _ in
                    Unicode.Scalar([0x22, 0x5C, 0x2F, 0x0A, 0x08, 0x0C, 0x0D, 0x09, 0x01, 0x1F, 0x7F, 0x41, 0xE9, 0x2028, 0x4E2D, 0x1F600]
                        .randomElement(using: &generator)!)!
                }
                return .string(String(String.UnicodeScalarView(scalars)))
            case 4: return .array((0..<Int.random(in: 0..<4, using: &generator)).map { _ in random(depth + 1) })
            default:
                var o: [String: JSONValue] = [:]
                for key in keys.shuffled(using: &generator).prefix(Int.random(in: 0..<6, using: &generator)) { o[key] = random(depth + 1) }
                return .object(o)
            }
        }
        for _ in 0..<1_000 {
            let value = random(0)
            let expected = String(decoding: try encoder.encode(value), as: UTF8.self)
            #expect(value.jsonText == expected)
            #expect(try JSONValue(parsing: Data(value.jsonBytes())) == value)
        }
    }

    /// `JSONValue.decode` reads models as JSONDecoder reads them from the same text, and fails
    /// where it fails, naming the path.
    @Test("decode(_:) gives JSONDecoder's models and its errors' paths")
    func decoding() throws {
        struct Model: Decodable, Equatable {
            struct Inner: Decodable, Equatable { var n: Int8; var tags: [String]; var when: Date? }
            var id: UUID
            var name: String
            var ratio: Double
            var count: UInt32
            var flag: Bool?
            var inner: [Inner]
            var extra: JSONValue?
        }
        let text = #"{"id":"6F1C2A1E-9A8B-4C3D-8E7F-0A1B2C3D4E5F","name":"a\"b","ratio":0.25,"count":7,"flag":null,"#
            + #""inner":[{"n":-3,"tags":["x","y"],"when":"2026-12-03T07:00:00.125Z"},{"n":4,"tags":[]}],"extra":{"k":[1,"2"]},"unknown":1}"#
        let value = try JSONValue(parsing: Data(text.utf8))
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { d in
            let s = try d.singleValueContainer().decode(String.self)
            guard let date = RFC3339.parse(s) else { throw DecodingError.dataCorruptedError(in: try d.singleValueContainer(), debugDescription: s) }
            return date
        }
        let expected = try decoder.decode(Model.self, from: Data(text.utf8))
        #expect(try value.decode(Model.self) == expected)
        #expect(try value.decode(Model.self).inner.first?.when == RFC3339.parse("2026-12-03T07:00:00.125Z"))

        let entry = UnifiedLogEntry(timestamp: RFC3339.parse("2026-12-03T07:00:00.125Z")!, level: .warn, message: "disk 91% full",
                                    source: .init(service: "db", component: "disk"))
        let encoded = try JSONValue(parsing: try CloudEvent.encoder().encode(entry))
        #expect(try encoded.decode(UnifiedLogEntry.self) == entry)

        func failure(_ text: String) -> String {
            do {
                _ = try JSONValue(parsing: Data(text.utf8)).decode(Model.self)
                return "decoded"
            } catch let error as DecodingError {
                switch error {
                case .keyNotFound(let key, let context): return (context.codingPath + [key]).map(\.stringValue).joined(separator: ".")
                case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
                    return context.codingPath.map(\.stringValue).joined(separator: ".")
                @unknown default: return "?"
                }
            } catch {
                return "other: \(error)"
            }
        }
        let base = #""id":"6f1c2a1e-9a8b-4c3d-8e7f-0a1b2c3d4e5f","name":"n","ratio":1,"count":1"#
        #expect(failure("{\(base)}") == "inner")
        #expect(failure(#"{"# + base + #","inner":[{"n":300,"tags":[]}]}"#) == "inner.0.n", "300 does not fit Int8")
        #expect(failure(#"{"# + base + #","inner":[{"n":1,"tags":[1]}]}"#) == "inner.0.tags.0")
        #expect(failure(#"{"# + base + #","inner":[{"n":1.5,"tags":[]}]}"#) == "inner.0.n")
        #expect(failure(#"{"# + base + #","inner":[{"n":1,"tags":[],"when":"yesterday"}]}"#) == "inner.0.when")
        #expect(failure(#"{"id":"not-a-uuid","name":"n","ratio":1,"count":1,"inner":[]}"#) == "id")
        #expect(failure(#"{"# + base.replacingOccurrences(of: #""count":1"#, with: #""count":-1"#) + #","inner":[]}"#) == "count")
        #expect(failure(#"[1]"#) == "")
    }

    @Test("hasControlCharacter is Unicode's Cc, read from bytes")
    func controlCharacters() {
        for value in 0..<0x800 {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let text = "a" + String(scalar) + "é"
            let cc = scalar.properties.generalCategory == .control
            #expect(text.hasControlCharacter == cc, "U+\(String(value, radix: 16))")
            #expect(text.hasDisallowedControlCharacter == (cc && !["\t", "\n", "\r"].contains(scalar)), "U+\(String(value, radix: 16))")
        }
        #expect(!"中😀\u{2028}".hasControlCharacter)
    }

    @Test("UUID.lowercased and UUID(text:) agree with Foundation's forms")
    func uuids() {
        for _ in 0..<1_000 {
            let id = UUID()
            #expect(id.lowercased == id.uuidString.lowercased())
            #expect(UUID(text: id.uuidString) == id)
            #expect(UUID(text: id.lowercased) == id)
        }
        for bad in ["", "not-a-uuid", "123e4567-e89b-12d3-a456-42661417400", "123e4567-e89b-12d3-a456-4266141740000",
                    "123e4567e89b-12d3-a456-426614174000-", "123e4567-e89b-12d3-a456-42661417400g", "{123e4567-e89b-12d3-a456-426614174000}",
                    "123e4567-e89b-12d3-a456_426614174000", "é23e4567-e89b-12d3-a456-42661417400"] {
            #expect(UUID(text: bad) == nil, "\(bad)")
            #expect(UUID(uuidString: bad) == nil, "\(bad)")
        }
    }
}
