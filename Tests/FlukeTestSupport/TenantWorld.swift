import Foundation
import Testing

/// A tenant with an owner session, a project, and an `fbk_` token bound to it: where most
/// service tests start, made through project-manager's real API.
public struct TenantWorld: Sendable {
    public var tenantID: String
    public var ownerToken: String
    public var projectID: String
    public var token: String

    /// Signs a new tenant up, logs its owner in, creates a project (`project`'s fields) and a
    /// token named `tokenName` bound to it with `scopes`.
    public static func make(_ pm: JSONClient, scopes: [String], tenant: String = "Acme",
                            project: [String: String] = ["name": "Apps", "stage": "mvp"],
                            tokenName: String = "test") async throws -> TenantWorld {
        let email = "owner-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        let signup = try await pm.call(.post, "/auth/signup", json: ["email": email, "password": "long password",
                                                                     "name": "Owner", "tenant_name": tenant])
        try #require(signup.status == 201, "\(signup.json)")
        let login = try await pm.call(.post, "/auth/login", json: ["email": email, "password": "long password"])
        let owner = try #require(login.string("access_token"))
        let created = try await pm.call(.post, "/api/v1/projects", token: owner, json: project)
        let projectID = try #require(created.string("id"), "\(created.json)")
        let minted = try await pm.call(.post, "/api/v1/tokens", token: owner,
                                       json: ["name": tokenName, "scopes": scopes, "project_id": projectID])
        return TenantWorld(tenantID: (signup["tenant"] as? [String: Any])?["id"] as? String ?? "", ownerToken: owner,
                           projectID: projectID, token: try #require(minted.string("token"), "\(minted.json)"))
    }
}
