import FlukeModels
import FlukeNATS
import FlukeRuntime
import Foundation
import Logging
import Prometheus
import ServiceLifecycle

/// Answers `fluke.rpc.context.env` (``ContextEnvRPC``) in queue group `context-api`: a project's
/// variables for one environment, decrypted, for deploy-tracker, the only NATS user allowed to
/// ask (`deploy/nats/auth.conf`). Each read is in the env access log `via: deploy`; values are
/// never logged here.
final class EnvResponder: Service, Sendable {
    let nats: NATSClient
    let env: EnvStore
    let logger: Logger
    let served: Counter
    let refused: Counter

    init(nats: NATSClient, env: EnvStore, registry: PrometheusCollectorRegistry, logger: Logger) {
        self.nats = nats
        self.env = env
        self.logger = logger
        served = registry.makeCounter(name: "context_env_rpc_served_total")
        refused = registry.makeCounter(name: "context_env_rpc_refused_total")
    }

    func run() async throws {
        let subscription = try nats.subscribe(ContextEnvRPC.subject, queue: ContextEnvRPC.queueGroup) { [self] message in
            guard let reply = message.reply else { return }
            // Postgres is needed: off libnats' delivery thread at once.
            let payload = Data(message.payload)
            Task { await answer(payload, reply: reply) }
        }
        try? await gracefulShutdown()
        subscription.cancel()
    }

    /// nats-server's default `max_payload` (the fleet sets no other): a larger reply would be
    /// dropped by the server, leaving the deploy to time out instead of hearing why.
    static let maxReplyBytes = 1_048_576 - 4096

    func answer(_ payload: Data, reply: String) async {
        var answer = await Self.reply(to: payload, env: env, logger: logger)
        var data = (try? FleetJSON.encoder.encode(answer)) ?? Data()
        if data.count > Self.maxReplyBytes {
            logger.warning("env reply too large for NATS", metadata: ["bytes": "\(data.count)"])
            answer = .init(error: "the variables exceed NATS' 1 MiB message limit")
            data = (try? FleetJSON.encoder.encode(answer)) ?? Data()
        }
        if answer.error == nil { served.increment() } else { refused.increment() }
        do {
            try await nats.publish(reply, payload: data)
        } catch {
            logger.warning("could not send an env reply", metadata: ["error": "\(error)"])
        }
    }

    /// The reply to one request's payload: the variables, or why not.
    static func reply(to payload: Data, env: EnvStore, logger: Logger) async -> ContextEnvRPC.Reply {
        guard let request = try? JSONDecoder().decode(ContextEnvRPC.Request.self, from: payload) else {
            return .init(error: "malformed request: expected {tenant_id, project_id, environment}")
        }
        guard let environment = Environment(rawValue: request.environment) else {
            return .init(error: "unknown environment \(request.environment.prefix(64))")
        }
        var metadata: Logger.Metadata = [
            "tenant_id": "\(request.tenantID.lowercased)", "project_id": "\(request.projectID.lowercased)",
            "environment": "\(environment.rawValue)",
        ]
        if let deployment = request.deploymentID { metadata["deployment_id"] = "\(deployment.lowercased)" }
        do {
            let values = try await env.readForDeploy(tenant: request.tenantID, project: request.projectID,
                                                     environment: environment, deploymentID: request.deploymentID)
            metadata["variables"] = "\(values.count)"
            logger.info("env variables handed to a deploy", metadata: metadata)
            return .init(variables: values)
        } catch ContextError.notFound {
            return .init(error: "no such project")
        } catch {
            logger.warning("env read for a deploy failed", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            return .init(error: "unavailable")
        }
    }
}
