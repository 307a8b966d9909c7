import FlukeRuntime

/// How long context-api keeps what only grows: the secrets access log and the ids of events the
/// replica has applied (needed only while the stream could still redeliver them).
public struct ContextRetention: RetentionPolicy {
    public var accessLog: Duration

    public static let variables: [ConfigVariable] = [
        ConfigVariable("CONTEXT_ACCESS_LOG_RETENTION", default: "7776000",
                       "seconds the secrets access log (GET /api/v1/projects/{project_id}/env/access-log) keeps an entry (90 days)"),
    ]

    public init(reader: ConfigReader) throws {
        accessLog = try reader.seconds("CONTEXT_ACCESS_LOG_RETENTION", minimum: 1)
    }

    public var rules: [RetentionRule] {
        [
            RetentionRule(table: "context.env_access_log", column: "at", keep: accessLog),
            // A day past the stream's own retention: no redelivery can still bring these back.
            RetentionRule(table: "context.processed_events", column: "processed_at",
                          keep: FleetRuntime.eventRetention + .seconds(86_400)),
        ]
    }

    public var includesDeadLetters: Bool { true }
}
