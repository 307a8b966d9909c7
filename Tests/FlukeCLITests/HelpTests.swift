import ArgumentParser
@testable import FlukeCLI
import Testing

/// Every command a person runs says what it does and shows an example.
@Suite("fluke --help")
struct HelpTests {
    static func leaves(_ command: any ParsableCommand.Type, _ path: String) -> [(String, CommandConfiguration)] {
        let configuration = command.configuration
        guard !configuration.subcommands.isEmpty else { return [(path, configuration)] }
        return configuration.subcommands.flatMap { sub in
            leaves(sub, path + " " + (sub.configuration.commandName ?? String(describing: sub).lowercased()))
        }
    }

    @Test("each command has an abstract and an example")
    func examples() {
        let commands = Self.leaves(Fluke.self, "fluke")
        #expect(commands.count >= 35, "\(commands.map(\.0))")
        for (path, configuration) in commands {
            #expect(!configuration.abstract.isEmpty, "\(path) has no abstract")
            #expect(configuration.discussion.contains("Example"), "\(path) has no example")
        }
    }
}
