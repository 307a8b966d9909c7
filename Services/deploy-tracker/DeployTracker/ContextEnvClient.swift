import DeployExecutors
import FlukeModels
import FlukeNATS
import FlukeRuntime
import Foundation

/// Fetches an app's `env_from` values from context-api (`fluke.rpc.context.env`) for one deploy.
/// The values are held in memory for the rollout only: never logged, never stored here.
struct ContextEnvClient: Sendable {
    let nats: NATSClient
    let timeout: Duration

    /// `spec.env` with `env_from`'s values beneath it (the app's own `env` wins).
    func environment(for spec: AppSpec, claim: ClaimedDeployment) async throws -> [String: String] {
        guard let from = spec.envFrom else { return spec.env }
        let request = ContextEnvRPC.Request(tenantID: claim.tenantID, projectID: claim.projectID,
                                            environment: from.environment, deploymentID: claim.id, app: claim.appName)
        let reply: ContextEnvRPC.Reply
        do {
            let message = try await nats.request(ContextEnvRPC.subject, payload: try FleetJSON.encoder.encode(request),
                                                 timeout: timeout)
            reply = try JSONDecoder.fleet.decode(ContextEnvRPC.Reply.self, from: message.payload)
        } catch {
            throw DeployFailure(.validation, "could not read env_from \(from.environment) from context-api: \(error)")
        }
        guard let variables = reply.variables else {
            throw DeployFailure(.validation, "context-api refused env_from \(from.environment): \(reply.error ?? "no variables")")
        }
        return variables.merging(spec.env) { _, own in own }
    }
}
