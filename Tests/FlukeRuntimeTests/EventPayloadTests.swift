import FlukeModels
import FlukeRuntime
import Foundation
import Testing

/// Each payload's JSON, byte for byte as the fleet's events carried it before the payloads were
/// typed: external webhook subscribers parse these keys.
@Suite("typed event payloads")
struct EventPayloadTests {
    static let project = UUID(uuidString: "00000000-0000-0000-0000-0000000000A1")!
    static let user = UUID(uuidString: "00000000-0000-0000-0000-0000000000B2")!
    static let id = UUID(uuidString: "00000000-0000-0000-0000-0000000000C3")!
    static let time = Date(timeIntervalSince1970: 1_700_000_000.123)
    static let (projectText, userText, idText, timeText) = ("00000000-0000-0000-0000-0000000000a1", "00000000-0000-0000-0000-0000000000b2",
                               "00000000-0000-0000-0000-0000000000c3", "2023-11-14T22:13:20.123Z")

    /// The payload as it travels (through `JSONValue`, in the event's encoding), checked to come back equal.
    func wire<Payload: EventPayload & Equatable>(_ payload: Payload) throws -> String {
        let event = try CloudEvent(source: "test", type: Payload.eventTypes[0], payload: payload)
        let decoded = try CloudEvent.decoder().decode(CloudEvent.self, from: CloudEvent.encoder().encode(event))
        #expect(try decoded.payload(as: Payload.self) == payload)
        return String(decoding: try CloudEvent.encoder().encode(event.data), as: UTF8.self)
    }

