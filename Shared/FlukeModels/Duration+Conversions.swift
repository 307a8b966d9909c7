/// The fleet's one conversion of `Duration` to the units C libraries, SQL and Foundation take.
extension Duration {
    /// Seconds as a Double (a `TimeInterval`).
    public var secondsValue: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// Whole milliseconds, rounded down: what libnats' and Postgres' time settings take.
    public var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Whole nanoseconds, saturating at `Int64.max` (histograms, AsyncHTTPClient timeouts).
    public var nanosecondsValue: Int64 {
        let (seconds, attoseconds) = components
        return seconds.multipliedReportingOverflow(by: 1_000_000_000).overflow
            ? .max : seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
