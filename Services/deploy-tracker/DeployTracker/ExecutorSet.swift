import DeployExecutors
import Foundation
import ServiceLifecycle

/// The executors enabled on this deploy-tracker (`DEPLOY_EXECUTORS`), by kind, with the
/// long-lived work they need (a supervisor, clients to close at shutdown).
struct ExecutorSet: Sendable {
    let executors: [ExecutorKind: any DeployExecutor]
    let workers: [any Service]

    init(_ executors: [any DeployExecutor], workers: [any Service] = []) {
        self.executors = Dictionary(executors.map { ($0.kind, $0) }, uniquingKeysWith: { first, _ in first })
        self.workers = workers
    }

    subscript(kind: ExecutorKind) -> (any DeployExecutor)? { executors[kind] }
}
