import FlukeTestSupport
import Foundation
import Testing

@Suite("fluke mcp over stdio, driven by the MCP Python SDK", .needsPostgresAndNATS)
struct MCPTests {
    static var python: String {
        ProcessInfo.processInfo.environment["FLUKE_TEST_PYTHON"]
            ?? TestEnvironment.repositoryRoot.appendingPathComponent(".venv/bin/python").path
    }

    static func session(_ scenario: String, _ environment: [String: String], _ extra: [String] = [],
                        target: String = FlukeHarness.fluke) async throws -> [String: Any] {
        let script = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/FlukeCLITests/Fixtures/mcp_session.py").path
        let run = try await CommandRun.run(python, [script, target, scenario] + extra, environment: environment,
                                           timeout: .seconds(90))
        try #require(run.status == 0, "mcp_session.py: \(run.stderr)")
        return try #require(try run.json() as? [String: Any], "\(run.stdout)")
    }

    /// `fluke mcp --http` on a free port, with `environment`'s URLs and no token of its own, while
    /// `body` runs with its endpoint's URL.
    static func withHTTPServer<T: Sendable>(_ environment: [String: String], _ body: (String) async throws -> T) async throws -> T {
        let port = freePort()
        var serverEnvironment = environment
        serverEnvironment["FLUKE_TOKEN"] = nil
        let server = try ServiceProcess(executable: "fluke", environment: serverEnvironment,
                                        arguments: ["mcp", "--http", "127.0.0.1:\(port)"])
        defer { server.signal(SIGTERM) }
        try await eventually(timeout: .seconds(30), "fluke mcp --http answers") {
            (try? await HTTP.get("http://127.0.0.1:\(port)/health").status) == 200
        }
        return try await body("http://127.0.0.1:\(port)/mcp")
    }

    static func structured(_ result: Any?) -> [String: Any]? { (result as? [String: Any])?["structured"] as? [String: Any] }

    @Test("stdio: tools listed by scope with annotations; the context resource and its updates; memories (idempotent, confirm before delete); errors as results or JSON-RPC errors")
    func stdio() async throws {
        let h = try await FlukeHarness()
        try await h.withFleet { f in
            try Self.checkFullSession(try await Self.session("full", f.environment), f)
        }
    }

    @Test("Streamable HTTP: the same session with the caller's bearer token passed through; no token 401, a foreign Host 421, a foreign Origin 403")
    func http() async throws {
        let h = try await FlukeHarness()
        try await h.withFleet { f in
            let port = freePort()
            var serverEnvironment = f.environment
            serverEnvironment["FLUKE_TOKEN"] = nil
            let server = try ServiceProcess(executable: "fluke", environment: serverEnvironment,
                                            arguments: ["mcp", "--http", "127.0.0.1:\(port)"])
            defer { server.signal(SIGTERM) }
            let url = "http://127.0.0.1:\(port)/mcp"
            try await eventually(timeout: .seconds(30), "fluke mcp --http answers") {
                (try? await HTTP.get("http://127.0.0.1:\(port)/health").status) == 200
            }
            try Self.checkFullSession(try await Self.session("full", ["FLUKE_TOKEN": f.world.token], target: url), f)

            let initialize = #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#
            func status(host: String = "127.0.0.1:\(port)", _ extra: [String]) async throws -> Int {
                let connection = try RawConnection(port: port)
                let head = ["POST /mcp HTTP/1.1", "Host: \(host)", "Accept: application/json, text/event-stream",
                            "Content-Type: application/json", "Content-Length: \(initialize.utf8.count)", "Connection: close"] + extra
                try connection.send(head.joined(separator: "\r\n") + "\r\n\r\n" + initialize)
                let answer = await connection.readUntilClosed(timeout: .seconds(10)).received
                return Int(answer.split(separator: " ").dropFirst().first ?? "") ?? 0
            }
            let bearer = "Authorization: Bearer \(f.world.token)"
            #expect(try await status([]) == 401, "no token")
            #expect(try await status(host: "evil.example:80", [bearer]) == 421, "a foreign Host (DNS rebinding)")
            #expect(try await status([bearer, "Origin: http://evil.example"]) == 403, "a foreign Origin")
            server.signal(SIGTERM)
            #expect(await server.waitForExit(timeout: .seconds(20)) == 0)
        }
    }

