import FlukeModels
import Foundation

/// The REST paths the executor uses, answered as the API server does.
extension FakeKubernetesAPI {
    /// A kind of object: where it lives and how its errors name it.
    struct Resource {
        var plural: String
        var group: String
        var kind: String
        var apiVersion: String
        var keyPath: WritableKeyPath<State, [String: JSONValue]>
        /// `deployments.apps`: how a Status message names the resource.
        var qualified: String { group.isEmpty ? plural : "\(plural).\(group)" }
    }

    nonisolated(unsafe) static let deployments = Resource(plural: "deployments", group: "apps", kind: "Deployment", apiVersion: "apps/v1",
                                      keyPath: \.deployments)
    nonisolated(unsafe) static let services = Resource(plural: "services", group: "", kind: "Service", apiVersion: "v1", keyPath: \.services)
    nonisolated(unsafe) static let jobs = Resource(plural: "jobs", group: "batch", kind: "Job", apiVersion: "batch/v1", keyPath: \.jobs)
    nonisolated(unsafe) static let secrets = Resource(plural: "secrets", group: "", kind: "Secret", apiVersion: "v1",
                                                      keyPath: \.secrets)
    nonisolated(unsafe) static let pods = Resource(plural: "pods", group: "", kind: "Pod", apiVersion: "v1", keyPath: \.pods)

    func handle(_ request: Recorded, query: [String: String], body: Data) -> Answer {
        let parts = request.path.split(separator: "/").map(String.init)
        if parts == ["version"], request.method == "GET" {
            return Self.json(200, FakeKube.value(["major": "1", "minor": "31", "gitVersion": "v1.31.0-fake"]))
        }
        // /api/v1/namespaces/{ns}/... or /apis/{group}/{version}/namespaces/{ns}/...
        let rest: ArraySlice<String>
        switch parts.first {
        case "api" where parts.count >= 4 && parts[1] == "v1" && parts[2] == "namespaces": rest = parts[3...]
        case "apis" where parts.count >= 5 && parts[3] == "namespaces": rest = parts[4...]
        default: return Self.status(404, "NotFound", "the server could not find the requested resource")
        }
        let namespace = rest[rest.startIndex]
        let known = settings.withLock { $0.namespaces.contains(namespace) }
        if rest.count == 1 {
            guard request.method == "GET" else { return Self.status(405, "MethodNotAllowed", "method not allowed") }
            return known ? Self.json(200, FakeKube.value(["kind": "Namespace", "apiVersion": "v1",
                                                          "metadata": ["name": namespace], "status": ["phase": "Active"]]))
                : Self.status(404, "NotFound", "namespaces \"\(namespace)\" not found")
        }
        let tail = Array(rest.dropFirst())
        let resource: Resource
        switch (parts.first, tail[0]) {
        case ("apis", "deployments") where parts[1] == "apps" && parts[2] == "v1": resource = Self.deployments
        case ("apis", "jobs") where parts[1] == "batch" && parts[2] == "v1": resource = Self.jobs
        case ("api", "services"): resource = Self.services
        case ("api", "pods"): resource = Self.pods
        case ("api", "secrets"): resource = Self.secrets
        default: return Self.status(404, "NotFound", "the server could not find the requested resource")
        }
        switch (request.method, tail.count) {
        case ("GET", 1): return list(resource, namespace: namespace, selector: query["labelSelector"])
        case ("POST", 1) where resource.plural != "pods":
            guard known else { return Self.status(404, "NotFound", "namespaces \"\(namespace)\" not found") }
            return create(resource, namespace: namespace, body: body)
        case ("GET", 2): return get(resource, namespace: namespace, name: tail[1])
        case ("PUT", 2) where resource.plural == "secrets": return replace(resource, namespace: namespace, name: tail[1], body: body)
        case ("PATCH", 2) where resource.plural != "pods":
            return patch(resource, namespace: namespace, name: tail[1], contentType: request.contentType, body: body)
        case ("DELETE", 2) where resource.plural != "pods": return delete(resource, namespace: namespace, name: tail[1])
        case ("GET", 3) where resource.plural == "pods" && tail[2] == "log":
            return podLog(namespace: namespace, name: tail[1], timestamps: query["timestamps"] == "true")
        default: return Self.status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        }
    }

