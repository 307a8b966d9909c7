import FlukeModels
import Foundation

/// The fake's controllers: what the Deployment controller, the Job controller and the kubelet
/// would do, one small step per tick.
extension FakeKubernetesAPI {
    /// What the API server refuses with 422 Invalid (the checks the executor could trip over).
    static func invalid(_ resource: Resource, _ object: JSONValue, previous: JSONValue?) -> String? {
        guard let name = object["metadata"]?["name"]?.stringValue, !name.isEmpty else {
            return "metadata.name: Required value: name or generateName is required"
        }
        if resource.plural == "services" || resource.plural == "jobs", name.count > 63 {
            return "metadata.name: Invalid value: \"\(name)\": must be no more than 63 characters"
        }
        switch resource.plural {
        case "deployments":
            let selector = FakeKube.strings(object["spec"]?["selector"]?["matchLabels"])
            let labels = FakeKube.strings(object["spec"]?["template"]?["metadata"]?["labels"])
            if selector.isEmpty { return "spec.selector: Required value" }
            if !selector.allSatisfy({ labels[$0.key] == $0.value }) {
                return "spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`"
            }
            if let previous, previous["spec"]?["selector"] != object["spec"]?["selector"] {
                return "spec.selector: Invalid value: field is immutable"
            }
            let rolling = object["spec"]?["strategy"]?["rollingUpdate"]
            if FakeKube.int(rolling?["maxSurge"]) == 0 && FakeKube.int(rolling?["maxUnavailable"]) == 0 {
                return "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"
            }
            return invalidContainers(object["spec"]?["template"]?["spec"]?["containers"])
        case "jobs":
            return invalidContainers(object["spec"]?["template"]?["spec"]?["containers"])
        default:
            return nil
        }
    }

    private static func invalidContainers(_ containers: JSONValue?) -> String? {
        guard case .array(let items)? = containers, !items.isEmpty else {
            return "spec.template.spec.containers: Required value"
        }
        for item in items where item["name"]?.stringValue == nil || item["image"]?.stringValue == nil {
            return "spec.template.spec.containers: Invalid value: name and image are required"
        }
        if case .array(let env)? = items.first?["env"], env.contains(where: { $0["name"] == nil }) {
            return "spec.template.spec.containers[0].env: Invalid value: name is required"
        }
        return nil
    }

    func runController() {
        let settings = self.settings.withLock { $0 }
        state.withLock { state in
            for key in state.deployments.keys.sorted() { Self.reconcileDeployment(key, &state, settings) }
            for key in state.jobs.keys.sorted() { Self.reconcileJob(key, &state, settings) }
        }
    }