    static func checkFullSession(_ out: [String: Any], _ f: FlukeHarness.Fleet) throws {
        do {
            #expect(out["protocol"] as? String == "2025-11-25")
            let tools = try #require(out["tools"] as? [String])
            // context:read, context:write, memories:write: no deploy writes, no logs.
            #expect(Set(tools) == ["list_projects", "get_project_context", "project_status", "tenant_overview", "list_env", "search_memories",
                                   "save_memory", "delete_memory", "list_tasks", "create_task", "update_task",
                                   "deploy_validate", "deploy_status", "deploy_history", "catalog"])
            let annotations = try #require(out["annotations"] as? [String: [String: Any]])
            #expect(annotations["delete_memory"]?["destructive"] as? Bool == true)
            #expect(annotations["get_project_context"]?["read_only"] as? Bool == true)
            #expect(annotations.values.allSatisfy { $0["has_output_schema"] as? Bool == true })

            let uri = "fluke://projects/\(f.world.projectID)/context"
            #expect(out["resources"] as? [String] == [uri])
            #expect(((out["resource_text"] as? [String: Any])?["project"] as? [String: Any])?["id"] as? String == f.world.projectID)
            #expect((out["updates"] as? [String])?.contains(uri) == true, "notifications/resources/updated after a change: \(out["updates"] ?? "none")")

            let projects = Self.structured(out["projects"])?["items"] as? [[String: Any]]
            #expect(projects?.map { $0["id"] as? String } == [f.world.projectID])
            #expect((out["status"] as? [String: Any])?["is_error"] as? Bool == false, "\(out["status"] ?? "")")
            let task = try #require(Self.structured(out["task"]), "\(out["task"] ?? "")")
            #expect(task["title"] as? String == "Write the release notes" && task["project_id"] as? String == f.world.projectID)
            #expect(Self.structured(out["task_updated"])?["status"] as? String == "in_progress")
            let tasks = Self.structured(out["tasks"])?["items"] as? [[String: Any]]
            #expect(tasks?.map { $0["id"] as? String } == [task["id"] as? String])

            let context = try #require(Self.structured(out["context"]))
            #expect((context["project"] as? [String: Any])?["id"] as? String == f.world.projectID, "\(context)")

            let saved = try #require(Self.structured(out["saved"]))
            let again = try #require(Self.structured(out["saved_again"]))
            #expect(saved["id"] != nil && saved["id"] as? String == again["id"] as? String, "idempotent on external_id")
            let found = try #require(Self.structured(out["found"])?["items"] as? [[String: Any]])
            #expect(found.map { $0["id"] as? String } == [saved["id"] as? String])

            let unconfirmed = try #require(Self.structured(out["delete_unconfirmed"]))
            #expect(unconfirmed["confirm_needed"] as? Bool == true)
            #expect((Self.structured(out["found_after_unconfirmed"])?["items"] as? [Any])?.count == 1, "nothing deleted without confirm")
            #expect((Self.structured(out["delete_confirmed"]))?["deleted"] as? Bool == true)
            #expect((Self.structured(out["found_after_delete"])?["items"] as? [Any])?.isEmpty == true)

            #expect(Self.structured(out["list_env"])?["items"] != nil)
            #expect((out["unknown_tool"] as? [String: Any])?["rpc_error"] as? Int == -32602)
            #expect(((out["missing_argument"] as? [String: Any])?["message"] as? String)?.contains("content") == true)
            #expect(((out["unknown_argument"] as? [String: Any])?["message"] as? String)?.contains("qurey") == true)
            let refusal = try #require(out["api_refusal"] as? [String: Any])
            #expect(refusal["is_error"] as? Bool == true)
            let problem = (Self.structured(refusal)?["error"] as? [String: Any])
            #expect(problem?["field"] as? String == "memory_type", "the API's problem, naming the field: \(refusal)")
        }
    }

    @Test("a context:read token sees only read tools; --read-only and --toolsets narrow further")
    func narrowing() async throws {
        let h = try await FlukeHarness()
        try await h.withFleet(scopes: ["context:read"]) { f in
            let readOnly = try #require(try await Self.session("list", f.environment)["tools"] as? [String])
            #expect(Set(readOnly) == ["list_projects", "get_project_context", "project_status", "tenant_overview", "list_env", "search_memories",
                                      "list_tasks", "deploy_validate", "deploy_status", "deploy_history", "catalog"])
            let narrowed = try #require(try await Self.session("list", f.environment, ["--toolsets", "memories"])["tools"] as? [String])
            #expect(narrowed == ["search_memories"])
        }
        try await h.withFleet(scopes: ["context:read", "memories:write"]) { f in
            let tools = try #require(try await Self.session("list", f.environment, ["--read-only"])["tools"] as? [String])
            #expect(!tools.contains("save_memory") && tools.contains("search_memories"))
        }
    }
}
