import FlukeRuntime

/// webhook-dispatcher's domain errors: what its stores refuse; HTTP appears only in ``problem``.
enum WebhookError: Error, ProblemConvertible {
    /// No such `what` (subscription, delivery) that the caller may see.
    case notFound(String)
    /// A retry of a delivery that has not finished yet.
    case deliveryPending

    var problem: Problem {
        switch self {
        case .notFound(let what): Problem.notFound("no such \(what)")
        case .deliveryPending:
            Problem(.conflict, detail: "the delivery is still pending; it will be attempted at next_attempt_at")
        }
    }
}