    static func templateHash(_ template: JSONValue?) -> String {
        var hash: UInt64 = 14_695_981_039_346_656_037
        for byte in FakeKube.encode(template ?? .null) { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
        return String(String(hash, radix: 36).suffix(8))
    }

    private static func reconcileDeployment(_ key: String, _ state: inout State, _ settings: Settings) {
        guard var deployment = state.deployments[key] else { return }
        let generation = FakeKube.int(deployment["metadata"]?["generation"]) ?? 1
        if FakeKube.int(deployment["status"]?["observedGeneration"]) ?? 0 < generation, let lag = state.lag[key], lag > 0 {
            // The controller has not noticed this generation yet: status stays as it was.
            state.lag[key] = lag - 1
            return
        }
        let template = deployment["spec"]?["template"]
        let hash = templateHash(template)
        let desired = FakeKube.int(deployment["spec"]?["replicas"]) ?? 1
        let owner = "deployments/\(key)"
        let owned = state.owners.filter { $0.value.owner == owner }.keys.sorted()
        let current = owned.filter { state.owners[$0]?.hash == hash }
        let old = owned.filter { state.owners[$0]?.hash != hash }
        let image = FakeKube.get(template, ["spec", "containers"]).flatMap(firstImage) ?? ""
        var conditions: [[String: Any]] = []
        if settings.badImages.contains(image) {
            if current.isEmpty && desired > 0 {
                addPod(&state, owner: owner, template: template, hash: hash, waiting: "ImagePullBackOff")
            }
            conditions.append(["type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                               "message": "ReplicaSet has timed out progressing."])
        } else if settings.crashingImages.contains(image) {
            if current.isEmpty && desired > 0 {
                addPod(&state, owner: owner, template: template, hash: hash, waiting: "CrashLoopBackOff", restarts: 3)
            }
        } else {
            // A pod that crashed (see `crashPod`) stays down: its container keeps exiting.
            if let starting = current.first(where: { !isReady(state.pods[$0]) && restarts(state.pods[$0]) == 0 }) {
                FakeKube.set(&state.pods[starting, default: .null], ["status"], podStatus(image, ready: true))
            } else if current.count < desired {
                addPod(&state, owner: owner, template: template, hash: hash)
            } else if let retired = old.first {
                state.pods[retired] = nil
                state.owners[retired] = nil
            } else if current.count > desired, let extra = current.last {
                state.pods[extra] = nil
                state.owners[extra] = nil
            }
        }
        let pods = state.owners.filter { $0.value.owner == owner }.keys
        let updated = pods.filter { state.owners[$0]?.hash == hash }
        let available = pods.filter { isReady(state.pods[$0]) }
        let complete = !settings.crashingImages.contains(image) && updated.count == desired && pods.count == desired && available.count == desired
        if !settings.badImages.contains(image) {
            conditions.append(["type": "Progressing", "status": "True",
                               "reason": complete ? "NewReplicaSetAvailable" : "ReplicaSetUpdated"])
        }
        conditions.append(["type": "Available", "status": available.count >= desired ? "True" : "False",
                           "reason": available.count >= desired ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable"])
        FakeKube.set(&deployment, ["status"], FakeKube.value([
            "observedGeneration": generation, "replicas": pods.count, "updatedReplicas": updated.count,
            "readyReplicas": available.count, "availableReplicas": available.count, "conditions": conditions,
        ]))
        state.deployments[key] = deployment
    }

    static func isReady(_ pod: JSONValue?) -> Bool {
        guard case .array(let statuses)? = FakeKube.get(pod, ["status", "containerStatuses"]) else { return false }
        return statuses.first?["ready"] == .bool(true)
    }

    static func restarts(_ pod: JSONValue?) -> Int {
        guard case .array(let statuses)? = FakeKube.get(pod, ["status", "containerStatuses"]) else { return 0 }
        return FakeKube.int(statuses.first?["restartCount"]) ?? 0
    }

    /// Makes one running pod of `deployment` crash: not ready, `CrashLoopBackOff`, one restart.
    func crashPod(of deployment: String, namespace: String = "fluke") {
        state.withLock { state in
            guard let pod = state.owners.filter({ $0.value.owner == "deployments/\(namespace)/\(deployment)" }).keys.sorted()
                .first, let image = FakeKube.get(state.pods[pod], ["spec", "containers"]).flatMap(Self.firstImage) else { return }
            FakeKube.set(&state.pods[pod, default: .null], ["status"],
                         Self.podStatus(image, ready: false, waiting: "CrashLoopBackOff", restarts: 1))
        }
    }

    static func readyStatus(_ image: String) -> JSONValue {
        FakeKube.value(["name": "app", "image": image, "ready": true, "restartCount": 0,
                        "state": ["running": ["startedAt": RFC3339.format(Date(timeIntervalSince1970: 0), fractionDigits: 0)]]])
    }

    static func podStatus(_ image: String, ready: Bool, waiting: String? = nil, restarts: Int = 0) -> JSONValue {
        let container: JSONValue = ready ? readyStatus(image) : FakeKube.value([
            "name": "app", "image": image, "ready": false, "restartCount": restarts,
            "state": ["waiting": ["reason": waiting ?? "ContainerCreating"]]])
        return FakeKube.value(["phase": ready ? "Running" : "Pending", "podIP": "10.244.0.7",
                               "containerStatuses": [container]])
    }

    private static func addPod(_ state: inout State, owner: String, template: JSONValue?, hash: String,
                               waiting: String? = nil, restarts: Int = 0, extraLabels: [String: String] = [:]) {
        state.podCounter += 1
        let ownerName = owner.split(separator: "/").last.map(String.init) ?? "pod"
        let namespace = owner.split(separator: "/").dropFirst().first.map(String.init) ?? "default"
        let name = "\(ownerName)-\(hash.prefix(6))-\(String(state.podCounter, radix: 36))"
        var labels = FakeKube.strings(template?["metadata"]?["labels"]).merging(extraLabels) { $1 }
        labels["pod-template-hash"] = String(hash.prefix(6))
        let image = FakeKube.get(template, ["spec", "containers"]).flatMap(firstImage) ?? ""
        let pod = FakeKube.value(["kind": "Pod", "apiVersion": "v1",
                                  "metadata": ["name": name, "namespace": namespace, "labels": labels],
                                  "spec": template?["spec"] ?? .null,
                                  "status": podStatus(image, ready: false, waiting: waiting, restarts: restarts)])
        state.pods["\(namespace)/\(name)"] = pod
        state.owners["\(namespace)/\(name)"] = (owner, hash)
        state.logs["\(namespace)/\(name)"] = [(Date(), "listening on :\(labels["fluke.dev/version"] ?? "")"),
                                              (Date(), "hello from \(name)")]
    }

    /// A Job's one pod runs its command at once: it fails when the test said so.
    private static func reconcileJob(_ key: String, _ state: inout State, _ settings: Settings) {
        guard var job = state.jobs[key], job["status"]?["succeeded"] == nil, job["status"]?["failed"] == nil else { return }
        let owner = "jobs/\(key)"
        guard state.owners.contains(where: { $0.value.owner == owner }) else {
            let name = key.split(separator: "/").last.map(String.init) ?? "job"
            addPod(&state, owner: owner, template: job["spec"]?["template"], hash: templateHash(job["spec"]?["template"]),
                   extraLabels: ["job-name": name, "batch.kubernetes.io/job-name": name])
            return
        }
        guard case .array(let command)? = FakeKube.get(job, ["spec", "template", "spec", "containers"])?.firstContainerCommand
        else { return }
        let script = command.last?.stringValue ?? ""
        let fails = settings.failingCommands.contains { script.contains($0) }
        if let pod = state.owners.first(where: { $0.value.owner == owner })?.key {
            state.logs[pod] = [(Date(), "running: \(script)"), (Date(), fails ? "error: exit status 1" : "done")]
            FakeKube.set(&state.pods[pod, default: .null], ["status", "phase"], .string(fails ? "Failed" : "Succeeded"))
        }
        let condition: [String: Any] = fails
            ? ["type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
               "message": "Job has reached the specified backoff limit"]
            : ["type": "Complete", "status": "True"]
        FakeKube.set(&job, ["status"], FakeKube.value([fails ? "failed" : "succeeded": 1, "conditions": [condition]]))
        state.jobs[key] = job
    }
}

extension JSONValue {
    /// `command` of the first container in a `containers` array.
    var firstContainerCommand: JSONValue? {
        if case .array(let items) = self { return items.first?["command"] }
        return nil
    }
}
