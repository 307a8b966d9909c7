import FlukeRuntime

/// What log-streamer keeps: entries for `LOGS_RETENTION_DAYS` days, dropped a day's partition at
/// a time by the ``PartitionKeeper`` (never deleted row by row: a day of logs is millions of rows,
/// and dropping its table frees them at once without bloating the others); dead letters for
/// `DEAD_LETTER_RETENTION` through the fleet's ``RetentionJob``.
public struct LogsRetention: RetentionPolicy {
    /// Days of entries kept; the partitions of older days are dropped.
    public var days: Int

    public static let variables: [ConfigVariable] = [
        ConfigVariable("LOGS_RETENTION_DAYS", default: "14",
                       "days log entries are kept; older days' partitions are dropped (1-3650)"),
    ]

    public init(reader: ConfigReader) throws {
        days = try reader.int("LOGS_RETENTION_DAYS", in: 1...3650)
    }

    public var includesDeadLetters: Bool { true }

    /// None row by row: entries go by partition (see ``PartitionKeeper``).
    public var rules: [RetentionRule] { [] }
}
