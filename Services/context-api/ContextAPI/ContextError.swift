import FlukeRuntime

/// context-api's domain errors: what its stores refuse; HTTP appears only in ``problem``.
enum ContextError: Error, ProblemConvertible {
    /// No such `what` (project, memory, preset) that the caller may see.
    case notFound(String)
    /// No variable `key` in `environment`.
    case noVariable(key: String, environment: Environment)
    /// The input at `field` is not acceptable, for the reason given.
    case invalid(field: String, String)
    /// The input at `field` clashes with what is stored, for the reason given.
    case conflict(field: String, String)
    /// `If-Match` named `presented`, but the memory is at version `current`.
    case staleVersion(current: Int, presented: Int)

    var problem: Problem {
        switch self {
        case .notFound(let what): Problem.notFound("no such \(what)")
        case .noVariable(let key, let environment): Problem.notFound("no variable \(key) in \(environment.rawValue)")
        case .invalid(let field, let detail): Problem.invalid(field, detail)
        case .conflict(let field, let detail): Problem(.conflict, detail: detail, field: field)
        case .staleVersion(let current, let presented):
            Problem(.preconditionFailed, detail: "the memory is at version \(current), not \(presented)",
                    field: "If-Match", headers: [.eTag: "\"\(current)\""])
        }
    }
}
