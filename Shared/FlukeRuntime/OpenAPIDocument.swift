import Foundation

/// A service's OpenAPI 3.1 document: its own `openapi.json` resource completed with the parts
/// every service shares (`Resources/openapi-common.json`: the operational routes `/health`,
/// `/ready`, `/metrics`, `/openapi.json`, and the `Problem`, `Page`, `Health` and `Scope`
/// schemas, the error responses and the paging parameters).
///
/// A service's own entry wins over a shared one of the same name, so a service whose error
/// says something narrower (federation's `Unauthorized` is about `X-API-Key`) keeps it.
public enum OpenAPIDocument {
    /// The merged document as JSON text, ready to serve at `/openapi.json`.
    ///
    /// - Parameter serviceJSON: the bytes of the service's `openapi.json` (embedded with
    ///   `.embedInCode`, so the binary needs no resource bundle beside it).
    public static func merged(_ serviceJSON: [UInt8]) -> String {
        do {
            return try merge(service: Data(serviceJSON), common: Data(PackageResources.openapi_common_json))
        } catch {
            // Both documents are compiled in; a test serves every service's, so this cannot ship.
            preconditionFailure("invalid OpenAPI resource: \(error)")
        }
    }

    static func merge(service: Data, common: Data) throws -> String {
        guard var document = try JSONSerialization.jsonObject(with: service) as? [String: Any],
              let shared = try JSONSerialization.jsonObject(with: common) as? [String: Any]
        else { throw CocoaError(.propertyListReadCorrupt) }
        document["paths"] = filling(document["paths"], from: shared["paths"])
        var components = document["components"] as? [String: Any] ?? [:]
        for (section, entries) in shared["components"] as? [String: Any] ?? [:] {
            components[section] = filling(components[section], from: entries)
        }
        document["components"] = components
        var tags = document["tags"] as? [[String: Any]] ?? []
        if !tags.contains(where: { $0["name"] as? String == "operations" }) {
            tags.insert(["name": "operations"], at: 0)
        }
        document["tags"] = tags
        let data = try JSONSerialization.data(withJSONObject: document,
                                              options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// `own` with every entry of `shared` it does not have itself.
    private static func filling(_ own: Any?, from shared: Any?) -> [String: Any] {
        var result = own as? [String: Any] ?? [:]
        for (key, value) in shared as? [String: Any] ?? [:] where result[key] == nil {
            result[key] = value
        }
        return result
    }
}
