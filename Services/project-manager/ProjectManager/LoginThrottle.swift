import FlukePostgres
import Foundation

/// Failed logins per account and per client address, counted in `pm.login_failures` (shared by
/// replicas) over a fixed window.
///
/// An attempt takes its place in the count *before* its password is checked, in one atomic
/// upsert: read-then-verify-then-record would let any number of parallel guesses read "under the
/// limit" before the first failure is written, each costing a scrypt. Concurrent attempts on one
/// key serialise on its row, so at most the limit of them go on to scrypt; the rest get 429. A
/// login that succeeds gives its place back.
struct LoginThrottle: Sendable {
    let postgres: PostgresClient
    let maxPerAccount: Int
    let maxPerAddress: Int
    let window: Duration

    static func keys(email: String, clientAddress: String?) -> [String] {
        // Account first, address second in every statement: rows are locked in that order, so two
        // attempts sharing either key cannot deadlock.
        ["account:" + email] + (clientAddress.map { ["address:" + $0] } ?? [])
    }

    /// Counts an attempt against each key; throws ``PMError/tooManyAttempts(retryAfter:)`` when
    /// any key is past its limit. A refused attempt counts for none of its keys: the refusing
    /// key stays one past its limit (so the lock lasts exactly to the end of the window), and the
    /// others get their place back.
    func claim(_ keys: [String]) async throws {
        let window = window.secondsValue
        let rows = try await postgres.query("""
            WITH wanted AS (
                SELECT k AS key, CASE WHEN k LIKE 'account:%' THEN \(maxPerAccount)::int ELSE \(maxPerAddress)::int END AS max_failures, i
                FROM unnest(\(keys)::text[]) WITH ORDINALITY AS t(k, i)
            )
            INSERT INTO pm.login_failures AS f (key, window_start, failures)
            SELECT key, now(), 1 FROM wanted ORDER BY i
            ON CONFLICT (key) DO UPDATE SET
              failures = CASE WHEN f.window_start <= now() - make_interval(secs => \(window)) THEN 1
                              ELSE LEAST(f.failures + 1, (SELECT max_failures + 1 FROM wanted w WHERE w.key = f.key)) END,
              window_start = CASE WHEN f.window_start <= now() - make_interval(secs => \(window)) THEN now() ELSE f.window_start END
            RETURNING key, failures,
                      ceil(extract(epoch FROM window_start + make_interval(secs => \(window)) - now()))::int AS remaining
            """)
        var counted: [String] = []
        var retryAfter: Int?
        for row in rows {
            let key = try row.decode(String.self, at: 0)
            let limit = key.hasPrefix("account:") ? maxPerAccount : maxPerAddress
            if try row.decode(Int.self, at: 1) > limit {
                retryAfter = max(retryAfter ?? 1, try row.decode(Int.self, at: 2))
            } else {
                counted.append(key)
            }
        }
        guard let retryAfter else { return }
        try await giveBack(counted)
        throw PMError.tooManyAttempts(retryAfter: retryAfter)
    }

    private func giveBack(_ keys: [String]) async throws {
        guard !keys.isEmpty else { return }
        try await postgres.query("""
            UPDATE pm.login_failures SET failures = greatest(failures - 1, 0) WHERE key = ANY(\(keys)::text[])
            """)
    }

    /// The password was right: the account starts afresh, and the address gets back the place
    /// this attempt took (a busy office behind one address is not a guesser).
    func succeeded(_ keys: [String]) async throws {
        try await postgres.query("DELETE FROM pm.login_failures WHERE key = \(keys[0])")
        try await giveBack(Array(keys.dropFirst()))
    }
}
