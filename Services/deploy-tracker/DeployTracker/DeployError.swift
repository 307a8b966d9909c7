import FlukeRuntime

/// deploy-tracker's domain errors: what its stores refuse; HTTP appears only in ``problem``.
enum DeployError: Error, ProblemConvertible {
    /// No such `what` (app, deployment, release) that the caller may see.
    case notFound(String)
    /// Another app of the tenant has this name.
    case nameTaken(String)
    /// `DEPLOY_QUEUE_LIMIT` deployments already wait for the app.
    case queueFull(app: String, limit: Int)
    /// A rollback with no earlier successful release to go to.
    case nothingToRollBackTo(String)
    /// The deployment has finished; it cannot be cancelled.
    case finished(String)
    /// The app has no release running (scale, restart).
    case notRunning(String)
    /// The app has deployments queued or running (delete).
    case active(String)
    /// The executor is not enabled on this deploy-tracker (`DEPLOY_EXECUTORS`).
    case executorDisabled(String)

    var problem: Problem {
        switch self {
        case .notFound(let what): Problem.notFound("no such \(what)")
        case .nameTaken(let name):
            Problem(.conflict, detail: "an app named \(name) already exists in this tenant", field: "name",
                    extensions: ["code": .string("name_taken")])
        case .queueFull(let app, let limit):
            Problem(.conflict, detail: "\(limit) deployments already wait for \(app) (DEPLOY_QUEUE_LIMIT)",
                    extensions: ["code": .string("queue_full")])
        case .nothingToRollBackTo(let detail):
            Problem(.conflict, detail: detail, extensions: ["code": .string("no_release")])
        case .finished(let status):
            Problem(.conflict, detail: "the deployment has already finished (\(status))", extensions: ["code": .string("finished")])
        case .notRunning(let app):
            Problem(.conflict, detail: "\(app) has no release running yet; deploy it first", extensions: ["code": .string("not_running")])
        case .active(let app):
            Problem(.conflict, detail: "\(app) has deployments queued or running; cancel them first",
                    extensions: ["code": .string("deployment_active")])
        case .executorDisabled(let kind):
            Problem.invalid("executor", "\(kind) is not enabled on this deploy-tracker (DEPLOY_EXECUTORS)")
        }
    }
}
