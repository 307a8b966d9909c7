import FlukeModels
import Foundation

// Each service's routes as calls. Answers are typed models (``FleetObject``) that also keep the
// services' documented JSON whole, so that nothing a newer service adds is dropped on the way to
// a script or an agent.

extension FlukeClient {
    // MARK: project-manager

    /// The caller: user, tenant, effective scopes, and the project a bound token reaches.
    public func me() async throws -> Me { try await send(.projectManager, .GET, "/api/v1/me") }

    /// `POST /auth/login`: an access and a refresh token.
    public func login(email: String, password: String) async throws -> TokenPair {
        try await send(.projectManager, .POST, "/auth/login", body: ["email": email, "password": password])
    }

    /// `POST /auth/refresh`: a new pair for a refresh token.
    public func refresh(_ refreshToken: String) async throws -> TokenPair {
        try await send(.projectManager, .POST, "/auth/refresh", body: ["refresh_token": refreshToken])
    }

    public func listProjects(cursor: String? = nil, limit: Int? = nil) async throws -> Page<FleetObject<Project>> {
        try await send(.projectManager, .GET, "/api/v1/projects", query: page(cursor, limit))
    }

    public func project(_ id: String) async throws -> FleetObject<Project> {
        try await send(.projectManager, .GET, "/api/v1/projects/\(segment(id))")
    }

    /// Deploy status, federation status and blocked tasks of one project.
    public func projectStatus(_ id: String) async throws -> FleetObject<ProjectStatus> {
        try await send(.projectManager, .GET, "/api/v1/projects/\(segment(id))/status")
    }

    /// Every project the token can see, what needs attention first (``TenantOverview``).
    public func tenantOverview() async throws -> FleetObject<TenantOverview> {
        try await send(.projectManager, .GET, "/api/v1/overview")
    }

    public func listTasks(project: String?, status: String? = nil, cursor: String? = nil, limit: Int? = nil) async throws -> Page<FleetObject<ProjectTask>> {
        try await send(.projectManager, .GET, "/api/v1/tasks",
                       query: [("project_id", project), ("status", status)] + page(cursor, limit))
    }

    public func createTask(_ fields: [String: JSONValue]) async throws -> FleetObject<ProjectTask> {
        try await send(.projectManager, .POST, "/api/v1/tasks", body: JSONValue.object(fields))
    }

    public func updateTask(_ id: String, _ fields: [String: JSONValue]) async throws -> FleetObject<ProjectTask> {
        try await send(.projectManager, .PATCH, "/api/v1/tasks/\(segment(id))", body: JSONValue.object(fields))
    }

    public func listMilestones(project: String, cursor: String? = nil) async throws -> Page<FleetObject<Milestone>> {
        try await send(.projectManager, .GET, "/api/v1/projects/\(segment(project))/milestones", query: page(cursor, nil))
    }

    public func listTokens(cursor: String? = nil) async throws -> Page<FleetObject<APIToken>> {
        try await send(.projectManager, .GET, "/api/v1/tokens", query: page(cursor, nil))
    }

    public func createToken(_ fields: [String: JSONValue]) async throws -> FleetObject<APIToken> {
        try await send(.projectManager, .POST, "/api/v1/tokens", body: JSONValue.object(fields))
    }

    public func revokeToken(_ id: String) async throws {
        _ = try await sendRaw(.projectManager, .DELETE, "/api/v1/tokens/\(segment(id))")
    }

    /// The tenant's GitHub and Coder connections (admins).
    public func listConnections() async throws -> Page<FleetObject<Connection>> {
        try await send(.projectManager, .GET, "/api/v1/connections")
    }

    /// Connects GitHub with a personal access token; GitHub checks it first.
    public func connectGitHub(token: String) async throws -> FleetObject<Connection> {
        try await send(.projectManager, .POST, "/api/v1/connections/github", body: ["token": token])
    }

