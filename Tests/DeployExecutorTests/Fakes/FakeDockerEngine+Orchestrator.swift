import FlukeModels
import Foundation

/// The swarm orchestrator, played one step per tick: each task moves one state forward, an
/// update replaces every outdated task at once, and an update's status follows its tasks.
extension FakeDockerEngine {
    static let startingStates = ["new", "pending", "assigned", "accepted", "preparing", "starting"]

    func tick() {
        state.withLock { state in
            for id in state.services.keys.sorted() {
                if state.services[id]!.isJob { tickJob(id, &state) } else { tickService(id, &state) }
            }
        }
    }

    private func tickService(_ id: String, _ state: inout State) {
        var service = state.services[id]!
        let template = service.spec["TaskTemplate"] ?? .null
        let replicas = Int(service.spec["Mode"]?["Replicated"]?["Replicas"]?.engineNumber ?? 0)
        let phase = service.updateStatus?["State"]?.stringValue
        let updating = phase == "updating" || phase == "rollback_started"

        for i in state.tasks.indices where state.tasks[i].serviceID == id && state.tasks[i].desiredState == "running" {
            if (state.tasks[i].slot ?? 0) > replicas {
                state.tasks[i].desiredState = "shutdown"
                state.tasks[i].state = "shutdown"
            } else if let next = Self.next(state.tasks[i], bad: state.badImages, stuck: state.stuckImages) {
                state.tasks[i].state = next.state
                state.tasks[i].err = next.err
                if next.state == "failed" { state.tasks[i].desiredState = "shutdown" }
            } else {
                continue
            }
            state.tasks[i].index = nextIndex(&state)
        }
        for slot in replicas > 0 ? Array(1...replicas) : [] {
            reconcile(slot: slot, of: id, template: template, updating: updating, &state)
        }
        if updating, advanceUpdate(&service, template: template, replicas: replicas, &state) {
            service.index = nextIndex(&state)
            service.updatedAt = Self.now()
        }
        state.services[id] = service
    }

    /// start-first: a slot's task of the current spec starts beside the outdated one, which
    /// stops once the new one runs. Without an update in progress, only an empty slot gets a
    /// task (a new service, a scale up, a restart after a failure: at most five a slot).
    private func reconcile(slot: Int, of id: String, template: JSONValue, updating: Bool, _ state: inout State) {
        let inSlot = state.tasks.indices.filter {
            state.tasks[$0].serviceID == id && state.tasks[$0].slot == slot && state.tasks[$0].desiredState == "running"
        }
        let fresh = inSlot.filter { state.tasks[$0].spec == template }
        if fresh.contains(where: { state.tasks[$0].state == "running" }) {
            for i in inSlot where state.tasks[i].spec != template {
                state.tasks[i].desiredState = "shutdown"
                state.tasks[i].state = "shutdown"
                state.tasks[i].index = nextIndex(&state)
            }
            return
        }
        guard fresh.isEmpty, updating || inSlot.isEmpty else { return }
        let failures = state.tasks.filter { $0.serviceID == id && $0.slot == slot && $0.state == "failed" }.count
        guard failures < 5 else { return }
        state.tasks.append(SwarmTask(id: nextID(&state), serviceID: id, slot: slot, desiredState: "running",
                                     state: "new", spec: template, createdAt: Self.now(), index: nextIndex(&state)))
    }

    /// Moves the update status on: done when every slot runs the spec; an update the test wants
    /// rolled back or paused turns so once its first new task exists.
    private func advanceUpdate(_ service: inout Service, template: JSONValue, replicas: Int, _ state: inout State) -> Bool {
        let phase = service.updateStatus?["State"]?.stringValue
        let tasks = state.tasks.filter { $0.serviceID == service.id }
        let fresh = tasks.filter { $0.spec == template }
        if phase == "updating", service.outcome != .complete, !fresh.isEmpty {
            let task = fresh[0].id
            if service.outcome == .pause {
                service.updateStatus = Self.status("paused", "update paused due to failure or early termination of task \(task)")
            } else {
                let failed = service.spec
                service.spec = service.previousSpec ?? failed
                service.previousSpec = failed
                // `.rollbackAtOnce`: the Engine was done before anyone looked (a slow poller sees
                // only `rollback_completed`).
                service.updateStatus = Self.status(
                    service.outcome == .rollbackAtOnce ? "rollback_completed" : "rollback_started",
                    "update rolled back due to failure or early termination of task \(task)")
            }
            service.outcome = .complete
            service.rollbackStartSeen = false
            return true
        }
        if phase == "rollback_started", !service.rollbackStartSeen { return false }
        let done = (1...max(replicas, 1)).allSatisfy { slot in
            replicas == 0 || tasks.contains { $0.slot == slot && $0.spec == template && $0.state == "running" && $0.desiredState == "running" }
        }
        guard done else { return false }
        let started = service.updateStatus?["StartedAt"]?.stringValue
        if phase == "updating" {
            service.updateStatus = Self.status("completed", "update completed", startedAt: started)
        } else {
            service.updateStatus = Self.status("rollback_completed", "rollback completed", startedAt: started)
        }
        return true
    }

    private func tickJob(_ id: String, _ state: inout State) {
        let service = state.services[id]!
        let template = service.spec["TaskTemplate"] ?? .null
        if !state.tasks.contains(where: { $0.serviceID == id }) {
            state.tasks.append(SwarmTask(id: nextID(&state), serviceID: id, slot: nil, desiredState: "complete",
                                         state: "new", spec: template, createdAt: Self.now(), index: nextIndex(&state)))
            return
        }
        let command = template["ContainerSpec"]?["Command"]?.engineArray?.compactMap(\.stringValue).joined(separator: " ") ?? ""
        let fails = state.failingCommands.contains { command.contains($0) }
        for i in state.tasks.indices where state.tasks[i].serviceID == id {
            switch state.tasks[i].state {
            case "new": state.tasks[i].state = "pending"
            case "pending": state.tasks[i].state = "running"
            case "running":
                state.tasks[i].state = fails ? "failed" : "complete"
                state.tasks[i].err = fails ? "task: non-zero exit (1)" : nil
                state.logs[service.name, default: []].append(
                    LogLine(taskID: state.tasks[i].id, stream: fails ? 2 : 1, text: "ran: \(command)"))
            default: continue
            }
            state.tasks[i].index = nextIndex(&state)
        }
    }

    private static func next(_ task: SwarmTask, bad: Set<String>, stuck: Set<String>) -> (state: String, err: String?)? {
        let image = task.spec["ContainerSpec"]?["Image"]?.stringValue ?? ""
        switch task.state {
        case "new": return ("pending", nil)
        case "pending" where stuck.contains(image): return nil
        case "pending":
            return bad.contains(image) ? ("failed", "starting container failed: image \(image) exits at once") : ("running", nil)
        default: return nil
        }
    }

    static func status(_ state: String, _ message: String, startedAt: String? = nil) -> JSONValue {
        var fields: [String: JSONValue] = ["State": .string(state), "StartedAt": .string(startedAt ?? now()),
                                           "Message": .string(message)]
        if state.hasSuffix("completed") { fields["CompletedAt"] = .string(now()) }
        return .object(fields)
    }
}

extension JSONValue {
    var engineNumber: Double? { if case .number(let n) = self { return n } else { return nil } }
    var engineArray: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
}
