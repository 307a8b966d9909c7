import FlukeModels
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The Engine API routes the swarm executor uses, under the API version prefix.
extension FakeDockerEngine {
    func routes() -> Router<BasicRequestContext> {
        let router = Router()
        let api = router.group(RouterPath(apiVersion)).add(middleware: Recorder(engine: self))
        api.get("_ping") { _, _ in Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                                              body: .init(byteBuffer: ByteBuffer(string: "OK"))) }
        api.get("info") { _, _ in
            let state = self.state.withLock { $0.swarmState }
            return Self.json(.object(["ID": .string("FAKE:ENGINE"), "Swarm": .object([
                "NodeID": .string("node1"), "LocalNodeState": .string(state), "ControlAvailable": .bool(true)])]))
        }
        api.post("images/create") { request, _ in self.pull(request) }
        api.get("services") { request, _ in self.listServices(request) }
        api.post("services/create") { request, _ in
            self.create(try await Self.body(request))
        }
        api.get("services/{id}") { _, context in
            let id = try context.parameters.require("id")
            return self.state.withLock { state in
                guard let service = state.services.values.first(where: { $0.id == id || $0.name == id }) else {
                    return nil
                }
                if service.updateStatus?["State"]?.stringValue == "rollback_started" {
                    state.services[service.id]?.rollbackStartSeen = true
                }
                return Self.json(Self.render(service))
            } ?? Self.error(.notFound, "service \(id) not found")
        }
        api.post("services/{id}/update") { request, context in
            self.update(try context.parameters.require("id"), request: request, body: try await Self.body(request))
        }
        api.delete("services/{id}") { _, context in
            let id = try context.parameters.require("id")
            return self.state.withLock { state in
                guard let service = state.services.values.first(where: { $0.id == id || $0.name == id }) else {
                    return Self.error(.notFound, "service \(id) not found")
                }
                state.services[service.id] = nil
                state.tasks.removeAll { $0.serviceID == service.id }
                state.removed.insert(service.name)
                return Response(status: .ok)
            }
        }
        api.get("tasks") { request, _ in self.listTasks(request) }
        api.get("services/{id}/logs") { request, context in self.logs(try context.parameters.require("id"), request) }
        return router
    }

    private func create(_ spec: JSONValue?) -> Response {
        guard let spec, let name = spec["Name"]?.stringValue, !name.isEmpty,
              spec["TaskTemplate"]?["ContainerSpec"]?["Image"]?.stringValue != nil else {
            return Self.error(.badRequest, "rpc error: code = InvalidArgument desc = ContainerSpec: image reference must be provided")
        }
        return state.withLock { state in
            if state.services.values.contains(where: { $0.name == name }) {
                return Self.error(.conflict, "rpc error: code = AlreadyExists desc = name conflicts with an existing object: service \(name) already exists")
            }
            let id = nextID(&state)
            let port = spec["EndpointSpec"]?["Ports"]?.engineArray?.isEmpty == false ? 30000 + state.counter : nil
            state.services[id] = Service(id: id, index: nextIndex(&state), createdAt: Self.now(), updatedAt: Self.now(),
                                         spec: spec, publishedPort: port)
            return Self.json(.object(["ID": .string(id), "Warnings": .null]), status: .created)
        }
    }

    private func update(_ id: String, request: Request, body: JSONValue?) -> Response {
        let query = request.uri.queryParameters
        guard let version = query.get("version").flatMap(Int.init) else {
            return Self.error(.badRequest, "invalid service version")
        }
        return state.withLock { state in
            guard var service = state.services.values.first(where: { $0.id == id || $0.name == id }) else {
                return Self.error(.notFound, "service \(id) not found")
            }
            if state.outOfSequence > 0 {
                // Someone else wrote the service since the caller read it.
                state.outOfSequence -= 1
                service.index = nextIndex(&state)
                state.services[service.id] = service
            }
            guard version == service.index else {
                return Self.error(.internalServerError, "rpc error: code = Unknown desc = update out of sequence")
            }
            if query.get("rollback") == "previous" {
                guard let previous = service.previousSpec else {
                    return Self.error(.badRequest, "rpc error: code = FailedPrecondition desc = service \(id) does not have a previous spec")
                }
                service.previousSpec = service.spec
                service.spec = previous
                service.updateStatus = Self.status("rollback_started", "manually requested rollback")
                service.outcome = .complete
            } else {
                guard let body, body["TaskTemplate"] != nil else { return Self.error(.badRequest, "invalid spec") }
                service.previousSpec = service.spec
                service.spec = body
                if body["TaskTemplate"] != service.previousSpec?["TaskTemplate"] {
                    service.updateStatus = Self.status("updating", "update in progress")
                    service.outcome = state.nextOutcome ?? .complete
                    state.nextOutcome = nil
                }
                if service.publishedPort == nil, body["EndpointSpec"]?["Ports"]?.engineArray?.isEmpty == false {
                    service.publishedPort = 30000 + state.counter
                }
            }
            service.index = nextIndex(&state)
            service.updatedAt = Self.now()
            state.services[service.id] = service
            return Self.json(.object(["Warnings": .null]))
        }
    }

    private func listServices(_ request: Request) -> Response {
        let labels = Self.filters(request)["label"] ?? []
        let services = state.withLock { state in
            state.services.values.filter { service in
                labels.allSatisfy { pair in
                    let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                    return service.spec["Labels"]?[parts[0]]?.stringValue == (parts.count == 2 ? parts[1] : nil)
                        || (parts.count == 1 && service.spec["Labels"]?[parts[0]] != nil)
                }
            }.sorted { $0.id < $1.id }.map(Self.render)
        }
        return Self.json(.array(services))
    }

    private func listTasks(_ request: Request) -> Response {
        let filters = Self.filters(request)
        return state.withLock { state in
            var serviceIDs: Set<String>?
            for wanted in filters["service"] ?? [] {
                guard let service = state.services.values.first(where: { $0.id == wanted || $0.name == wanted }) else {
                    return Self.error(.notFound, "service \(wanted) not found")
                }
                serviceIDs = (serviceIDs ?? []).union([service.id])
            }
            let desired = filters["desired-state"]
            let tasks = state.tasks.filter { task in
                (serviceIDs?.contains(task.serviceID) ?? true) && (desired?.contains(task.desiredState) ?? true)
            }
            return Self.json(.array(tasks.map(Self.render)))
        }
    }

    static func filters(_ request: Request) -> [String: [String]] {
        guard let text = request.uri.queryParameters.get("filters") else { return [:] }
        return (try? JSONDecoder().decode([String: [String]].self, from: Data(text.utf8))) ?? [:]
    }

    static func body(_ request: Request) async throws -> JSONValue? {
        let buffer = try await request.body.collect(upTo: 1 << 20)
        return try? JSONDecoder().decode(JSONValue.self, from: Data(buffer.readableBytesView))
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONEncoder().encode(value)) ?? Data()
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        json(.object(["message": .string(message)]), status: status)
    }
}

extension FakeDockerEngine {
    /// Keeps every request for the tests to look at.
    struct Recorder: RouterMiddleware {
        typealias Context = BasicRequestContext
        let engine: FakeDockerEngine

        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
            -> Response {
            var path = request.uri.path
            if path.hasPrefix("/" + engine.apiVersion) { path.removeFirst(engine.apiVersion.count + 1) }
            let query = request.uri.query.flatMap { $0.isEmpty ? nil : "?" + ($0.removingPercentEncoding ?? $0) } ?? ""
            let auth = request.headers[HTTPField.Name("X-Registry-Auth")!].map { " auth=\($0)" } ?? ""
            engine.state.withLock { $0.requests.append("\(request.method.rawValue) \(path)\(query)\(auth)") }
            return try await next(request, context)
        }
    }
}
