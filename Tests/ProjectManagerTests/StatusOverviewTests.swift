import FlukeModels
import FlukeNATS
import FlukeRuntime
import FlukeTestSupport
import Foundation
@testable import ProjectManager
import Testing

/// A project's status and the tenant's overview follow deploy-tracker's and federation's events,
/// published to JetStream as their own NATS users.
@Suite("project-manager: one status across the fleet, and the overview", .needsPostgresAndNATS)
struct StatusOverviewTests {
    /// federation's side: its NATS user, its events.
    struct Catalog {
        let client: NATSClient

        init(_ h: PMHarness) async throws {
            client = try await NATSClient.connect(
                .init(url: h.nats.url, name: "federation-test", credentials: TestEnvironment.natsCredentials("federation"),
                      inboxPrefix: "_INBOX.federation", sendAsap: true),
                logger: TestEnvironment.logger, attempts: 1)
        }

        func publish(slug: String, project: String, status: String, previous: String, at: Date = Date()) async throws {
            let payload = FederationProjectStatusPayload(slug: slug, name: "Service \(slug)", status: status, previousStatus: previous,
                                                         changedAt: at, lastHeartbeatAt: at, projectID: project)
            let event = try CloudEvent(source: "federation", type: status == "ONLINE" ? .federationProjectOnline : .federationProjectOffline,
                                       tenantID: nil, projectID: nil, payload: payload)
            _ = try await client.jetStreamPublish(event.subject, payload: try CloudEvent.encoder().encode(event), timeout: .seconds(10))
        }
    }

    static func dictionary(_ value: Any?) -> [String: Any] { value as? [String: Any] ?? [:] }

    /// Polls `path` until `condition` holds; returns the answer and how long it took.
    static func follow(_ c: PMClient, _ token: String, _ path: String, _ what: String,
                       _ condition: @escaping ([String: Any]) -> Bool) async throws -> (json: [String: Any], after: Duration) {
        let start = ContinuousClock.now
        var last: [String: Any] = [:]
        try await eventually(timeout: .seconds(20), what) {
            let r = try await c.call(.get, path, token: token)
            last = r.json
            return r.status == 200 && condition(r.json)
        }
        return (last, ContinuousClock.now - start)
    }

