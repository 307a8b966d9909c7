import FlukeModels
import FlukeRuntime
import Foundation
import Logging
import Prometheus
import ServiceLifecycle

/// Keeps linked projects' `github` tasks in step with their repositories' open issues, and their
/// open pull requests for the status: every `PM_GITHUB_SYNC_INTERVAL` per link, and at once
/// after a link is made (``wake``). Requests are conditional (`ETag`), so an unchanged
/// repository costs no rate limit. A link is claimed before it is synced, so replicas share the
/// work without doing it twice; a failure is kept as the link's `sync_error` and tried again
/// next interval.
final class GitHubIssueSync: Service, Sendable {
    let repositories: RepositoryStore
    let connections: ConnectionStore
    let access: GitHubAccess
    let work: WorkStore
    let github: GitHubAPI
    let interval: Duration
    let logger: Logger
    /// Signalled when a link is made: its import starts without waiting for the next round.
    let wake = WakeSignal()
    let synced: Counter
    let failed: Counter
    /// The most open pull requests a status lists.
    static let pullsShown = 20

    init(repositories: RepositoryStore, connections: ConnectionStore, access: GitHubAccess, work: WorkStore, github: GitHubAPI, interval: Duration,
         registry: PrometheusCollectorRegistry, logger: Logger) {
        self.repositories = repositories
        self.connections = connections
        self.access = access
        self.work = work
        self.github = github
        self.interval = interval
        self.logger = logger
        synced = registry.makeCounter(name: "pm_github_syncs_total", labels: [("outcome", "ok")])
        failed = registry.makeCounter(name: "pm_github_syncs_total", labels: [("outcome", "failed")])
    }

    func run() async throws {
        // Links fall due at their own times: look again at least every 30 s.
        await wake.loop(every: min(interval, .seconds(30))) { await self.round() }
    }

    func round() async {
        do {
            for link in try await repositories.due() where !wake.isFinished && !Task.isCancelled {
                guard try await repositories.claim(link, for: interval) else { continue }
                await sync(link)
            }
        } catch {
            logger.warning("GitHub sync round failed; the next round tries again", metadata: ["error": "\(error)"])
        }
    }

    func sync(_ link: RepositoryStore.Link) async {
        let metadata: Logger.Metadata = ["project_id": "\(link.project.lowercased)", "repository": "\(link.fullName)"]
        do {
            let (connection, _, token) = try await access.token(link.connection, tenant: link.tenant)
            let path = "/repos/" + link.fullName
            let issues: (items: [JSONValue], truncated: Bool), pulls: (items: [JSONValue], truncated: Bool)
            do throws(GitHubAPI.Failure) {
                issues = try await github.list(path + "/issues", query: "state=open", token: token, connection: connection)
                pulls = try await github.list(path + "/pulls", query: "state=open", token: token, connection: connection)
            } catch {
                try await failed(link, Self.reason(error), metadata)
                if case .unauthorized(let message) = error {
                    try await connections.markInvalid(connection, tenant: link.tenant, reason: "GitHub refused the token: \(message)")
                }
                return
            }
            let result = try await apply(issues, link)
            let shown = pulls.items.prefix(Self.pullsShown).map(PMRoutes.pull)
            try await repositories.synced(link, error: nil, pulls: .object([
                "count": .number(Double(pulls.items.count)), "truncated": .bool(pulls.truncated), "items": .array(Array(shown))]))
            synced.increment()
            if result != WorkStore.IssueSyncResult() {
                logger.info("GitHub issues synced", metadata: metadata.merging([
                    "created": "\(result.created)", "updated": "\(result.updated)", "closed": "\(result.closed)"]) { $1 })
            }
        } catch {
            try? await failed(link, "\(error)", metadata)
        }
    }

    /// The open issues as tasks; only a complete list closes the tasks of issues missing from it.
    private func apply(_ listed: (items: [JSONValue], truncated: Bool), _ link: RepositoryStore.Link) async throws -> WorkStore.IssueSyncResult {
        let issues = listed.items.compactMap(GitHubIssue.init)
        return try await work.applyIssues(issues, openSet: !listed.truncated, tenant: link.tenant, project: link.project)
    }

    private func failed(_ link: RepositoryStore.Link, _ reason: String, _ metadata: Logger.Metadata) async throws {
        failed.increment()
        logger.warning("GitHub sync failed; kept as the link's sync_error", metadata: metadata.merging(["reason": "\(reason)"]) { $1 })
        try await repositories.synced(link, error: String(reason.prefix(1000)), pulls: nil)
    }

    static func reason(_ failure: GitHubAPI.Failure) -> String {
        switch failure {
        case .unauthorized(let message): "GitHub refused the connection's token: \(message)"
        case .rateLimited(let seconds): "GitHub's rate limit is spent; retry in \(seconds) s"
        case .notFound: "the repository is gone, or the connection's token can no longer see it"
        case .failed(let reason): reason
        }
    }
}
