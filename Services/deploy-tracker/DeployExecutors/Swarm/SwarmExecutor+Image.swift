import AsyncHTTPClient
import Foundation
import NIOCore

extension SwarmExecutor {
    /// `POST /images/create`: the Engine answers 200 at once and streams one JSON object per
    /// line; a failed pull is a line with `error`/`errorDetail`, not an error status.
    func pull(_ image: ImageReference, log: DeployLog) async throws {
        let body: HTTPClientResponseBody
        do {
            body = try await engine.stream(.POST, "/images/create",
                                           query: [("fromImage", image.name), ("tag", image.pullTag)])
        } catch let error as DockerEngineError {
            throw DeployFailure(.build, "pulling \(image.name):\(image.pullTag): \(error.message)")
        } catch let failure as DeployFailure {
            throw DeployFailure(.build, failure.message)
        }
        var lines = LineSplitter()
        for try await chunk in body {
            for line in lines.append(chunk) { try await report(line, image: image, log: log) }
        }
        if let last = lines.finish() { try await report(last, image: image, log: log) }
    }

    private func report(_ line: String, image: ImageReference, log: DeployLog) async throws {
        guard let progress = try? JSONDecoder().decode(DockerEngine.PullProgress.self, from: Data(line.utf8)) else { return }
        if let message = progress.errorDetail?.message ?? progress.error {
            await log.error("pull of \(image.name) failed: \(message)", .buildError)
            throw DeployFailure(.build, "pulling \(image.name):\(image.pullTag): \(message)")
        }
        // Per-layer byte counts would be hundreds of lines: only the steps are kept.
        if let status = progress.status, progress.progress == nil {
            await log.output([progress.id, status].compactMap { $0 }.joined(separator: ": "), "stdout")
        }
    }
}

/// Splits a byte stream into lines, keeping a line cut across chunks until its end arrives.
struct LineSplitter {
    private var pending: [UInt8] = []

    mutating func append(_ chunk: ByteBuffer) -> [String] {
        pending.append(contentsOf: chunk.readableBytesView)
        var lines: [String] = []
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            var line = pending[..<newline]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            if !line.isEmpty { lines.append(String(decoding: line, as: UTF8.self)) }
            pending.removeSubrange(...newline)
        }
        return lines
    }

    mutating func finish() -> String? {
        defer { pending = [] }
        return pending.isEmpty ? nil : String(decoding: pending, as: UTF8.self)
    }
}
