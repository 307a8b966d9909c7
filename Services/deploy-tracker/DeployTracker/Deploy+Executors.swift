import DeployExecutors
import FlukeRuntime
import Foundation
import Logging
import ServiceLifecycle

/// The executors `DEPLOY_EXECUTORS` enables, configured from the service's settings.
func makeExecutors(config: DeployConfig, logger: Logger) throws -> ExecutorSet {
    ExecutorSet([])
}

extension ExecutorSet {
    /// Long-lived work of the executors (the process executor's replica supervisor).
    var workers: [any Service] { [] }
}
