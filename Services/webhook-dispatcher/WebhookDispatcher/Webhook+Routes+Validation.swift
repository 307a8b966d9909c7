import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird

/// The checks on a subscription's fields that a JSON schema cannot express.
extension WebhookRoutes {
    func checkURL(_ fields: RequestFields, required: Bool) async throws -> String? {
        guard let url = try fields.string("callback_url", required: required, maxLength: 2048) else { return nil }
        do {
            _ = try await resolver.checkedAddress(url)
        } catch let error as URLPolicyError {
            throw Problem.invalid("callback_url", error.reason)
        }
        return url
    }

    static func events(_ fields: RequestFields, required: Bool = true) throws -> [String]? {
        guard let events = try fields.strings("events", required: required, maxCount: 50, maxLength: 128) else { return nil }
        guard !events.isEmpty else { throw Problem.invalid("events", "must name at least one event type") }
        for (index, event) in events.enumerated() where !EventFilter.isValid(event) {
            throw Problem.invalid("events[\(index)]", "must be an event type, a prefix ending in .* or *")
        }
        var seen = Set<String>()
        return events.filter { seen.insert($0).inserted }
    }

    static func secret(_ fields: RequestFields) throws -> String? {
        guard fields.has("secret"), !fields.isNull("secret") else { return nil }
        guard case .string(let secret)? = fields.values["secret"] else { throw Problem.invalid("secret", "must be a string") }
        guard StandardWebhooks.key(of: secret) != nil else {
            throw Problem.invalid("secret", "must be whsec_ followed by the base64 of 24 to 64 bytes")
        }
        return secret
    }

    static func headers(_ fields: RequestFields) throws -> [String: String]? {
        guard let value = fields.values["headers"], !fields.isNull("headers") else { return nil }
        guard case .object(let object) = value else { throw Problem.invalid("headers", "must be an object of strings") }
        guard object.count <= 20 else { throw Problem.invalid("headers", "must have at most 20 headers") }
        var out: [String: String] = [:]
        for (name, value) in object.sorted(by: { $0.key < $1.key }) {
            let field = "headers.\(name)"
            guard !name.isEmpty, name.count <= 64, name.utf8.allSatisfy(Self.isTokenByte) else {
                throw Problem.invalid(field, "must be a valid header name")
            }
            guard !reservedHeaders.contains(name.lowercased()) else { throw Problem.invalid(field, "is set by the dispatcher") }
            guard case .string(let text) = value, text.count <= 1024, !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                throw Problem.invalid(field, "must be a string of at most 1024 characters without control characters")
            }
            out[name] = text
        }
        return out
    }

    static func isTokenByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            || "!#$%&'*+-.^_`|~".utf8.contains(byte)
    }
}
