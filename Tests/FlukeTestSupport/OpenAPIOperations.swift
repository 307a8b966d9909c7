import FlukeRuntime

/// "METHOD /path" for every operation under an OpenAPI document's `paths` (nil when it has none),
/// for the tests that check a service documents exactly the routes it serves.
public func documentedOperations(_ document: [String: Any]) -> Set<String>? {
    guard let paths = document["paths"] as? [String: [String: Any]] else { return nil }
    var operations = Set<String>()
    for (path, methods) in paths {
        for method in methods.keys { operations.insert("\(method.uppercased()) \(path)") }
    }
    return operations
}

/// "METHOD /path" for every route a service serves.
public func servedOperations(_ table: RouteTable) -> Set<String> {
    Set(table.routes.map { "\($0.method.rawValue) \($0.path)" })
}
