/// The OpenAPI 3.1 document of webhook-dispatcher, served at `/openapi.json`.
enum WebhookOpenAPI {
    static let document = """
    {"openapi":"3.1.0","info":{"title":"webhook-dispatcher","version":"1.0.0"},"paths":{}}
    """
}
