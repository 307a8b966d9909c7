import Foundation

/// One structured log line as the fleet carries it: JSON-LD, the seed's `UnifiedLogEntry`
/// (`@context` https://flukebase.me/schemas/unified-log). deploy-tracker writes them for every
/// deployment step and for its apps' output; log-streamer stores, queries and streams them.
public struct UnifiedLogEntry: Codable, Sendable, Equatable {
    public static let jsonLDContext = "https://flukebase.me/schemas/unified-log"
    public static let jsonLDType = "UnifiedLogEntry"
    /// The JetStream stream holding every log entry.
    public static let streamName = "FLUKE_LOGS"
    /// The subjects of ``streamName``.
    public static let subjectPrefix = "fluke.logs."

    /// `fluke.logs.<tenant_id>.<app_name>`: where an app's entries are published.
    public static func subject(tenantID: UUID, app: String) -> String {
        subjectPrefix + tenantID.uuidString.lowercased() + "." + app
    }

    /// Unique per entry: consumers store each id once.
    public var id: String
    public var timestamp: Date
    public var level: Level
    public var message: String
    public var source: Source
    /// What a deployment entry is about; app output carries the deployment that started the app.
    public var flukedeployMetadata: FlukeDeployMetadata?
    /// The W3C trace the entry was written in: 32 lowercase hex digits (OpenTelemetry's `trace_id`).
    public var traceID: String?
    /// The span within ``traceID``: 16 lowercase hex digits.
    public var spanID: String?
    /// Free-form attributes of this entry (OpenTelemetry's log record attributes).
    public var attributes: [String: JSONValue]?
    /// What produced the entry, beyond ``source`` (OpenTelemetry's resource attributes).
    public var resource: [String: JSONValue]?

    public enum Level: String, Codable, Sendable, CaseIterable, Comparable {
        case debug, info, warn, error

        var rank: Int { Self.allCases.firstIndex(of: self)! }
        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rank < rhs.rank }
    }

    /// Who wrote the entry.
    public struct Source: Codable, Sendable, Equatable {
        /// The fleet service (`deploy-tracker`) or, for app output, the app's name.
        public var service: String
        /// `deploy-tracker` for deployment steps, `app` for an app's stdout and stderr.
        public var component: String
        /// The replica (app output) or the tracker instance.
        public var instance: String?
        /// `stdout` or `stderr` for app output.
        public var stream: String?
        public var tenantID: UUID?
        public var projectID: UUID?

        enum CodingKeys: String, CodingKey {
            case service, component, instance, stream
            case tenantID = "tenant_id", projectID = "project_id"
        }

        public init(service: String, component: String, instance: String? = nil, stream: String? = nil,
                    tenantID: UUID? = nil, projectID: UUID? = nil) {
            self.service = service
            self.component = component
            self.instance = instance
            self.stream = stream
            self.tenantID = tenantID
            self.projectID = projectID
        }
    }

    /// The seed's `FlukeDeployMetadata`.
    public struct FlukeDeployMetadata: Codable, Sendable, Equatable {
        public var deploymentID: UUID?
        public var appName: String
        public var phase: String?
        public var eventType: EventKind?
        public var version: String?
        public var durationMS: Int?

        enum CodingKeys: String, CodingKey {
            case phase, version
            case deploymentID = "deployment_id", appName = "app_name", eventType = "event_type",
                 durationMS = "duration_ms"
        }

        public init(deploymentID: UUID?, appName: String, phase: String? = nil, eventType: EventKind? = nil,
                    version: String? = nil, durationMS: Int? = nil) {
            self.deploymentID = deploymentID
            self.appName = appName
            self.phase = phase
            self.eventType = eventType
            self.version = version
            self.durationMS = durationMS
        }
    }

    /// The seed's `FlukeDeployEventType`, in its JSON spelling.
    public enum EventKind: String, Codable, Sendable, CaseIterable {
        case preBuild = "pre_build", buildStart = "build_start", buildComplete = "build_complete",
             buildError = "build_error", preDeploy = "pre_deploy", deployStart = "deploy_start",
             deployComplete = "deploy_complete", deployError = "deploy_error", postDeploy = "post_deploy",
             healthCheck = "health_check", scaleEvent = "scale_event", configChange = "config_change"
    }

    enum CodingKeys: String, CodingKey {
        case context = "@context", type = "@type"
        case id, timestamp, level, message, source
        case flukedeployMetadata = "flukedeploy_metadata"
        case traceID = "trace_id", spanID = "span_id", attributes, resource
    }

    public init(id: String = UUID().uuidString.lowercased(), timestamp: Date = Date(), level: Level,
                message: String, source: Source, flukedeployMetadata: FlukeDeployMetadata? = nil,
                traceID: String? = nil, spanID: String? = nil, attributes: [String: JSONValue]? = nil,
                resource: [String: JSONValue]? = nil) {
        self.id = id
        self.timestamp = timestamp
        self.level = level
        self.message = message
        self.source = source
        self.flukedeployMetadata = flukedeployMetadata
        self.traceID = traceID
        self.spanID = spanID
        self.attributes = attributes
        self.resource = resource
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let context = try c.decode(String.self, forKey: .context)
        guard context == Self.jsonLDContext else {
            throw DecodingError.dataCorruptedError(forKey: .context, in: c, debugDescription: "must be \(Self.jsonLDContext)")
        }
        let type = try c.decode(String.self, forKey: .type)
        guard type == Self.jsonLDType else {
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "must be \(Self.jsonLDType)")
        }
        id = try c.decode(String.self, forKey: .id)
        timestamp = try c.decode(Date.self, forKey: .timestamp)
        level = try c.decode(Level.self, forKey: .level)
        message = try c.decode(String.self, forKey: .message)
        source = try c.decode(Source.self, forKey: .source)
        flukedeployMetadata = try c.decodeIfPresent(FlukeDeployMetadata.self, forKey: .flukedeployMetadata)
        traceID = try c.decodeIfPresent(String.self, forKey: .traceID)
        spanID = try c.decodeIfPresent(String.self, forKey: .spanID)
        attributes = try c.decodeIfPresent([String: JSONValue].self, forKey: .attributes)
        resource = try c.decodeIfPresent([String: JSONValue].self, forKey: .resource)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.jsonLDContext, forKey: .context)
        try c.encode(Self.jsonLDType, forKey: .type)
        try c.encode(id, forKey: .id)
        try c.encode(timestamp, forKey: .timestamp)
        try c.encode(level, forKey: .level)
        try c.encode(message, forKey: .message)
        try c.encode(source, forKey: .source)
        try c.encodeIfPresent(flukedeployMetadata, forKey: .flukedeployMetadata)
        // Absent unless set, so entries without them (deploy-tracker's) encode as before.
        try c.encodeIfPresent(traceID, forKey: .traceID)
        try c.encodeIfPresent(spanID, forKey: .spanID)
        try c.encodeIfPresent(attributes, forKey: .attributes)
        try c.encodeIfPresent(resource, forKey: .resource)
    }
}
