import Testing

extension Trait where Self == ConditionTrait {
    /// For suites that need `make test`'s Postgres and nats-server: run without them
    /// (`swift test` alone) such a suite is skipped with this message instead of crashing the run.
    public static var needsPostgresAndNATS: Self {
        .enabled(if: TestEnvironment.isAvailable, "run with `make test`, which starts Postgres and NATS")
    }
}