    /// Connects a Coder deployment with a session token; it checks the token first.
    public func connectCoder(url: String, token: String) async throws -> FleetObject<Connection> {
        try await send(.projectManager, .POST, "/api/v1/connections/coder", body: ["url": url, "token": token])
    }

    /// Connects a GitHub App installation; GitHub must accept the key's app JWT for it first.
    public func connectGitHubApp(appID: Int, installationID: Int, privateKey: String) async throws -> FleetObject<Connection> {
        try await send(.projectManager, .POST, "/api/v1/connections/github",
                       body: GitHubAppConnect(appID: appID, installationID: installationID, privateKey: privateKey))
    }

    /// Links a project to a GitHub repository; its open issues become tasks. The answer carries
    /// the webhook's secret, once.
    public func linkRepository(project: String, connection: String, fullName: String) async throws -> FleetObject<RepositoryLink> {
        try await send(.projectManager, .PUT, "/api/v1/projects/\(segment(project))/repository",
                       body: ["connection_id": connection, "full_name": fullName])
    }

    /// The Coder connection's owner's workspaces.
    public func coderWorkspaces(connection: String?) async throws -> Page<FleetObject<CoderWorkspace>> {
        try await send(.projectManager, .GET, "/api/v1/connections/coder/workspaces", query: [("connection_id", connection)])
    }

    /// Makes `workspaces` the project's linked Coder workspaces.
    public func linkWorkspaces(project: String, connection: String, workspaces: [String]) async throws -> Page<FleetObject<CoderWorkspace>> {
        try await send(.projectManager, .PUT, "/api/v1/projects/\(segment(project))/workspaces",
                       body: LinkWorkspaces(connectionID: connection, workspaceIDs: workspaces))
    }

    public func deleteConnection(_ id: String) async throws {
        _ = try await sendRaw(.projectManager, .DELETE, "/api/v1/connections/\(segment(id))")
    }

    // MARK: context-api

    /// The project context an AI tool gets (`context_level`: minimal, standard or full).
    public func context(project: String?, level: String? = nil, environment: String? = nil) async throws -> FleetObject<ProjectContext> {
        try await send(.contextAPI, .GET, "/api/v1/flukebase_connect/context",
                       query: [("project_id", project), ("context_level", level), ("environment", environment)])
    }

    /// Context changes after `since` (a change's `cursor`), in commit order.
    public func contextChanges(project: String?, since: String?, limit: Int? = nil) async throws -> Page<FleetObject<ContextChange>> {
        try await send(.contextAPI, .GET, "/api/v1/flukebase_connect/changes",
                       query: [("project_id", project), ("since", since), ("limit", limit.map(String.init))])
    }

    public func listEnv(project: String, environment: String? = nil) async throws -> Page<FleetObject<EnvVar>> {
        try await send(.contextAPI, .GET, "/api/v1/projects/\(segment(project))/env", query: [("environment", environment)])
    }

    public func setEnv(project: String, key: String, value: String, environment: String?, secret: Bool) async throws -> FleetObject<EnvVar> {
        var body: [String: JSONValue] = ["value": .string(value), "secret": .bool(secret)]
        if let environment { body["environment"] = .string(environment) }
        return try await send(.contextAPI, .PUT, "/api/v1/projects/\(segment(project))/env/\(segment(key))",
                              body: JSONValue.object(body))
    }

    public func unsetEnv(project: String, key: String, environment: String?) async throws {
        _ = try await sendRaw(.contextAPI, .DELETE, "/api/v1/projects/\(segment(project))/env/\(segment(key))",
                              query: [("environment", environment)])
    }

    public func listMemories(project: String?, query text: String? = nil, type: String? = nil, tag: String? = nil,
                             cursor: String? = nil, limit: Int? = nil) async throws -> Page<FleetObject<Memory>> {
        try await send(.contextAPI, .GET, "/api/v1/flukebase_connect/memories",
                       query: [("project_id", project), ("q", text), ("memory_type", type), ("tag", tag)] + page(cursor, limit))
    }

