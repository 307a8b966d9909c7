import FlukeTestSupport
import Foundation
import Testing

/// The federation executable, run as a real process.
@Suite("federation process", .needsPostgresAndNATS)
struct ProcessTests {
    @Test("an invalid catalog stops startup with a non-zero exit and a line naming the file, entry and field")
    func invalidCatalog() async throws {
        let harness = try await FederationHarness(catalog: """
            projects:
              - slug: fine
                name: Fine
              - slug: Not_A_Slug
                name: Broken
            """)
        var env = harness.environment
        env["HTTP_PORT"] = String(freePort())
        let process = try ServiceProcess(executable: "federation", environment: env)
        let status = await process.waitForExit(timeout: .seconds(20))
        #expect(status != nil && status != 0)
        #expect(process.log.contains(harness.catalogPath))
        #expect(process.log.contains("projects[1]"))
        #expect(process.log.contains("field slug"))
    }

    @Test("a missing or malformed setting stops the process with one line naming the variable")
    func badConfiguration() async throws {
        let missing = try ServiceProcess(executable: "federation", environment: [
            "DATABASE_URL": "", "FEDERATION_CATALOG": "/nonexistent", "FEDERATION_API_KEYS": "abcdefghij"])
        #expect(await missing.waitForExit(timeout: .seconds(30)) == 78)
        #expect(missing.log.contains("DATABASE_URL"))
        let malformed = try ServiceProcess(executable: "federation", environment: [
            "DATABASE_URL": "postgres://x@127.0.0.1/db", "FEDERATION_HEARTBEAT_TTL": "soon",
            "FEDERATION_CATALOG": "/nonexistent", "FEDERATION_API_KEYS": "abcdefghij"])
        #expect(await malformed.waitForExit(timeout: .seconds(30)) == 78)
        #expect(malformed.log.contains("FEDERATION_HEARTBEAT_TTL"))
        let help = try ServiceProcess(executable: "federation", environment: [:], arguments: ["--help"])
        #expect(await help.waitForExit(timeout: .seconds(30)) == 0)
        #expect(help.log.contains("FEDERATION_HEARTBEAT_TTL") && help.log.contains("default: 90"))
    }

    @Test("SIGHUP reloads the catalog; an invalid new file keeps the old one; SIGTERM exits 0 within 10 s")
    func reloadAndTerminate() async throws {
        let harness = try await FederationHarness()
        var env = harness.environment
        let port = freePort()
        env["HTTP_PORT"] = String(port)
        let process = try ServiceProcess(executable: "federation", environment: env)
        let base = "http://127.0.0.1:\(port)"
        let key = ["X-API-Key": FederationHarness.apiKey]
        try await eventually(timeout: .seconds(30), "federation ready") { try await HTTP.get(base + "/ready").status == 200 }

        try (FederationHarness.sampleCatalog + "\n  - slug: delta\n    name: Delta\n")
            .write(toFile: harness.catalogPath, atomically: true, encoding: .utf8)
        process.signal(SIGHUP)
        try await eventually(timeout: .seconds(5), "delta catalogued") {
            try await HTTP.get(base + "/api/fed/projects/delta", headers: key).status == 200
        }

        try "projects:\n  - slug: delta\n    name: \"\"\n".write(toFile: harness.catalogPath, atomically: true, encoding: .utf8)
        process.signal(SIGHUP)
        try await eventually(timeout: .seconds(5), "reload failure counted") {
            let metrics = String(decoding: try await HTTP.get(base + "/metrics").body, as: UTF8.self)
            return metrics.contains("federation_catalog_reload_failures_total 1")
        }
        #expect(try await HTTP.get(base + "/api/fed/projects/alpha", headers: key).status == 200)

        process.signal(SIGTERM)
        let status = await process.waitForExit(timeout: .seconds(10))
        #expect(status == 0, "exit status \(String(describing: status)); log:\n\(process.log.suffix(2000))")
    }
}
