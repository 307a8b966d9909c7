import FlukeCrypto
import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird
import NIOCore

/// A project's GitHub repository: linking it imports its open issues as tasks, kept in step by
/// the sync and by GitHub's `issues` webhooks.
extension PMRoutes {
    func registerRepository(_ routes: inout RouteRecorder) {
        routes.on(.put, "/api/v1/projects/{project_id}/repository") { request, context in
            let principal = try context.principal(requiring: .admin)
            let project = try Parameters.uuid(context, "project_id")
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["connection_id", "full_name"])
            let fullName = try Self.fullName(try fields.string("full_name", required: true, maxLength: 201)!)
            let (connection, _, token) = try await githubAccess.token(try fields.uuid("connection_id", required: true)!, tenant: principal.tenantID)
            let repository: JSONValue
            do throws(GitHubAPI.Failure) {
                repository = try await github.object("/repos/" + fullName, token: token, connection: connection)
            } catch .notFound {
                throw PMError.invalid(field: "full_name", "GitHub has no repository \(fullName) that the connection's token can see")
            } catch {
                throw try await githubProblem(error, connection: connection, principal)
            }
            guard case .number(let id)? = repository["id"], let name = repository["full_name"]?.stringValue else {
                throw PMError.upstream("GitHub's answer for \(fullName) has no id or full_name")
            }
            let link = try await repositories.link(project, connection: connection, fullName: name, githubID: Int(id),
                                                   htmlURL: repository["html_url"]?.stringValue, principal, requestID: context.requestID)
            issueSync.wake.signal()
            return link
        }
        routes.on(.get, "/api/v1/projects/{project_id}/repository") { _, context in
            try await repositories.get(try Parameters.uuid(context, "project_id"), try context.principal(requiring: .contextRead))
        }
        routes.on(.delete, "/api/v1/projects/{project_id}/repository") { _, context in
            let principal = try context.principal(requiring: .admin)
            try await repositories.unlink(try Parameters.uuid(context, "project_id"), principal, requestID: context.requestID)
            return Response(status: .noContent)
        }
        routes.on(.post, RepositoryStore.webhookPath) { request, context in
            try await githubWebhook(request, context)
        }
    }

    /// `owner/repo`, each part as GitHub allows it.
    static func fullName(_ raw: String) throws -> String {
        let parts = raw.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ part in
            (1...100).contains(part.count) && part != "." && part != ".."
                && part.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0)) }
        }) else { throw PMError.invalid(field: "full_name", "must be owner/repo: letters, digits, -, _ and .") }
        return raw
    }

    /// GitHub's webhook: `X-Hub-Signature-256` must be the HMAC-SHA256 of the body under the
    /// secret of a link to the payload's repository (compared in constant time), else 401 and
    /// nothing changes. `issues` events update that link's project's task; `ping` answers 200;
    /// other events are acknowledged (202) and ignored.
    func githubWebhook(_ request: Request, _ context: FleetRequestContext) async throws -> Response {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: 1 << 20)
        } catch {
            throw Problem(.contentTooLarge, detail: "a webhook payload is at most 1 MiB")
        }
        guard let event = request.headers[.init("X-GitHub-Event")!], !event.isEmpty, event.utf8.count <= 100 else {
            throw PMError.invalid(field: "X-GitHub-Event", "is required (GitHub's event name)")
        }
        let signature = request.headers[.init("X-Hub-Signature-256")!] ?? ""
        guard signature.hasPrefix("sha256="), let digest = Self.hexBytes(signature.dropFirst(7)), digest.count == 32 else {
            throw Problem(.unauthorized, "Invalid signature", detail: "X-Hub-Signature-256 must be sha256=<64 hex digits>", field: "X-Hub-Signature-256")
        }
        let bytes = Array(body.readableBytesView)
        guard let payload = try? JSONValue(parsing: Data(bytes)), case .number(let repositoryID)? = payload["repository"]?["id"] else {
            throw PMError.invalid(field: "repository", "the payload must be JSON naming its repository (repository.id)")
        }
        let targets = try await repositories.webhookTargets(githubID: Int(repositoryID)).filter { target in
            Crypto.constantTimeEquals(Crypto.hmacSHA256(key: Array(target.secret.utf8), message: bytes), digest)
        }
        guard !targets.isEmpty else {
            throw Problem(.unauthorized, "Invalid signature", detail: "X-Hub-Signature-256 matches no link to this repository",
                          field: "X-Hub-Signature-256")
        }
        switch event {
        case "ping":
            return try Self.json(.ok, .object(["ok": .bool(true), "projects": .number(Double(targets.count))]))
        case "issues":
            guard let issueJSON = payload["issue"] else { throw PMError.invalid(field: "issue", "an issues event names its issue") }
            // A pull request's events come as pull_request; an issue payload that is one is left alone.
            guard var issue = GitHubIssue(issueJSON) else { return try Self.json(.accepted, .object(["ignored": .string("not an issue")])) }
            if payload["action"]?.stringValue == "deleted" { issue.open = false }
            var applied = 0
            for target in targets {
                let result = try await work.applyIssues([issue], openSet: false, tenant: target.link.tenant, project: target.link.project)
                applied += result.created + result.updated + result.closed
            }
            return try Self.json(.ok, .object(["ok": .bool(true), "changed": .number(Double(applied))]))
        default:
            return try Self.json(.accepted, .object(["ignored": .string(event)]))
        }
    }

    static func json(_ status: HTTPResponse.Status, _ value: JSONValue) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: value.jsonText)))
    }

    static func hexBytes(_ text: Substring) -> [UInt8]? {
        guard text.utf8.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            out.append(byte)
            index = next
        }
        return out
    }
}
