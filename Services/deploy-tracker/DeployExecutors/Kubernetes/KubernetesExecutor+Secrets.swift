import Foundation

extension KubernetesExecutor {
    func secretsPath(_ name: String? = nil) -> String {
        "/api/v1/namespaces/\(namespace)/secrets" + (name.map { "/\($0)" } ?? "")
    }

    /// Writes the release's environment Secret: created, or replaced whole (PUT) when it exists, so
    /// a variable dropped since the last write is gone.
    func applySecret(_ release: ReleaseInput) async throws {
        let secret = Self.secret(release)
        let reply = try await client.send(.POST, secretsPath(), json: secret, accept: [200, 201, 409])
        if reply.status == 409 {
            try await client.send(.PUT, secretsPath(Self.secretName(release)), json: secret, accept: [200])
        }
    }

    /// Deletes the app's environment Secrets no Deployment of the app refers to any more (the
    /// releases it no longer runs). A rollback writes its release's Secret again, so none is
    /// needed for later. Best effort: a failure is logged, and the next deploy tries again.
    func pruneSecrets(tenantID: UUID, app: String, log: DeployLog) async {
        let selector = Self.selector(Self.appLabels(tenantID: tenantID, app: app))
        do {
            let deployments = try await client.get(KubeList<KubeDeploymentState>.self,
                                                    deploymentsPath() + "?labelSelector=\(selector)")
            let inUse = Set(deployments.items.compactMap { $0.spec.template?.metadata?.labels?[Label.version] })
            let secrets = try await client.get(KubeList<KubeObjectReference>.self, secretsPath() + "?labelSelector=\(selector)")
            for secret in secrets.items {
                guard let name = secret.metadata.name, let version = secret.metadata.labels?[Label.version],
                      !inUse.contains(version) else { continue }
                try await client.send(.DELETE, secretsPath(name), accept: [200, 202, 404])
            }
        } catch {
            await log.warn("could not delete unused environment secrets: \(error)")
        }
    }

    /// Deletes every environment Secret of the app.
    func deleteSecrets(tenantID: UUID, app: String) async throws {
        let selector = Self.selector(Self.appLabels(tenantID: tenantID, app: app))
        let secrets = try await client.get(KubeList<KubeObjectReference>.self, secretsPath() + "?labelSelector=\(selector)")
        for name in secrets.items.compactMap(\.metadata.name) {
            try await client.send(.DELETE, secretsPath(name), accept: [200, 202, 404])
        }
    }
}