    private func list(_ resource: Resource, namespace: String, selector: String?) -> Answer {
        let wanted = Self.parseSelector(selector)
        let items = state.withLock { state in
            state[keyPath: resource.keyPath].filter { $0.key.hasPrefix("\(namespace)/") }.sorted { $0.key < $1.key }
                .map(\.value).filter { item in
                    let labels = FakeKube.strings(item["metadata"]?["labels"])
                    return wanted.allSatisfy { labels[$0.key] == $0.value }
                }
        }
        let version = state.withLock { $0.resourceVersion }
        return Self.json(200, FakeKube.value(["kind": "\(resource.kind)List", "apiVersion": resource.apiVersion,
                                              "metadata": ["resourceVersion": String(version)], "items": items]))
    }

    static func parseSelector(_ text: String?) -> [String: String] {
        var labels: [String: String] = [:]
        for term in (text ?? "").split(separator: ",") {
            let pair = term.split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2 { labels[pair[0]] = pair[1] }
        }
        return labels
    }

    private func get(_ resource: Resource, namespace: String, name: String) -> Answer {
        guard let object = state.withLock({ $0[keyPath: resource.keyPath]["\(namespace)/\(name)"] }) else {
            return Self.status(404, "NotFound", "\(resource.qualified) \"\(name)\" not found")
        }
        return Self.json(200, object)
    }

    private func create(_ resource: Resource, namespace: String, body: Data) -> Answer {
        guard var object = FakeKube.decode(body), let name = object["metadata"]?["name"]?.stringValue else {
            return Self.status(400, "BadRequest", "the body of the request was in an unknown format")
        }
        if let problem = Self.invalid(resource, object, previous: nil) {
            return Self.status(422, "Invalid", "\(resource.kind).\(resource.group) \"\(name)\" is invalid: \(problem)")
        }
        let key = "\(namespace)/\(name)"
        return state.withLock { state in
            guard state[keyPath: resource.keyPath][key] == nil else {
                return Self.status(409, "AlreadyExists", "\(resource.qualified) \"\(name)\" already exists")
            }
            state.resourceVersion += 1
            FakeKube.set(&object, ["metadata", "namespace"], .string(namespace))
            FakeKube.set(&object, ["metadata", "uid"], .string(UUID().uuidString.lowercased()))
            FakeKube.set(&object, ["metadata", "resourceVersion"], .string(String(state.resourceVersion)))
            FakeKube.set(&object, ["metadata", "creationTimestamp"], .string(RFC3339.format(Date(), fractionDigits: 0)))
            if resource.plural == "deployments" {
                FakeKube.set(&object, ["metadata", "generation"], .number(1))
                FakeKube.set(&object, ["status"], .object([:]))
                state.lag[key] = settings.withLock { $0.observationLag }
            }
            if resource.plural == "secrets" { object = Self.storingStringData(object) }
            if resource.plural == "services" { FakeKube.set(&object, ["spec", "clusterIP"], .string("10.96.0.\(state.services.count + 10)")) }
            state[keyPath: resource.keyPath][key] = object
            return Self.json(201, object)
        }
    }

