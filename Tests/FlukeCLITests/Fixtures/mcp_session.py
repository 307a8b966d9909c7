"""Drives `fluke mcp` over stdio with the MCP Python SDK (PyPI `mcp`), as an agent would.

Usage: mcp_session.py FLUKE_BINARY SCENARIO [ARGS...] runs `fluke mcp ARGS` on stdio, the fleet's
URLs and token from the environment; mcp_session.py http://HOST:PORT/mcp SCENARIO talks Streamable
HTTP to a running `fluke mcp --http`, sending FLUKE_TOKEN as its bearer token. Prints one JSON
object with what the session saw, for the Swift test to check.
"""
import asyncio
import json
import os
import sys
import uuid

from mcp import ClientSession, StdioServerParameters, types
from mcp.shared.exceptions import McpError
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamablehttp_client


async def call(session, name, args):
    """A tool call's result as data, or the JSON-RPC error it raised."""
    try:
        result = await session.call_tool(name, args)
    except McpError as error:
        return {"rpc_error": error.error.code, "message": error.error.message}
    return {"is_error": bool(result.isError), "structured": result.structuredContent,
            "text": [c.text for c in result.content if getattr(c, "type", "") == "text"]}


async def main():
    target, scenario, *extra = sys.argv[1:]
    updates = []

    async def on_message(message):
        if isinstance(message, types.ServerNotification) and isinstance(message.root, types.ResourceUpdatedNotification):
            updates.append(str(message.root.params.uri))

    if target.startswith("http"):
        headers = {"Authorization": "Bearer " + os.environ["FLUKE_TOKEN"]}
        async with streamablehttp_client(target, headers=headers) as (read, write, _):
            async with ClientSession(read, write, message_handler=on_message) as session:
                out = await run(session, scenario, updates)
    else:
        params = StdioServerParameters(command=target, args=["mcp", *extra], env=dict(os.environ))
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write, message_handler=on_message) as session:
                out = await run(session, scenario, updates)
    print(json.dumps(out))


async def run(session, scenario, updates):
    out = {}
    init = await session.initialize()
    out["protocol"] = init.protocolVersion
    tools = (await session.list_tools()).tools
    out["tools"] = sorted(t.name for t in tools)
    out["annotations"] = {t.name: {"read_only": t.annotations.readOnlyHint if t.annotations else None,
                                   "destructive": t.annotations.destructiveHint if t.annotations else None,
                                   "has_output_schema": t.outputSchema is not None} for t in tools}
    if scenario == "catalog":
        out["catalog"] = await call(session, "catalog", {})
        out["status"] = await call(session, "project_status", {})
        out["overview"] = await call(session, "tenant_overview", {})
    elif scenario == "full":
        resources = (await session.list_resources()).resources
        out["resources"] = [str(r.uri) for r in resources]
        uri = resources[0].uri
        read_back = await session.read_resource(uri)
        out["resource_text"] = json.loads(read_back.contents[0].text)
        await session.subscribe_resource(uri)
        out["context"] = await call(session, "get_project_context", {})
        out["projects"] = await call(session, "list_projects", {})
        out["status"] = await call(session, "project_status", {})
        out["task"] = await call(session, "create_task", {"title": "Write the release notes", "labels": ["docs"]})
        task_id = (out["task"].get("structured") or {}).get("id")
        out["task_updated"] = await call(session, "update_task", {"task_id": task_id, "status": "in_progress"})
        out["tasks"] = await call(session, "list_tasks", {"status": "in_progress"})
        external = str(uuid.uuid4())
        memory = {"content": "The API answers problem+json", "memory_type": "fact",
                  "tags": ["api"], "external_id": external}
        out["saved"] = await call(session, "save_memory", memory)
        out["saved_again"] = await call(session, "save_memory", memory)
        out["found"] = await call(session, "search_memories", {"query": "problem+json"})
        memory_id = (out["saved"].get("structured") or {}).get("id")
        out["delete_unconfirmed"] = await call(session, "delete_memory", {"memory_id": memory_id})
        out["found_after_unconfirmed"] = await call(session, "search_memories", {"query": "problem+json"})
        out["list_env"] = await call(session, "list_env", {})
        out["unknown_tool"] = await call(session, "no_such_tool", {})
        out["missing_argument"] = await call(session, "save_memory", {"memory_type": "fact"})
        out["unknown_argument"] = await call(session, "search_memories", {"qurey": "typo"})
        out["api_refusal"] = await call(session, "save_memory", {"content": "x", "memory_type": "not-a-type"})
        out["delete_confirmed"] = await call(session, "delete_memory", {"memory_id": memory_id, "confirm": True})
        out["found_after_delete"] = await call(session, "search_memories", {"query": "problem+json"})
        # The memories saved above changed the context: a notification names its resource.
        for _ in range(100):
            if updates:
                break
            await asyncio.sleep(0.1)
        out["updates"] = list(updates)
    elif scenario == "deploy":
        app, git = os.environ["DEPLOY_APP"], os.environ["DEPLOY_GIT"]
        out["validate"] = await call(session, "deploy_validate", {"app_name": app, "source_git": git})
        queued = await call(session, "deploy_app", {"app_name": app, "source_git": git})
        out["queued"] = queued
        deployment = (queued.get("structured") or {}).get("deployment_id") or (queued.get("structured") or {}).get("id")
        out["final"] = await until_done(session, deployment)
        out["logs_page"] = await call(session, "deploy_logs", {"deployment_id": deployment, "lines": 3})
        cursor = (out["logs_page"].get("structured") or {}).get("next_cursor")
        out["logs_next"] = await call(session, "deploy_logs", {"deployment_id": deployment, "lines": 500, "cursor": cursor})
        end = (out["logs_next"].get("structured") or {}).get("next_cursor")
        started = asyncio.get_running_loop().time()
        out["logs_follow"] = await call(session, "deploy_logs", {"deployment_id": deployment, "cursor": end,
                                                                  "follow": True, "wait_seconds": 2})
        out["follow_seconds"] = asyncio.get_running_loop().time() - started
        out["history"] = await call(session, "deploy_history", {"app_name": app})
        out["query_logs"] = await call(session, "query_logs", {"app_name": app, "deployment_id": deployment, "limit": 2})
        out["rollback_unconfirmed"] = await call(session, "deploy_rollback", {"app_name": app})
        out["history_after_unconfirmed"] = await call(session, "deploy_history", {"app_name": app})
        rolled = await call(session, "deploy_rollback", {"app_name": app, "confirm": True})
        out["rollback"] = rolled
        rollback_id = (rolled.get("structured") or {}).get("deployment_id") or (rolled.get("structured") or {}).get("id")
        out["rollback_final"] = await until_done(session, rollback_id)
    return out


async def until_done(session, deployment):
    """deploy_status until the deployment ends (at most 120 s)."""
    for _ in range(240):
        status = await call(session, "deploy_status", {"deployment_id": deployment})
        state = (status.get("structured") or {}).get("status")
        if state in ("success", "failed", "rolled_back", "cancelled"):
            return status
        await asyncio.sleep(0.5)
    return status


asyncio.run(main())
