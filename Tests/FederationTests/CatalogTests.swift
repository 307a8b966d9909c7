@testable import Federation
import Testing

@Suite("catalog validation")
struct CatalogTests {
    func error(_ yaml: String) -> String? {
        do {
            _ = try CatalogLoader.parse(yaml, file: "cat.yaml")
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test("a valid catalog parses with every field")
    func valid() throws {
        let projects = try CatalogLoader.parse("""
            projects:
              - slug: a-1
                name: A
                description: d
                owner: team
                repository: https://example.invalid/a.git
                tags: [x, y]
                project_id: 6F1C2A1E-9A8B-4C3D-8E7F-0A1B2C3D4E5F
            """, file: "cat.yaml")
        #expect(projects == [CatalogProject(slug: "a-1", name: "A", description: "d", owner: "team",
                                            repository: "https://example.invalid/a.git", tags: ["x", "y"],
                                            projectID: "6f1c2a1e-9a8b-4c3d-8e7f-0a1b2c3d4e5f")])
    }

    @Test("each rule names the file, the entry and the field", arguments: [
        ("projects:\n  - name: A\n", "catalog cat.yaml: projects[0]: field slug: is required"),
        ("projects:\n  - slug: -a\n    name: A\n", "field slug: must match"),
        ("projects:\n  - slug: a\n    name: A\n  - slug: a\n    name: B\n", "projects[1] (slug \"a\"): field slug: duplicates projects[0]"),
        ("projects:\n  - slug: a\n    name: A\n    repository: not a url\n", "field repository"),
        ("projects:\n  - slug: a\n    name: A\n    project_id: 12\n", "field project_id"),
        ("projects:\n  - slug: a\n    name: A\n    colour: red\n", "field colour: unknown field"),
        ("projects:\n  - slug: a\n    name: \"\"\n", "field name: must not be empty"),
        ("projects:\n  - slug: a\n    name: A\n    tags: [\"\"]\n", "field tags[0]"),
        ("project: []\n", "field project: unknown top-level field"),
        ("projects: [\n", "is not valid YAML"),
    ])
    func invalid(yaml: String, expected: String) {
        let message = error(yaml)
        #expect(message?.contains(expected) == true, "\(message ?? "no error")")
    }
}
