import Foundation
import Yams

/// One project of the federation catalog, as written in `FEDERATION_CATALOG`.
public struct CatalogProject: Codable, Sendable, Equatable {
    public var slug: String
    public var name: String
    public var description: String?
    public var owner: String?
    public var repository: String?
    public var tags: [String]
    public var projectID: String?

    enum CodingKeys: String, CodingKey {
        case slug, name, description, owner, repository, tags
        case projectID = "project_id"
    }
}

/// Why a catalog file was refused: names the file, the entry and the field.
public struct CatalogError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var entry: String?
    public var field: String?
    public var problem: String

    public var description: String {
        var parts = ["catalog \(file)"]
        if let entry { parts.append(entry) }
        if let field { parts.append("field \(field)") }
        return parts.joined(separator: ": ") + ": " + problem
    }
}

/// Loads and validates the catalog. Validation fails fast on the first problem found.
public enum CatalogLoader {
    /// The slug rule shared by the catalog and heartbeat subjects.
    public static func isValidSlug(_ slug: String) -> Bool {
        let u = Array(slug.utf8)
        guard (1...63).contains(u.count) else { return false }
        func alnum(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) }
        return alnum(u[0]) && u.dropFirst().allSatisfy { alnum($0) || $0 == 0x2D }
    }

    public static func load(path: String) throws -> [CatalogProject] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw CatalogError(file: path, problem: "cannot be read (\(error.localizedDescription))")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws -> [CatalogProject] {
        let root: Any?
        do {
            root = try Yams.load(yaml: text)
        } catch {
            throw CatalogError(file: file, problem: "is not valid YAML (\(error))")
        }
        guard let document = root as? [String: Any] else {
            throw CatalogError(file: file, field: "projects", problem: "the file must be a mapping with a projects list")
        }
        for key in document.keys where key != "projects" {
            throw CatalogError(file: file, field: key, problem: "unknown top-level field")
        }
        guard let list = document["projects"] as? [Any] else {
            throw CatalogError(file: file, field: "projects", problem: "must be a list of projects")
        }
        var projects: [CatalogProject] = []
        var seen: [String: Int] = [:]
        for (index, item) in list.enumerated() {
            var entry = "projects[\(index)]"
            func fail(_ field: String?, _ problem: String) -> CatalogError {
                CatalogError(file: file, entry: entry, field: field, problem: problem)
            }
            guard let map = item as? [String: Any] else { throw fail(nil, "must be a mapping") }
            let known: Set<String> = ["slug", "name", "description", "owner", "repository", "tags", "project_id"]
            if let unknown = map.keys.sorted().first(where: { !known.contains($0) }) {
                throw fail(unknown, "unknown field (allowed: \(known.sorted().joined(separator: ", ")))")
            }
            func string(_ field: String, required: Bool, max: Int) throws -> String? {
                guard let raw = map[field], !(raw is NSNull) else {
                    if required { throw fail(field, "is required") }
                    return nil
                }
                guard let value = raw as? String else { throw fail(field, "must be a string") }
                if required && value.trimmingCharacters(in: .whitespaces).isEmpty { throw fail(field, "must not be empty") }
                if value.count > max { throw fail(field, "must be at most \(max) characters") }
                return value
            }
            let slug = try string("slug", required: true, max: 63)!
            entry += " (slug \"\(slug)\")"
            guard isValidSlug(slug) else { throw fail("slug", "must match ^[a-z0-9][a-z0-9-]{0,62}$") }
            if let first = seen[slug] { throw fail("slug", "duplicates projects[\(first)]") }
            seen[slug] = index
            let name = try string("name", required: true, max: 200)!
            let description = try string("description", required: false, max: 2000)
            let owner = try string("owner", required: false, max: 200)
            let repository = try string("repository", required: false, max: 2000)
            if let repository, !isWellFormedURL(repository) {
                throw fail("repository", "must be an absolute http(s), ssh or git URL")
            }
            var tags: [String] = []
            if let raw = map["tags"], !(raw is NSNull) {
                guard let list = raw as? [Any] else { throw fail("tags", "must be a list of strings") }
                for (i, tag) in list.enumerated() {
                    guard let t = tag as? String, !t.isEmpty, t.count <= 64 else {
                        throw fail("tags[\(i)]", "must be a non-empty string of at most 64 characters")
                    }
                    tags.append(t)
                }
            }
            var projectID = try string("project_id", required: false, max: 36)
            if let id = projectID {
                guard let uuid = UUID(uuidString: id) else { throw fail("project_id", "must be a UUID") }
                projectID = uuid.uuidString.lowercased()
            }
            projects.append(CatalogProject(slug: slug, name: name, description: description, owner: owner,
                                           repository: repository, tags: tags, projectID: projectID))
        }
        return projects
    }

    static func isWellFormedURL(_ text: String) -> Bool {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(),
              ["http", "https", "ssh", "git"].contains(scheme), let host = url.host, !host.isEmpty,
              !host.contains(" ") else { return false }
        return true
    }
}
