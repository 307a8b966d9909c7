import FlukeModels
import FlukeNATS
import FlukeRuntime
import FlukeTestSupport
import Foundation
@testable import ProjectManager
import Testing

/// deploy-tracker's `deploy.*` events, published to JetStream as its NATS user, become a WeDo task
/// per deployment, seen through project-manager's REST API.
@Suite("project-manager: a WeDo task per deployment", .needsPostgresAndNATS)
struct DeploymentTaskTests {
    /// deploy-tracker's side: its NATS user, its events.
    struct Tracker {
        let client: NATSClient
        /// The deployment's status each event type carries, as deploy-tracker sends it.
        static let status: [EventType: String] = [
            .deployQueued: "pending", .deployStarted: "building", .deployPhaseChanged: "deploying", .deploySucceeded: "success",
            .deployFailed: "failed", .deployRolledBack: "rolled_back", .deployCancelled: "cancelled",
        ]

        init(_ h: PMHarness) async throws {
            client = try await NATSClient.connect(
                .init(url: h.nats.url, name: "deploy-tracker-test", credentials: TestEnvironment.natsCredentials("deploy-tracker"),
                      inboxPrefix: "_INBOX.deploy-tracker", sendAsap: true),
                logger: TestEnvironment.logger, attempts: 1)
        }

        func publish(_ type: EventType, tenant: String?, project: String?, deployment: UUID, app: String = "web",
                     version: String? = "v3", reason: String? = nil, phase: String? = nil) async throws {
            let payload = DeploymentPayload(deploymentID: deployment, app: app, version: version, status: Self.status[type] ?? "pending",
                                            phase: phase, reason: reason)
            let event = try CloudEvent(source: "deploy-tracker", type: type, tenantID: tenant, projectID: project, payload: payload)
            _ = try await client.jetStreamPublish(event.subject, payload: try CloudEvent.encoder().encode(event),
                                                  timeout: .seconds(10))
        }
    }

    /// The task following `deployment`, as the tenant's API shows it.
    static func task(_ c: PMClient, _ token: String, project: String, deployment: UUID) async throws -> [String: Any]? {
        let r = try await c.call(.get, "/api/v1/tasks?project_id=\(project)&limit=100", token: token)
        return r.items.first { $0["deployment_id"] as? String == deployment.lowercased }
    }

    /// Waits until the task of `deployment` satisfies `condition`; returns it.
    static func waitForTask(_ c: PMClient, _ token: String, project: String, deployment: UUID, _ what: String,
                            _ condition: @escaping ([String: Any]) -> Bool) async throws -> [String: Any] {
        var found: [String: Any]?
        try await eventually(timeout: .seconds(20), what) {
            found = try await task(c, token, project: project, deployment: deployment)
            return found.map(condition) ?? false
        }
        return found!
    }

    /// Task events until one satisfies `stop`.
    static func taskEvents(_ collector: EventCollector, until stop: (CloudEvent) -> Bool) async throws -> [CloudEvent] {
        var events: [CloudEvent] = []
        try await eventually(timeout: .seconds(20), "the task events") {
            events += try await collector.collect(window: .milliseconds(500))
            return events.contains(where: stop)
        }
        return events
    }

    @Test("created in progress on deploy.queued, still in progress when started, done on success; each change is a task event")
    func followsASuccessfulDeployment() async throws {
        let h = try await PMHarness()
        try await h.run { c, _ in
            let events = try await EventCollector(natsURL: h.nats.url, filter: "fluke.events.task.>")
            let owner = try await c.signup()
            let project = try await c.createProject(owner.accessToken)
            let tracker = try await Tracker(h)
            let deployment = UUID()
            try await tracker.publish(.deployQueued, tenant: owner.tenantID, project: project, deployment: deployment)
            let queued = try await Self.waitForTask(c, owner.accessToken, project: project, deployment: deployment,
                                                    "the task in progress") { $0["status"] as? String == "in_progress" }
            #expect(queued["title"] as? String == "Deploy web v3" && queued["source"] as? String == "deployment")
            try await tracker.publish(.deployStarted, tenant: owner.tenantID, project: project, deployment: deployment)
            try await tracker.publish(.deployPhaseChanged, tenant: owner.tenantID, project: project, deployment: deployment,
                                      phase: "build")
            try await tracker.publish(.deploySucceeded, tenant: owner.tenantID, project: project, deployment: deployment)
            let done = try await Self.waitForTask(c, owner.accessToken, project: project, deployment: deployment,
                                                  "the task done") { $0["status"] as? String == "done" }
            #expect(done["id"] as? String == queued["id"] as? String)
            let tasks = try await c.call(.get, "/api/v1/tasks?project_id=\(project)", token: owner.accessToken).items
            #expect(tasks.count == 1)

            let seen = try await Self.taskEvents(events) { ($0.data["status"]?.stringValue) == "done" }
            #expect(seen.map(\.type) == ["task.created", "task.updated"])
            #expect(seen.allSatisfy { $0.tenantid == owner.tenantID && $0.projectid == project })
            #expect(seen.map { $0.data["source"]?.stringValue } == ["deployment", "deployment"])
            await events.close()
            await tracker.client.shutdown()
        }
    }

