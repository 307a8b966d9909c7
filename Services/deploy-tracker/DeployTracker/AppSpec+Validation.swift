import DeployExecutors
import FlukeModels
import FlukeRuntime
import Foundation

/// Reading an app's `spec` from a request: unknown keys, out-of-range values and what the
/// executor needs are refused with a 422 naming the field (`spec.health_check.path`).
enum AppSpecReader {
    static let keys: Set<String> = ["replicas", "port", "env", "env_from", "health_check", "strategy", "deploy_timeout",
                                    "hooks", "build_command", "start_command", "image"]
    static let nested: [String: Set<String>] = [
        "env_from": ["environment"],
        "health_check": ["path", "interval", "timeout", "retries", "start_period"],
        "strategy": ["type", "steps", "pause", "max_surge", "max_unavailable", "rollback_window", "max_error_ratio"],
        "hooks": ["pre_build", "pre_deploy", "post_deploy"],
    ]
    static var appName: Regex<Substring> { /^[a-z][a-z0-9-]{0,62}$/ }
    static var envKey: Regex<Substring> { /^[A-Za-z_][A-Za-z0-9_]{0,127}$/ }
    static var environmentName: Regex<Substring> { /^[a-z][a-z0-9_-]{0,31}$/ }

    /// The spec in `value`, checked for `executor`.
    static func read(_ value: JSONValue, executor: ExecutorKind) throws -> AppSpec {
        guard case .object(let object) = value else { throw Problem.invalid("spec", "must be an object") }
        if let unknown = object.keys.sorted().first(where: { !keys.contains($0) }) {
            throw Problem.invalid("spec.\(unknown)", "is not a field of spec")
        }
        for (key, allowed) in nested {
            if case .object(let inner)? = object[key], let unknown = inner.keys.sorted().first(where: { !allowed.contains($0) }) {
                throw Problem.invalid("spec.\(key).\(unknown)", "is not a field of spec.\(key)")
            }
        }
        let spec: AppSpec
        do {
            spec = try FleetJSON.decode(AppSpec.self, from: try FleetJSON.encoder.encode(value))
        } catch var problem as Problem {
            problem.field = problem.field.map { "spec." + $0 }
            throw problem
        }
        try check(spec, executor: executor)
        return spec
    }

    static func check(_ spec: AppSpec, executor: ExecutorKind) throws {
        func require(_ ok: Bool, _ field: String, _ detail: String) throws {
            if !ok { throw Problem.invalid("spec.\(field)", detail) }
        }
        try require((0...100).contains(spec.replicas), "replicas", "must be between 0 and 100")
        if let port = spec.port { try require((1...65535).contains(port), "port", "must be between 1 and 65535") }
        try require(spec.env.count <= 200, "env", "may hold at most 200 variables")
        for (key, value) in spec.env {
            try require(key.wholeMatch(of: envKey) != nil, "env", "\(key.prefix(40)) is not a valid variable name")
            try require(value.utf8.count <= 32_768 && !value.contains("\0"), "env.\(key)", "must be at most 32 KiB, without NUL")
        }
        if let from = spec.envFrom {
            try require(from.environment.wholeMatch(of: environmentName) != nil, "env_from.environment",
                        "must be an environment name such as production")
        }
        let health = spec.healthCheck
        try require(health.path.hasPrefix("/") && health.path.utf8.count <= 1024 && !health.path.contains(where: { $0.isWhitespace }),
                    "health_check.path", "must be a path starting with /")
        try require((1...3600).contains(health.interval), "health_check.interval", "must be between 1 and 3600 seconds")
        try require((1...600).contains(health.timeout), "health_check.timeout", "must be between 1 and 600 seconds")
        try require((1...100).contains(health.retries), "health_check.retries", "must be between 1 and 100")
        try require((0...3600).contains(health.startPeriod), "health_check.start_period", "must be between 0 and 3600 seconds")
        let strategy = spec.strategy
        if let steps = strategy.steps {
            try require(!steps.isEmpty && steps.count <= 20 && steps.allSatisfy({ (1...100).contains($0) })
                        && zip(steps, steps.dropFirst()).allSatisfy({ $0 < $1 }) && steps.last == 100,
                        "strategy.steps", "must be increasing percentages between 1 and 100, ending at 100")
        }
        if let pause = strategy.pause { try require((0...3600).contains(pause), "strategy.pause", "must be between 0 and 3600 seconds") }
        if let surge = strategy.maxSurge { try require((1...100).contains(surge), "strategy.max_surge", "must be between 1 and 100") }
        if let down = strategy.maxUnavailable {
            try require((0...100).contains(down), "strategy.max_unavailable", "must be between 0 and 100")
        }
        if let window = strategy.rollbackWindow {
            try require((0...86_400).contains(window), "strategy.rollback_window", "must be between 0 and 86400 seconds")
        }
        if let ratio = strategy.maxErrorRatio {
            try require((0...1).contains(ratio), "strategy.max_error_ratio", "must be between 0 and 1")
        }
        try require((1...86_400).contains(spec.deployTimeout), "deploy_timeout", "must be between 1 and 86400 seconds")
        for (name, command) in [("hooks.pre_build", spec.hooks.preBuild), ("hooks.pre_deploy", spec.hooks.preDeploy),
                                ("hooks.post_deploy", spec.hooks.postDeploy), ("build_command", spec.buildCommand),
                                ("start_command", spec.startCommand)] {
            if let command {
                try require(!command.isEmpty && command.utf8.count <= 4096 && !command.contains("\0"), name,
                            "must be a command of at most 4096 bytes")
            }
        }
        if let image = spec.image {
            try require(ImageReference(image) != nil, "image",
                        "must be an image reference such as registry.example.com/team/api:1.4")
        }
        switch executor {
        case .process:
            try require(spec.startCommand != nil, "start_command", "is required by the process executor")
        case .swarm, .kubernetes:
            break   // the image may also come with each deployment
        }
    }
}
