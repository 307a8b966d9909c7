/// context-api's OpenAPI 3.1 document, served at `/openapi.json`.
enum ContextOpenAPI {
    static let document = """
    {"openapi":"3.1.0","info":{"title":"context-api","version":"1.0.0"},"paths":{}}
    """
}
