import FlukeModels
import FlukeRuntime
import Foundation
@testable import ProjectManager
import Testing

/// project-manager's events carried its API models (with a `deleted` flag for milestones and
/// tasks) before their payloads were typed; the payloads must encode exactly so.
@Suite("project-manager event payloads match its models")
struct EventPayloadCompatibilityTests {
    static let time = Date(timeIntervalSince1970: 1_700_000_000.123)

    static func withDeleted(_ value: some Encodable, _ deleted: Bool) throws -> JSONValue {
        guard case .object(var object) = try JSONValue(encoding: value) else { return .null }
        object["deleted"] = .bool(deleted)
        return .object(object)
    }

    @Test("project, member, milestone and task payloads encode as the models did")
    func sameJSON() throws {
        for repository in ["https://git.example/x", nil] {
            let project = Project(id: UUID(), tenantID: UUID(), name: "n", description: "d", stage: .mvp,
                                  repositoryURL: repository, createdBy: repository == nil ? nil : UUID(),
                                  createdAt: Self.time, updatedAt: Self.time)
            #expect(try JSONValue(encoding: ProjectPayload(project)) == JSONValue(encoding: project))
        }
        let member = ProjectMember(projectID: UUID(), userID: UUID(), name: "n", email: "e@x.example", role: .reviewer,
                                   addedAt: Self.time)
        #expect(try JSONValue(encoding: MemberAddedPayload(member)) == JSONValue(encoding: member))
        for due in ["2024-01-31", nil] {
            let milestone = Milestone(id: UUID(), projectID: UUID(), title: "t", description: "d", dueDate: due,
                                      status: .inProgress, createdAt: Self.time, updatedAt: Self.time)
            for deleted in [false, true] {
                #expect(try JSONValue(encoding: MilestonePayload(milestone, deleted: deleted))
                    == Self.withDeleted(milestone, deleted))
            }
            let task = WorkTask(id: UUID(), projectID: UUID(), title: "t", description: "d", status: .blocked,
                                assigneeID: due == nil ? nil : UUID(), dueDate: due, labels: ["a"], source: .github,
                                createdAt: Self.time, updatedAt: Self.time)
            for deleted in [false, true] {
                #expect(try JSONValue(encoding: TaskPayload(task, deleted: deleted)) == Self.withDeleted(task, deleted))
            }
        }
    }
}