    @Test("a failure and its rollback block the task with both reasons; duplicates and late events change nothing")
    func blockedWhateverTheOrder() async throws {
        let h = try await PMHarness()
        try await h.run { c, _ in
            let events = try await EventCollector(natsURL: h.nats.url, filter: "fluke.events.task.>")
            let owner = try await c.signup()
            let project = try await c.createProject(owner.accessToken)
            let tracker = try await Tracker(h)
            let failed = UUID()
            let (tenant, token) = (owner.tenantID, owner.accessToken)
            // The failure arrives before the deployment's start, the rollback before the failure's duplicate.
            try await tracker.publish(.deployFailed, tenant: tenant, project: project, deployment: failed,
                                      reason: "health check failed: GET /healthz answered 503", phase: "deploy")
            try await tracker.publish(.deployRolledBack, tenant: tenant, project: project, deployment: failed,
                                      reason: "automatic rollback to v2")
            try await tracker.publish(.deployStarted, tenant: tenant, project: project, deployment: failed)
            try await tracker.publish(.deployQueued, tenant: tenant, project: project, deployment: failed)
            try await tracker.publish(.deployFailed, tenant: tenant, project: project, deployment: failed,
                                      reason: "health check failed: GET /healthz answered 503", phase: "deploy")
            // Events are handled in stream order: once this one's task exists, the ones above were handled.
            let marker = UUID()
            try await tracker.publish(.deployCancelled, tenant: tenant, project: project, deployment: marker, version: nil,
                                      reason: "cancelled by the user")
            let cancelled = try await Self.waitForTask(c, token, project: project, deployment: marker, "the cancelled task") {
                $0["status"] as? String == "blocked"
            }
            #expect(cancelled["title"] as? String == "Deploy web")
            #expect((cancelled["description"] as? String)?.contains("Cancelled: cancelled by the user") == true)

            let task = try #require(try await Self.task(c, token, project: project, deployment: failed))
            #expect(task["status"] as? String == "blocked")
            let description = task["description"] as? String ?? ""
            #expect(description.contains("Failed: health check failed: GET /healthz answered 503 (phase deploy)"), "\(description)")
            #expect(description.contains("Rolled back: automatic rollback to v2"), "\(description)")

            let seen = try await Self.taskEvents(events) { $0.data["title"]?.stringValue == "Deploy web" }
            let ofFailed = seen.filter { $0.data["id"]?.stringValue == task["id"] as? String }
            #expect(ofFailed.map(\.type) == ["task.created", "task.updated"], "\(seen.map(\.type))")
            #expect(ofFailed.allSatisfy { $0.data["status"]?.stringValue == "blocked" })
            await events.close()
            await tracker.client.shutdown()
        }
    }

    @Test("a tenant's deployment task is invisible to another tenant; an unknown project is skipped, not retried; a malformed event is a dead letter")
    func tenancyAndUnknownProjects() async throws {
        let h = try await PMHarness()
        try await h.run { c, _ in
            let acme = try await c.signup(tenant: "Acme")
            let globex = try await c.signup(tenant: "Globex")
            let acmeProject = try await c.createProject(acme.accessToken)
            let globexProject = try await c.createProject(globex.accessToken)
            let tracker = try await Tracker(h)
            let deployment = UUID()
            try await tracker.publish(.deployStarted, tenant: acme.tenantID, project: acmeProject, deployment: deployment)
            let task = try await Self.waitForTask(c, acme.accessToken, project: acmeProject, deployment: deployment,
                                                  "Acme's task") { _ in true }
            let id = try #require(task["id"] as? String)
            #expect(try await c.call(.get, "/api/v1/tasks/\(id)", token: globex.accessToken).status == 404)
            #expect(try await c.call(.get, "/api/v1/tasks", token: globex.accessToken).items.isEmpty)

            // Globex naming Acme's project, a project nobody has, and no project at all.
            let crossed = UUID(), unknown = UUID(), malformed = UUID()
            try await tracker.publish(.deploySucceeded, tenant: globex.tenantID, project: acmeProject, deployment: crossed)
            try await tracker.publish(.deploySucceeded, tenant: globex.tenantID, project: acmeProject, deployment: deployment)
            try await tracker.publish(.deployQueued, tenant: acme.tenantID, project: UUID().lowercased, deployment: unknown)
            try await tracker.publish(.deployQueued, tenant: acme.tenantID, project: nil, deployment: malformed)
            let marker = UUID()
            try await tracker.publish(.deployQueued, tenant: globex.tenantID, project: globexProject, deployment: marker)
            _ = try await Self.waitForTask(c, globex.accessToken, project: globexProject, deployment: marker,
                                           "Globex's own task") { _ in true }

            #expect(try await c.call(.get, "/api/v1/tasks", token: globex.accessToken).items.count == 1)
            let acmeTasks = try await c.call(.get, "/api/v1/tasks", token: acme.accessToken).items
            #expect(acmeTasks.count == 1 && acmeTasks.first?["status"] as? String == "in_progress", "\(acmeTasks)")

            // Nothing left to retry: every message acknowledged, the malformed one set aside.
            let admin = try await h.natsClient()
            try await eventually(timeout: .seconds(20), "the consumer has nothing pending") {
                let info = try await admin.request("$JS.API.CONSUMER.INFO.\(EventType.streamName).\(DeploymentTaskConsumer.durable)",
                                                   payload: Data(), timeout: .seconds(5))
                let json = try JSONSerialization.jsonObject(with: info.payload) as? [String: Any]
                return json?["num_ack_pending"] as? Int == 0 && json?["num_pending"] as? Int == 0
            }
            let dead = try await h.database.withAdminClient { db in
                try await db.query("SELECT count(*) FROM pm.dead_letters WHERE consumer = \(DeploymentTaskConsumer.durable)")
                    .first!.decode(Int.self, at: 0)
            }
            #expect(dead == 1)
            await admin.shutdown()
            await tracker.client.shutdown()
        }
    }
}
