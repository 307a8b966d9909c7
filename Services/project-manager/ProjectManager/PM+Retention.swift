import FlukeRuntime

extension PMConfig {
    /// Expired refresh tokens (a day after expiry, so a late presentation still finds its family)
    /// and login-failure counters older than the window they count in.
    func retentionJob(_ runtime: FleetRuntime) -> RetentionJob {
        RetentionJob(runtime: runtime, rules: [
            RetentionRule(table: "pm.refresh_tokens", column: "expires_at", keep: .seconds(86_400)),
            RetentionRule(table: "pm.login_failures", column: "window_start", keep: failureWindow),
        ], deadLetters: false)
    }
}
