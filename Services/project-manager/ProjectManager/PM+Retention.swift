import FlukeRuntime

/// Expired refresh tokens (a day after expiry, so a late presentation still finds its family),
/// login-failure counters older than the window they count in, catalog entries OFFLINE for 30
/// days, and the event consumers' dead letters.
public struct PMRetention: RetentionPolicy {
    public var failureWindow: Duration

    public var rules: [RetentionRule] {
        [
            RetentionRule(table: "pm.refresh_tokens", column: "expires_at", keep: .seconds(86_400)),
            RetentionRule(table: "pm.login_failures", column: "window_start", keep: failureWindow),
            // Login-with-GitHub states nobody came back with.
            RetentionRule(table: "pm.oauth_states", column: "expires_at", keep: .seconds(0)),
            // A catalog entry OFFLINE for 30 days is gone from federation's catalog or forgotten.
            RetentionRule(table: "pm.catalog_status", column: "changed_at", keep: .seconds(30 * 86_400),
                          extraCondition: "status = 'OFFLINE'"),
            RetentionRule(table: "pm.catalog_history", column: "changed_at", keep: .seconds(30 * 86_400)),
        ]
    }

    public var includesDeadLetters: Bool { true }
}

extension PMConfig {
    /// Its retention, from `PM_LOGIN_FAILURE_WINDOW`.
    public var retention: PMRetention { PMRetention(failureWindow: failureWindow) }
}
