import FlukeRuntime

/// How long the delivery log is kept: finished deliveries (and, by cascade, their attempts) go
/// once older than `deliveries`; pending ones stay until they finish.
public struct WebhookRetention: RetentionPolicy {
    public var deliveries: Duration

    public static let variables: [ConfigVariable] = [
        ConfigVariable("WEBHOOK_DELIVERY_RETENTION", default: "2592000",
                       "seconds finished deliveries and their attempts stay in the delivery log (30 days)"),
    ]

    public init(reader: ConfigReader) throws {
        deliveries = try reader.seconds("WEBHOOK_DELIVERY_RETENTION", minimum: 1)
    }

    public var rules: [RetentionRule] {
        [
            RetentionRule(table: "webhooks.deliveries", column: "created_at", keep: deliveries,
                          extraCondition: "status <> 'pending'"),
        ]
    }

    public var includesDeadLetters: Bool { true }
}
