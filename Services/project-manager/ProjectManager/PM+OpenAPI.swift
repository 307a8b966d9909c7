/// project-manager's OpenAPI 3.1 document, served at `/openapi.json`.
enum PMOpenAPI {
    static let document = """
    {"openapi":"3.1.0","info":{"title":"project-manager","version":"1.0.0"},"paths":{}}
    """
}
