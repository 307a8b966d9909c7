import Foundation

/// `fluke.rpc.context.env`: a project's env vars for one environment, decrypted, for a deploy.
///
/// Answered by context-api replicas in one queue group; only deploy-tracker's NATS user may send
/// it (`deploy/nats/auth.conf`). context-api records each read in its env access log with
/// `via: deploy`. The values are secret: the requester never logs or stores them.
public enum ContextEnvRPC {
    public static let subject = "fluke.rpc.context.env"
    public static let queueGroup = "context-api"

    public struct Request: Codable, Sendable, Equatable {
        public var tenantID: UUID
        public var projectID: UUID
        public var environment: String
        /// The deployment the values are for (recorded with the read).
        public var deploymentID: UUID?
        public var app: String?

        enum CodingKeys: String, CodingKey {
            case environment, app
            case tenantID = "tenant_id", projectID = "project_id", deploymentID = "deployment_id"
        }

        public init(tenantID: UUID, projectID: UUID, environment: String, deploymentID: UUID? = nil, app: String? = nil) {
            self.tenantID = tenantID
            self.projectID = projectID
            self.environment = environment
            self.deploymentID = deploymentID
            self.app = app
        }
    }

    /// `{"variables": {"KEY": "value", …}}`, or `{"error": "…"}` (no such project or
    /// environment, a malformed request) with no variables.
    public struct Reply: Codable, Sendable, Equatable {
        public var variables: [String: String]?
        public var error: String?

        public init(variables: [String: String]? = nil, error: String? = nil) {
            self.variables = variables
            self.error = error
        }
    }
}
