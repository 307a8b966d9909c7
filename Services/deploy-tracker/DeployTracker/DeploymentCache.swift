import FlukeModels
import FlukeNATS
import FlukeRuntime
import Foundation
import Logging

/// Finished deployments recently read, so that `GET /api/v1/deployments/{deployment_id}` (what
/// clients and dashboards poll) is served from memory. Only a finished deployment is kept: one
/// still running changes with every phase. What can still change one is a rollback of it
/// (`rolled_back_by`): the replica that queues it drops the project's entries when it commits,
/// the others when its `deploy.queued` event reaches them (core NATS on `fluke.events.deploy.>`,
/// every deploy event drops its project's entries). Entries are found only by the tenant that
/// read them (the key holds it). A deleted app's deployments may be served for the TTL (5 s).
/// Bounded in bytes (`DEPLOY_DEPLOYMENT_CACHE_MAX_BYTES`); see ``EventInvalidatedCache``.
typealias DeploymentCache = EventInvalidatedCache<DeploymentCacheKey, Deployment>

/// A deployment as one tenant may find it.
struct DeploymentCacheKey: Hashable, Sendable {
    var deployment: UUID
    var tenant: UUID
}

extension DeploymentCache {
    convenience init(nats: NATSClient, maxBytes: Int, logger: Logger) {
        self.init(nats: nats, subjects: [EventType.subjectPrefix + "deploy.>"], maxBytes: maxBytes,
                  scope: { _, deployment in deployment.projectID }, cost: Deployment.cachedBytes, logger: logger)
    }
}

extension Deployment {
    /// Its text and phases, which are what varies in size.
    @Sendable static func cachedBytes(_ deployment: Deployment) -> Int {
        deployment.appName.utf8.count + (deployment.reason?.utf8.count ?? 0) + (deployment.error?.utf8.count ?? 0)
            + (deployment.image?.utf8.count ?? 0) + deployment.phases.count * 128
    }
}
