import Foundation

// batch/v1 Job as written and read, and v1 Pod as read (see Kubernetes+Models.swift).

// MARK: - Job

struct KubeJob: Codable, Sendable {
    var apiVersion: String? = "batch/v1"
    var kind: String? = "Job"
    var metadata: KubeMetadata
    var spec: Spec?
    var status: Status?

    struct Spec: Codable, Sendable {
        var backoffLimit: Int
        var activeDeadlineSeconds: Int?
        var ttlSecondsAfterFinished: Int?
        var template: KubePodTemplate
    }

    struct Status: Codable, Sendable {
        var succeeded: Int?
        var failed: Int?
        var conditions: [KubeCondition]?
    }
}

// MARK: - Pod, as read

struct KubePod: Codable, Sendable {
    var metadata: KubeMetadata
    var status: Status?

    struct Status: Codable, Sendable {
        var phase: String?
        var podIP: String?
        var containerStatuses: [ContainerStatus]?
    }

    struct ContainerStatus: Codable, Sendable {
        var name: String
        var ready: Bool
        var restartCount: Int
        var state: State?
    }

    struct State: Codable, Sendable {
        var waiting: Reason?
        var terminated: Reason?
        var running: Running?
    }

    struct Reason: Codable, Sendable {
        var reason: String?
        var message: String?
    }

    struct Running: Codable, Sendable {
        var startedAt: String?
    }
}
