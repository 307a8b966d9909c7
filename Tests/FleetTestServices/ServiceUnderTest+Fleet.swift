import ContextAPI
import DeployTracker
import Foundation
import Federation
import FlukeTestSupport
import LogStreamer
import ProjectManager
import WebhookDispatcher

// Each service described once for ServiceHarness, with the settings every test target runs it
// with; a target adds its own with `.with([...])`.

extension ServiceUnderTest<PMConfig, ProjectManagerParts> {
    /// project-manager signing with the test keys, open to signups, with cheap password hashes.
    public static var projectManager: Self {
        .init(natsUser: "project-manager", databaseRole: "fluke_pm", migrator: PMMigrations.migrator,
              environment: ServiceSettings.projectManager, variables: PMConfig.variables, config: PMConfig.init(reader:),
              build: { try await ProjectManager.buildApplication(config: $0, logger: $1, onParts: $2) })
    }
}

extension ServiceUnderTest<ContextConfig, ContextParts> {
    /// context-api with the test encryption key; its documentation audit may call the tests'
    /// servers on loopback over http.
    public static var contextAPI: Self {
        .init(natsUser: "context-api", databaseRole: "fluke_context", migrator: ContextMigrations.migrator,
              environment: ["FLUKE_ENCRYPTION_KEY": ServiceSettings.encryptionKey, "FLUKE_IDENTITY_CACHE_TTL": "30",
                            "CONTEXT_PROVIDER_AUDIT_ALLOW_HTTP": "true", "CONTEXT_PROVIDER_AUDIT_ALLOWED_HOSTS": "127.0.0.1"],
              variables: ContextConfig.variables, config: ContextConfig.init(reader:),
              build: { try await ContextAPI.buildApplication(config: $0, logger: $1, onParts: $2) })
    }
}

extension ServiceUnderTest<WebhookConfig, WebhookParts> {
    /// webhook-dispatcher posting to the tests' receivers on 127.0.0.1 over http, with a retry
    /// schedule and lease short enough for a test to see them run out.
    public static var webhookDispatcher: Self {
        .init(natsUser: "webhook-dispatcher", databaseRole: "fluke_webhooks", migrator: WebhookMigrations.migrator,
              environment: ["WEBHOOK_ALLOW_HTTP": "true", "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
                            "WEBHOOK_RETRY_SCHEDULE": "0,0.2,0.4,0.8", "WEBHOOK_REQUEST_TIMEOUT": "3",
                            "WEBHOOK_CONNECT_TIMEOUT": "1", "WEBHOOK_LEASE": "5"],
              variables: WebhookConfig.variables, config: WebhookConfig.init(reader:),
              build: { try await WebhookDispatcher.buildApplication(config: $0, logger: $1, onParts: $2) })
    }
}

extension ServiceUnderTest<FederationConfig, FederationParts> {
    /// federation; its catalog, keys and timings come from the test.
    public static var federation: Self {
        .init(natsUser: "federation", databaseRole: "fluke_federation", migrator: FederationMigrations.migrator,
              variables: FederationConfig.variables, config: FederationConfig.init(reader:),
              build: { try await Federation.buildApplication(config: $0, logger: $1, onParts: $2) })
    }
}

extension ServiceUnderTest<DeployConfig, DeployParts> {
    /// deploy-tracker with its state in a fresh directory, short leases so takeovers are quick.
    public static var deployTracker: Self {
        .init(natsUser: "deploy-tracker", databaseRole: "fluke_deploy", migrator: DeployMigrations.migrator,
              environment: ["DEPLOY_DATA_DIR": TestEnvironment.workDir + "/deploy-\(UUID().uuidString.prefix(8))",
                            "DEPLOY_LEASE_SECONDS": "3"],
              variables: DeployConfig.variables, config: DeployConfig.init(reader:),
              build: { try await DeployTracker.buildApplication(config: $0, logger: $1, onParts: $2) })
    }
}

extension ServiceUnderTest<LogsConfig, LogsParts> {
    /// log-streamer with its defaults; tests name their own retention where they need one.
    public static var logStreamer: Self {
        .init(natsUser: "log-streamer", databaseRole: "fluke_logs", migrator: LogsMigrations.migrator,
              variables: LogsConfig.variables, config: LogsConfig.init(reader:),
              build: { try await LogStreamer.buildApplication(config: $0, logger: $1, onParts: $2) })
    }
}
