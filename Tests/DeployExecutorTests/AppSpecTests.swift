import DeployExecutors
import Foundation
import Testing

@Suite("AppSpec: the JSON of an app's spec")
struct AppSpecTests {
    @Test("missing fields take the issue's defaults; snake_case keys round-trip")
    func defaults() throws {
        let spec = try JSONDecoder().decode(AppSpec.self, from: Data(#"{"image":"nginx:1.27","replicas":3}"#.utf8))
        #expect(spec.replicas == 3 && spec.image == "nginx:1.27")
        #expect(spec.healthCheck == .init(path: "/", interval: 5, timeout: 5, retries: 10, startPeriod: 5))
        #expect(spec.deployTimeout == 600 && spec.strategy.type == .rolling)
        #expect(spec.strategy.canarySteps == [10, 50, 100])

        let full = AppSpec(replicas: 2, port: 8080, env: ["A": "1"], envFrom: .init(environment: "production"),
                           healthCheck: .init(path: "/healthz", interval: 1, timeout: 2, retries: 3, startPeriod: 0),
                           strategy: .init(type: .canary, steps: [25, 100], pause: 3),
                           deployTimeout: 60, hooks: .init(preBuild: "make lint", postDeploy: "./smoke"),
                           buildCommand: "make", startCommand: "./serve")
        let json = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(full)) as! [String: Any]
        #expect(Set(json.keys) == ["replicas", "port", "env", "env_from", "health_check", "strategy", "deploy_timeout",
                                   "hooks", "build_command", "start_command"])
        #expect(try JSONDecoder().decode(AppSpec.self, from: try JSONEncoder().encode(full)) == full)
    }
}
