import FlukeModels
import Foundation

extension SwarmExecutor {
    /// Times an update is tried again after "update out of sequence" (someone else changed the
    /// service between our read and our write).
    static let updateAttempts = 5

    /// Pulls the release's image (`release.image ?? spec.image`); the artifact is its reference.
    public func build(_ release: ReleaseInput, log: DeployLog) async throws -> Artifact {
        guard let reference = release.image ?? release.spec.image else {
            throw DeployFailure(.build, "the release names no image (spec.image)")
        }
        guard let image = ImageReference(reference) else {
            throw DeployFailure(.build, "\(reference) is not a valid image reference")
        }
        await log.info("pulling \(reference)", .buildStart)
        try await pull(image, log: log)
        await log.info("pulled \(reference)", .buildComplete)
        return Artifact(reference: reference)
    }

    /// Creates the app's service, or updates it to the whole new spec, then waits until it
    /// converges on the release.
    public func deploy(_ release: ReleaseInput, artifact: Artifact, previous: ReleaseInput?, log: DeployLog)
        async throws {
        let spec = serviceSpec(release, image: artifact.reference)
        let what = "\(release.app) \(release.versionName)"
        await log.info("rolling out \(what) as service \(spec.name) (\(release.spec.strategy.type.rawValue), "
            + "\(release.spec.replicas) replicas)", .deployStart)
        if release.spec.strategy.type == .canary {
            await log.info("canary on swarm: no traffic weights, so one task at a time, "
                + "\(release.spec.strategy.pause ?? release.spec.healthCheck.interval) s apart; each step's share is "
                + "its tasks on the new spec over \(release.spec.replicas); a failed task pauses the update and fails the deploy")
        }
        let (staleStatus, earlierTasks) = try await apply(spec, log: log)
        try await waitForConvergence(Watch(
            service: spec.name, target: spec.taskTemplate, replicas: release.spec.replicas,
            staleStatus: staleStatus, earlierTasks: earlierTasks,
            verify: verifyPeriod(spec), timeout: .seconds(release.spec.deployTimeout), what: what), log: log)
        await log.info("\(what) is running", .deployComplete)
    }

    /// Restores `release`: with the Engine's own `rollback=previous` when the service's previous
    /// spec runs that release's image, else by rolling its spec out again.
    public func rollback(to release: ReleaseInput, artifact: Artifact, from current: ReleaseInput?, log: DeployLog)
        async throws {
        let name = Self.serviceName(tenantID: release.tenantID, app: release.app)
        let what = "rollback of \(release.app) to \(release.versionName)"
        for _ in 0..<Self.updateAttempts {
            guard let service = try await engineCall(.executor, { try await inspect(name) }),
                  let previous = service.previousSpec,
                  previous.taskTemplate.containerSpec.image == artifact.reference,
                  previous.labels?["fluke.version"].map({ $0 == release.versionName }) ?? true else { break }
            let (staleStatus, earlierTasks) = try await before(service)
            await log.info("\(what): asking the Engine for its previous spec (rollback=previous)", .deployStart)
            do {
                try await engine.send(.POST, "/services/\(service.id)/update", query: [
                    ("version", String(service.version.index)), ("rollback", "previous"),
                ], json: DockerEngine.encoder.encode(previous))
            } catch let error as DockerEngineError where error.isOutOfSequence {
                continue
            } catch let error as DockerEngineError {
                throw DeployFailure(.executor, error.message)
            }
            try await waitForConvergence(Watch(
                service: name, target: previous.taskTemplate, replicas: Int(previous.mode.replicated?.replicas ?? 0),
                mode: .requestedRollback, staleStatus: staleStatus, earlierTasks: earlierTasks,
                verify: verifyPeriod(previous), timeout: .seconds(release.spec.deployTimeout), what: what), log: log)
            await log.info("\(what) is running", .deployComplete)
            return
        }
        try await deploy(release, artifact: artifact, previous: current, log: log)
    }