    @Test("a failing deploy and a service going OFFLINE show in the status and the overview within 2 s; attention comes first")
    func followsTheFleet() async throws {
        let h = try await PMHarness()
        try await h.run { c, _ in
            let owner = try await c.signup()
            let calm = try await c.createProject(owner.accessToken, name: "Calm")
            let busy = try await c.createProject(owner.accessToken, name: "Busy")
            // Nothing heard yet: no deployments, federation UNKNOWN, not an error.
            let first = try await c.call(.get, "/api/v1/projects/\(busy)/status", token: owner.accessToken)
            #expect(first.status == 200)
            #expect(Self.dictionary(first["federation"])["status"] as? String == "UNKNOWN")
            #expect((Self.dictionary(first["deployments"])["items"] as? [Any])?.isEmpty == true)
            #expect(first["tasks"] != nil && first["team_size"] is Int && first["updated_at"] is String)

            let blocked = try await c.call(.post, "/api/v1/tasks", token: owner.accessToken,
                                           json: ["project_id": calm, "title": "Waiting on design", "status": "blocked"])
            #expect(blocked.status == 201)
            let overdue = try await c.call(.post, "/api/v1/projects/\(calm)/milestones", token: owner.accessToken,
                                           json: ["title": "Beta", "due_date": "2020-01-31"])
            #expect(overdue.status == 201)

            let tracker = try await DeploymentTaskTests.Tracker(h)
            let catalog = try await Catalog(h)
            let good = UUID()
            try await tracker.publish(.deploySucceeded, tenant: owner.tenantID, project: busy, deployment: good, app: "api", version: "v1")
            try await catalog.publish(slug: "busy-web", project: busy, status: "ONLINE", previous: "UNKNOWN")
            _ = try await Self.follow(c, owner.accessToken, "/api/v1/projects/\(busy)/status", "api v1 succeeded and ONLINE") { s in
                let items = Self.dictionary(s["deployments"])["items"] as? [[String: Any]] ?? []
                return items.first?["status"] as? String == "success" && Self.dictionary(s["federation"])["status"] as? String == "ONLINE"
            }

            let bad = UUID()
            try await tracker.publish(.deployQueued, tenant: owner.tenantID, project: busy, deployment: bad, app: "api", version: "v2")
            try await tracker.publish(.deployFailed, tenant: owner.tenantID, project: busy, deployment: bad, app: "api", version: "v2",
                                      reason: "health check failed", phase: "verify")
            try await catalog.publish(slug: "busy-web", project: busy, status: "OFFLINE", previous: "ONLINE")
            let (status, after) = try await Self.follow(c, owner.accessToken, "/api/v1/projects/\(busy)/status",
                                                        "the failed deploy and OFFLINE in the status") { s in
                let items = Self.dictionary(s["deployments"])["items"] as? [[String: Any]] ?? []
                return items.first?["deployment_id"] as? String == bad.lowercased && items.first?["status"] as? String == "failed"
                    && Self.dictionary(s["federation"])["status"] as? String == "OFFLINE"
            }
            #expect(after < .seconds(2), "the status followed the events in \(after)")
            let deployments = Self.dictionary(status["deployments"])
            #expect(deployments["stale"] as? Bool == false && deployments["updated_at"] is String)
            #expect((deployments["items"] as? [[String: Any]])?.first?["version"] as? String == "v2")
            let services = Self.dictionary(status["federation"])["services"] as? [[String: Any]] ?? []
            #expect(services.map { $0["slug"] as? String } == ["busy-web"])

            // The earlier deployment's late event, or an older catalog change, moves nothing back: the
            // app's latest deployment is the one that began last.
            try await tracker.publish(.deploySucceeded, tenant: owner.tenantID, project: busy, deployment: good, app: "api", version: "v1")
            try await catalog.publish(slug: "busy-web", project: busy, status: "ONLINE", previous: "UNKNOWN",
                                      at: Date().addingTimeInterval(-3600))

            let (overview, overviewAfter) = try await Self.follow(c, owner.accessToken, "/api/v1/overview", "the overview's attention") { o in
                (o["attention"] as? [[String: Any]] ?? []).count == 5
            }
            #expect(overviewAfter < .seconds(2))
            let attention = overview["attention"] as? [[String: Any]] ?? []
            // Busy's failed deployment also blocked its WeDo task.
            #expect(attention.map { $0["kind"] as? String } == ["deploy_failed", "offline", "tasks_blocked", "tasks_blocked", "milestones_overdue"])
            #expect(attention.map { $0["project_name"] as? String } == ["Busy", "Busy", "Busy", "Calm", "Calm"])
            #expect((attention.first?["detail"] as? String)?.contains("health check failed") == true)
            let projects = overview["projects"] as? [[String: Any]] ?? []
            #expect(projects.map { $0["id"] as? String } == [busy, calm], "more attention first")
            #expect(projects.first?["attention"] as? Int == 3 && projects.last?["overdue_milestones"] as? Int == 1)
            #expect(Self.dictionary(overview["stale"])["deployments"] as? Bool == false && overview["truncated"] as? Bool == false)
            let again = try await c.call(.get, "/api/v1/projects/\(busy)/status", token: owner.accessToken)
            #expect(Self.dictionary(again["federation"])["status"] as? String == "OFFLINE")
            #expect((Self.dictionary(again["deployments"])["items"] as? [[String: Any]])?.first?["status"] as? String == "failed")

            // A token bound to a project sees only that project; another tenant sees none of it.
            let bound = try #require(try await c.createToken(owner.accessToken, scopes: ["context:read"], projectID: calm).string("token"))
            let boundOverview = try await c.call(.get, "/api/v1/overview", token: bound)
            #expect((boundOverview["projects"] as? [[String: Any]])?.map { $0["id"] as? String } == [calm])
            #expect(try await c.call(.get, "/api/v1/projects/\(busy)/status", token: bound).status == 404)
            let stranger = try await c.signup()
            #expect(try await c.call(.get, "/api/v1/projects/\(busy)/status", token: stranger.accessToken).status == 404)
            #expect((try await c.call(.get, "/api/v1/overview", token: stranger.accessToken)["projects"] as? [Any])?.isEmpty == true)

            // The tenant's catalog: its entries with their status changes, newest first (the
            // older change arrived last and is in its place); nobody else's.
            let entries = try await c.call(.get, "/api/v1/catalog", token: owner.accessToken)
            #expect(entries.items.map { $0["slug"] as? String } == ["busy-web"] && entries.items.first?["project_id"] as? String == busy)
            #expect(entries.items.first?["status"] as? String == "OFFLINE" && entries.items.first?["history"] == nil)
            let (entry, _) = try await Self.follow(c, owner.accessToken, "/api/v1/catalog/busy-web", "three changes") { e in
                (e["history"] as? [Any])?.count == 3
            }
            let history = entry["history"] as? [[String: Any]] ?? []
            #expect(history.map { $0["status"] as? String } == ["OFFLINE", "ONLINE", "ONLINE"], "\(entry)")
            #expect(history.first?["previous_status"] as? String == "ONLINE")
            #expect(try await c.call(.get, "/api/v1/catalog/busy-web", token: stranger.accessToken).status == 404)
            #expect(try await c.call(.get, "/api/v1/catalog/busy-web", token: bound).status == 404, "bound to another project")
            #expect(try await c.call(.get, "/api/v1/catalog", token: stranger.accessToken).items.isEmpty)
        }
    }

    @Test("with NATS down the status still answers its last known parts, marked stale; fresh again once NATS is back")
    func staleNotAnError() async throws {
        let h = try await PMHarness(["PM_STATUS_STALE_AFTER": "2"])
        try await h.run { c, _ in
            let owner = try await c.signup()
            let project = try await c.createProject(owner.accessToken)
            let tracker = try await DeploymentTaskTests.Tracker(h)
            try await tracker.publish(.deploySucceeded, tenant: owner.tenantID, project: project, deployment: UUID(), app: "web")
            let path = "/api/v1/projects/\(project)/status"
            _ = try await Self.follow(c, owner.accessToken, path, "fresh with the deployment") { s in
                let d = Self.dictionary(s["deployments"])
                return d["stale"] as? Bool == false && (d["items"] as? [Any])?.count == 1
            }
            try h.nats.stop()
            let (stale, _) = try await Self.follow(c, owner.accessToken, path, "stale while NATS is down") { s in
                Self.dictionary(s["deployments"])["stale"] as? Bool == true && Self.dictionary(s["federation"])["stale"] as? Bool == true
            }
            #expect((Self.dictionary(stale["deployments"])["items"] as? [[String: Any]])?.first?["app"] as? String == "web")
            let overview = try await c.call(.get, "/api/v1/overview", token: owner.accessToken)
            #expect(overview.status == 200 && Self.dictionary(overview["stale"])["deployments"] as? Bool == true)
            try h.nats.start()
            _ = try await Self.follow(c, owner.accessToken, path, "fresh again") { s in
                Self.dictionary(s["deployments"])["stale"] as? Bool == false
            }
        }
    }
}
