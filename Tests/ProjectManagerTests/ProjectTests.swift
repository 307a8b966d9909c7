import FlukeModels
import FlukeRuntime
import FlukeTestSupport
import Foundation
@testable import ProjectManager
import Testing

@Suite("project-manager projects, team, milestones, tasks, audit", .needsPostgresAndNATS)
struct ProjectTests {
    @Test("project CRUD, team, milestones and tasks work and each write emits its event with tenantid and projectid")
    func crudAndEvents() async throws {
        let h = try await PMHarness()
        try await h.run { c, _ in
            let events = try await EventCollector(natsURL: h.nats.url)
            let owner = try await c.signup()
            let t = owner.accessToken
            let project = try await c.createProject(t, name: "Northstar")
            let got = try await c.call(.get, "/api/v1/projects/\(project)", token: t)
            #expect(got.string("name") == "Northstar" && got.string("stage") == "mvp")
            #expect(got.string("repository_url") == "https://github.com/acme/app")
            let patched = try await c.call(.patch, "/api/v1/projects/\(project)", token: t,
                                           json: ["stage": "production", "repository_url": NSNull()])
            #expect(patched.status == 200 && patched.string("stage") == "production" && patched["repository_url"] == nil)
            #expect(patched.string("name") == "Northstar")

            let dev = try await c.addUser(to: owner, role: "member")
            let added = try await c.call(.post, "/api/v1/projects/\(project)/members", token: t,
                                         json: ["user_id": dev.userID, "role": "developer"])
            #expect(added.status == 201 && added.string("email") == dev.email)
            #expect(try await c.call(.post, "/api/v1/projects/\(project)/members", token: t,
                                     json: ["user_id": dev.userID]).status == 409)
            #expect(try await c.call(.patch, "/api/v1/projects/\(project)/members/\(dev.userID)", token: t,
                                     json: ["role": "lead"]).string("role") == "lead")
            #expect(try await c.call(.get, "/api/v1/projects/\(project)/members", token: t).items.count == 1)

            let m = try await c.call(.post, "/api/v1/projects/\(project)/milestones", token: t,
                                     json: ["title": "Beta", "due_date": "2027-03-01"])
            #expect(m.status == 201 && m.string("status") == "planned" && m.string("due_date") == "2027-03-01")
            let mid = m.string("id")!
            #expect(try await c.call(.patch, "/api/v1/projects/\(project)/milestones/\(mid)", token: t,
                                     json: ["status": "done"]).string("status") == "done")

            let task = try await c.call(.post, "/api/v1/tasks", token: t,
                                        json: ["title": "Ship", "project_id": project, "assignee_id": dev.userID,
                                               "labels": ["release", "p1"], "due_date": "2027-01-15"])
            #expect(task.status == 201 && task.string("status") == "todo" && task.string("source") == "manual")
            let tid = task.string("id")!
            #expect(try await c.call(.patch, "/api/v1/tasks/\(tid)", token: t, json: ["status": "blocked"]).string("status") == "blocked")

            let status = try await c.call(.get, "/api/v1/projects/\(project)/status", token: t)
            #expect((status["tasks"] as? [String: Int])?["blocked"] == 1)
            #expect((status["milestones"] as? [String: Int])?["done"] == 1)
            #expect(status["team_size"] as? Int == 1)

            #expect(try await c.call(.delete, "/api/v1/tasks/\(tid)", token: t).status == 204)
            #expect(try await c.call(.delete, "/api/v1/projects/\(project)/milestones/\(mid)", token: t).status == 204)
            #expect(try await c.call(.delete, "/api/v1/projects/\(project)/members/\(dev.userID)", token: t).status == 204)
            #expect(try await c.call(.delete, "/api/v1/projects/\(project)", token: t).status == 204)
            #expect(try await c.call(.get, "/api/v1/projects/\(project)", token: t).status == 404)

            let received = try await events.collect(count: 12, window: .seconds(10))
            #expect(received.map(\.type) == [
                "project.created", "project.updated", "member.added", "member.added", "milestone.updated",
                "milestone.updated", "task.created", "task.updated", "task.updated", "milestone.updated",
                "member.removed", "project.deleted",
            ])
            #expect(received.allSatisfy { $0.tenantid == owner.tenantID && $0.projectid == project && $0.source == "project-manager" })
            #expect(received[8].data["deleted"] == .bool(true) && received[9].data["deleted"] == .bool(true))
            #expect(received[0].data["name"] == .string("Northstar"))
            await events.close()
        }
    }

    @Test("tasks filter by project, status, assignee and label, and page with a cursor")
    func taskFilters() async throws {
        try await PMHarness().run { c, _ in
            let owner = try await c.signup()
            let t = owner.accessToken
            let p1 = try await c.createProject(t)
            let p2 = try await c.createProject(t)
            for i in 0..<7 {
                let r = try await c.call(.post, "/api/v1/tasks", token: t, json: [
                    "title": "task \(i)", "project_id": i % 2 == 0 ? p1 : p2, "status": i < 3 ? "done" : "todo",
                    "labels": i % 3 == 0 ? ["bug"] : [], "assignee_id": i == 4 ? owner.userID as Any : NSNull()])
                try #require(r.status == 201, "\(r.json)")
            }
            func titles(_ query: String) async throws -> [String] {
                try await c.call(.get, "/api/v1/tasks?\(query)", token: t).items.compactMap { $0["title"] as? String }
            }
            #expect(try await titles("project_id=\(p1)") == ["task 0", "task 2", "task 4", "task 6"])
            #expect(try await titles("status=done") == ["task 0", "task 1", "task 2"])
            #expect(try await titles("label=bug") == ["task 0", "task 3", "task 6"])
            #expect(try await titles("assignee_id=\(owner.userID)") == ["task 4"])
            #expect(try await titles("project_id=\(p2)&status=todo") == ["task 3", "task 5"])
            var seen: [String] = []
            var cursor: String?
            repeat {
                let r = try await c.call(.get, "/api/v1/tasks?limit=3" + (cursor.map { "&cursor=\($0)" } ?? ""), token: t)
                seen += r.items.compactMap { $0["title"] as? String }
                cursor = r.string("next_cursor")
            } while cursor != nil
            #expect(seen == (0..<7).map { "task \($0)" })
            for (query, field) in [("status=later", "status"), ("project_id=nope", "project_id"), ("limit=0", "limit"),
                                   ("cursor=%%%", "cursor"), ("assignee_id=1", "assignee_id")] {
                let r = try await c.call(.get, "/api/v1/tasks?\(query)", token: t)
                #expect(r.status == 422 && r.string("field") == field, "\(query)")
            }
        }
    }

    @Test("bad input is 422 naming the field and changes nothing")
    func badInput() async throws {
        try await PMHarness().run { c, _ in
            let owner = try await c.signup()
            let t = owner.accessToken
            let project = try await c.createProject(t, name: "Stable")
            let cases: [(String, String, [String: Any], String)] = [
                ("/api/v1/projects", "POST", ["name": "x", "stage": "launched"], "stage"),
                ("/api/v1/projects", "POST", ["name": ""], "name"),
                ("/api/v1/projects", "POST", ["name": String(repeating: "x", count: 201)], "name"),
                ("/api/v1/projects", "POST", ["name": "x", "repository_url": "not a url"], "repository_url"),
                ("/api/v1/projects/\(project)", "PATCH", ["name": "x", "colour": "red"], "colour"),
                ("/api/v1/projects/\(project)", "PATCH", ["description": String(repeating: "d", count: 10_001)], "description"),
                ("/api/v1/projects/\(project)/milestones", "POST", ["title": "m", "due_date": "2027-02-30"], "due_date"),
                ("/api/v1/projects/\(project)/milestones", "POST", ["title": "m", "status": "someday"], "status"),
                ("/api/v1/projects/\(project)/members", "POST", ["user_id": "me"], "user_id"),
                ("/api/v1/projects/\(project)/members", "POST", ["user_id": UUID().uuidString], "user_id"),
                ("/api/v1/tasks", "POST", ["title": "t"], "project_id"),
                ("/api/v1/tasks", "POST", ["title": "t", "project_id": project, "labels": ["ok", 3]], "labels[1]"),
                ("/api/v1/tasks", "POST", ["title": "t", "project_id": project, "source": "jira"], "source"),
                ("/api/v1/tasks", "POST", ["title": "t", "project_id": project, "assignee_id": UUID().uuidString], "assignee_id"),
                ("/api/v1/projects/not-a-uuid", "GET", [:], "project_id"),
            ]
            for (uri, method, body, field) in cases {
                let r = try await c.call(.init(method)!, uri, token: t, json: method == "GET" ? nil : body)
                #expect(r.status == 422, "\(method) \(uri) \(body)")
                #expect(r.string("field") == field, "\(method) \(uri): \(r.json)")
            }
            let malformed = try await c.call(.post, "/api/v1/projects", token: t, json: ["not", "an", "object"])
            #expect(malformed.status == 400)
            let list = try await c.call(.get, "/api/v1/projects", token: t)
            #expect(list.items.map { $0["name"] as? String } == ["Stable"])
            #expect(try await c.call(.get, "/api/v1/projects/\(project)/milestones", token: t).items.isEmpty)
            #expect(try await c.call(.get, "/api/v1/tasks", token: t).items.isEmpty)
        }
    }

    @Test("every write is in the audit log with its actor and request id; only admins read it")
    func audit() async throws {
        try await PMHarness().run { c, _ in
            let owner = try await c.signup()
            let t = owner.accessToken
            let r = try await c.call(.post, "/api/v1/projects", token: t, json: ["name": "Audited"],
                                     headers: [.init("X-Request-Id")!: "req-audit-1"])
            let project = r.string("id")!
            _ = try await c.call(.patch, "/api/v1/projects/\(project)", token: t, json: ["stage": "prototype"])
            let log = try await c.call(.get, "/api/v1/audit?limit=100", token: t)
            #expect(log.status == 200)
            let actions = log.items.compactMap { $0["action"] as? String }
            #expect(actions.prefix(2) == ["project.updated", "project.created"])
            #expect(actions.contains("tenant.created") && actions.contains("auth.login"))
            let created = log.items.first { $0["action"] as? String == "project.created" }
            #expect(created?["request_id"] as? String == "req-audit-1")
            #expect(created?["actor_user_id"] as? String == owner.userID && created?["object_id"] as? String == project)
            let viewer = try await c.addUser(to: owner, role: "viewer")
            #expect(try await c.call(.get, "/api/v1/audit", token: viewer.accessToken).status == 403)
        }
    }
}