    /// Creates or updates the service to `spec`, re-reading and retrying on a stale version or a
    /// concurrent create. Returns what the watch must ignore: the update status and tasks from
    /// before the change.
    func apply(_ spec: DockerEngine.ServiceSpec, log: DeployLog) async throws
        -> (DockerEngine.UpdateStatus?, Set<String>) {
        let body = try DockerEngine.encoder.encode(spec)
        var lastError = ""
        for attempt in 1...Self.updateAttempts {
            do {
                guard let service = try await inspect(spec.name) else {
                    let created = try DockerEngine.decoder.decode(
                        DockerEngine.CreateResponse.self, from: try await engine.send(.POST, "/services/create", json: body))
                    await log.info("created service \(spec.name) (\(created.id))", .configChange)
                    return (nil, [])
                }
                let earlier = try await before(service)
                try await engine.send(.POST, "/services/\(service.id)/update",
                                      query: [("version", String(service.version.index))], json: body)
                await log.info("updated service \(spec.name) from version \(service.version.index)", .configChange)
                return earlier
            } catch let error as DockerEngineError where error.isOutOfSequence || error.isNameConflict {
                lastError = error.message
                await log.warn("service \(spec.name) changed meanwhile (attempt \(attempt)): \(error.message)")
            } catch let error as DockerEngineError {
                throw DeployFailure(.executor, error.message)
            }
        }
        throw DeployFailure(.executor, "service \(spec.name) kept changing: \(lastError)")
    }

    /// Changes one field of an existing service's spec, retrying on a stale version, then waits
    /// for it to converge (scale, restart). The spec is edited as the Engine's JSON, so fields
    /// this executor does not model (set by hand or by the Engine) are sent back unchanged.
    func update(tenantID: UUID, app: String, what: String, log: DeployLog,
                _ change: (DockerEngine.ServiceSpec) -> (path: [String], value: JSONValue)) async throws {
        let name = Self.serviceName(tenantID: tenantID, app: app)
        for _ in 0..<Self.updateAttempts {
            let (service, raw) = try await engineCall(.executor) { () -> (DockerEngine.Service, JSONValue) in
                do {
                    let data = try await engine.send(.GET, "/services/\(name)")
                    return (try DockerEngine.decoder.decode(DockerEngine.Service.self, from: data),
                            try JSONDecoder().decode(JSONValue.self, from: data))
                } catch let error as DockerEngineError where error.isNotFound {
                    throw DeployFailure(.executor, "app \(app) does not run on the swarm (no service \(name))")
                }
            }
            let edit = change(service.spec)
            let body = try JSONEncoder().encode((raw["Spec"] ?? .object([:])).setting(edit.path, to: edit.value))
            let spec = try DockerEngine.decoder.decode(DockerEngine.ServiceSpec.self, from: body)
            let (staleStatus, earlierTasks) = try await before(service)
            do {
                try await engine.send(.POST, "/services/\(service.id)/update",
                                      query: [("version", String(service.version.index))], json: body)
            } catch let error as DockerEngineError where error.isOutOfSequence {
                continue
            } catch let error as DockerEngineError {
                throw DeployFailure(.executor, error.message)
            }
            try await waitForConvergence(Watch(
                service: spec.name, target: spec.taskTemplate, replicas: Int(spec.mode.replicated?.replicas ?? 0),
                staleStatus: staleStatus, earlierTasks: earlierTasks, verify: verifyPeriod(spec),
                timeout: configuration.operationTimeout, what: what), log: log)
            return
        }
        throw DeployFailure(.executor, "\(what): the service kept changing")
    }

    func verifyPeriod(_ spec: DockerEngine.ServiceSpec) -> Duration {
        configuration.verifyPeriod ?? .nanoseconds(spec.updateConfig?.monitor ?? 5_000_000_000)
    }
}

extension JSONValue {
    /// A copy with the value at `path` (object keys) replaced, creating objects on the way.
    fileprivate func setting(_ path: [String], to value: JSONValue) -> JSONValue {
        guard let key = path.first else { return value }
        var object: [String: JSONValue] = [:]
        if case .object(let existing) = self { object = existing }
        object[key] = (object[key] ?? .null).setting(Array(path.dropFirst()), to: value)
        return .object(object)
    }
}
