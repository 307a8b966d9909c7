import FlukeRuntime
import Foundation
import HummingbirdTesting
import Testing

/// "METHOD /path/{}" for every operation under an OpenAPI document's `paths` (nil when it has
/// none), path parameters unnamed.
public func documentedOperations(_ document: [String: Any]) -> Set<String>? {
    guard let paths = document["paths"] as? [String: [String: Any]] else { return nil }
    var operations = Set<String>()
    for (path, methods) in paths {
        for method in methods.keys { operations.insert(operation(method, path)) }
    }
    return operations
}

/// "METHOD /path/{}" for every route a service registers, path parameters unnamed.
public func servedOperations(_ table: RouteTable) -> Set<String> {
    Set(table.routes.map { operation($0.method.rawValue, $0.path) })
}

/// Parameters are compared unnamed: the document and the routes may name one `{id}` or
/// `{subscription_id}`, and only where a parameter sits tells two routes apart.
func operation(_ method: String, _ path: String) -> String {
    let segments = path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
        segment.hasPrefix("{") && segment.hasSuffix("}") ? "{}" : String(segment)
    }
    return method.uppercased() + " " + segments.joined(separator: "/")
}

/// Checks that the OpenAPI document a running service serves at `documentPath` lists exactly the
/// routes it registers (`routes`, from its parts), read over HTTP so that it holds however the
/// document is stored. Returns the served operations, for a service's own count check.
@discardableResult
public func expectOpenAPIDocumentsExactlyServedRoutes(
    _ client: any TestClientProtocol, routes: RouteTable, documentPath: String = "/openapi.json",
    sourceLocation: SourceLocation = #_sourceLocation) async throws -> Set<String> {
    let response = try await client.execute(uri: documentPath, method: .get)
    #expect(response.status == .ok, sourceLocation: sourceLocation)
    let document = try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any],
                                sourceLocation: sourceLocation)
    #expect(document["openapi"] as? String == "3.1.0", sourceLocation: sourceLocation)
    let documented = try #require(documentedOperations(document), sourceLocation: sourceLocation)
    let served = servedOperations(routes)
    #expect(documented == served, """
        documented only: \(documented.subtracting(served).sorted()); served only: \(served.subtracting(documented).sorted())
        """, sourceLocation: sourceLocation)
    return served
}
