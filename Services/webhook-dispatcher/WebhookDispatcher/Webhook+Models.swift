import FlukeModels
import Foundation

/// A subscription as the API shows it. `secret` is present only in the answers to a create and
/// a rotation: it is never shown again.
struct Subscription: Codable, Sendable {
    var id: UUID
    var projectID: UUID
    var events: [String]
    var callbackURL: String
    var description: String
    var rateLimitPerSecond: Int?
    var headers: [String: String]
    var enabled: Bool
    var disabledReason: String?
    var failingSince: Date?
    var createdAt: Date
    var updatedAt: Date
    var secret: String?

    enum CodingKeys: String, CodingKey {
        case id, events, description, headers, enabled, secret
        case projectID = "project_id", callbackURL = "callback_url", rateLimitPerSecond = "rate_limit_per_second"
        case disabledReason = "disabled_reason", failingSince = "failing_since"
        case createdAt = "created_at", updatedAt = "updated_at"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id.lowercased, forKey: .id)
        try c.encode(projectID.lowercased, forKey: .projectID)
        try c.encode(events, forKey: .events)
        try c.encode(callbackURL, forKey: .callbackURL)
        try c.encode(description, forKey: .description)
        try c.encode(rateLimitPerSecond, forKey: .rateLimitPerSecond)
        try c.encode(headers, forKey: .headers)
        try c.encode(enabled, forKey: .enabled)
        try c.encode(disabledReason, forKey: .disabledReason)
        try c.encode(failingSince, forKey: .failingSince)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(updatedAt, forKey: .updatedAt)
        try c.encodeIfPresent(secret, forKey: .secret)
    }
}

/// A delivery: one event for one subscription, attempted until it succeeds or the schedule ends.
struct Delivery: Codable, Sendable {
    var id: UUID
    var subscriptionID: UUID
    var eventID: UUID
    var eventType: String
    var eventTime: Date
    /// pending, succeeded or failed (the dead letter: kept, and retried only on request).
    var status: String
    var attempts: Int
    var maxAttempts: Int
    var nextAttemptAt: Date?
    var lastStatusCode: Int?
    var lastError: String?
    var createdAt: Date
    var finishedAt: Date?
    var attemptLog: [Attempt]?

    enum CodingKeys: String, CodingKey {
        case id, status, attempts
        case subscriptionID = "subscription_id", eventID = "event_id", eventType = "event_type", eventTime = "event_time"
        case maxAttempts = "max_attempts", nextAttemptAt = "next_attempt_at", lastStatusCode = "last_status_code"
        case lastError = "last_error", createdAt = "created_at", finishedAt = "finished_at", attemptLog = "attempt_log"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id.lowercased, forKey: .id)
        try c.encode(subscriptionID.lowercased, forKey: .subscriptionID)
        try c.encode(eventID.lowercased, forKey: .eventID)
        try c.encode(eventType, forKey: .eventType)
        try c.encode(eventTime, forKey: .eventTime)
        try c.encode(status, forKey: .status)
        try c.encode(attempts, forKey: .attempts)
        try c.encode(maxAttempts, forKey: .maxAttempts)
        try c.encode(status == "pending" ? nextAttemptAt : nil, forKey: .nextAttemptAt)
        try c.encode(lastStatusCode, forKey: .lastStatusCode)
        try c.encode(lastError, forKey: .lastError)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(finishedAt, forKey: .finishedAt)
        try c.encodeIfPresent(attemptLog, forKey: .attemptLog)
    }
}

/// One HTTP attempt of a delivery, as logged.
struct Attempt: Codable, Sendable {
    var attempt: Int
    var startedAt: Date
    var durationMs: Double
    var statusCode: Int?
    var responseHeaders: [String: String]?
    /// The first 16 KiB of the response body.
    var responseBody: String?
    var error: String?

    enum CodingKeys: String, CodingKey {
        case attempt, error
        case startedAt = "started_at", durationMs = "duration_ms", statusCode = "status_code"
        case responseHeaders = "response_headers", responseBody = "response_body"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(attempt, forKey: .attempt)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(durationMs, forKey: .durationMs)
        try c.encode(statusCode, forKey: .statusCode)
        try c.encode(responseHeaders, forKey: .responseHeaders)
        try c.encode(responseBody, forKey: .responseBody)
        try c.encode(error, forKey: .error)
    }
}

/// Which event types a subscription wants: exact types, prefixes (`memory.*`) or everything (`*`).
enum EventFilter {
    /// Whether `pattern` is acceptable: `*`, or dot-separated lower-case words optionally ending in `.*`.
    static func isValid(_ pattern: String) -> Bool {
        if pattern == "*" { return true }
        let body = pattern.hasSuffix(".*") ? String(pattern.dropLast(2)) : pattern
        guard !body.isEmpty, body.count <= 128 else { return false }
        return body.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { word in
            !word.isEmpty && word.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
        }
    }

    /// The same rule as the intake's SQL (`events` matched in Postgres).
    static func matches(_ pattern: String, _ type: String) -> Bool {
        if pattern == "*" || pattern == type { return true }
        return pattern.hasSuffix(".*") && type.hasPrefix(String(pattern.dropLast(1)))
    }
}