    private func patch(_ resource: Resource, namespace: String, name: String, contentType: String?, body: Data) -> Answer {
        let type = contentType?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) }
        let accepted = ["application/strategic-merge-patch+json", "application/merge-patch+json", "application/json-patch+json"]
        guard let type, accepted.contains(type) else {
            return Self.status(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted "
                               + "media types include: application/json-patch+json, application/merge-patch+json, "
                               + "application/apply-patch+yaml, application/strategic-merge-patch+json")
        }
        guard let patch = FakeKube.decode(body) else {
            return Self.status(400, "BadRequest", "error decoding patch: invalid JSON")
        }
        let key = "\(namespace)/\(name)"
        return state.withLock { state in
            guard let original = state[keyPath: resource.keyPath][key] else {
                return Self.status(404, "NotFound", "\(resource.qualified) \"\(name)\" not found")
            }
            var patched: JSONValue
            switch type {
            case "application/strategic-merge-patch+json": patched = FakeKube.strategicMerge(original, patch)
            case "application/merge-patch+json": patched = FakeKube.mergePatch(original, patch)
            default:
                do { patched = try FakeKube.jsonPatch(original, patch) } catch {
                    return Self.status(422, "Invalid", "\((error as? FakeKube.PatchError)?.message ?? "invalid patch")")
                }
            }
            if let problem = Self.invalid(resource, patched, previous: original) {
                return Self.status(422, "Invalid", "\(resource.kind).\(resource.group) \"\(name)\" is invalid: \(problem)")
            }
            // The server owns these; a patch cannot move them.
            for field in ["generation", "uid", "namespace", "name", "creationTimestamp"] {
                FakeKube.set(&patched, ["metadata", field], original["metadata"]?[field])
            }
            if let status = original["status"] { FakeKube.set(&patched, ["status"], status) }
            if resource.plural == "deployments", patched["spec"] != original["spec"] {
                let generation = FakeKube.int(original["metadata"]?["generation"]) ?? 1
                FakeKube.set(&patched, ["metadata", "generation"], .number(Double(generation + 1)))
                state.lag[key] = settings.withLock { $0.observationLag }
            }
            state.resourceVersion += 1
            FakeKube.set(&patched, ["metadata", "resourceVersion"], .string(String(state.resourceVersion)))
            state[keyPath: resource.keyPath][key] = patched
            return Self.json(200, patched)
        }
    }

    /// PUT without a resourceVersion: an unconditional replacement of the whole object.
    private func replace(_ resource: Resource, namespace: String, name: String, body: Data) -> Answer {
        guard var object = FakeKube.decode(body), object["metadata"]?["name"]?.stringValue == name else {
            return Self.status(400, "BadRequest", "the name of the object does not match the name on the URL")
        }
        let key = "\(namespace)/\(name)"
        return state.withLock { state in
            guard let original = state[keyPath: resource.keyPath][key] else {
                return Self.status(404, "NotFound", "\(resource.qualified) \"\(name)\" not found")
            }
            for field in ["uid", "namespace", "creationTimestamp"] {
                FakeKube.set(&object, ["metadata", field], original["metadata"]?[field])
            }
            state.resourceVersion += 1
            FakeKube.set(&object, ["metadata", "resourceVersion"], .string(String(state.resourceVersion)))
            if resource.plural == "secrets" { object = Self.storingStringData(object) }
            state[keyPath: resource.keyPath][key] = object
            return Self.json(200, object)
        }
    }

    /// `stringData` is write-only: the API server merges it into base64 `data`.
    static func storingStringData(_ secret: JSONValue) -> JSONValue {
        var result = secret
        var data = FakeKube.strings(secret["data"])
        for (key, value) in FakeKube.strings(secret["stringData"]) { data[key] = Data(value.utf8).base64EncodedString() }
        FakeKube.set(&result, ["data"], FakeKube.object(data))
        FakeKube.set(&result, ["stringData"], nil)
        return result
    }

    private func delete(_ resource: Resource, namespace: String, name: String) -> Answer {
        let key = "\(namespace)/\(name)"
        return state.withLock { state in
            guard state[keyPath: resource.keyPath].removeValue(forKey: key) != nil else {
                return Self.status(404, "NotFound", "\(resource.qualified) \"\(name)\" not found")
            }
            let owner = "\(resource.plural)/\(key)"
            for pod in state.owners.filter({ $0.value.owner == owner }).keys {
                state.pods[pod] = nil
                state.owners[pod] = nil
            }
            return Self.json(200, FakeKube.value(["kind": "Status", "apiVersion": "v1", "status": "Success",
                                                  "details": ["name": name, "kind": resource.plural]]))
        }
    }

    private func podLog(namespace: String, name: String, timestamps: Bool) -> Answer {
        let key = "\(namespace)/\(name)"
        guard let lines = state.withLock({ state in state.pods[key] == nil ? nil : state.logs[key] ?? [] }) else {
            return Self.status(404, "NotFound", "pods \"\(name)\" not found")
        }
        let text = lines.map { (timestamps ? RFC3339.format($0.0, fractionDigits: 9) + " " : "") + $0.1 + "\n" }.joined()
        return (200, Data(text.utf8), "text/plain")
    }
}
