import FlukeTestSupport
import Foundation

/// Verifies Standard Webhooks signatures with the reference implementation (PyPI
/// `standardwebhooks`, installed into .venv by `make test`).
enum ReferenceVerifier {
    static var python: String {
        ProcessInfo.processInfo.environment["FLUKE_TEST_PYTHON"]
            ?? TestEnvironment.repositoryRoot.appendingPathComponent(".venv/bin/python").path
    }

    /// Whether `standardwebhooks.Webhook(secret).verify(body, headers)` accepts each request.
    static func verify(_ requests: [Received], secret: String) throws -> [Bool] {
        let script = """
        import json, sys
        from standardwebhooks.webhooks import Webhook
        secret = sys.argv[1]
        out = []
        for item in json.load(sys.stdin):
            try:
                Webhook(secret).verify(item["body"].encode(), item["headers"])
                out.append(True)
            except Exception as e:
                print(repr(e), file=sys.stderr)
                out.append(False)
        print(json.dumps(out))
        """
        let input = try JSONSerialization.data(withJSONObject: requests.map { r in
            ["body": String(decoding: r.body, as: UTF8.self), "headers": r.headers] as [String: Any]
        })
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script, secret]
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(input)
        try stdin.fileHandleForWriting.close()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let result = try JSONSerialization.jsonObject(with: out) as? [Bool] else {
            throw TestFailure("standardwebhooks failed: \(String(decoding: err, as: UTF8.self))")
        }
        return result
    }
}
