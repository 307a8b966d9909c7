import Foundation

extension SwarmExecutor {
    /// Sets the service's replica count and waits until that many tasks run.
    public func scale(tenantID: UUID, app: String, replicas: Int, log: DeployLog) async throws {
        guard replicas >= 0 else { throw DeployFailure(.validation, "replicas must not be negative") }
        await log.info("scaling \(app) to \(replicas) replicas", .scaleEvent)
        try await update(tenantID: tenantID, app: app, what: "scale of \(app) to \(replicas)", log: log) { _ in
            (["Mode", "Replicated", "Replicas"], .number(Double(replicas)))
        }
    }

    /// Replaces every task with a fresh one of the same spec (`ForceUpdate` + 1), as
    /// `docker service update --force` does, through the service's own update config.
    public func restart(tenantID: UUID, app: String, log: DeployLog) async throws {
        await log.info("restarting \(app)", .configChange)
        try await update(tenantID: tenantID, app: app, what: "restart of \(app)", log: log) { spec in
            (["TaskTemplate", "ForceUpdate"], .number(Double((spec.taskTemplate.forceUpdate ?? 0) + 1)))
        }
    }

    /// Removes the app's service and any hook job left behind (found by their labels).
    public func remove(tenantID: UUID, app: String) async throws {
        let labels = Self.labels(tenantID: tenantID, app: app, version: nil).map { "\($0.key)=\($0.value)" }.sorted()
        let services = try await engineCall {
            try await engine.get([DockerEngine.Service].self, "/services", query: [Self.filters(["label": labels])])
        }
        var names = Set(services.map(\.spec.name))
        names.insert(Self.serviceName(tenantID: tenantID, app: app))
        for name in names.sorted() {
            do {
                try await engine.send(.DELETE, "/services/\(name)")
            } catch let error as DockerEngineError where error.isNotFound {
                continue
            } catch let error as DockerEngineError {
                throw DeployFailure(.executor, "removing \(name): \(error.message)")
            }
        }
    }

    /// The tasks the service wants running, one per slot, with how often each slot restarted.
    public func replicas(tenantID: UUID, app: String) async throws -> [ReplicaStatus] {
        let name = Self.serviceName(tenantID: tenantID, app: app)
        let all: [DockerEngine.SwarmTask]
        do {
            all = try await tasks(service: name, desiredRunning: false)
        } catch let error as DockerEngineError where error.isNotFound {
            return []
        } catch let error as DockerEngineError {
            throw DeployFailure(.executor, error.message)
        }
        let restarts = Dictionary(grouping: all.filter(\.failed)) { $0.slot ?? 0 }.mapValues(\.count)
        return all.filter { $0.desiredState == "running" }
            .sorted { ($0.slot ?? 0, $0.id) < ($1.slot ?? 0, $1.id) }
            .map { task in
                ReplicaStatus(id: "\(name).\(task.slot ?? 0).\(task.id)", state: Self.replicaState(task.status.state),
                              version: task.spec?.containerSpec.labels?["fluke.version"],
                              restarts: restarts[task.slot ?? 0] ?? 0)
            }
    }

    static func replicaState(_ state: String) -> ReplicaStatus.State {
        switch state {
        case "running": .running
        case "failed", "rejected", "orphaned": .crashed
        case "complete", "shutdown", "remove": .stopped
        default: .starting
        }
    }

    /// `http://<host>:<published port>` when the service publishes its port, else nil.
    public func url(tenantID: UUID, app: String) async -> String? {
        let name = Self.serviceName(tenantID: tenantID, app: app)
        guard let service = try? await inspect(name),
              let port = service.endpoint?.ports?.compactMap(\.publishedPort).first else { return nil }
        return "http://\(publicHost):\(port)"
    }

    var publicHost: String {
        if let host = configuration.publicHost { return host }
        guard configuration.dockerHost.hasPrefix("tcp://") else { return "127.0.0.1" }
        let hostPort = configuration.dockerHost.dropFirst("tcp://".count).split(separator: "/").first ?? ""
        if hostPort.hasPrefix("[") { return String(hostPort.prefix { $0 != "]" }) + "]" }
        return String(hostPort.split(separator: ":").first ?? "127.0.0.1")
    }
}
