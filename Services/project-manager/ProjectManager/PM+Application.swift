import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation
import Hummingbird
import Logging

/// What a project-manager process runs, for tests that reach inside.
public struct ProjectManagerParts: Sendable {
    public let runtime: FleetRuntime
    public let routes: RouteTable
    public let authenticator: Authenticator
    public let tokenCache: TokenCache
}

/// Builds project-manager: connects, migrates, and assembles the identity RPC responder, the
/// deployment-task consumer and the HTTP routes.
public func buildApplication(config: PMConfig, logger: Logger,
                             onParts: @Sendable (ProjectManagerParts) -> Void = { _ in }) async throws
    -> some ApplicationProtocol {
    let runtime = try await FleetRuntime.start(config: config.common, migrator: PMMigrations.migrator, logger: logger)
    let db = TenantDatabase(postgres: runtime.postgres, outbox: runtime.outbox)
    let cache = TokenCache(ttl: config.auth.cacheTTL)
    let nats = runtime.nats
    let tokens = APITokenStore(db: db, cache: cache, generation: { nats.generation })
    let authenticator = config.authenticator(resolver: tokens)
    let identity = try IdentityService(db: db, authenticator: authenticator, config: config, logger: logger,
                                       registry: runtime.registry)
    let projectCache = ProjectCache(nats: nats, maxBytes: config.projectCacheMaxBytes, logger: logger)
    let work = WorkStore(db: db)
    let providers = ProviderClient(policy: config.connectionsPolicy)
    let fleetStatus = FleetStatusStore(db: db)
    let deploymentTasks = DeploymentTaskConsumer(nats: nats, work: work, status: fleetStatus, registry: runtime.registry,
                                                 maxDeliveries: config.common.consumerMaxDeliveries, logger: logger)
    let catalogStatus = CatalogStatusConsumer(nats: nats, store: fleetStatus, registry: runtime.registry,
                                              maxDeliveries: config.common.consumerMaxDeliveries, logger: logger)
    let connections = ConnectionStore(db: db, keyring: config.keyring)
    let github = GitHubAPI(providers: providers, baseURL: config.githubAPIURL, etags: ETagCache())
    let repositories = RepositoryStore(db: db, keyring: config.keyring)
    let githubLogin = GitHubLogin(config: config.githubOAuth, postgres: runtime.postgres, keyring: config.keyring, providers: providers,
                                  githubAPIURL: config.githubAPIURL, identity: identity, connections: connections)
    let githubAccess = GitHubAccess(connections: connections, providers: providers, baseURL: config.githubAPIURL,
                                    installationTokens: InstallationTokenCache(), login: githubLogin)
    let issueSync = GitHubIssueSync(repositories: repositories, connections: connections, access: githubAccess, work: work, github: github,
                                    interval: config.githubSyncInterval, registry: runtime.registry, logger: logger)
    let coder = CoderAPI(providers: providers)
    let workspaces = WorkspaceStore(db: db)
    let workspaceRefresh = WorkspaceRefresh(workspaces: workspaces, connections: connections, coder: coder,
                                            interval: config.coderRefreshInterval, logger: logger)
    let routes = PMRoutes(identity: identity, tokens: tokens, projects: ProjectStore(db: db, cache: projectCache), work: work,
                          tenant: TenantStore(db: db), connections: connections, providers: providers, github: github, githubAccess: githubAccess, githubLogin: githubLogin,
                          status: FleetStatusReader(db: db, deployments: deploymentTasks.progress, catalog: catalogStatus.progress,
                                                    freshness: config.statusStaleAfter, syncInterval: config.githubSyncInterval,
                                                    workspaceInterval: config.coderRefreshInterval),
                          repositories: repositories, issueSync: issueSync, coder: coder, workspaces: workspaces,
                          workspaceRefresh: workspaceRefresh,
                          config: config)
    let responder = VerifyResponder(nats: nats, tokens: tokens, authenticator: authenticator,
                                    registry: runtime.registry, logger: logger)
    let register = { (recorder: inout RouteRecorder) in routes.register(&recorder) }
    onParts(ProjectManagerParts(
        runtime: runtime, routes: FleetApplication.record(runtime: runtime, openAPI: openAPIDocument, routes: register).table,
        authenticator: authenticator, tokenCache: cache))
    return FleetApplication.build(runtime: runtime, openAPI: openAPIDocument,
                                  workers: [responder, projectCache, deploymentTasks, catalogStatus, issueSync, workspaceRefresh, config.retention.job(runtime),
                                            ShutdownHook { await identity.shutdown() }],
                                  authenticator: authenticator,
                                  middleware: [FleetMiddleware(DashboardMiddleware(config: config.dashboard, logger: logger))], routes: register)
}

