import FlukeModels
import Foundation

/// A call the fleet refused, or could not be made: the server's RFC 9457 problem when it sent
/// one (`title`, `detail`, and `field` naming the offending input), the status (0 when no answer).
public struct FlukeClientError: Error, Sendable, Equatable, CustomStringConvertible {
    public var service: FleetService?
    public var status: Int
    public var title: String
    public var detail: String
    public var field: String?
    /// The problem document as the server sent it (null when there was none).
    public var problem: JSONValue

    public init(service: FleetService?, status: Int, title: String, detail: String, field: String? = nil) {
        self.service = service
        self.status = status
        self.title = title
        self.detail = detail
        self.field = field
        problem = .null
    }

    /// From a refusal's body: a problem document, or whatever text came.
    init(service: FleetService, status: Int, problem body: Data) {
        self.service = service
        self.status = status
        let document = (try? JSONValue(parsing: body)) ?? .null
        problem = document
        title = document["title"]?.stringValue ?? "HTTP \(status)"
        let text = String(decoding: body.prefix(500), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        detail = document["detail"]?.stringValue ?? (text.isEmpty ? "\(service.name) answered \(status)" : text)
        field = document["field"]?.stringValue
    }

    /// One line: the field first when the server named one.
    public var description: String {
        var line = field.map { "\($0): " } ?? ""
        line += detail
        if status > 0 { line += " (\(service?.name ?? "fleet") \(status) \(title))" }
        return line
    }
}
