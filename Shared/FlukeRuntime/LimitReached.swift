import FlukeModels

/// A write refused because its owner already holds as many of something as allowed (env vars
/// of a project, webhook subscriptions, …). Stores throw it; the edge answers 409 with the limit
/// and the setting that raises it.
public struct LimitReached: Error, Sendable, Equatable, ProblemConvertible {
    /// What is counted, plural: "environment variables".
    public var what: String
    /// Whose it is: "project".
    public var owner: String
    public var limit: Int
    /// The environment variable that sets `limit`.
    public var variable: String

    public init(_ what: String, of owner: String, limit: Int, variable: String) {
        self.what = what
        self.owner = owner
        self.limit = limit
        self.variable = variable
    }

    public var problem: Problem {
        Problem(.conflict, "Limit reached",
                detail: "the \(owner) already has \(limit) \(what), the most allowed (\(variable)); delete some first",
                extensions: ["limit": .number(Double(limit))])
    }
}
