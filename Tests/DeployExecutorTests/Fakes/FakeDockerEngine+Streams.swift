import FlukeModels
import Foundation
import Hummingbird
import NIOCore

/// The JSON the Engine answers with, and its two streams: image pull progress and the
/// multiplexed service logs.
extension FakeDockerEngine {
    static func render(_ service: Service) -> JSONValue {
        var fields: [String: JSONValue] = [
            "ID": .string(service.id), "Version": .object(["Index": .number(Double(service.index))]),
            "CreatedAt": .string(service.createdAt), "UpdatedAt": .string(service.updatedAt), "Spec": service.spec,
        ]
        if let previous = service.previousSpec { fields["PreviousSpec"] = previous }
        if let status = service.updateStatus { fields["UpdateStatus"] = status }
        var endpoint: [String: JSONValue] = ["Spec": service.spec["EndpointSpec"] ?? .object([:])]
        if let port = service.publishedPort,
           let target = service.spec["EndpointSpec"]?["Ports"]?.engineArray?.first?["TargetPort"] {
            endpoint["Ports"] = .array([.object(["Protocol": .string("tcp"), "TargetPort": target,
                                                 "PublishedPort": .number(Double(port)),
                                                 "PublishMode": .string("ingress")])])
        }
        fields["Endpoint"] = .object(endpoint)
        return .object(fields)
    }

    static func render(_ task: SwarmTask) -> JSONValue {
        var status: [String: JSONValue] = ["Timestamp": .string(now()), "State": .string(task.state),
                                           "Message": .string(task.state)]
        if let err = task.err { status["Err"] = .string(err) }
        if task.state == "running" || task.state == "failed" || task.state == "complete" {
            status["ContainerStatus"] = .object(["ContainerID": .string("c" + task.id), "PID": .number(4242),
                                                 "ExitCode": .number(task.state == "failed" ? 1 : 0)])
        }
        var fields: [String: JSONValue] = [
            "ID": .string(task.id), "Version": .object(["Index": .number(Double(task.index))]),
            "CreatedAt": .string(task.createdAt), "UpdatedAt": .string(now()), "Spec": task.spec,
            "ServiceID": .string(task.serviceID), "NodeID": .string("node1"), "Status": .object(status),
            "DesiredState": .string(task.desiredState),
        ]
        if let slot = task.slot { fields["Slot"] = .number(Double(slot)) }
        return .object(fields)
    }

    func pull(_ request: Request) -> Response {
        let query = request.uri.queryParameters
        let image = (query.get("fromImage") ?? "") + ":" + (query.get("tag") ?? "latest")
        let (missing, failure) = state.withLock { ($0.missingImages.contains(image), $0.pullErrors[image]) }
        if missing {
            return Self.error(.notFound, "pull access denied for \(query.get("fromImage") ?? ""), repository does not "
                + "exist or may require 'docker login': denied: requested access to the resource is denied")
        }
        var lines: [JSONValue] = [
            .object(["status": .string("Pulling from \(query.get("fromImage") ?? "")"), "id": .string(query.get("tag") ?? "")]),
            .object(["status": .string("Downloading"), "progressDetail": .object(["current": .number(512), "total": .number(1024)]),
                     "progress": .string("[=========================>     ]     512B/1.024kB"), "id": .string("a1b2c3")]),
        ]
        if let failure {
            lines.append(.object(["errorDetail": .object(["message": .string(failure)]), "error": .string(failure)]))
        } else {
            lines.append(.object(["status": .string("Digest: sha256:" + String(repeating: "ab", count: 32))]))
            lines.append(.object(["status": .string("Status: Downloaded newer image for \(image)")]))
        }
        let encoded = lines.map { (try? JSONEncoder().encode($0)).map { String(decoding: $0, as: UTF8.self) } ?? "" }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init { writer in
            for line in encoded {
                // Cut each line in two writes, as a slow registry's progress arrives.
                let cut = line.index(line.startIndex, offsetBy: line.count / 2)
                try await writer.write(ByteBuffer(string: String(line[..<cut])))
                try await writer.write(ByteBuffer(string: String(line[cut...]) + "\r\n"))
            }
            try await writer.finish(nil)
        })
    }

    func logs(_ id: String, _ request: Request) -> Response {
        let query = request.uri.queryParameters
        guard let service = state.withLock({ $0.services.values.first { $0.id == id || $0.name == id } }) else {
            return Self.error(.notFound, "service \(id) not found")
        }
        let follow = query.get("follow") == "1" || query.get("follow") == "true"
        let timestamps = query.get("timestamps") == "1", details = query.get("details") == "1"
        let streams: Set<UInt8> = Set([query.get("stdout") == "1" ? 1 : 0, query.get("stderr") == "1" ? 2 : 0])
        return Response(status: .ok, headers: [.contentType: "application/vnd.docker.multiplexed-stream"], body: .init { writer in
            var sent = 0
            while true {
                let (lines, chunk, gone) = self.state.withLock { state in
                    (Array(state.logs[service.name, default: []].dropFirst(sent)), state.logChunkSize,
                     state.services[service.id] == nil)
                }
                sent += lines.count
                for line in lines where streams.contains(line.stream) {
                    var text = line.text + "\n"
                    if details {
                        text = "com.docker.swarm.node.id=node1,com.docker.swarm.service.id=\(service.id),"
                            + "com.docker.swarm.task.id=\(line.taskID) " + text
                    }
                    if timestamps { text = Self.nanoTimestamp() + " " + text }
                    let frame = Self.frame(stream: line.stream, Array(text.utf8))
                    let size = chunk > 0 ? chunk : frame.count
                    for start in stride(from: 0, to: frame.count, by: size) {
                        try await writer.write(ByteBuffer(bytes: frame[start..<min(start + size, frame.count)]))
                        if chunk > 0 { try await Task.sleep(for: .milliseconds(2)) }
                    }
                }
                guard follow, !gone else { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            try await writer.finish(nil)
        })
    }

    /// The 8-byte header (stream, three zeros, big-endian length) and the payload.
    static func frame(stream: UInt8, _ payload: [UInt8]) -> [UInt8] {
        let n = UInt32(payload.count)
        return [stream, 0, 0, 0, UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + payload
    }

    /// RFC 3339 with nanoseconds, as the Engine timestamps log lines.
    static func nanoTimestamp() -> String {
        let millis = RFC3339.format(Date(), fractionDigits: 6)
        return millis.dropLast() + "123Z"
    }
}