@Suite("project-manager replicas", .needsPostgresAndNATS)
struct ReplicaTests {
    @Test("a project read through one replica's cache follows a change made on another (its event invalidates the entry)")
    func cacheFollowsOtherReplica() async throws {
        let h = try await PMHarness()
        let config = try h.config()
        let a = try await buildApplication(config: config, logger: TestEnvironment.logger)
        let b = try await buildApplication(config: config, logger: TestEnvironment.logger)
        try await a.test(.live) { ca in
            try await b.test(.live) { cb in
                let one = PMClient(client: ca), two = PMClient(client: cb)
                let owner = try await one.signup()
                let project = try await one.createProject(owner.accessToken, name: "Before")
                // Both replicas have it cached now.
                #expect(try await one.call(.get, "/api/v1/projects/\(project)", token: owner.accessToken).string("name") == "Before")
                #expect(try await two.call(.get, "/api/v1/projects/\(project)", token: owner.accessToken).string("name") == "Before")
                // A change on replica one: read-after-write there at once, and on replica two once the event lands.
                #expect(try await one.call(.patch, "/api/v1/projects/\(project)", token: owner.accessToken,
                                           json: ["name": "After"]).status == 200)
                #expect(try await one.call(.get, "/api/v1/projects/\(project)", token: owner.accessToken).string("name") == "After")
                try await eventually(timeout: .seconds(3), "replica two sees the change") {
                    try await two.call(.get, "/api/v1/projects/\(project)", token: owner.accessToken).string("name") == "After"
                }
                #expect(try await one.call(.delete, "/api/v1/projects/\(project)", token: owner.accessToken).status == 204)
                try await eventually(timeout: .seconds(3), "replica two sees the deletion") {
                    try await two.call(.get, "/api/v1/projects/\(project)", token: owner.accessToken).status == 404
                }
                // Another tenant never gets a cached project.
                let intruder = try await two.signup(tenant: "Intruder")
                let other = try await one.createProject(owner.accessToken, name: "Cached")
                _ = try await two.call(.get, "/api/v1/projects/\(other)", token: owner.accessToken)
                #expect(try await two.call(.get, "/api/v1/projects/\(other)", token: intruder.accessToken).status == 404)
            }
        }
    }
}
