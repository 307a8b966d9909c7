import FlukeModels
import FlukeTestSupport
import Foundation
import HTTPTypes
@testable import ProjectManager
import Testing

@Suite("project-manager process and documents", .needsPostgresAndNATS)
struct PMProcessTests {
    @Test("the OpenAPI document lists exactly the routes served")
    func openAPI() async throws {
        try await PMHarness().run { c, parts in
            let served = try await expectOpenAPIDocumentsExactlyServedRoutes(c.client, routes: parts.routes)
            #expect(served.count > 30)
        }
    }

    @Test("bootstrap creates the tenant and owner once, mints an every-scope fbk_ token, and the running service accepts it; SIGTERM exits 0")
    func bootstrapAndServe() async throws {
        let h = try await PMHarness()
        var env = h.environment
        env["HTTP_PORT"] = String(freePort())
        env["PM_SIGNUP_ENABLED"] = "false"
        let args = ["bootstrap", "--email", "Admin@Example.com", "--password", "s3cret-password", "--tenant", "Fleet",
                    "--token-name", "make run"]
        let boot = try ServiceProcess(executable: "project-manager", environment: env, arguments: args)
        #expect(await boot.waitForExit(timeout: .seconds(60)) == 0)
        let line = try #require(boot.log.split(separator: "\n").last { $0.hasPrefix("{") })
        let out = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        let token = try #require(out["token"])
        #expect(token.hasPrefix("fbk_"))
        // Again: the same tenant, no error.
        let again = try ServiceProcess(executable: "project-manager", environment: env, arguments: Array(args.prefix(7)))
        #expect(await again.waitForExit(timeout: .seconds(60)) == 0)
        #expect(again.log.contains(out["tenant_id"]!))
        let wrong = try ServiceProcess(executable: "project-manager", environment: env,
                                       arguments: ["bootstrap", "--email", "admin@example.com", "--password", "other-password",
                                                   "--tenant", "Fleet"])
        #expect(await wrong.waitForExit(timeout: .seconds(60)) != 0)
        let bad = try ServiceProcess(executable: "project-manager", environment: env,
                                     arguments: ["bootstrap", "--email", "nope", "--password", "s3cret-password", "--tenant", "F"])
        #expect(await bad.waitForExit(timeout: .seconds(60)) == 78)
        #expect(bad.log.contains("--email"))

        let service = try ServiceProcess(executable: "project-manager", environment: env)
        let base = "http://127.0.0.1:\(env["HTTP_PORT"]!)"
        try await eventually(timeout: .seconds(30), "ready") { (try? await HTTP.get(base + "/ready").status) == 200 }
        let me = try await HTTP.get(base + "/api/v1/me", headers: ["Authorization": "Bearer \(token)"])
        #expect(me.status == 200)
        #expect(Set((me.json?["scopes"] as? [String]) ?? []) == Set(Scope.allCases.map(\.rawValue)), "every scope")
        service.process.terminate()
        #expect(await service.waitForExit(timeout: .seconds(15)) == 0)
    }
}
