import FlukeClient
import FlukeModels
import Foundation
import MCP

/// The deploy tools: start, watch, read logs of, validate and roll back deployments. None of them
/// hangs: a deploy returns once queued, logs return what arrived within `wait_seconds` (≤ 30).
enum FleetDeployTools {
    static let all: [FleetTool] = [
        FleetTool("deploy_app", "Deploy an app", toolset: "deploy", scope: "deploy:write", readOnly: false,
                  description: "Queue a deployment of an app (from an image, or a git source) and return at once with its id; follow it with deploy_status and deploy_logs.",
                  properties: ["app_name": Schema.string("The app."), "image": Schema.string("An image to deploy (swarm, kubernetes)."),
                               "version": Schema.string("The image tag."),
                               "source_git": Schema.string("A git repository URL to build from (process executor)."),
                               "source_ref": Schema.string("The branch, tag or commit (default the repository's HEAD)."),
                               "auto_rollback": Schema.boolean("Roll back when it fails (default true).")],
                  required: ["app_name"]) { client, args in
            try await client.deploy(try request(args))
        },
        FleetTool("deploy_validate", "Validate a deploy", toolset: "deploy", scope: "context:read", readOnly: true,
                  description: "What a deploy_app call would do and what is wrong with it, without deploying.",
                  properties: ["app_name": Schema.string("The app."), "image": Schema.string("An image."),
                               "version": Schema.string("The image tag."),
                               "source_git": Schema.string("A git repository URL to build from."),
                               "source_ref": Schema.string("The branch, tag or commit.")],
                  required: ["app_name"]) { client, args in
            try await client.validateDeploy(try request(args))
        },
        FleetTool("deploy_status", "Deployment status", toolset: "deploy", scope: "context:read", readOnly: true,
                  description: "A deployment's status and its five phases with their durations.",
                  properties: ["deployment_id": Schema.uuid("The deployment.")], required: ["deployment_id"]) { client, args in
            try await client.deployment(try args.requiredString("deployment_id"))
        },
        FleetTool("deploy_history", "Deployment history", toolset: "deploy", scope: "context:read", readOnly: true,
                  description: "An app's deployments, newest first, and its releases.",
                  properties: ["app_name": Schema.string("The app."), "limit": Schema.integer("At most this many.", 1...100, default: 20)],
                  required: ["app_name"]) { client, args in
            let app = try args.requiredString("app_name")
            let deployments = try await client.deployments(app: app, limit: try args.int("limit", in: 1...100) ?? 20)
            let releases = try await client.releases(app: app)
            return ["deployments": .array(deployments.items.map(\.json)), "releases": .array(releases.items.map(\.json))] as JSONValue
        },
        FleetTool("deploy_logs", "Deployment logs", toolset: "deploy", scope: "logs:read", readOnly: true,
                  description: "A deployment's log lines, oldest first, always bounded: `lines` (default 100, at most 500) and `max_chars` (default 20000); continue with `cursor`. With follow: true it waits up to `wait_seconds` (at most 30) for new lines and returns what arrived — it never hangs.",
                  properties: ["deployment_id": Schema.uuid("The deployment."),
                               "lines": Schema.integer("At most this many lines.", 1...500, default: 100),
                               "max_chars": Schema.integer("At most this many characters of messages.", 200...100_000, default: 20_000),
                               "cursor": Schema.string("next_cursor of the previous call"),
                               "follow": Schema.boolean("Wait for new lines."),
                               "wait_seconds": Schema.integer("How long follow waits.", 1...30, default: 10)],
                  required: ["deployment_id"]) { client, args in
            try await DeployLogs(arguments: args).read(client)
        },
        FleetTool("deploy_rollback", "Roll back an app", toolset: "deploy", scope: "deploy:write", readOnly: false, destructive: true,
                  description: "Roll an app back to its previous release, or to `version` (vN). Without confirm: true it only says which release it would go back to.",
                  properties: ["app_name": Schema.string("The app."), "version": Schema.string("The release (vN); default the previous one."),
                               "confirm": Schema.confirm],
                  required: ["app_name"]) { client, args in
            let app = try args.requiredString("app_name"), version = try args.string("version")
            guard try args.bool("confirm") == true else {
                let releases: JSONValue = .array(try await client.releases(app: app).items.map(\.json))
                let target: JSONValue = version.map { .string($0) } ?? "the previous release"
                return ["would_roll_back": .string(app), "to": target, "releases": releases, "confirm_needed": true,
                        "message": "Call deploy_rollback again with confirm: true to roll back."] as JSONValue
            }
            return try await client.rollback(app: app, to: version)
        },
    ]

