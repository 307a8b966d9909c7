import FlukeRuntime

/// How long finished deployments (and, by cascade, their logs) are kept; releases are bounded
/// per app by `DEPLOY_KEEP_RELEASES` instead.
public struct DeployRetention: RetentionPolicy {
    public var deployments: Duration

    public static let variables: [ConfigVariable] = [
        ConfigVariable("DEPLOY_HISTORY_RETENTION", default: "7776000",
                       "seconds finished deployments and their logs are kept (90 days)"),
    ]

    public init(reader: ConfigReader) throws {
        deployments = try reader.seconds("DEPLOY_HISTORY_RETENTION", minimum: 1)
    }

    public var includesDeadLetters: Bool { false }

    public var rules: [RetentionRule] {
        [
            // A deployment a release still points at stays: it says who made the release.
            RetentionRule(table: "deploy.deployments", column: "created_at", keep: deployments,
                          extraCondition: "status IN ('success', 'failed', 'rolled_back', 'cancelled') AND NOT EXISTS (SELECT 1 FROM deploy.releases r WHERE r.deployment_id = deployments.id)"),
        ]
    }
}
