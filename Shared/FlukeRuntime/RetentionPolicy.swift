/// What a service keeps and for how long: every service declares its retention as one of these,
/// and runs ``job(_:)`` among its workers.
public protocol RetentionPolicy: Sendable {
    /// The tables of the service's schema that age out.
    var rules: [RetentionRule] { get }
    /// Whether the schema's dead letters age out too (after `DEAD_LETTER_RETENTION`): only
    /// schemas with an event consumer have them.
    var includesDeadLetters: Bool { get }
}

extension RetentionPolicy {
    /// The job applying this policy on the runtime's pool, every `RETENTION_INTERVAL`.
    public func job(_ runtime: FleetRuntime) -> RetentionJob {
        RetentionJob(runtime: runtime, rules: rules, deadLetters: includesDeadLetters)
    }
}
