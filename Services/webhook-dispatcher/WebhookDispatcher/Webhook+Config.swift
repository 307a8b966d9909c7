import FlukeRuntime
import Foundation

/// webhook-dispatcher's settings: the fleet's common ones, bearer auth, the keyring that seals
/// subscription secrets, the callback URL policy, and the delivery schedule.
public struct WebhookConfig: Sendable {
    public var common: FleetConfig
    public var auth: AuthConfig
    public var keyring: Keyring
    public var retention: WebhookRetention
    /// Who may be called: https only unless `WEBHOOK_ALLOW_HTTP`, public addresses only unless
    /// the host is in `WEBHOOK_ALLOWED_HOSTS`.
    public var urlPolicy: OutboundURLPolicy
    public var delivery: DeliverySettings
    public var maxSubscriptionsPerProject: Int

    public static let variables: [ConfigVariable] = FleetConfig.variables(defaultPort: 8082) + AuthConfig.variables
        + WebhookRetention.variables + [
        Keyring.variable,
        ConfigVariable("WEBHOOK_ALLOW_HTTP", default: "false", "true: callback URLs may use plain http (development only)"),
        ConfigVariable("WEBHOOK_ALLOWED_HOSTS", default: "",
                       "host names or IP literals, comma-separated, that may be called even if they are or resolve to private addresses"),
        ConfigVariable("WEBHOOK_RETRY_SCHEDULE", default: "0,5,300,1800,7200,18000,36000,36000",
                       "seconds before each attempt (the first is the first attempt's delay), comma-separated; ±20 % jitter"),
        ConfigVariable("WEBHOOK_DISABLE_AFTER", default: "432000",
                       "seconds a subscription may fail continuously before it is disabled"),
        ConfigVariable("WEBHOOK_CONNECT_TIMEOUT", default: "5", "seconds to connect to a callback URL"),
        ConfigVariable("WEBHOOK_REQUEST_TIMEOUT", default: "15", "seconds for a whole delivery attempt"),
        ConfigVariable("WEBHOOK_SECRET_GRACE", default: "86400", "seconds a rotated-out secret keeps signing"),
        ConfigVariable("WEBHOOK_CONCURRENCY", default: "256", "attempts in flight per replica"),
        ConfigVariable("WEBHOOK_SUBSCRIPTION_CONCURRENCY", default: "16", "attempts in flight per subscription and replica"),
        ConfigVariable("WEBHOOK_LEASE", default: "60",
                       "seconds a claimed delivery stays reserved for the replica that claimed it (more than the request timeout)"),
        ConfigVariable("WEBHOOK_MAX_SUBSCRIPTIONS_PER_PROJECT", default: "100",
                       "subscriptions a project may have, disabled ones included (409 beyond)"),
    ]

    public init(reader: ConfigReader) throws {
        common = try FleetConfig(serviceName: "webhook-dispatcher", reader: reader)
        auth = try AuthConfig(reader: reader)
        keyring = try Keyring(reader: reader)
        retention = try WebhookRetention(reader: reader)
        let hosts = try reader.string("WEBHOOK_ALLOWED_HOSTS").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
        urlPolicy = OutboundURLPolicy(allowHTTP: try reader.bool("WEBHOOK_ALLOW_HTTP"), allowedHosts: Set(hosts))
        delivery = DeliverySettings(
            schedule: try Self.schedule(try reader.string("WEBHOOK_RETRY_SCHEDULE")),
            disableAfter: try reader.seconds("WEBHOOK_DISABLE_AFTER", minimum: 1),
            connectTimeout: try reader.seconds("WEBHOOK_CONNECT_TIMEOUT", minimum: 0.1),
            requestTimeout: try reader.seconds("WEBHOOK_REQUEST_TIMEOUT", minimum: 0.1),
            secretGrace: try reader.seconds("WEBHOOK_SECRET_GRACE"),
            concurrency: try reader.int("WEBHOOK_CONCURRENCY", in: 1...10_000),
            perSubscription: try reader.int("WEBHOOK_SUBSCRIPTION_CONCURRENCY", in: 1...1_000),
            lease: try reader.seconds("WEBHOOK_LEASE", minimum: 1))
        maxSubscriptionsPerProject = try reader.int("WEBHOOK_MAX_SUBSCRIPTIONS_PER_PROJECT", in: 1...100_000)
        guard delivery.lease > delivery.requestTimeout else {
            throw ConfigError("WEBHOOK_LEASE", "must be longer than WEBHOOK_REQUEST_TIMEOUT")
        }
    }

    static func schedule(_ raw: String) throws -> [Duration] {
        let parts = raw.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let values = parts.compactMap(Double.init)
        guard !parts.isEmpty, values.count == parts.count, parts.count <= 50,
              values.allSatisfy({ $0 >= 0 && $0 <= 7 * 86_400 && $0.isFinite }) else {
            throw ConfigError("WEBHOOK_RETRY_SCHEDULE", "must be 1 to 50 comma-separated seconds, each 0 to 604800")
        }
        return values.map { .milliseconds(Int64($0 * 1000)) }
    }
}

/// How deliveries are attempted.
public struct DeliverySettings: Sendable {
    /// The delay before each attempt: `schedule[0]` before the first, `schedule[n]` after the
    /// n-th failure; its length is the number of attempts.
    public var schedule: [Duration]
    public var disableAfter: Duration
    public var connectTimeout: Duration
    public var requestTimeout: Duration
    public var secretGrace: Duration
    public var concurrency: Int
    public var perSubscription: Int
    public var lease: Duration

    public init(schedule: [Duration], disableAfter: Duration = .seconds(432_000), connectTimeout: Duration = .seconds(5),
                requestTimeout: Duration = .seconds(15), secretGrace: Duration = .seconds(86_400), concurrency: Int = 256,
                perSubscription: Int = 16, lease: Duration = .seconds(60)) {
        self.schedule = schedule
        self.disableAfter = disableAfter
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.secretGrace = secretGrace
        self.concurrency = concurrency
        self.perSubscription = perSubscription
        self.lease = lease
    }

    /// The delay before attempt `n + 1` after `n` failed ones, with ±20 % jitter so that
    /// retries of a burst spread out; nil when the schedule is exhausted.
    func delay(afterFailures n: Int) -> Duration? {
        guard n < schedule.count else { return nil }
        let base = schedule[n]
        guard base > .zero else { return .zero }
        return base * Double.random(in: 0.8...1.2)
    }
}
