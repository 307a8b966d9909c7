import DeployExecutors
import FlukeModels
import FlukeNATS
import FlukeRuntime
import Foundation
import Logging
import Prometheus
import ServiceLifecycle

/// Publishes running apps' output (stdout and stderr of every replica, task or pod) to
/// `fluke.logs.<tenant_id>.<app_name>` as `UnifiedLogEntry`s with `source.component: "app"`.
///
/// Each app's output is followed by one replica of deploy-tracker at a time (a lease on the
/// app's row, taken over when its holder stops renewing). Lines wait in a bounded buffer; when
/// NATS cannot keep up, new lines are dropped and counted (`deploy_app_log_lines_dropped_total`),
/// never the tracker's memory grown.
final class AppLogPump: Service, Sendable {
    let db: TenantDatabase
    let nats: NATSClient
    let executors: ExecutorSet
    let owner: String
    let lease: Duration
    let logger: Logger
    let published: Counter
    let dropped: Counter
    /// Lines waiting for NATS.
    static let bufferLimit = 10_000

    init(db: TenantDatabase, nats: NATSClient, executors: ExecutorSet, owner: String, lease: Duration,
         registry: PrometheusCollectorRegistry, logger: Logger) {
        self.db = db
        self.nats = nats
        self.executors = executors
        self.owner = owner
        self.lease = lease
        self.logger = logger
        published = registry.makeCounter(name: "deploy_app_log_lines_total", help: "app output lines published to FLUKE_LOGS")
        dropped = registry.makeCounter(name: "deploy_app_log_lines_dropped_total",
                                       help: "app output lines dropped because NATS could not keep up")
    }

    struct Followed: Sendable, Hashable {
        var id: UUID
        var tenantID: UUID
        var projectID: UUID
        var name: String
        var executor: ExecutorKind
        var version: Int?
    }

    func run() async throws {
        let (lines, sink) = AsyncStream<(subject: String, payload: Data)>.makeStream(
            bufferingPolicy: .bufferingOldest(Self.bufferLimit))
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.publish(lines) }
                var following: [UUID: Task<Void, Never>] = [:]
                while !Task.isCancelled {
                    let apps = (try? await self.claim()) ?? []
                    let current = Set(apps.map(\.id))
                    for (id, task) in following where !current.contains(id) {
                        task.cancel()
                        following[id] = nil
                    }
                    for app in apps where following[app.id] == nil {
                        following[app.id] = Task { await self.follow(app, into: sink) }
                    }
                    try? await Task.sleep(for: self.lease / 3)
                }
                for task in following.values { task.cancel() }
                sink.finish()
            }
        }
    }

    /// Renews this replica's apps and claims unfollowed running ones; returns what it follows.
    func claim() async throws -> [Followed] {
        let rows = try await db.pipelineAsSystem(["""
            UPDATE deploy.apps SET log_owner = \(owner), log_lease_until = now() + make_interval(secs => \(lease.secondsValue))
            WHERE current_version IS NOT NULL
              AND (log_owner = \(owner) OR log_lease_until IS NULL OR log_lease_until < now())
            RETURNING id, tenant_id, project_id, name, executor, current_version
            """])[0]
        return try rows.compactMap { row in
            guard let kind = ExecutorKind(rawValue: try row.decode(String.self, at: 4)) else { return nil }
            return Followed(id: try row.decode(UUID.self, at: 0), tenantID: try row.decode(UUID.self, at: 1),
                            projectID: try row.decode(UUID.self, at: 2), name: try row.decode(String.self, at: 3),
                            executor: kind, version: try row.decode(Int?.self, at: 5))
        }
    }

    /// Follows one app until cancelled (its lease moved, shutdown), starting again after errors.
    func follow(_ app: Followed, into sink: AsyncStream<(subject: String, payload: Data)>.Continuation) async {
        guard let executor = executors[app.executor] else { return }
        let subject = UnifiedLogEntry.subject(tenantID: app.tenantID, app: app.name)
        var since = Date()
        while !Task.isCancelled {
            do {
                try await executor.followLogs(tenantID: app.tenantID, app: app.name, since: since) { line in
                    let entry = UnifiedLogEntry(
                        timestamp: line.timestamp, level: line.stream == "stderr" ? .warn : .info,
                        message: String(line.text.prefix(16_384)),
                        source: .init(service: app.name, component: "app", instance: line.replica, stream: line.stream,
                                      tenantID: app.tenantID, projectID: app.projectID),
                        flukedeployMetadata: .init(deploymentID: nil, appName: app.name, version: app.version.map { "v\($0)" }))
                    guard let payload = try? FleetJSON.encoder.encode(entry) else { return }
                    if case .dropped = sink.yield((subject, payload)) { self.dropped.increment() }
                }
            } catch {
                logger.debug("following an app's output failed; following again", metadata: [
                    "app": "\(app.name)", "error": "\(error)"])
            }
            since = Date()
            try? await Task.sleep(for: .seconds(2))
        }
    }

    private func publish(_ lines: AsyncStream<(subject: String, payload: Data)>) async {
        for await line in lines {
            do {
                try await nats.publish(line.subject, payload: line.payload)
                published.increment()
            } catch {
                dropped.increment()
            }
        }
    }
}
