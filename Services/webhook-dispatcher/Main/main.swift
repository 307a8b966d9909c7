import FlukeRuntime
import WebhookDispatcher

await runService(ServiceDescription(
    name: "webhook-dispatcher",
    summary: "signed, retried, logged delivery of fleet events to subscribers' URLs (Standard Webhooks)",
    variables: WebhookConfig.variables,
    migrator: WebhookMigrations.migrator
)) { reader, logger in
    try await buildApplication(config: WebhookConfig(reader: reader), logger: logger)
}
