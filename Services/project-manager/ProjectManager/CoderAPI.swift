import FlukeModels
import Foundation
import NIOHTTP1

/// A Coder deployment's REST API (`/api/v2`) with a connection's session token
/// (`Coder-Session-Token`): workspaces listed, read, and started or stopped by a new build.
struct CoderAPI: Sendable {
    let providers: ProviderClient
    /// The most workspaces one listing returns.
    static let listLimit = 100

    enum Failure: Error {
        /// Coder refused the session token (401): the connection is no longer valid.
        case unauthorized(String)
        case notFound
        /// Coder refused the request for a reason of its own (a build already running, …).
        case refused(Int, String)
        case failed(String)
    }

    /// The token owner's workspaces (`q=owner:me`).
    func workspaces(_ base: String, token: String) async throws(Failure) -> [JSONValue] {
        let answer = try await call(.GET, base + "/api/v2/workspaces?q=owner:me&limit=\(Self.listLimit)", token: token, body: nil)
        guard case .array(let items)? = answer["workspaces"] else { throw .failed("Coder's workspace list has no workspaces") }
        return items
    }

    func workspace(_ base: String, token: String, id: UUID) async throws(Failure) -> JSONValue {
        try await call(.GET, base + "/api/v2/workspaces/\(id.lowercased)", token: token, body: nil)
    }

    /// Starts or stops a workspace: a new build with `transition` (`start` or `stop`); Coder's build.
    func build(_ base: String, token: String, id: UUID, transition: String) async throws(Failure) -> JSONValue {
        try await call(.POST, base + "/api/v2/workspaces/\(id.lowercased)/builds", token: token,
                       body: .object(["transition": .string(transition)]))
    }

    private func call(_ method: HTTPMethod, _ url: String, token: String, body: JSONValue?) async throws(Failure) -> JSONValue {
        let headers = [("Coder-Session-Token", token), ("Accept", "application/json")]
        let answer: ProviderClient.Answer
        do {
            if let body {
                answer = try await providers.post(url, headers: headers, json: body)
            } else {
                answer = try await providers.get(url, headers: headers)
            }
        } catch {
            throw .failed("Coder \(error.reason)")
        }
        let message = answer.json?["message"]?.stringValue ?? "no reason given"
        switch answer.status {
        case 200, 201: return answer.json ?? .null
        case 401: throw .unauthorized(message)
        case 404: throw .notFound
        case 400, 403, 409: throw .refused(answer.status, message)
        default: throw .failed("Coder answered \(answer.status): \(message)")
        }
    }
}

/// A Coder workspace as the fleet shows it.
struct WorkspaceView: Codable, Sendable, Equatable {
    var id: UUID
    var name: String
    var owner: String
    var template: String?
    /// The latest build's status: `pending`, `starting`, `running`, `stopping`, `stopped`,
    /// `failed`, `canceling`, `canceled`, `deleting`, `deleted`.
    var status: String
    /// The latest build's transition: `start`, `stop` or `delete`.
    var transition: String?
    /// Coder's health: false when an agent is failing.
    var healthy: Bool?
    var outdated: Bool?
    var lastUsedAt: String?
    /// The workspace's page on the Coder deployment.
    var url: String

    enum CodingKeys: String, CodingKey {
        case id, name, owner, template, status, transition, healthy, outdated, url
        case lastUsedAt = "last_used_at"
    }

    /// Whether it needs a person's attention: its build failed, or it runs with failing agents.
    var isFailing: Bool { status == "failed" || (status == "running" && healthy == false) }

    /// nil for what is not a Coder workspace.
    init?(_ json: JSONValue, base: String) {
        guard let id = json["id"]?.stringValue.flatMap(UUID.init(uuidString:)), let name = json["name"]?.stringValue else { return nil }
        self.id = id
        self.name = String(GitHubIssue.clean(name, keepNewlines: false).prefix(200))
        owner = String(GitHubIssue.clean(json["owner_name"]?.stringValue ?? "", keepNewlines: false).prefix(200))
        template = (json["template_display_name"]?.stringValue).flatMap { $0.isEmpty ? nil : $0 } ?? json["template_name"]?.stringValue
        status = json["latest_build"]?["status"]?.stringValue ?? "unknown"
        transition = json["latest_build"]?["transition"]?.stringValue
        if case .bool(let healthy)? = json["health"]?["healthy"] { self.healthy = healthy }
        if case .bool(let outdated)? = json["outdated"] { self.outdated = outdated }
        lastUsedAt = json["last_used_at"]?.stringValue
        let pathOwner = owner.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? owner
        let pathName = self.name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? self.name
        url = "\(base)/@\(pathOwner)/\(pathName)"
    }

    init(id: UUID, name: String, owner: String, template: String?, status: String, transition: String?, healthy: Bool?,
         outdated: Bool?, lastUsedAt: String?, url: String) {
        (self.id, self.name, self.owner, self.template, self.status, self.transition) = (id, name, owner, template, status, transition)
        (self.healthy, self.outdated, self.lastUsedAt, self.url) = (healthy, outdated, lastUsedAt, url)
    }
}