    /// Idempotent on `external_id`; a conflict is the API's own answer.
    public func saveMemory(project: String?, _ fields: [String: JSONValue]) async throws -> FleetObject<Memory> {
        try await send(.contextAPI, .POST, "/api/v1/flukebase_connect/memories", query: [("project_id", project)],
                       body: JSONValue.object(fields))
    }

    public func memory(_ id: String, project: String?) async throws -> FleetObject<Memory> {
        try await send(.contextAPI, .GET, "/api/v1/flukebase_connect/memories/\(segment(id))", query: [("project_id", project)])
    }

    public func updateMemory(_ id: String, project: String?, _ fields: [String: JSONValue]) async throws -> FleetObject<Memory> {
        try await send(.contextAPI, .PUT, "/api/v1/flukebase_connect/memories/\(segment(id))", query: [("project_id", project)],
                       body: JSONValue.object(fields))
    }

    public func deleteMemory(_ id: String, project: String?) async throws {
        _ = try await sendRaw(.contextAPI, .DELETE, "/api/v1/flukebase_connect/memories/\(segment(id))",
                              query: [("project_id", project)])
    }

    // MARK: deploy-tracker

    public func listApps(project: String? = nil, cursor: String? = nil, limit: Int? = nil) async throws -> Page<FleetObject<App>> {
        try await send(.deployTracker, .GET, "/api/v1/apps", query: [("project_id", project)] + page(cursor, limit))
    }

    /// `POST /api/v1/apps`: `name`, `project_id`, `executor`, `spec`.
    public func createApp(_ fields: [String: JSONValue]) async throws -> FleetObject<App> {
        try await send(.deployTracker, .POST, "/api/v1/apps", body: JSONValue.object(fields))
    }

    public func scaleApp(_ name: String, replicas: Int) async throws -> FleetObject<App> {
        try await send(.deployTracker, .POST, "/api/v1/apps/\(segment(name))/scale", body: ["replicas": replicas])
    }

    public func restartApp(_ name: String) async throws -> FleetObject<App> {
        try await send(.deployTracker, .POST, "/api/v1/apps/\(segment(name))/restart")
    }

    public func app(_ name: String) async throws -> FleetObject<App> {
        try await send(.deployTracker, .GET, "/api/v1/apps/\(segment(name))")
    }

    public func releases(app: String) async throws -> Page<FleetObject<Release>> {
        try await send(.deployTracker, .GET, "/api/v1/apps/\(segment(app))/releases")
    }

    /// `POST /api/v1/deploy` (an image, or an app's spec): the queued deployment.
    public func deploy(_ request: [String: JSONValue]) async throws -> FleetObject<Deployment> {
        try await send(.deployTracker, .POST, "/api/v1/deploy", body: JSONValue.object(request))
    }

    /// What a deploy request would do, and what is wrong with it, without deploying.
    public func validateDeploy(_ request: [String: JSONValue]) async throws -> FleetObject<ValidationReport> {
        try await send(.deployTracker, .POST, "/api/v1/deploy/validate", body: JSONValue.object(request))
    }

    /// Uploads a gzipped tar of the app's source as a new deployment.
    public func deploySource(app: String, tarball: Data) async throws -> FleetObject<Deployment> {
        let raw = try await sendRaw(.deployTracker, .POST, "/api/v1/apps/\(segment(app))/deployments", body: tarball,
                                    contentType: "application/gzip")
        return try decodeAnswer(raw.body, status: raw.status, from: .deployTracker, "POST /api/v1/apps/\(app)/deployments")
    }

    public func deployment(_ id: String) async throws -> FleetObject<Deployment> {
        try await send(.deployTracker, .GET, "/api/v1/deployments/\(segment(id))")
    }

    public func deployments(app: String, limit: Int? = nil) async throws -> Page<FleetObject<Deployment>> {
        try await send(.deployTracker, .GET, "/api/v1/apps/\(segment(app))/deployments", query: [("limit", limit.map(String.init))])
    }