extension PMConfig {
    /// The database for a one-shot command (`bootstrap`, `rewrap-keys`): a small pool, reached
    /// within the startup attempts, its schema migrated by `migrate` already.
    func commandDatabase(_ applicationName: String, logger: Logger) async throws -> (PostgresClient, TenantDatabase) {
        let postgres = PostgresClient(configuration: .init(url: common.databaseURL, applicationName: applicationName, maxConnections: 2),
                                      logger: logger)
        do {
            try await retrying(common.startupAttempts, delay: common.startupDelay, what: "Postgres", logger: logger) {
                try await postgres.ping()
            }
            try await FleetRuntime.requireMigrations(PMMigrations.migrator, postgres: postgres, service: "project-manager")
        } catch {
            await postgres.shutdown()
            throw error
        }
        return (postgres, TenantDatabase(postgres: postgres, outbox: Outbox(schema: "pm")))
    }

    /// project-manager signs with its first key and verifies with all of its own.
    func authenticator(resolver: any APITokenResolver) -> Authenticator {
        Authenticator(signer: signingKeys.signer, keys: JWTKeySource(keys: signingKeys.publicKeys), resolver: resolver)
    }
}

/// `project-manager bootstrap --email E --password P --tenant T [--name N] [--token-name N]`
/// (the password may come from `PM_BOOTSTRAP_PASSWORD` instead, keeping it out of `ps`):
/// creates a tenant and its owner from the command line (or, when the user exists and the
/// password matches, leaves them be), optionally mints an API token with every scope, and prints
/// `{"tenant_id", "user_id", "token"?}` on stdout.
public enum Bootstrap {
    public static func run(arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
                           logger: Logger) async throws -> String {
        var options: [String: String] = [:]
        var i = 0
        while i < arguments.count {
            let key = arguments[i]
            guard key.hasPrefix("--"), i + 1 < arguments.count,
                  ["--email", "--password", "--tenant", "--name", "--token-name"].contains(key) else {
                throw ConfigError(key, "is not a bootstrap option (--email, --password, --tenant, --name, --token-name)")
            }
            options[String(key.dropFirst(2))] = arguments[i + 1]
            i += 2
        }
        if options["password"] == nil, let password = environment["PM_BOOTSTRAP_PASSWORD"] {
            options["password"] = password
        }
        let fields = RequestFields(options.mapValues { .string($0) })
        let email: String
        let password: String
        let tenantName: String
        do {
            email = try fields.email("email")!
            password = try fields.password("password")
            tenantName = try fields.string("tenant", required: true, maxLength: PMRoutes.nameLimit)!
        } catch let problem as Problem {
            throw ConfigError("--" + (problem.field ?? "?"), problem.detail ?? "is invalid")
        }
        let config = try PMConfig(reader: ConfigReader(environment: environment, variables: PMConfig.variables))
        let (postgres, db) = try await config.commandDatabase("project-manager bootstrap", logger: logger)
        defer { Task { await postgres.shutdown() } }
        let tokens = APITokenStore(db: db, cache: TokenCache(), generation: { 0 })
        let authenticator = config.authenticator(resolver: tokens)
        let identity = try IdentityService(db: db, authenticator: authenticator, config: config, logger: logger)
        defer { Task { await identity.shutdown() } }
        let tenantID: UUID
        let userID: UUID
        do {
            let (tenant, user) = try await identity.signup(email: email, password: password,
                                                           name: options["name"] ?? "Administrator",
                                                           tenantName: tenantName, requestID: "bootstrap")
            tenantID = tenant.id
            userID = user.id
        } catch PMError.conflict {
            // Already bootstrapped: the same credentials must still work.
            let pair = try await identity.login(email: email, password: password, tenantID: nil, clientAddress: nil,
                                                requestID: "bootstrap")
            tenantID = pair.tenantID
            userID = pair.userID
        }
        var out: [String: JSONValue] = ["tenant_id": .string(tenantID.lowercased), "user_id": .string(userID.lowercased)]
        if let tokenName = options["token-name"] {
            let owner = Principal(kind: .user, tenantID: tenantID, userID: userID, scopes: Set(Scope.allCases), role: .owner)
            let view = try await tokens.create(by: owner, name: tokenName, projectID: nil, scopes: Scope.allCases,
                                               expiresInDays: nil, requestID: "bootstrap")
            out["token"] = .string(view.token ?? "")
        }
        await identity.shutdown()
        await postgres.shutdown()
        return String(decoding: try FleetJSON.encoder.encode(out), as: UTF8.self)
    }
}

/// The OpenAPI document served at `/openapi.json`: `openapi.json` in this folder, completed with
/// the parts every service shares.
let openAPIDocument = OpenAPIDocument.merged(PackageResources.openapi_json)
