import DeployExecutors
import Foundation

/// The executors enabled on this deploy-tracker (`DEPLOY_EXECUTORS`), by kind.
struct ExecutorSet: Sendable {
    let executors: [ExecutorKind: any DeployExecutor]

    init(_ executors: [any DeployExecutor]) {
        self.executors = Dictionary(executors.map { ($0.kind, $0) }, uniquingKeysWith: { first, _ in first })
    }

    subscript(kind: ExecutorKind) -> (any DeployExecutor)? { executors[kind] }
}