    public func deploymentLogs(_ id: String, limit: Int? = nil) async throws -> FleetObject<DeploymentLogs> {
        try await send(.deployTracker, .GET, "/api/v1/deployments/\(segment(id))/logs", query: [("limit", limit.map(String.init))])
    }

    public func cancelDeployment(_ id: String) async throws -> FleetObject<Deployment> {
        try await send(.deployTracker, .POST, "/api/v1/deployments/\(segment(id))/cancel")
    }

    /// Back to the previous release, or to `version` (`vN`).
    public func rollback(app: String, to version: String? = nil) async throws -> FleetObject<Deployment> {
        var body: [String: JSONValue] = [:]
        if let version { body["version"] = .string(version) }
        return try await send(.deployTracker, .POST, "/api/v1/apps/\(segment(app))/rollback", body: JSONValue.object(body))
    }

    // MARK: webhook-dispatcher

    public func listWebhooks(cursor: String? = nil) async throws -> Page<FleetObject<WebhookSubscription>> {
        try await send(.webhookDispatcher, .GET, "/api/v1/webhooks/subscriptions", query: page(cursor, nil))
    }

    /// The answer carries the signing secret, once.
    public func createWebhook(_ fields: [String: JSONValue]) async throws -> FleetObject<WebhookSubscription> {
        try await send(.webhookDispatcher, .POST, "/api/v1/webhooks/subscriptions", body: JSONValue.object(fields))
    }

    public func deleteWebhook(_ id: String) async throws {
        _ = try await sendRaw(.webhookDispatcher, .DELETE, "/api/v1/webhooks/subscriptions/\(segment(id))")
    }

    /// A new signing secret, shown once.
    public func rotateWebhookSecret(_ id: String) async throws -> FleetObject<WebhookSubscription> {
        try await send(.webhookDispatcher, .POST, "/api/v1/webhooks/subscriptions/\(segment(id))/rotate-secret", body: [String: String]())
    }

    public func testWebhook(_ id: String) async throws -> FleetObject<WebhookDelivery> {
        try await send(.webhookDispatcher, .POST, "/api/v1/webhooks/subscriptions/\(segment(id))/test")
    }

    public func webhookDeliveries(_ id: String, cursor: String? = nil) async throws -> Page<FleetObject<WebhookDelivery>> {
        try await send(.webhookDispatcher, .GET, "/api/v1/webhooks/subscriptions/\(segment(id))/deliveries", query: page(cursor, nil))
    }

    /// Sends again the failed deliveries created at or after `since` (RFC 3339).
    public func recoverWebhook(_ id: String, since: String) async throws -> Recovered {
        try await send(.webhookDispatcher, .POST, "/api/v1/webhooks/subscriptions/\(segment(id))/recover", body: ["since": since])
    }

    public func retryDelivery(_ id: String) async throws -> FleetObject<WebhookDelivery> {
        try await send(.webhookDispatcher, .POST, "/api/v1/webhooks/deliveries/\(segment(id))/retry")
    }

    // MARK: log-streamer

    /// `GET /api/v1/logs` with its filters (`app_name`, `level`, `since_minutes`, …, `cursor`, `limit`).
    public func queryLogs(_ filters: [(String, String?)]) async throws -> Page<FleetObject<UnifiedLogEntry>> {
        try await send(.logStreamer, .GET, "/api/v1/logs", query: filters)
    }

    // MARK: federation

    /// The catalog: every project with ONLINE/OFFLINE.
    public func catalog(status: String? = nil, cursor: String? = nil, limit: Int? = nil) async throws -> Page<FleetObject<CatalogProject>> {
        try await send(.federation, .GET, "/api/fed/projects", query: [("status", status)] + page(cursor, limit))
    }

    // MARK: helpers

    func page(_ cursor: String?, _ limit: Int?) -> [(String, String?)] {
        [("cursor", cursor), ("limit", limit.map(String.init))]
    }

    /// One path segment, percent-encoded: ids and names never reach another route.
    func segment(_ value: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/?#%;")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }
}
