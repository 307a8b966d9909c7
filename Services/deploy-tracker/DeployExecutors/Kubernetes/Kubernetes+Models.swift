import Foundation

// The parts of the Kubernetes objects the executor writes and reads, in their JSON shapes
// (apps/v1 Deployment, v1 Service and Pod, batch/v1 Job, meta/v1 List). What it writes is
// complete for its purpose; what it reads names only the fields it looks at, so fields
// such as `maxSurge: "25%"` (int-or-string) written by someone else never break decoding.

struct KubeMetadata: Codable, Sendable, Equatable {
    var name: String?
    var namespace: String?
    var labels: [String: String]?
    var annotations: [String: String]?
    var generation: Int?
    var resourceVersion: String?
    var deletionTimestamp: String?
}

struct KubeList<Item: Codable & Sendable>: Codable, Sendable {
    var items: [Item]
}

struct KubeCondition: Codable, Sendable, Equatable {
    var type: String
    var status: String
    var reason: String?
    var message: String?
}

// MARK: - Deployment, as written

struct KubeDeployment: Codable, Sendable {
    var apiVersion: String? = "apps/v1"
    var kind: String? = "Deployment"
    var metadata: KubeMetadata
    var spec: Spec

    struct Spec: Codable, Sendable {
        var replicas: Int?
        var selector: KubeLabelSelector?
        var template: KubePodTemplate?
        var strategy: Strategy?
        var progressDeadlineSeconds: Int?
    }

    struct Strategy: Codable, Sendable {
        var type = "RollingUpdate"
        var rollingUpdate: RollingUpdate
    }

    struct RollingUpdate: Codable, Sendable {
        var maxSurge: Int
        var maxUnavailable: Int
    }
}

struct KubeLabelSelector: Codable, Sendable, Equatable {
    var matchLabels: [String: String]
}

struct KubePodTemplate: Codable, Sendable {
    var metadata: KubeMetadata
    var spec: KubePodSpec
}

struct KubePodSpec: Codable, Sendable {
    var containers: [KubeContainer]
    var restartPolicy: String?
}

struct KubeContainer: Codable, Sendable {
    var name: String
    var image: String
    var command: [String]?
    var env: KubeEnvList?
    var envFrom: [EnvFrom]?
    var ports: [Port]?
    var readinessProbe: Probe?

    /// `envFrom: [{secretRef: {name}}]`: every key of a Secret as a variable.
    struct EnvFrom: Codable, Sendable, Equatable {
        var secretRef: Reference
    }

    struct Reference: Codable, Sendable, Equatable {
        var name: String
    }

    struct Port: Codable, Sendable {
        var name: String
        var containerPort: Int
        var `protocol` = "TCP"
    }

    struct Probe: Codable, Sendable {
        var httpGet: HTTPGet
        var initialDelaySeconds: Int
        var periodSeconds: Int
        var timeoutSeconds: Int
        var failureThreshold: Int
    }

    struct HTTPGet: Codable, Sendable {
        var path: String
        var port: Int
    }
}

/// A container's `env`. In a strategic-merge patch it carries the `{"$patch": "replace"}`
/// directive: lists merge by `name` there, so without it a variable dropped from a release
/// would live on in the pods.
struct KubeEnvList: Codable, Sendable {
    struct Variable: Codable, Sendable, Equatable {
        var name: String
        var value: String
    }

    var variables: [Variable]
    var replaceInPatch = false

    init(_ variables: [Variable], replaceInPatch: Bool = false) {
        self.variables = variables
        self.replaceInPatch = replaceInPatch
    }

    private struct Entry: Codable {
        var name: String?
        var value: String?
        var patch: String?
        enum CodingKeys: String, CodingKey { case name, value, patch = "$patch" }
    }

    init(from decoder: any Decoder) throws {
        let entries = try [Entry](from: decoder)
        variables = entries.compactMap { e in e.name.map { Variable(name: $0, value: e.value ?? "") } }
    }

    func encode(to encoder: any Encoder) throws {
        var entries = variables.map { Entry(name: $0.name, value: $0.value) }
        if replaceInPatch { entries.append(Entry(patch: "replace")) }
        try entries.encode(to: encoder)
    }
}

// MARK: - Deployment, as read

/// What `kubectl rollout status` looks at.
struct KubeDeploymentState: Codable, Sendable {
    var metadata: KubeMetadata
    var spec: Spec
    var status: Status?

    struct Spec: Codable, Sendable {
        var replicas: Int?
        var template: Template?
    }

    /// Only the template's labels: they find the pods of this template.
    struct Template: Codable, Sendable {
        var metadata: KubeMetadata?
    }

    struct Status: Codable, Sendable {
        var observedGeneration: Int?
        var replicas: Int?
        var updatedReplicas: Int?
        var readyReplicas: Int?
        var availableReplicas: Int?
        var conditions: [KubeCondition]?
    }
}

// MARK: - Service

struct KubeService: Codable, Sendable {
    var apiVersion: String? = "v1"
    var kind: String? = "Service"
    var metadata: KubeMetadata
    var spec: Spec

    struct Spec: Codable, Sendable {
        var type: String? = "ClusterIP"
        var selector: [String: String]?
        var ports: [Port]?
    }

    /// `targetPort` is int-or-string on the wire; the executor writes the container port's name.
    struct Port: Codable, Sendable {
        var name: String?
        var port: Int
        var targetPort: String?
        var `protocol`: String?

        enum CodingKeys: String, CodingKey { case name, port, targetPort, `protocol` }

        init(name: String, port: Int, targetPort: String) {
            self.name = name
            self.port = port
            self.targetPort = targetPort
            self.protocol = "TCP"
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decodeIfPresent(String.self, forKey: .name)
            port = try c.decode(Int.self, forKey: .port)
            targetPort = (try? c.decodeIfPresent(String.self, forKey: .targetPort))
                ?? (try? c.decodeIfPresent(Int.self, forKey: .targetPort)).map { String($0) }
            self.protocol = try c.decodeIfPresent(String.self, forKey: .protocol)
        }
    }
}

// MARK: - Secret

/// An Opaque Secret as written (`stringData`; the API server stores and returns it as base64 `data`).
struct KubeSecret: Codable, Sendable {
    var apiVersion: String? = "v1"
    var kind: String? = "Secret"
    var metadata: KubeMetadata
    var type: String? = "Opaque"
    var stringData: [String: String]?
}

/// Any object, as far as its metadata goes (lists of Secrets are read for their names only).
struct KubeObjectReference: Codable, Sendable {
    var metadata: KubeMetadata
}

/// The JSON Patch operation `kubectl rollout undo` sends.
struct KubeJSONPatchOperation<Value: Encodable & Sendable>: Encodable, Sendable {
    var op = "replace"
    var path: String
    var value: Value
}
