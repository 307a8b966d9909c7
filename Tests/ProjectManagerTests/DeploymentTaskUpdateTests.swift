import FlukeModels
import Foundation
@testable import ProjectManager
import Testing

/// The pure part of the deployment task: whatever order and however often events arrive, the
/// task ends where the deployment ended.
@Suite("project-manager: a deployment's task only moves forward")
struct DeploymentTaskUpdateTests {
    static let deployment = UUID()

    static func update(_ type: EventType, reason: String? = nil, phase: String? = nil) -> DeploymentTaskUpdate {
        DeploymentTaskUpdate(type, DeploymentPayload(deploymentID: deployment, app: "web", version: "v3", status: "x",
                                                     phase: phase, reason: reason))!
    }

    static func final(_ updates: [DeploymentTaskUpdate]) -> DeploymentTaskUpdate.State {
        var state = updates[0].initial
        for update in updates.dropFirst() { state = update.applied(to: state) }
        return state
    }

    static func permutations<T>(_ items: [T]) -> [[T]] {
        guard items.count > 1 else { return [items] }
        return items.indices.flatMap { i in
            var rest = items
            let head = rest.remove(at: i)
            return permutations(rest).map { [head] + $0 }
        }
    }

    @Test("a failed then rolled-back deployment ends blocked with both reasons, in every order and with duplicates")
    func failureInAnyOrder() {
        let events = [Self.update(.deployQueued), Self.update(.deployStarted),
                      Self.update(.deployFailed, reason: "health check failed", phase: "deploy"),
                      Self.update(.deployRolledBack, reason: "restored v2")]
        let expected = Self.final(events)
        #expect(expected.status == .blocked && expected.title == "Deploy web v3")
        #expect(expected.description(deploymentID: Self.deployment) == """
            Deployment \(Self.deployment.lowercased).
            Failed: health check failed (phase deploy)
            Rolled back: restored v2
            """)
        for order in Self.permutations(events) {
            #expect(Self.final(order) == expected)
            #expect(Self.final(order + order.reversed()) == expected)
        }
    }

    @Test("a successful deployment ends done in every order; in progress until then; phase changes move nothing")
    func successInAnyOrder() {
        let events = [Self.update(.deployQueued), Self.update(.deployStarted), Self.update(.deploySucceeded)]
        for order in Self.permutations(events) { #expect(Self.final(order).status == .done) }
        #expect(Self.final(Array(events.prefix(2))).status == .inProgress)
        #expect(Self.final([events[1], events[0]]).rank == 2)
        #expect(DeploymentTaskUpdate(.deployPhaseChanged, DeploymentPayload(deploymentID: UUID(), app: "web", version: nil,
                                                                            status: "building")) == nil)
    }

    @Test("the title gains the version once an event names it, and keeps it")
    func titleKeepsTheVersion() {
        let unversioned = DeploymentTaskUpdate(.deployQueued, DeploymentPayload(deploymentID: Self.deployment, app: "api",
                                                                               version: nil, status: "pending"))!
        #expect(unversioned.initial.title == "Deploy api")
        let versioned = DeploymentTaskUpdate(.deployStarted, DeploymentPayload(deploymentID: Self.deployment, app: "api",
                                                                              version: "7", status: "building"))!
        let state = versioned.applied(to: unversioned.initial)
        #expect(state.title == "Deploy api v7")
        #expect(unversioned.applied(to: state).title == "Deploy api v7")
    }
}
