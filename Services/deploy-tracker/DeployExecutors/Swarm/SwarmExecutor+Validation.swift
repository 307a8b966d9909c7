import Foundation

extension SwarmExecutor {
    /// The Engine answers (`GET /_ping`), is a swarm manager's node in an active swarm
    /// (`GET /info`), the image reference parses, the spec fits a service, and each hook is a
    /// command (run as a swarm job). Starts nothing.
    public func validate(_ release: ReleaseInput) async -> [ValidationCheck] {
        var checks: [ValidationCheck] = []
        let reachable: Bool
        do {
            // A missing socket or a closed port is retried by the connection pool until the
            // deadline: validation answers a person waiting, so it gets a short one.
            let pong = String(decoding: try await engine.send(.GET, "/_ping", timeout: .seconds(3)), as: UTF8.self)
            reachable = true
            checks.append(.init(name: "executor", ok: true, detail: "Docker Engine at \(configuration.dockerHost) answered \(pong)"))
        } catch {
            reachable = false
            checks.append(.init(name: "executor", ok: false, detail: "Docker Engine at \(configuration.dockerHost): \(error)"))
        }
        if reachable {
            do {
                let info = try await engine.get(DockerEngine.Info.self, "/info")
                let state = info.swarm?.localNodeState ?? "unknown"
                checks.append(.init(name: "swarm", ok: state == "active",
                                    detail: state == "active" ? "swarm active" : "this node's swarm state is \(state), not active"))
            } catch {
                checks.append(.init(name: "swarm", ok: false, detail: "GET /info: \(error)"))
            }
        }
        checks.append(imageCheck(release))
        checks.append(specCheck(release.spec))
        checks.append(hooksCheck(release.spec.hooks))
        return checks
    }

    private func imageCheck(_ release: ReleaseInput) -> ValidationCheck {
        guard let reference = release.image ?? release.spec.image else {
            return .init(name: "image", ok: false, detail: "no image: set spec.image or the deploy's image")
        }
        guard ImageReference(reference) != nil else {
            return .init(name: "image", ok: false, detail: "\(reference) is not a valid image reference")
        }
        return .init(name: "image", ok: true, detail: reference)
    }

    private func specCheck(_ spec: AppSpec) -> ValidationCheck {
        var problems: [String] = []
        if spec.replicas < 0 { problems.append("replicas must not be negative") }
        if let port = spec.port, !(1...65535).contains(port) { problems.append("port must be 1–65535") }
        if spec.deployTimeout <= 0 { problems.append("deploy_timeout must be positive") }
        if spec.healthCheck.interval <= 0 { problems.append("health_check.interval must be positive") }
        if spec.strategy.type == .canary {
            problems.append("note: swarm has no traffic weights; canary updates one task at a time")
        }
        let ok = problems.allSatisfy { $0.hasPrefix("note:") }
        return .init(name: "spec", ok: ok, detail: problems.isEmpty ? "ok" : problems.joined(separator: "; "))
    }

    private func hooksCheck(_ hooks: AppSpec.Hooks) -> ValidationCheck {
        let named = [("pre_build", hooks.preBuild), ("pre_deploy", hooks.preDeploy), ("post_deploy", hooks.postDeploy)]
        let present = named.compactMap { name, command in command.map { (name, $0) } }
        let blank = present.filter { $0.1.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }.map(\.0)
        if !blank.isEmpty {
            return .init(name: "hooks", ok: false, detail: "empty hook command: \(blank.joined(separator: ", "))")
        }
        return .init(name: "hooks", ok: true, detail: present.isEmpty ? "no hooks"
            : "run as swarm jobs in the release's image: \(present.map(\.0).joined(separator: ", "))")
    }
}