    @Test("project-manager's payloads")
    func projectManager() throws {
        let (project, user, id, time) = (Self.projectText, Self.userText, Self.idText, Self.timeText)
        #expect(try wire(ProjectPayload(id: Self.project, tenantID: Self.user, name: "n", description: "d", stage: "mvp",
                                        repositoryURL: "https://git.example/x", createdBy: Self.id, createdAt: Self.time,
                                        updatedAt: Self.time))
            == #"{"created_at":"\#(time)","created_by":"\#(id)","description":"d","id":"\#(project)","name":"n","repository_url":"https://git.example/x","stage":"mvp","tenant_id":"\#(user)","updated_at":"\#(time)"}"#)
        #expect(try wire(ProjectDeletedPayload(id: Self.project)) == #"{"deleted":true,"id":"\#(project)"}"#)
        #expect(try wire(MemberAddedPayload(projectID: Self.project, userID: Self.user, name: "n", email: "e@x.example",
                                            role: "lead", addedAt: Self.time))
            == #"{"added_at":"\#(time)","email":"e@x.example","name":"n","project_id":"\#(project)","role":"lead","user_id":"\#(user)"}"#)
        #expect(try wire(MemberRemovedPayload(projectID: Self.project, userID: Self.user))
            == #"{"project_id":"\#(project)","user_id":"\#(user)"}"#)
        #expect(try wire(MilestonePayload(id: Self.id, projectID: Self.project, title: "t", description: "d",
                                          dueDate: "2024-01-31", status: "in_progress", createdAt: Self.time,
                                          updatedAt: Self.time, deleted: false))
            == #"{"created_at":"\#(time)","deleted":false,"description":"d","due_date":"2024-01-31","id":"\#(id)","project_id":"\#(project)","status":"in_progress","title":"t","updated_at":"\#(time)"}"#)
        #expect(try wire(TaskPayload(id: Self.id, projectID: Self.project, title: "t", description: "d", status: "todo",
                                     assigneeID: Self.user, dueDate: nil, labels: ["a", "b"], source: "manual",
                                     createdAt: Self.time, updatedAt: Self.time, deleted: true))
            == #"{"assignee_id":"\#(user)","created_at":"\#(time)","deleted":true,"description":"d","id":"\#(id)","labels":["a","b"],"project_id":"\#(project)","source":"manual","status":"todo","title":"t","updated_at":"\#(time)"}"#)
        #expect(try wire(TokenRevokedPayload(tokenID: Self.id, userID: Self.user, projectID: Self.project))
            == #"{"project_id":"\#(project)","token_id":"\#(id)","user_id":"\#(user)"}"#)
        #expect(try wire(TokenRevokedPayload(tokenID: Self.id, userID: Self.user, projectID: nil))
            == #"{"token_id":"\#(id)","user_id":"\#(user)"}"#)
    }

    @Test("context-api's payloads; a secret's value is never in env.updated")
    func context() throws {
        let (project, user, id, time) = (Self.projectText, Self.userText, Self.idText, Self.timeText)
        #expect(try wire(EnvUpdatedPayload(key: "K", environment: "production", secret: true, value: "hush", version: 2,
                                           updatedAt: Self.time, projectID: Self.project))
            == #"{"environment":"production","key":"K","project_id":"\#(project)","secret":true,"updated_at":"\#(time)","version":2}"#)
        #expect(try wire(EnvUpdatedPayload(key: "K", environment: "staging", secret: false, value: "v", version: 1,
                                           updatedAt: Self.time, projectID: Self.project))
            == #"{"environment":"staging","key":"K","project_id":"\#(project)","secret":false,"updated_at":"\#(time)","value":"v","version":1}"#)
        #expect(try wire(EnvDeletedPayload(key: "K", environment: "staging", projectID: Self.project))
            == #"{"environment":"staging","key":"K","project_id":"\#(project)"}"#)
        #expect(try wire(MemorySyncedPayload(id: Self.id, externalID: Self.user, memoryType: "convention", version: 1,
                                             deleted: false))
            == #"{"deleted":false,"external_id":"\#(user)","id":"\#(id)","memory_type":"convention","version":1}"#)
        #expect(try wire(MCPConfigChangedPayload(preset: nil, enabledPlugins: ["github"],
                                                 pluginSettings: .object(["github": .object(["org": .string("x")])]),
                                                 contextLevel: "full", projectID: Self.project))
            == #"{"context_level":"full","enabled_plugins":["github"],"plugin_settings":{"github":{"org":"x"}},"project_id":"\#(project)"}"#)
    }

    @Test("webhook-dispatcher's and federation's payloads")
    func webhooksAndFederation() throws {
        let (id, time) = (Self.idText, Self.timeText)
        #expect(try wire(WebhookEndpointDisabledPayload(subscriptionID: Self.id, callbackURL: "https://hooks.example/x",
                                                        reason: "the endpoint answered 410 Gone"))
            == #"{"callback_url":"https://hooks.example/x","reason":"the endpoint answered 410 Gone","subscription_id":"\#(id)"}"#)
        #expect(try wire(WebhookTestPayload(subscriptionID: Self.id))
            == #"{"message":"a test event from FlukeBase","subscription_id":"\#(id)"}"#)
        #expect(try wire(FederationProjectStatusPayload(slug: "alpha", name: "Alpha", status: "ONLINE",
                                                        previousStatus: "UNKNOWN", changedAt: Self.time,
                                                        lastHeartbeatAt: Self.time, projectID: "p-1"))
            == #"{"changed_at":"\#(time)","last_heartbeat_at":"\#(time)","name":"Alpha","previous_status":"UNKNOWN","project_id":"p-1","slug":"alpha","status":"ONLINE"}"#)
        #expect(try wire(FederationProjectStatusPayload(slug: "alpha", name: "Alpha", status: "OFFLINE",
                                                        previousStatus: "ONLINE", changedAt: Self.time,
                                                        lastHeartbeatAt: nil, projectID: nil))
            == #"{"changed_at":"\#(time)","name":"Alpha","previous_status":"ONLINE","slug":"alpha","status":"OFFLINE"}"#)
    }

    @Test("every event type the fleet emits has exactly one payload")
    func everyTypeHasAPayload() {
        let payloads: [any EventPayload.Type] = [
            ProjectPayload.self, ProjectDeletedPayload.self, MemberAddedPayload.self, MemberRemovedPayload.self,
            MilestonePayload.self, TaskPayload.self, TokenRevokedPayload.self, EnvUpdatedPayload.self,
            EnvDeletedPayload.self, MemorySyncedPayload.self, MCPConfigChangedPayload.self,
            WebhookEndpointDisabledPayload.self, WebhookTestPayload.self, FederationProjectStatusPayload.self,
        ]
        let covered = payloads.flatMap { $0.eventTypes }
        let emitted: [EventType] = [
            .projectCreated, .projectUpdated, .projectDeleted, .memberAdded, .memberRemoved, .milestoneUpdated,
            .taskCreated, .taskUpdated, .tokenRevoked, .envUpdated, .envDeleted, .memorySynced, .mcpConfigChanged,
            .webhookEndpointDisabled, .webhookTest, .federationProjectOnline, .federationProjectOffline,
        ]
        #expect(covered.count == Set(covered).count)
        #expect(Set(covered) == Set(emitted))
    }
}
