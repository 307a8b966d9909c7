import Foundation

/// The Docker Engine API's swarm types, as much of them as the swarm executor reads or writes
/// (moby `api/types/swarm`). Properties are camelCase; ``DockerEngine/encoder`` and
/// ``DockerEngine/decoder`` map them to the Engine's PascalCase (`ID`, `ServiceID`, …).
enum DockerEngine {
    struct ServiceSpec: Codable, Sendable, Equatable {
        var name: String
        var labels: [String: String]?
        var taskTemplate: TaskSpec
        var mode: ServiceMode
        var updateConfig: UpdateConfig?
        var rollbackConfig: UpdateConfig?
        var endpointSpec: EndpointSpec?
    }

    struct TaskSpec: Codable, Sendable, Equatable {
        var containerSpec: ContainerSpec
        var restartPolicy: RestartPolicy?
        var networks: [NetworkAttachment]?
        /// Bumped to replace every task although nothing else changed (`docker service update --force`).
        var forceUpdate: UInt64?
    }

    struct ContainerSpec: Codable, Sendable, Equatable {
        var image: String
        var labels: [String: String]?
        var command: [String]?
        var env: [String]?
    }

    struct RestartPolicy: Codable, Sendable, Equatable {
        /// `none`, `on-failure` or `any`.
        var condition: String
        var delay: Int64?
        var maxAttempts: UInt64?
        var window: Int64?
    }

    struct NetworkAttachment: Codable, Sendable, Equatable {
        var target: String
    }

    struct ServiceMode: Codable, Sendable, Equatable {
        var replicated: Replicated?
        var replicatedJob: ReplicatedJob?

        struct Replicated: Codable, Sendable, Equatable { var replicas: UInt64 }
        struct ReplicatedJob: Codable, Sendable, Equatable {
            var maxConcurrent: UInt64
            var totalCompletions: UInt64
        }
    }

    /// `UpdateConfig` and `RollbackConfig` (which has no `rollback` failure action).
    struct UpdateConfig: Codable, Sendable, Equatable {
        /// Tasks replaced at once; 0 means all.
        var parallelism: UInt64
        /// Nanoseconds between batches.
        var delay: Int64
        /// `continue`, `pause` or `rollback`.
        var failureAction: String
        /// Nanoseconds each batch is watched for failures.
        var monitor: Int64
        var maxFailureRatio: Double
        /// `stop-first` or `start-first`.
        var order: String
    }

    struct EndpointSpec: Codable, Sendable, Equatable {
        var mode: String?
        var ports: [PortConfig]?
    }

    struct PortConfig: Codable, Sendable, Equatable {
        var `protocol`: String?
        var targetPort: Int
        var publishedPort: Int?
        var publishMode: String?
    }

    struct Version: Codable, Sendable, Equatable {
        var index: UInt64
    }

    /// `GET /services/{id}`.
    struct Service: Codable, Sendable {
        var id: String
        var version: Version
        var spec: ServiceSpec
        var previousSpec: ServiceSpec?
        var endpoint: Endpoint?
        var updateStatus: UpdateStatus?

        struct Endpoint: Codable, Sendable {
            var ports: [PortConfig]?
        }
    }

    struct UpdateStatus: Codable, Sendable, Equatable {
        /// One of ``State``; unknown values are kept to be reported rather than failing decoding.
        var state: String?
        var startedAt: String?
        var completedAt: String?
        var message: String?

        enum State: String, Sendable {
            case updating, paused, completed
            case rollbackStarted = "rollback_started", rollbackPaused = "rollback_paused",
                 rollbackCompleted = "rollback_completed"
        }

        var known: State? { state.flatMap(State.init(rawValue:)) }
    }

    /// One task of `GET /tasks`.
    struct SwarmTask: Codable, Sendable {
        var id: String
        var serviceID: String?
        var slot: Int?
        var desiredState: String?
        var spec: TaskSpec?
        var status: Status
        var createdAt: String?

        struct Status: Codable, Sendable {
            /// new, allocated, pending, assigned, accepted, preparing, ready, starting, running,
            /// complete, shutdown, failed, rejected, remove, orphaned.
            var state: String
            var message: String?
            var err: String?
            var timestamp: String?
        }

        var failed: Bool { status.state == "failed" || status.state == "rejected" }
    }

    /// `{"ID": …, "Warnings": …}` of `POST /services/create`.
    struct CreateResponse: Codable, Sendable {
        var id: String
    }

    /// The Engine's error body.
    struct ErrorBody: Codable, Sendable {
        var message: String
    }

    /// The part of `GET /info` validation reads.
    struct Info: Codable, Sendable {
        var swarm: SwarmInfo?
        struct SwarmInfo: Codable, Sendable {
            var localNodeState: String?
        }
    }

    /// One line of `POST /images/create`'s progress stream.
    struct PullProgress: Codable, Sendable {
        var status: String?
        var progress: String?
        var id: String?
        var error: String?
        var errorDetail: ErrorDetail?
        struct ErrorDetail: Codable, Sendable { var message: String? }
    }
}

extension DockerEngine {
    /// Swift's `id`, `serviceID` ↔ the Engine's `ID`, `ServiceID`. Key strategies do not apply
    /// to dictionary keys, so labels such as `fluke.app` pass unchanged.
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .custom { path in
            let key = path.last!.stringValue
            return EngineKey(key == "id" ? "ID" : key.prefix(1).uppercased() + key.dropFirst())
        }
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    /// The progress stream of `/images/create` is camelCase already (`errorDetail`), so only
    /// PascalCase keys are changed: the first letter lowered, `ID` → `id`.
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .custom { path in
            let key = path.last!.stringValue
            return EngineKey(key == "ID" ? "id" : key.prefix(1).lowercased() + key.dropFirst())
        }
        return decoder
    }()

    struct EngineKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
