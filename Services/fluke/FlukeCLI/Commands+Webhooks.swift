import ArgumentParser
import FlukeClient
import FlukeModels
import Foundation

struct Webhooks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Webhook subscriptions and their deliveries.",
        discussion: """
            Examples:
              fluke webhooks create https://hooks.example.com/fluke --event 'deploy.*' --event task.updated -p <id>
              fluke webhooks deliveries <subscription-id>
              fluke webhooks retry <delivery-id>
              fluke webhooks recover <subscription-id> --since 2026-12-01T00:00:00Z
            """,
        subcommands: [List.self, Create.self, Remove.self, Rotate.self, Test.self, Deliveries.self, Retry.self, Recover.self],
        defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Your webhook subscriptions.",
                                                        discussion: "Example: fluke webhooks list")
        @OptionGroup var options: GlobalOptions
        func run() async throws {
            try await withClient(options) { client in
                Output.show(try await client.listWebhooks(), json: options.json) {
                    Output.table(Output.items($0), [("id", "id"), ("url", "callback_url"), ("events", "events"),
                                                    ("enabled", "enabled"), ("failing since", "failing_since")])
                }
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Subscribe a URL; its signing secret is printed once.",
            discussion: "Example: fluke webhooks create https://hooks.example.com/fluke --event \"deploy.*\" --event task.updated")
        @OptionGroup var options: GlobalOptions
        @OptionGroup var project: ProjectOption
        @Argument(help: "The https URL to deliver to.") var url: String
        @Option(name: .customLong("event"), help: "An event type or pattern, e.g. deploy.* (repeat).") var events: [String] = []
        @Option(help: "What it is for.") var description: String?

        func run() async throws {
            var fields: [String: JSONValue] = ["callback_url": .string(url), "events": .array(events.map { .string($0) })]
            if let project = project.resolved { fields["project_id"] = .string(project) }
            if let description { fields["description"] = .string(description) }
            try await withClient(options) { client in
                Output.show(try await client.createWebhook(fields), json: options.json) {
                    Output.fields($0, [("id", "id"), ("url", "callback_url"), ("events", "events"), ("secret", "secret")])
                    Output.write("The secret is shown only now: verify deliveries with it (Standard Webhooks).")
                }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete a subscription.",
            discussion: "Example: fluke webhooks rm 7d3c…")
        @OptionGroup var options: GlobalOptions
        @Argument var id: String
        func run() async throws {
            try await withClient(options) { client in
                try await client.deleteWebhook(id)
                Output.write("Removed \(id).")
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rotate-secret", abstract: "A new signing secret, printed once.",
            discussion: "Example: fluke webhooks rotate-secret 7d3c…")
        @OptionGroup var options: GlobalOptions
        @Argument var id: String
        func run() async throws {
            try await withClient(options) { client in
                Output.show(try await client.rotateWebhookSecret(id), json: options.json) {
                    Output.fields($0, [("id", "id"), ("secret", "secret")])
                }
            }
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send a test event now.",
            discussion: "Example: fluke webhooks test 7d3c…")
        @OptionGroup var options: GlobalOptions
        @Argument var id: String
        func run() async throws {
            try await withClient(options) { client in
                Output.show(try await client.testWebhook(id), json: options.json) {
                    Output.fields($0, [("delivery", "id"), ("status", "status"), ("code", "last_status_code"), ("error", "last_error")])
                }
            }
        }
    }

    struct Deliveries: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A subscription's deliveries, newest first.",
            discussion: "Example: fluke webhooks deliveries 7d3c… --json | jq '.items[] | select(.status == \"failed\")'")
        @OptionGroup var options: GlobalOptions
        @Argument var id: String
        @Option(help: "Continue from a page's next_cursor.") var cursor: String?
        func run() async throws {
            try await withClient(options) { client in
                Output.show(try await client.webhookDeliveries(id, cursor: cursor), json: options.json) { page in
                    Output.table(Output.items(page), [("id", "id"), ("event", "event_type"), ("status", "status"),
                                                      ("attempts", "attempts"), ("code", "last_status_code"), ("created", "created_at")])
                    if let next = page["next_cursor"]?.stringValue { Output.write("more: --cursor \(next)") }
                }
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send one delivery again.",
            discussion: "Example: fluke webhooks retry 2e9b…")
        @OptionGroup var options: GlobalOptions
        @Argument var id: String
        func run() async throws {
            try await withClient(options) { client in
                Output.show(try await client.retryDelivery(id), json: options.json) {
                    Output.write("Retrying \(id): \(Output.cell($0, path: "status")).")
                }
            }
        }
    }

    struct Recover: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send again every failed delivery since a time.",
            discussion: "Example: fluke webhooks recover 7d3c… --since 2026-12-01T00:00:00Z")
        @OptionGroup var options: GlobalOptions
        @Argument var id: String
        @Option(help: "RFC 3339, e.g. 2026-12-01T00:00:00Z.") var since: String
        func run() async throws {
            try await withClient(options) { client in
                let recovered = try await client.recoverWebhook(id, since: since).recovered
                Output.show(["recovered": .number(Double(recovered))] as JSONValue, json: options.json) { _ in
                    Output.write("Sent again: \(recovered) failed deliveries.")
                }
            }
        }
    }
}