    static func request(_ args: ToolArguments) throws -> [String: JSONValue] {
        var request: [String: JSONValue] = ["app_name": .string(try args.requiredString("app_name"))]
        for key in ["image", "version"] { if let value = try args.string(key) { request[key] = .string(value) } }
        if let git = try args.string("source_git") {
            var source: [String: JSONValue] = ["git": .string(git)]
            if let ref = try args.string("source_ref") { source["ref"] = .string(ref) }
            request["source"] = .object(source)
        }
        if let autoRollback = try args.bool("auto_rollback") { request["auto_rollback"] = .bool(autoRollback) }
        return request
    }
}

/// `deploy_logs`: a page of log-streamer's entries for one deployment, oldest first, cut to
/// `lines` and `max_chars`, waiting for more only when following. Its cursor counts the lines
/// already read, so that it is there to continue from even at the end of the log (to follow).
struct DeployLogs {
    let deploymentID: String
    let lines: Int
    let maxChars: Int
    let offset: Int
    let follow: Bool
    let wait: Duration

    init(arguments args: ToolArguments) throws {
        deploymentID = try args.requiredString("deployment_id")
        lines = try args.int("lines", in: 1...500) ?? 100
        maxChars = try args.int("max_chars", in: 200...100_000) ?? 20_000
        follow = try args.bool("follow") ?? false
        wait = .seconds(try args.int("wait_seconds", in: 1...30) ?? 10)
        if let cursor = try args.string("cursor") {
            guard let offset = Self.decode(cursor) else {
                throw MCPError.invalidParams("deploy_logs: cursor is not one deploy_logs returned")
            }
            self.offset = offset
        } else {
            offset = 0
        }
    }

    func read(_ client: FlukeClient) async throws -> JSONValue {
        let deadline = ContinuousClock.now + (follow ? wait : .zero)
        var page = try await fetch(client)
        while follow, page.items.isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(500))
            page = try await fetch(client)
        }
        let entries = page.items
        var kept: [JSONValue] = [], chars = 0
        for entry in entries {
            let message = entry.message
            // At least one line, however long: a cut page always moves forward.
            if chars + message.count > maxChars, !kept.isEmpty { break }
            chars += message.count
            kept.append(entry.json)
        }
        let truncated = kept.count < entries.count
        let status = try? await client.deployment(deploymentID)
        return ["deployment_id": .string(deploymentID), "entries": .array(kept),
                "next_cursor": .string(Self.encode(offset + kept.count)),
                "more": .bool(truncated || page.nextCursor != nil),
                "truncated": .bool(truncated), "status": status.map { .string($0.status) } ?? .null]
    }

    private func fetch(_ client: FlukeClient) async throws -> Page<FleetObject<UnifiedLogEntry>> {
        try await client.queryLogs([("deployment_id", deploymentID), ("order", "asc"), ("limit", String(lines)),
                                    ("offset", String(offset)), ("since_minutes", "43200")])
    }

    static func encode(_ offset: Int) -> String { Data("dl:\(offset)".utf8).base64EncodedString() }

    static func decode(_ cursor: String) -> Int? {
        guard let data = Data(base64Encoded: cursor), let text = String(data: data, encoding: .utf8),
              text.hasPrefix("dl:"), let offset = Int(text.dropFirst(3)), offset >= 0 else { return nil }
        return offset
    }
}
