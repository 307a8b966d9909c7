/// federation's OpenAPI 3.1 document, served at `/openapi.json`. A test checks that its paths
/// and methods are exactly the routes the service serves.
enum FederationOpenAPI {
    static let document = #"""
{
  "openapi": "3.1.0",
  "info": {
    "title": "FlukeBase Fleet — federation",
    "version": "1.0.0",
    "description": "The project catalog with live ONLINE/OFFLINE status from NATS heartbeats on fluke.federation.heartbeat.<slug>. Status changes are published as CloudEvents federation.project.online and federation.project.offline on fluke.events.<type>."
  },
  "servers": [{"url": "http://127.0.0.1:8001"}],
  "security": [{"apiKey": []}],
  "paths": {
    "/health": {
      "get": {
        "summary": "Liveness", "operationId": "health", "security": [],
        "responses": {"200": {"description": "The process is alive", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}}}
      }
    },
    "/ready": {
      "get": {
        "summary": "Readiness: Postgres and NATS reachable", "operationId": "ready", "security": [],
        "responses": {
          "200": {"description": "Ready", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
          "503": {"$ref": "#/components/responses/NotReady"}
        }
      }
    },
    "/metrics": {
      "get": {
        "summary": "Prometheus metrics", "operationId": "metrics", "security": [],
        "responses": {"200": {"description": "Prometheus text format 0.0.4", "content": {"text/plain": {"schema": {"type": "string"}}}}}
      }
    },
    "/openapi.json": {
      "get": {
        "summary": "This document", "operationId": "openapi", "security": [],
        "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}}
      }
    },
    "/api/fed/projects": {
      "get": {
        "summary": "List catalogued projects with their status", "operationId": "listProjects",
        "parameters": [
          {"name": "status", "in": "query", "schema": {"$ref": "#/components/schemas/Status"}},
          {"name": "tag", "in": "query", "schema": {"type": "string"}},
          {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}},
          {"name": "cursor", "in": "query", "description": "next_cursor of the previous page", "schema": {"type": "string"}}
        ],
        "responses": {
          "200": {"description": "A page of projects, ordered by slug", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ProjectPage"}}}},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "422": {"$ref": "#/components/responses/Invalid"}
        }
      }
    },
    "/api/fed/projects/{slug}": {
      "get": {
        "summary": "One project, with its recent status history", "operationId": "getProject",
        "parameters": [{"name": "slug", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"}}],
        "responses": {
          "200": {"description": "The project", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ProjectDetail"}}}},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "404": {"$ref": "#/components/responses/NotFound"}
        }
      }
    },
    "/api/fed/stats": {
      "get": {
        "summary": "Counts of catalogued projects by status", "operationId": "stats",
        "responses": {
          "200": {"description": "Counts", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Stats"}}}},
          "401": {"$ref": "#/components/responses/Unauthorized"}
        }
      }
    }
  },
  "components": {
    "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
    "responses": {
      "Unauthorized": {"description": "Missing or wrong X-API-Key", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
      "NotFound": {"description": "No such project", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
      "Invalid": {"description": "A query parameter is invalid (named in field), a control character in one included", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
      "NotReady": {"description": "Postgres or NATS is down (named in down)", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    },
    "schemas": {
      "Health": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}, "postgres": {"type": "string"}, "nats": {"type": "string"}}},
      "Status": {"type": "string", "enum": ["UNKNOWN", "ONLINE", "OFFLINE"]},
      "Problem": {
        "type": "object", "description": "RFC 9457 problem details",
        "required": ["type", "title", "status"],
        "properties": {
          "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
          "detail": {"type": "string"}, "instance": {"type": "string"}, "field": {"type": "string"},
          "request_id": {"type": "string"}, "down": {"type": "array", "items": {"type": "string"}}
        }
      },
      "Instance": {
        "type": "object", "required": ["instance_id", "version", "last_heartbeat_at"],
        "properties": {
          "instance_id": {"type": "string"}, "version": {"type": "string"},
          "last_heartbeat_at": {"type": "string", "format": "date-time"}, "metadata": {"type": "object"}
        }
      },
      "StatusChange": {
        "type": "object", "required": ["from", "to", "at", "reason"],
        "properties": {"from": {"$ref": "#/components/schemas/Status"}, "to": {"$ref": "#/components/schemas/Status"}, "at": {"type": "string", "format": "date-time"}, "reason": {"type": "string"}}
      },
      "Project": {
        "type": "object", "required": ["slug", "name", "status", "tags", "instances"],
        "properties": {
          "slug": {"type": "string"}, "name": {"type": "string"}, "description": {"type": "string"},
          "owner": {"type": "string"}, "repository": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}},
          "project_id": {"type": "string", "format": "uuid"}, "status": {"$ref": "#/components/schemas/Status"},
          "status_changed_at": {"type": "string", "format": "date-time"},
          "last_heartbeat_at": {"type": "string", "format": "date-time"},
          "instances": {"type": "array", "description": "instances heard from within the heartbeat TTL", "items": {"$ref": "#/components/schemas/Instance"}}
        }
      },
      "ProjectDetail": {
        "allOf": [{"$ref": "#/components/schemas/Project"}, {"type": "object", "required": ["history"], "properties": {"history": {"type": "array", "description": "newest first, at most 50", "items": {"$ref": "#/components/schemas/StatusChange"}}}}]
      },
      "ProjectPage": {
        "type": "object", "required": ["items", "next_cursor"],
        "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Project"}}, "next_cursor": {"type": ["string", "null"]}}
      },
      "Stats": {
        "type": "object", "required": ["total", "by_status"],
        "properties": {"total": {"type": "integer"}, "by_status": {"type": "object", "additionalProperties": {"type": "integer"}}}
      }
    }
  }
}
"""#
}
